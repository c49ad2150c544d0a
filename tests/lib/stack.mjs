// stack.mjs — the one launcher of the test suites: starts and stops the real daemons
// (madang-broker, madang-ws, madang-api, a private nginx), each on free 127.0.0.1 ports or in a
// private ipc:// socket, each tracked by PID. Used by the fault and seed tests directly and, for
// the ws, e2e and hostile suites, through tests/lib/stack-up.mjs (a named stack the suite's shell
// starts once). Every PID is also written to MADANG_STACK_PIDDIR, so that the suite's shell
// (t_cleanup in tests/lib/harness.sh) ends whatever a killed test file left behind; logs go to
// MADANG_STACK_DIR. Waiting always has a time limit. A broker started elsewhere (by stack-up.mjs)
// is reached with brokerFromEnv() and restarted with restartBroker(), the one way to do it.
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

const env = process.env;
export const BIN = env.MADANG_BIN;
export const TESTBIN = env.MADANG_TESTBIN;
export const ROOT = env.MADANG_ROOT;
export const WORK = env.MADANG_STACK_DIR;
const PIDDIR = env.MADANG_STACK_PIDDIR;
export const NGINX = env.MADANG_NGINX || '/usr/sbin/nginx';
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const procs = new Set();
let seq = 0;

// A TCP port on 127.0.0.1 that was free a moment ago.
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const done = (ok) => { s.destroy(); resolve(ok); };
    s.setTimeout(500, () => done(false));
    s.on('connect', () => done(true));
    s.on('error', () => done(false));
  });
}

export async function waitPort(port, ms = 10000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await canConnect(port)) return;
    await sleep(50);
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${ms} ms`);
}

export async function waitFor(fn, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() >= end) throw new Error(`timeout (${ms} ms) waiting for ${what}`);
    await sleep(50);
  }
}

// Whether a process (ours or not) still runs: a zombie counts as gone.
export function running(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

// child_process.spawn() for a daemon a test runs with options of its own (a madang-ws with
// --reuseport, --ping-interval...): the same child, its PID recorded like a Proc's.
export function spawnTracked(cmd, args, options) {
  const child = spawn(cmd, args, options);
  if (PIDDIR && child.pid) fs.writeFileSync(path.join(PIDDIR, `${path.basename(cmd)}.${child.pid}`), String(child.pid));
  return child;
}

// A daemon: spawn(), kill(sig), wait for exit, RSS from /proc.
export class Proc {
  // env: variables added to this process's environment for the daemon, or undefined.
  constructor(name, cmd, args, env) {
    this.name = name;
    this.cmd = cmd;
    this.args = args;
    this.env = env;
    this.log = path.join(WORK, `${name}.${++seq}.${process.pid}.log`);
  }
  start() {
    const fd = fs.openSync(this.log, 'a');
    this.child = spawn(this.cmd, this.args, { stdio: ['ignore', fd, fd], env: this.env ? { ...process.env, ...this.env } : process.env });
    fs.closeSync(fd);
    this.pid = this.child.pid;
    this.exited = new Promise((resolve) => this.child.on('exit', (code, sig) => resolve({ code, sig })));
    this.exitInfo = null;
    this.exited.then((x) => { this.exitInfo = x; });
    procs.add(this);
    if (PIDDIR) fs.writeFileSync(path.join(PIDDIR, `${this.name}.${this.pid}`), String(this.pid));
    return this;
  }
  // Lets this test file end while the daemon runs on (the suite's shell ends it by its PID).
  detach() {
    this.child.unref();
    procs.delete(this);
    return this;
  }
  signal(sig) {
    try { process.kill(this.pid, sig); } catch { /* gone */ }
  }
  async stop(ms = 5000) {
    if (!this.child || this.exitInfo) return this.exitInfo;
    this.signal('SIGCONT');
    this.signal('SIGTERM');
    const t = setTimeout(() => this.signal('SIGKILL'), ms);
    const x = await this.exited;
    clearTimeout(t);
    return x;
  }
  async kill9() {
    this.signal('SIGKILL');
    // A detach()ed child no longer holds the event loop: poll /proc too (timers hold it).
    await Promise.race([this.exited, waitFor(() => !running(this.pid), 10000, `${this.name} gone`)]);
    return { code: null, sig: 'SIGKILL' };
  }
  rssKiB() {
    try {
      const s = fs.readFileSync(`/proc/${this.pid}/status`, 'utf8');
      const m = /VmRSS:\s+(\d+)/.exec(s);
      return m ? Number(m[1]) : null;
    } catch {
      return null;
    }
  }
  logText() {
    try { return fs.readFileSync(this.log, 'utf8'); } catch { return ''; }
  }
}

// A daemon another process started (stack-up.mjs): signals by PID, kill9() waits until it is gone.
class Remote {
  constructor(name, pid) {
    this.name = name;
    this.pid = pid;
  }
  signal(sig) {
    try { process.kill(this.pid, sig); } catch { /* gone */ }
  }
  async kill9(ms = 5000) {
    this.signal('SIGKILL');
    await waitFor(() => !running(this.pid), ms, `${this.name} (pid ${this.pid}) gone`);
    return { code: null, sig: 'SIGKILL' };
  }
}

export async function stopAll() {
  await Promise.all([...procs].map((p) => p.stop(3000)));
  procs.clear();
}

// An ipc:// endpoint's socket file (null for tcp://).
const ipcFile = (url) => (url.startsWith('ipc://') ? url.slice('ipc://'.length) : null);

// Waits until a broker endpoint listens: tcp://127.0.0.1:PORT accepts, or the socket file of
// ipc://PATH exists (restartBroker removes a dead broker's first).
async function waitEndpoint(url, ms = 10000) {
  const file = ipcFile(url);
  if (file) await waitFor(() => fs.existsSync(file), ms, `the socket ${url}`);
  else await waitPort(Number(url.split(':').pop()), ms);
}

// A broker; opts: rpc/events (URLs; default free TCP ports), frontendTimeout (ms, default 3000;
// null: the broker's own), rooms (a rooms.json), data and sync (--data), args (more arguments),
// env (variables added to its environment).
// restartBroker() runs the same command line again (same endpoints).
export async function startBroker(opts = {}) {
  const rpc = opts.rpc || `tcp://127.0.0.1:${opts.rpcPort || await freePort()}`;
  const events = opts.events || `tcp://127.0.0.1:${opts.evPort || await freePort()}`;
  const args = ['--rpc', rpc, '--events', events];
  if (opts.frontendTimeout !== null) args.push('--frontend-timeout', String(opts.frontendTimeout || 3000));
  if (opts.rooms) args.push('--rooms', opts.rooms);
  args.push(...(opts.args || []));
  if (opts.data) args.push('--data', opts.data, '--sync', opts.sync || 'normal');
  const b = new Proc(opts.name || 'broker', `${BIN}/madang-broker`, args, opts.env).start();
  b.rpc = rpc;
  b.events = events;
  b.rpcPort = rpc.startsWith('tcp://') ? Number(rpc.split(':').pop()) : null;
  b.evPort = events.startsWith('tcp://') ? Number(events.split(':').pop()) : null;
  b.opts = { ...opts, rpc, events };
  await waitEndpoint(rpc);
  await waitEndpoint(events);
  return b;
}

// The broker again on the same endpoints with the same options, and `more` on top (for instance
// {data: DIR} to come back with durable history). The old one must be gone already.
export async function restartBroker(b, more = {}) {
  for (const url of [b.rpc, b.events]) {
    const file = ipcFile(url);
    if (file) fs.rmSync(file, { force: true });
  }
  return startBroker({ ...b.opts, ...more, rpc: b.rpc, events: b.events });
}

// The broker of the stack the suite started (stack-up.mjs), from MADANG_BROKER_PID and
// MADANG_BROKER_OPTS: kill9() it, then restartBroker() it (the new one is detach()ed by the
// caller when it must outlive the test file).
export function brokerFromEnv() {
  const opts = JSON.parse(env.MADANG_BROKER_OPTS || 'null');
  if (!opts || !env.MADANG_BROKER_PID) throw new Error('MADANG_BROKER_OPTS/PID not set: run through the suite');
  const b = new Remote('broker', Number(env.MADANG_BROKER_PID));
  b.opts = opts;
  b.rpc = opts.rpc;
  b.events = opts.events;
  return b;
}

// madang-ws. By default with limits loose enough for a scenario's own load (rate, connections
// per address); opts.plain: the daemon's own defaults. opts: id, port, args, jwtSecretFile, env
// (variables added to its environment).
export async function startWs(broker, opts = {}) {
  const port = opts.port || await freePort();
  const args = ['--listen', `127.0.0.1:${port}`, '--rpc', broker.rpc, '--events', broker.events,
    '--id', opts.id || 'ws-f1'];
  if (!opts.plain) args.push('--rate', '1000', '--burst', '1000', '--max-conns-per-ip', String(opts.maxConns || 5000));
  if (opts.jwtSecretFile) args.push('--jwt-secret-file', opts.jwtSecretFile);
  args.push(...(opts.args || []));
  const w = new Proc(opts.name || opts.id || 'ws', `${BIN}/madang-ws`, args, opts.env).start();
  w.port = port;
  w.url = `ws://127.0.0.1:${port}`;
  w.opts = { ...opts, port };
  await waitPort(port);
  await waitFor(() => healthy(port), 10000, `madang-ws ${w.name} healthy`);
  return w;
}

// madang-ws again on the same port with the same options.
export async function restartWs(broker, w) {
  return startWs(broker, w.opts);
}

// The madang-ws NAME (upper case: WS, WS1) of the suite's stack, from MADANG_<NAME>_PID/_OPTS.
export function wsFromEnv(name) {
  const opts = JSON.parse(env[`MADANG_${name}_OPTS`] || 'null');
  if (!opts) throw new Error(`MADANG_${name}_OPTS not set: run through the suite`);
  const w = new Remote(name.toLowerCase(), Number(env[`MADANG_${name}_PID`]));
  w.opts = opts;
  w.port = opts.port;
  return w;
}

export async function healthy(port) {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1000) });
    return r.status === 200;
  } catch {
    return false;
  }
}

// madang-api; by default --timeout 500 --threads 4, opts.plain: its own defaults; opts.args more.
export async function startApi(broker, opts = {}) {
  const port = await freePort();
  const timeout = opts.timeout || 500;
  const args = ['--listen', `127.0.0.1:${port}`, '--rpc', broker.rpc];
  if (!opts.plain) args.push('--timeout', String(timeout), '--threads', '4');
  args.push(...(opts.args || []));
  const a = new Proc(opts.name || 'api', `${BIN}/madang-api`, args).start();
  a.port = port;
  a.timeout = timeout;
  await waitPort(port);
  return a;
}

// nginx with the private config of scripts/render-nginx.sh; extra lines go into its main context.
export async function startNginx({ api, ws, extraMain = '', name = 'nginx' }) {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(WORK, `${name}-`));
  execFileSync(`${ROOT}/scripts/render-nginx.sh`, ['--out', dir, '--port', String(port),
    '--web-root', `${ROOT}/web`, '--api', `127.0.0.1:${api}`, '--ws', ws.map((w) => `127.0.0.1:${w}`).join(',')]);
  if (extraMain) {
    const conf = path.join(dir, 'nginx.conf');
    fs.writeFileSync(conf, fs.readFileSync(conf, 'utf8').replace(/^worker_processes 1;$/m, `worker_processes 1;\n${extraMain}`));
  }
  const n = new Proc(name, NGINX, ['-c', `${dir}/nginx.conf`, '-p', dir, '-e', 'stderr']).start();
  n.port = port;
  n.dir = dir;
  n.http = `http://127.0.0.1:${port}`;
  n.url = `ws://127.0.0.1:${port}`;
  n.reload = () => execFileSync(NGINX, ['-c', `${dir}/nginx.conf`, '-p', dir, '-e', 'stderr', '-s', 'reload']);
  await waitPort(port);
  return n;
}

// A fresh JWT secret (64 base64 characters) in WORK/NAME, for a madang-ws that wants tokens.
export function jwtSecretFile(name = 'jwt.secret') {
  const file = path.join(WORK, name);
  fs.writeFileSync(file, randomBytes(48).toString('base64'));
  return file;
}

// Samples a process's RSS every ms milliseconds; stop() returns {min, max, samples}.
export function rssSampler(proc, ms = 100) {
  const s = { min: Infinity, max: 0, n: 0, last: 0 };
  const take = () => {
    const v = proc.rssKiB();
    if (v == null) return;
    s.min = Math.min(s.min, v);
    s.max = Math.max(s.max, v);
    s.last = v;
    s.n++;
  };
  take();
  const t = setInterval(take, ms);
  return { stats: s, stop() { clearInterval(t); take(); return s; } };
}
