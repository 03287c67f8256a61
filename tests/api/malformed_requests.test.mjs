// Requests civetweb rejects before our router sees them still get a 4xx
// (or 505) with the security headers and the JSON envelope, through the
// http_error callback; request smuggling shapes get one response and a
// closed connection; a stalled request is cut off; the server stays up.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';

import { startServer, get, rawRequest } from './lib/server.mjs';
import { assertSecurityHeaders, assertErrorEnvelope, JSON_TYPE } from './lib/checks.mjs';

let srv;
before(async () => { srv = await startServer({ args: ['--request-timeout-ms', '1000'] }); });
after(async () => { await srv?.stop(); });

/** Everything the server sends on one connection until it closes it (or
 *  `ms` pass, which is reported as closed: false). */
function exchange(raw, ms = 8000) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(srv.port, '127.0.0.1');
    let data = '';
    const t0 = Date.now();
    sock.setEncoding('latin1');
    sock.on('connect', () => sock.write(raw, 'latin1'));
    sock.on('data', (d) => { data += d; });
    const timer = setTimeout(() => { sock.destroy(); resolve({ data, closed: false, ms: Date.now() - t0 }); }, ms);
    sock.on('close', () => { clearTimeout(timer); resolve({ data, closed: true, ms: Date.now() - t0 }); });
    sock.on('error', (e) => { if (e.code !== 'ECONNRESET') { clearTimeout(timer); reject(e); } });
  });
}

const MALFORMED = [
  ['garbage request line', 'FOO\r\n\r\n'],
  ['header line without a colon', 'GET /healthz HTTP/1.1\r\nHost: x\r\nbadheader\r\n\r\n'],
  ['request line without a version', 'GET /healthz\r\n\r\n'],
  ['lower-case method', 'get /healthz HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['unknown method', 'BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['CONNECT', 'CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n'],
  ['control character in the path', 'GET /\x01x HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['negative Content-Length', 'GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n'],
  ['non-numeric Content-Length', 'GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n'],
  ['20 KB header', `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`],
  ['HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'],
  ['TLS ClientHello', `\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03${'a'.repeat(100)}`],
  ['unsupported HTTP version', 'GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n'],
];

test("civetweb's own errors carry the security headers and the envelope", async () => {
  for (const [what, raw] of MALFORMED) {
    const r = await rawRequest(srv.url, raw);
    const ok = (r.status >= 400 && r.status < 500) || (what === 'unsupported HTTP version' && r.status === 505);
    assert.ok(ok, `${what}: status ${r.status}\n${r.raw}`);
    assertSecurityHeaders(r.headers, what);
    assert.equal(r.headers['content-type'], JSON_TYPE, what);
    assertErrorEnvelope(r.body, what);
    assert.equal(Number(r.headers['content-length']), Buffer.byteLength(r.body), `${what}: Content-Length`);
  }
  assert.equal((await get(`${srv.url}/healthz`)).status, 200, 'still healthy');
});

test('a request that never completes is cut off after the request timeout', async () => {
  const r = await exchange('GET /healthz HTTP/1.1\r\nHost: x\r\n', 10000);
  assert.ok(r.closed, 'the server closed the stalled connection');
  assert.ok(r.ms < 8000, `closed after ${r.ms} ms with request_timeout_ms=1000`);
  if (r.data.length > 0) {
    assert.match(r.data, /^HTTP\/1\.1 4\d\d /);
    assert.match(r.data, /\r\nContent-Security-Policy: /);
  }
});

test('Content-Length with Transfer-Encoding cannot smuggle a second request', async () => {
  const smuggle = [
    'GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '0\r\n\r\nGET /api/v1/version HTTP/1.1\r\nHost: x\r\n\r\n',
    'GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n' +
      'abcGET /api/v1/version HTTP/1.1\r\nHost: x\r\n\r\n',
    'GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 60\r\n\r\n' +
      'abcGET /api/v1/version HTTP/1.1\r\nHost: x\r\n\r\n',
    'GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 45\r\n\r\n' +
      'GET /api/v1/version HTTP/1.1\r\nHost: x\r\n\r\n',
  ];
  for (const raw of smuggle) {
    const r = await exchange(raw);
    assert.ok(r.closed, `connection left open:\n${r.data}`);
    const statuses = r.data.match(/HTTP\/1\.1 \d{3}/g) ?? [];
    assert.ok(statuses.length <= 1, `more than one response:\n${r.data}`);
    assert.doesNotMatch(r.data, /"name":"stockade"/, 'the smuggled request was answered');
  }
});

// civetweb closes the connection without any answer for "*" and for
// absolute-form targets that do not name its authentication_domain (it
// treats them as proxy requests). Nothing leaks and nothing crashes; this
// test pins that down so a change is noticed.
test('asterisk and absolute-form targets get no answer or a proper one', async () => {
  const cases = [
    'OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    'GET * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    `GET http://127.0.0.1:${srv.port}/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
    'GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n',
  ];
  for (const raw of cases) {
    const r = await exchange(raw);
    assert.ok(r.closed, 'the connection is closed');
    if (r.data.length > 0) {
      const res = await rawRequest(srv.url, raw);
      assertSecurityHeaders(res.headers, raw.split('\r\n')[0]);
    }
  }
  assert.equal((await get(`${srv.url}/healthz`)).status, 200);
});

test('a burst of malformed requests on parallel connections leaves the server healthy', async () => {
  const all = [];
  for (let i = 0; i < 5; i++) {
    for (const [, raw] of MALFORMED) all.push(exchange(raw));
  }
  await Promise.all(all);
  const r = await get(`${srv.url}/healthz`);
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { status: 'ok' });
});
