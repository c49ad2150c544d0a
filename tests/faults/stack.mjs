// stack.mjs — starts and stops the real daemons for one fault scenario: madang-broker,
// madang-ws, madang-api and a private nginx, each on free 127.0.0.1 ports, each tracked by PID.
// Every PID is also written to MADANG_FAULTS_PIDDIR so that tests/suites/70-faults.sh ends
// whatever a killed test file left behind. Waiting always has a time limit.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

const env = process.env;
export const BIN = env.MADANG_BIN;
export const TESTBIN = env.MADANG_TESTBIN;
export const ROOT = env.MADANG_ROOT;
export const WORK = env.MADANG_FAULTS_DIR;
const PIDDIR = env.MADANG_FAULTS_PIDDIR;
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

// A daemon: spawn(), kill(sig), wait for exit, RSS from /proc.
export class Proc {
  constructor(name, cmd, args) {
    this.name = name;
    this.cmd = cmd;
    this.args = args;
    this.log = path.join(WORK, `${name}.${++seq}.log`);
  }
  start() {
    const fd = fs.openSync(this.log, 'a');
    this.child = spawn(this.cmd, this.args, { stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    this.pid = this.child.pid;
    this.exited = new Promise((resolve) => this.child.on('exit', (code, sig) => resolve({ code, sig })));
    this.exitInfo = null;
    this.exited.then((x) => { this.exitInfo = x; });
    procs.add(this);
    if (PIDDIR) fs.writeFileSync(path.join(PIDDIR, `${this.name}.${this.pid}`), String(this.pid));
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
    return this.exited;
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

export async function stopAll() {
  await Promise.all([...procs].map((p) => p.stop(3000)));
  procs.clear();
}

// A broker on TCP ports; restart() runs the same command line again (same ports, same --data).
export async function startBroker(opts = {}) {
  const rpcPort = opts.rpcPort || await freePort();
  const evPort = opts.evPort || await freePort();
  const args = ['--rpc', `tcp://127.0.0.1:${rpcPort}`, '--events', `tcp://127.0.0.1:${evPort}`,
    '--frontend-timeout', String(opts.frontendTimeout || 3000), ...(opts.args || [])];
  if (opts.data) args.push('--data', opts.data, '--sync', opts.sync || 'normal');
  const b = new Proc('broker', `${BIN}/madang-broker`, args).start();
  b.rpc = `tcp://127.0.0.1:${rpcPort}`;
  b.events = `tcp://127.0.0.1:${evPort}`;
  b.rpcPort = rpcPort;
  b.evPort = evPort;
  b.opts = opts;
  await waitPort(rpcPort);
  return b;
}

export async function restartBroker(b) {
  return startBroker({ ...b.opts, rpcPort: b.rpcPort, evPort: b.evPort });
}

// madang-ws with limits loose enough for the scenario's own load (rate, connections per address).
export async function startWs(broker, opts = {}) {
  const port = await freePort();
  const args = ['--listen', `127.0.0.1:${port}`, '--rpc', broker.rpc, '--events', broker.events,
    '--id', opts.id || 'ws-f1', '--rate', '1000', '--burst', '1000',
    '--max-conns-per-ip', String(opts.maxConns || 5000), ...(opts.args || [])];
  const w = new Proc(opts.id || 'ws', `${BIN}/madang-ws`, args).start();
  w.port = port;
  w.url = `ws://127.0.0.1:${port}`;
  await waitPort(port);
  await waitFor(() => healthy(port), 10000, `madang-ws ${w.name} healthy`);
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

export async function startApi(broker, opts = {}) {
  const port = await freePort();
  const a = new Proc('api', `${BIN}/madang-api`, ['--listen', `127.0.0.1:${port}`, '--rpc', broker.rpc,
    '--timeout', String(opts.timeout || 500), '--threads', '4']).start();
  a.port = port;
  a.timeout = opts.timeout || 500;
  await waitPort(port);
  return a;
}

// nginx with the private config of scripts/render-nginx.sh; extra lines go into its main context.
export async function startNginx({ api, ws, extraMain = '' }) {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(WORK, 'nginx-'));
  execFileSync(`${ROOT}/scripts/render-nginx.sh`, ['--out', dir, '--port', String(port),
    '--web-root', `${ROOT}/web`, '--api', `127.0.0.1:${api}`, '--ws', ws.map((w) => `127.0.0.1:${w}`).join(',')]);
  if (extraMain) {
    const conf = path.join(dir, 'nginx.conf');
    fs.writeFileSync(conf, fs.readFileSync(conf, 'utf8').replace(/^worker_processes 1;$/m, `worker_processes 1;\n${extraMain}`));
  }
  const n = new Proc('nginx', NGINX, ['-c', `${dir}/nginx.conf`, '-p', dir, '-e', 'stderr']).start();
  n.port = port;
  n.dir = dir;
  n.http = `http://127.0.0.1:${port}`;
  n.url = `ws://127.0.0.1:${port}`;
  n.reload = () => execFileSync(NGINX, ['-c', `${dir}/nginx.conf`, '-p', dir, '-e', 'stderr', '-s', 'reload']);
  await waitPort(port);
  return n;
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
