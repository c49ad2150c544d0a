// http.test.mjs — sends each request of http-cases.txt on a raw TCP socket to nginx (in front
// of madang-api) and checks the status and body of the first response; after every case a
// normal GET /api/rooms is still 200. Environment: MADANG_HOSTILE_HTTP (127.0.0.1:PORT).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';

const HOST = process.env.MADANG_HOSTILE_HTTP;
const [host, port] = HOST.split(':');
const lines = fs.readFileSync(new URL('./http-cases.txt', import.meta.url), 'utf8').split('\n');

function expand(raw) {
  let s = raw.replace(/\{rep:(\d+):([^}]*)\}/g, (_, n, t) => t.repeat(Number(n))).replace(/\{host\}/g, HOST);
  s = s.replace(/\\r/g, '\r').replace(/\\n/g, '\n').replace(/\\0/g, '\0').replace(/\\t/g, '\t');
  return Buffer.from(s, 'latin1');
}

// Sends the bytes, reads until the peer closes (or 5 s), returns every response's status and body.
function exchange(bytes) {
  return new Promise((resolve) => {
    const s = net.connect(Number(port), host);
    const chunks = [];
    const done = () => {
      clearTimeout(t);
      s.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const responses = [];
      const re = /HTTP\/1\.[01] (\d{3})[^\r]*\r\n([\s\S]*?)\r\n\r\n/g;
      let m;
      while ((m = re.exec(text)) !== null) {
        const len = /content-length: *(\d+)/i.exec(m[2]);
        const start = m.index + m[0].length;
        const body = Buffer.from(text.slice(start, len ? start + Number(len[1]) : undefined), 'latin1').toString('utf8');
        responses.push({ status: Number(m[1]), headers: m[2], body });
        if (len) re.lastIndex = start + Number(len[1]);
      }
      resolve(responses);
    };
    const t = setTimeout(done, 5000);
    s.on('data', (d) => chunks.push(d));
    s.on('close', done);
    s.on('error', () => {});
    s.on('connect', () => { s.write(bytes); });
  });
}

for (const line of lines) {
  if (line === '' || line.startsWith('#')) continue;
  const [name, status, bodyRe, raw] = line.split('\t');
  test(`HTTP: ${name} -> ${status}`, { timeout: 20000 }, async () => {
    const rs = await exchange(expand(raw));
    assert.ok(rs.length >= 1, `${name}: no response`);
    assert.equal(rs[0].status, Number(status), `${name}: got ${rs[0].status} ${rs[0].body.slice(0, 200)}`);
    if (bodyRe !== '-') assert.match(rs[0].body, new RegExp(bodyRe), `${name}: body ${rs[0].body.slice(0, 200)}`);
    const ok = await exchange(expand('GET /api/rooms HTTP/1.1\\r\\nHost: {host}\\r\\nConnection: close\\r\\n\\r\\n'));
    assert.equal(ok[0] && ok[0].status, 200, 'a normal request afterwards');
    assert.match(ok[0].body, /^\{"rooms":\[/);
  });
}
