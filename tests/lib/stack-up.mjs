// stack-up.mjs PRESET — starts the named stack of a suite with tests/lib/stack.mjs, writes what
// the tests need to know (URLs, PIDs, options to restart a daemon with) as shell `export` lines to
// $MADANG_STACK_DIR/stack.env once every daemon is ready, and stays as their parent: when one
// exits, its status goes to $MADANG_STACK_DIR/<name>.exit ("0", "1", "SIGKILL"...); on SIGTERM
// it stops them all and exits. Run by t_stack in tests/lib/harness.sh; on failure it exits 1.
// PRESET: ws (30-ws, 31-ws-poll), e2e (50-e2e), hostile (71-hostile).
import fs from 'node:fs';
import path from 'node:path';
import {
  BIN, WORK, jwtSecretFile, startApi, startBroker, startNginx, startWs, stopAll,
} from './stack.mjs';

const started = [];
const vars = {};

// Records a daemon: MADANG_<NAME>_PID, _LOG and _OPTS (JSON, for restarting it), its exit status.
function track(name, p) {
  const up = name.toUpperCase().replace(/[^A-Z0-9]/g, '_');
  vars[`MADANG_${up}_PID`] = p.pid;
  vars[`MADANG_${up}_LOG`] = p.log;
  if (p.opts) vars[`MADANG_${up}_OPTS`] = JSON.stringify(p.opts);
  if (p.url) vars[`MADANG_${up}_URL`] = p.url;
  if (p.port) vars[`MADANG_${up}_PORT`] = p.port;
  p.exited.then(({ code, sig }) => fs.writeFileSync(path.join(WORK, `${name}.exit`), `${sig || code}\n`));
  started.push(p);
  return p;
}

function roomsFile(rooms) {
  const file = path.join(WORK, 'rooms.json');
  fs.writeFileSync(file, JSON.stringify({ rooms: rooms.map(([id, name]) => ({ id, name })) }));
  return file;
}

const words = (s) => (s || '').split(' ').filter(Boolean);

const presets = {
  // Two front-ends (ws1 with the default limits, ws2 with a high rate limit, few rooms per
  // connection and a trusted proxy) and ws3 that requires tokens. WS_LOOP_ARGS goes to every
  // madang-ws, WS_BROKER_ARGS to the broker (31-ws-poll.sh).
  async ws() {
    const loop = words(process.env.WS_LOOP_ARGS);
    const rooms = roomsFile([['room1', '일반 대화'], ['room2', '기술 토론'], ['room3', 'Three'], ['room4', 'Four'],
      ['room5', 'Five'], ['room6', 'Six'], ['room7', 'Seven'], ['doomed', 'Doomed']]);
    const b = track('broker', await startBroker({ frontendTimeout: 1500, rooms, args: words(process.env.WS_BROKER_ARGS) }));
    track('ws1', await startWs(b, { plain: true, id: 'ws-test-1', name: 'ws1', args: loop }));
    track('ws2', await startWs(b, { plain: true, id: 'ws-test-2', name: 'ws2', args: ['--queue-limit', '1048576',
      '--rate', '100000', '--burst', '100000', '--max-rooms-per-conn', '2', '--max-conns-per-ip', '4',
      '--trusted-proxies', '127.0.0.1', ...loop] }));
    const secret = jwtSecretFile();
    track('ws3', await startWs(b, { plain: true, id: 'ws-test-3', name: 'ws3', jwtSecretFile: secret, args: loop }));
    Object.assign(vars, {
      MADANG_BROKER_RPC: b.rpc, MADANG_BROKER_EVENTS: b.events, MADANG_JWT_SECRET_FILE: secret,
      MADANG_TOKEN_BIN: `${BIN}/madang-token`,
      MADANG_WS_REUSE_CMD: [`${BIN}/madang-ws`, '--rpc', b.rpc, '--events', b.events, '--reuseport', ...loop].join(' '),
    });
  },
  // The browser's stack: broker (--allow-create, ipc sockets), madang-api, madang-ws behind
  // nginx, and a second madang-ws that requires tokens behind its own nginx.
  async e2e() {
    const b = track('broker', await startBroker({ rpc: `ipc://${WORK}/broker.rpc`, events: `ipc://${WORK}/broker.events`,
      frontendTimeout: null, args: ['--allow-create'] }));
    const api = track('api', await startApi(b, { plain: true }));
    /* -v: a failing file prints the logs' ends (50-e2e.sh), link debug lines included. */
    const ws = track('ws', await startWs(b, { plain: true, id: 'e2e-ws', name: 'ws', args: ['-v'] }));
    const web = track('nginx', await startNginx({ api: api.port, ws: [ws.port] }));
    const secret = jwtSecretFile();
    const wsj = track('ws_jwt', await startWs(b, { plain: true, id: 'e2e-ws-jwt', name: 'ws-jwt', jwtSecretFile: secret, args: ['-v'] }));
    const webj = track('nginx_jwt', await startNginx({ api: api.port, ws: [wsj.port], name: 'nginx-jwt' }));
    const data = path.join(WORK, 'broker-data');
    fs.mkdirSync(data, { recursive: true });
    Object.assign(vars, {
      MADANG_E2E_URL: `${web.http}/`, MADANG_E2E_JWT_URL: `${webj.http}/`, MADANG_JWT_SECRET_FILE: secret,
      MADANG_TOKEN_BIN: `${BIN}/madang-token`, MADANG_BROKER_DATA: data,
    });
  },
  // The hostile corpus' stack: 20 rooms (the join flood needs more than --max-rooms-per-conn),
  // madang-ws with its default limits, madang-api (--timeout 1000) behind nginx.
  async hostile() {
    const rooms = roomsFile(Array.from({ length: 20 }, (_, i) => [`room${i + 1}`, `Room ${i + 1}`]));
    const b = track('broker', await startBroker({ frontendTimeout: null, rooms }));
    const ws = track('ws', await startWs(b, { plain: true, id: 'ws-hostile', name: 'ws' }));
    const api = track('api', await startApi(b, { plain: true, args: ['--timeout', '1000'] }));
    const web = track('nginx', await startNginx({ api: api.port, ws: [ws.port] }));
    Object.assign(vars, {
      MADANG_BROKER_RPC: b.rpc, MADANG_BROKER_EVENTS: b.events, MADANG_HOSTILE_RPC: b.rpc,
      MADANG_HOSTILE_WS: ws.url, MADANG_HOSTILE_HTTP: `127.0.0.1:${web.port}`,
    });
  },
};

const quote = (v) => `'${String(v).replace(/'/g, "'\\''")}'`;

async function main() {
  const preset = presets[process.argv[2]];
  if (!preset || !WORK) {
    console.error(`usage: MADANG_STACK_DIR=DIR stack-up.mjs ${Object.keys(presets).join('|')}`);
    process.exit(2);
  }
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await stopAll();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  try {
    await preset();
  } catch (e) {
    console.error(`stack-up: ${e.message}`);
    for (const p of started) console.error(`--- ${p.log}\n${p.logText().slice(-2000)}`);
    await stopAll();
    process.exit(1);
  }
  const file = path.join(WORK, 'stack.env');
  fs.writeFileSync(`${file}.tmp`, Object.entries(vars).map(([k, v]) => `export ${k}=${quote(v)}\n`).join(''));
  fs.renameSync(`${file}.tmp`, file);
  console.log(`stack-up: ${process.argv[2]} ready: ${started.map((p) => `${p.name} ${p.pid}`).join(', ')}`);
}

main();
