// The conventions every endpoint shares: JSON content type, the error
// envelope, 404/405 with Allow, HEAD, security headers on every kind of
// response, the access log, and /healthz really checking the database.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import {
  startServer, get, rawRequest, rawGet, runCli, sqlite, sleep,
} from './lib/server.mjs';
import {
  JSON_TYPE, assertSecurityHeaders, assertErrorEnvelope, migrationFiles, pageHeaders,
} from './lib/checks.mjs';

let srv;
let hdrs; // what a signed-in browser sends ({} while pages are public)
before(async () => {
  srv = await startServer();
  hdrs = await pageHeaders(srv);
});
after(async () => { await srv?.stop(); });

test('GET /healthz answers 200 {"status":"ok"} as JSON', async () => {
  const r = await get(`${srv.url}/healthz`);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), JSON_TYPE);
  assert.equal(r.headers.get('cache-control'), 'no-store');
  assert.deepEqual(await r.json(), { status: 'ok' });
  assertSecurityHeaders(r.headers, 'GET /healthz');
});

test('GET /api/v1/version reports name, version and schema version', async () => {
  const r = await get(`${srv.url}/api/v1/version`);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), JSON_TYPE);
  const v = await r.json();
  assert.equal(v.name, 'stockade');
  assert.match(v.version, /^\d+\.\d+\.\d+/);
  assert.equal(v.schema_version, migrationFiles().length,
               'schema_version is the number of migrations in migrations/');
  const cli = await runCli(['version']);
  assert.equal(cli.code, 0);
  assert.equal(cli.stdout.trim(), `stockade ${v.version}`, 'CLI and API agree on the version');
  assertSecurityHeaders(r.headers, 'GET /api/v1/version');
});

test('a query string does not change the route', async () => {
  const r = await get(`${srv.url}/healthz?verbose=1&x=%00`);
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { status: 'ok' });
});

test('unknown paths get 404 with the error envelope', async () => {
  for (const p of ['/api/v1/nope', '/api/v2/version', '/nope', '/healthz/extra', '/api/v1/version/',
                   '/settings/999', '/INCIDENTS', '/api']) {
    const r = await get(srv.url + p);
    assert.equal(r.status, 404, p);
    assert.equal(r.headers.get('content-type'), JSON_TYPE, p);
    const env = assertErrorEnvelope(await r.text(), p);
    assert.equal(env.error.code, 'not_found', p);
    assertSecurityHeaders(r.headers, `GET ${p}`);
  }
});

test('a wrong method gets 405 with Allow and the envelope', async () => {
  const cases = [
    ['POST', '/healthz'],
    ['DELETE', '/api/v1/version'],
    ['PUT', '/api/v1/version'],
    ['PATCH', '/healthz'],
    ['POST', '/static/css/app.css'],
    ['DELETE', '/web/app.js'],
    ['POST', '/incidents'],
    ['POST', '/'],
  ];
  for (const [method, p] of cases) {
    const r = await get(srv.url + p, { method, body: method === 'DELETE' ? undefined : '{}',
                                        headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 405, `${method} ${p}`);
    const allow = r.headers.get('allow');
    assert.ok(allow, `${method} ${p}: no Allow header`);
    const methods = allow.split(',').map((m) => m.trim());
    assert.ok(methods.includes('GET'), `${method} ${p}: Allow is "${allow}"`);
    assert.ok(!methods.includes(method), `${method} ${p}: Allow lists the refused method`);
    assert.equal(r.headers.get('content-type'), JSON_TYPE);
    const env = assertErrorEnvelope(await r.text(), `${method} ${p}`);
    assert.equal(env.error.code, 'method_not_allowed');
    assertSecurityHeaders(r.headers, `${method} ${p}`);
  }
});

test('405 for a method civetweb does not route (OPTIONS) keeps the conventions', async () => {
  const r = await rawRequest(srv.url, rawGet('/api/v1/version', { method: 'OPTIONS' }));
  assert.equal(r.status, 405);
  assert.ok(r.headers.allow?.includes('GET'));
  assertErrorEnvelope(r.body, 'OPTIONS');
  assertSecurityHeaders(r.headers, 'OPTIONS /api/v1/version');
});

test('HEAD answers like GET without a body', async () => {
  for (const p of ['/healthz', '/api/v1/version', '/incidents', '/static/css/app.css', '/nope']) {
    const g = await get(srv.url + p, { headers: hdrs });
    const gbody = Buffer.from(await g.arrayBuffer());
    // Raw, so that a body sent after the headers would be seen.
    const h = await rawRequest(srv.url, rawGet(p, { method: 'HEAD', headers: hdrs }));
    assert.equal(h.status, g.status, `HEAD ${p}`);
    assert.equal(h.headers['content-type'], g.headers.get('content-type'), `HEAD ${p}`);
    assert.equal(Number(h.headers['content-length']), gbody.length, `HEAD ${p}: Content-Length`);
    const afterHeaders = h.raw.slice(h.raw.indexOf('\r\n\r\n') + 4);
    assert.equal(afterHeaders, '', `HEAD ${p} sent a body`);
    assertSecurityHeaders(h.headers, `HEAD ${p}`);
  }
});

test('security headers are on every kind of response', async () => {
  const first = await get(`${srv.url}/static/css/app.css`);
  const etag = first.headers.get('etag');
  const cases = [
    ['GET /healthz', () => get(`${srv.url}/healthz`), 200],
    ['GET /', () => get(`${srv.url}/`), 302],
    ['GET /incidents', () => get(`${srv.url}/incidents`, { headers: hdrs }), 200],
    ['GET static', () => get(`${srv.url}/static/css/app.css`), 200],
    ['GET web', () => get(`${srv.url}/web/app.js`), 200],
    ['conditional GET', () => get(`${srv.url}/static/css/app.css`,
                                  { headers: { 'if-none-match': etag } }), 304],
    ['missing static', () => get(`${srv.url}/static/css/none.css`), 404],
    ['unknown path', () => get(`${srv.url}/api/v1/none`), 404],
    ['wrong method', () => get(`${srv.url}/healthz`, { method: 'POST' }), 405],
  ];
  for (const [what, fn, status] of cases) {
    const r = await fn();
    await r.arrayBuffer();
    assert.equal(r.status, status, what);
    assertSecurityHeaders(r.headers, what);
  }
  const bad = await rawRequest(srv.url, rawGet('/static/../../etc/passwd'));
  assert.equal(bad.status, 400);
  assertSecurityHeaders(bad.headers, 'traversal 400');
  assertErrorEnvelope(bad.body, 'traversal 400');
});

test('a keep-alive connection serves several requests in a row', async () => {
  const one = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n';
  // Two pipelined requests, the second asks to close: both must be answered.
  const r = await rawRequest(srv.url, one + 'GET /api/v1/version HTTP/1.1\r\nHost: x\r\n' +
                             'Connection: close\r\n\r\n');
  assert.equal(r.status, 200);
  // rawRequest stops after the first response; read the whole exchange.
  const net = await import('node:net');
  const u = new URL(srv.url);
  const all = await new Promise((resolve, reject) => {
    const s = net.connect(Number(u.port), u.hostname);
    let data = '';
    const timer = setTimeout(() => { s.destroy(); reject(new Error('timeout: ' + data)); }, 10000);
    s.on('connect', () => s.write(one + one + 'GET /api/v1/version HTTP/1.1\r\nHost: x\r\n' +
                                  'Connection: close\r\n\r\n'));
    s.setEncoding('latin1');
    s.on('data', (d) => { data += d; });
    s.on('close', () => { clearTimeout(timer); resolve(data); });
    s.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
  assert.equal((all.match(/HTTP\/1\.1 200 OK\r\n/g) || []).length, 3, all);
  assert.equal((all.match(/\{"status":"ok"\}/g) || []).length, 2);
  assert.match(all, /"name":"stockade"/);
});

test('every request gets an access log line', async () => {
  const marker = `/healthz?probe=${Date.now()}`;
  const r = await get(srv.url + marker);
  await r.arrayBuffer();
  const missing = await get(`${srv.url}/no-such-page-${Date.now()}`);
  await missing.arrayBuffer();
  // Logging happens after the response went out: poll briefly.
  let lines = [];
  for (let i = 0; i < 50; i++) {
    lines = srv.stderr().split('\n').filter((l) => l.includes('event=http_request'));
    if (lines.some((l) => l.includes('/no-such-page-'))) break;
    await sleep(100);
  }
  const ok = lines.find((l) => / method=GET path=\/healthz status=200 /.test(l));
  assert.ok(ok, `no access log line for GET /healthz in:\n${lines.join('\n')}`);
  assert.match(ok, / bytes=\d+ /);
  assert.match(ok, / dur_us=\d+/);
  assert.match(ok, /^ts=\S+ level=info event=http_request /);
  const nf = lines.find((l) => /path=\/no-such-page-\d+ status=404 /.test(l));
  assert.ok(nf, 'no access log line for the 404');
});

test('/healthz checks the database: a schema changed underneath gives 503', async () => {
  const files = migrationFiles();
  sqlite(srv.dbPath, `INSERT INTO schema_migrations (version, name, checksum, applied_at)
                      VALUES (${files.length + 1}, '9999_from_the_future.sql', '${'0'.repeat(64)}', 0);`);
  try {
    const r = await get(`${srv.url}/healthz`);
    assert.equal(r.status, 503);
    assert.equal(r.headers.get('content-type'), JSON_TYPE);
    const env = assertErrorEnvelope(await r.text(), 'healthz 503');
    assert.equal(env.error.code, 'unavailable');
    assertSecurityHeaders(r.headers, 'healthz 503');
  } finally {
    sqlite(srv.dbPath, `DELETE FROM schema_migrations WHERE version = ${files.length + 1};`);
  }
  const again = await get(`${srv.url}/healthz`);
  assert.equal(again.status, 200, 'healthy again once the schema is back');
  await again.arrayBuffer();
});

// RFC 9112 section 9.6: the server closes after answering a request with
// "Connection: close" (civetweb does) and should say so; telling the client
// "keep-alive" on a connection about to be closed makes it reuse a dead
// connection. The same goes for an HTTP/1.0 request without keep-alive.
test('a request that asks to close is not answered "Connection: keep-alive"', async () => {
  const cases = [
    ['HTTP/1.1 + Connection: close', 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'],
    ['HTTP/1.0 without keep-alive', 'GET /healthz HTTP/1.0\r\n\r\n'],
  ];
  for (const [what, raw] of cases) {
    const r = await rawRequest(srv.url, raw);
    assert.equal(r.status, 200, what);
    assert.notEqual(r.headers.connection?.toLowerCase(), 'keep-alive',
                    `${what}: the response says keep-alive but the server closes the connection`);
  }
});
