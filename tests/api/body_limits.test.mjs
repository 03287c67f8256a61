// Request bodies: malformed JSON gets 400 with the envelope; a body over
// --max-body gets 413 without being buffered; and a body the server did not
// need is read and thrown away so that the client (or a proxy in front of
// us) can finish sending it and keep using the connection.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer, withTimeout } from './lib/server.mjs';
import { assertErrorEnvelope, assertSecurityHeaders } from './lib/checks.mjs';

let srv;
before(async () => {
  srv = await startServer({ args: ['--max-body', '64K'] });
});

test('malformed JSON gets 400 with the line and column', async () => {
  for (const body of ['{', '{"username":}', 'nul', '[1,2', '{"a":1,"a":2}', '\u0000']) {
    const res = await fetch(`${srv.url}/api/v1/auth/login`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body,
    });
    assert.equal(res.status, 400, JSON.stringify(body));
    assertSecurityHeaders(res.headers, 'malformed JSON');
    const env = await res.json();
    assertErrorEnvelope(env, 'malformed JSON');
    assert.equal(env.error.code, 'malformed_json');
    assert.match(env.error.message, /line \d+ column \d+/);
  }
});

/** Writes `head` + `bodyLen` bytes of body, then `next`, on one connection;
 *  resolves with every byte the server sent until it closed or went quiet. */
function exchange(head, bodyLen, next) {
  return withTimeout(new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port: srv.port });
    let data = '';
    let quiet;
    const done = () => { sock.destroy(); resolve(data); };
    sock.on('connect', () => {
      sock.write(head);
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      let left = bodyLen;
      const pump = () => {
        while (left > 0) {
          const n = Math.min(left, chunk.length);
          left -= n;
          if (!sock.write(chunk.subarray(0, n))) { sock.once('drain', pump); return; }
        }
        sock.write(next);
      };
      pump();
    });
    sock.on('data', (d) => {
      data += d.toString('latin1');
      clearTimeout(quiet);
      quiet = setTimeout(done, 1500);
    });
    sock.on('end', done);
    sock.on('error', (e) => (data ? done() : reject(e)));
  }), 30000, 'body exchange');
}

const NEXT = 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';

test('an oversized body gets 413, is drained, and the connection serves the next request', async () => {
  const len = 2 * 1024 * 1024;
  const head = `POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${len}\r\n\r\n`;
  const data = await exchange(head, len, NEXT);
  const statuses = data.match(/HTTP\/1\.1 \d{3}/g) ?? [];
  assert.deepEqual(statuses, ['HTTP/1.1 413', 'HTTP/1.1 200'], data.slice(0, 600));
  assert.match(data, /"code":"too_large"/);
});

test('a body sent to a route that takes none is drained too', async () => {
  const len = 1024 * 1024;
  const head = `POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: ${len}\r\n\r\n`;
  const data = await exchange(head, len, NEXT);
  const statuses = data.match(/HTTP\/1\.1 \d{3}/g) ?? [];
  assert.deepEqual(statuses, ['HTTP/1.1 405', 'HTTP/1.1 200'], data.slice(0, 600));
});

test('a body too large to drain closes the connection after the 413', async () => {
  // Declared far beyond what the server will read: it answers at once and
  // closes, without reading 1 GB.
  const head = 'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
    'Content-Length: 1073741824\r\n\r\n';
  const data = await exchange(head, 0, '');
  assert.match(data, /^HTTP\/1\.1 413 /);
  assert.match(data, /\r\nConnection: close\r\n/);
  assert.equal((await fetch(`${srv.url}/healthz`)).status, 200);
});
