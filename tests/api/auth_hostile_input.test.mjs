// Hostile credentials and request bodies (issue 3): very long user names
// and passwords, NUL bytes, invalid UTF-8, wrong JSON types, extra and
// duplicate keys, bodies over --max-body. Every one is a 4xx with the JSON
// error envelope (never a 500), and the server stays healthy.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';

import { startServer, makeTempDir } from './lib/server.mjs';
import { request, as, login, signIn, addUsers, assertError } from './lib/auth.mjs';

const PW = 'hostile-password-1';
let srv;
let admin;
let addrN = 0;
const freshAddr = () => `127.0.5.${10 + addrN++}`;

before(async () => {
  const dir = makeTempDir('stockade-hostile-');
  await addUsers(`${dir}/stockade.db`, [
    { name: 'h-admin', role: 'admin', password: PW },
    { name: 'h-user', role: 'viewer', password: PW },
  ]);
  srv = await startServer({ dir });
  admin = await signIn(srv.url, 'h-admin', PW);
});

const loginRaw = (body, opts = {}) => request(srv.url, 'POST', '/api/v1/auth/login', { body, ...opts });

/** 400 with the envelope (malformed_json or invalid_request). */
function assert400(r, what) {
  const ctx = `${what} -> ${r.status} ${r.text.slice(0, 200)}`;
  assert.equal(r.status, 400, ctx);
  assert.ok(['malformed_json', 'invalid_request'].includes(r.json?.error?.code), ctx);
  assert.equal(typeof r.json.error.message, 'string', ctx);
  assert.equal(r.setCookie.length, 0, `${ctx}: no cookie`);
}

test('very long user names are refused with 400 (65 B, 10 KB, 1 MB)', async () => {
  for (const name of ['a'.repeat(65), 'a'.repeat(10 * 1024), 'a'.repeat(1024 * 1024), 'é'.repeat(33)]) {
    assert400(await loginRaw({ username: name, password: PW }), `username of ${Buffer.byteLength(name)} bytes`);
  }
  // 64 bytes is the limit: an unknown user, not a malformed request.
  const r = await loginRaw({ username: 'a'.repeat(64), password: PW }, { localAddress: freshAddr() });
  assertError(r, 401, 'invalid_credentials', undefined, '64-byte user name');
  assert400(await loginRaw({ username: '', password: PW }), 'empty user name');
});

test('very long passwords are refused with 400 (1025 B, 1 MB); 1024 B is checked', async () => {
  for (const pw of ['p'.repeat(1025), 'p'.repeat(1024 * 1024), 'ü'.repeat(513)]) {
    assert400(await loginRaw({ username: 'h-user', password: pw }), `password of ${Buffer.byteLength(pw)} bytes`);
  }
  const r = await loginRaw({ username: 'h-user', password: 'p'.repeat(1024) }, { localAddress: freshAddr() });
  assertError(r, 401, 'invalid_credentials', undefined, '1024-byte wrong password');
  assert400(await loginRaw({ username: 'h-user', password: '' }), 'empty password');
});

test('NUL bytes in credentials are refused with 400', async () => {
  const bodies = [
    `{"username":"h-user\\u0000","password":"${PW}"}`,
    `{"username":"h-user\\u0000junk","password":"${PW}"}`,
    `{"username":"\\u0000","password":"${PW}"}`,
    `{"username":"h-user","password":"${PW}\\u0000"}`,
    `{"username":"h-user","password":"\\u0000${PW}"}`,
    Buffer.from(`{"username":"h-user\0","password":"${PW}"}`, 'latin1'),
    Buffer.from(`{"username":"h-user","password":"${PW}\0"}`, 'latin1'),
    Buffer.from(`{"username":"h-user","password":"${PW}"}\0`, 'latin1'),
  ];
  for (const b of bodies) assert400(await loginRaw(b), `body ${JSON.stringify(b.toString())}`);
});

test('invalid UTF-8 in the JSON body is refused with 400', async () => {
  const frame = (u, p) => Buffer.concat([Buffer.from('{"username":"'), u, Buffer.from('","password":"'), p, Buffer.from('"}')]);
  const good = Buffer.from('h-user');
  const pw = Buffer.from(PW);
  const bad = [
    Buffer.from([0xff, 0xfe]),
    Buffer.from([0x68, 0xff, 0xfe, 0x68]),
    Buffer.from([0xc0, 0xaf]), // overlong '/'
    Buffer.from([0xe2, 0x82]), // truncated sequence
    Buffer.from([0xed, 0xa0, 0x80]), // UTF-16 surrogate encoded in UTF-8
    Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80]), // 5-byte form
    Buffer.from([0x80]), // lone continuation byte
  ];
  for (const b of bad) {
    assert400(await loginRaw(frame(b, pw)), `username bytes ${b.toString('hex')}`);
    assert400(await loginRaw(frame(good, Buffer.concat([pw, b]))), `password bytes ${b.toString('hex')}`);
  }
  assert400(await loginRaw(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(`{"username":"h-user","password":"${PW}"}`, 'utf16le')])), 'UTF-16 body');
  assert400(await loginRaw(`{"username":"h-user\\ud800","password":"${PW}"}`), 'lone surrogate escape');
  assert400(await loginRaw(`{"username":"h-user","password":"\\udc00${PW}"}`), 'lone low surrogate escape');
});

test('wrong JSON types and shapes are refused with 400', async () => {
  const bodies = [
    { username: 1, password: PW },
    { username: 'h-user', password: 1 },
    { username: true, password: PW },
    { username: null, password: PW },
    { username: 'h-user', password: null },
    { username: ['h-user'], password: PW },
    { username: 'h-user', password: [PW] },
    { username: { name: 'h-user' }, password: PW },
    { username: 'h-user', password: { p: PW } },
    { username: 'h-user' },
    { password: PW },
    {},
    [],
    ['h-user', PW],
    [{ username: 'h-user', password: PW }],
    'null', '42', '"h-user"', 'true', '', ' ', '{', '{"username":"h-user","password":"', '{}}',
    `{"username":"h-user","password":"${PW}"}garbage`,
    `{"username":"h-user","password":"${PW}"}{}`,
    `{'username':'h-user','password':'${PW}'}`,
  ];
  for (const b of bodies) {
    const body = typeof b === 'string' ? b : JSON.stringify(b);
    assert400(await loginRaw(body), `body ${body.slice(0, 80)}`);
  }
});

test('extra and duplicate keys are refused with 400', async () => {
  assert400(await loginRaw({ username: 'h-user', password: PW, remember: true }), 'extra key');
  assert400(await loginRaw({ username: 'h-user', password: PW, role: 'admin' }), 'extra key role');
  assert400(await loginRaw({ username: 'h-user', password: PW, '': 1 }), 'empty key');
  assert400(await loginRaw(`{"username":"nobody","username":"h-user","password":"${PW}"}`), 'duplicate username');
  assert400(await loginRaw(`{"username":"h-user","password":"x","password":"${PW}"}`), 'duplicate password');
});

test('the other JSON endpoints refuse the same hostile bodies with 4xx, never 500', async () => {
  const cases = [
    ['POST', '/api/v1/users', [
      { username: 'a'.repeat(65), role: 'viewer', password: 'long-enough-pw' },
      { username: 'x'.repeat(1024 * 1024), role: 'viewer', password: 'long-enough-pw' },
      { username: 'ok-name', role: 'viewer', password: 'p'.repeat(1025) },
      { username: 'ok-name', role: 'viewer', password: 'p'.repeat(1024 * 1024) },
      { username: 'ok-name', role: 'viewer', password: 'short' },
      '{"username":"nul\\u0000name","role":"viewer","password":"long-enough-pw"}',
      '{"username":"ok-name","role":"viewer","password":"long\\u0000enough-pw"}',
      { username: 'bad name', role: 'viewer', password: 'long-enough-pw' },
      { username: '../etc', role: 'viewer', password: 'long-enough-pw' },
      { username: 'ok-name', role: 'no-such-role', password: 'long-enough-pw' },
      { username: 'ok-name', role: 1, password: 'long-enough-pw' },
      { username: 'ok-name', role: 'viewer', password: 'long-enough-pw', admin: true },
      Buffer.concat([Buffer.from('{"username":"'), Buffer.from([0xff, 0xfe]), Buffer.from('","role":"viewer","password":"long-enough-pw"}')]),
    ]],
    ['PATCH', '/api/v1/users/h-user', [
      { password: 'p'.repeat(1025) }, { password: 'short' }, { role: 1 }, { disabled: 'yes' },
      { disabled: 1 }, { role: 'a'.repeat(10000) }, { nope: 1 }, '{"password":"nul\\u0000x-long-enough"}', [],
    ]],
    ['POST', '/api/v1/roles', [
      { name: 'a'.repeat(65), permissions: ['alerts:read'] },
      { name: 'r1', permissions: ['alerts:read', 'alerts:read'] },
      { name: 'r1', permissions: ['root'] },
      { name: 'r1', permissions: 'admin' },
      { name: 'r1', permissions: [] },
      { name: 'r1', permissions: ['response:manage'] },
      { name: 'r1', permissions: [1] },
      { name: 'r1', permissions: Array(1000).fill('admin') },
      { name: 'r1', permissions: ['alerts:read'], description: 'd'.repeat(201) },
      { name: 'r1', permissions: ['alerts:read'], description: 5 },
      '{"name":"r\\u0000x","permissions":["alerts:read"]}',
    ]],
    ['POST', '/api/v1/tokens', [
      { name: 'a'.repeat(65), permissions: ['alerts:read'] },
      { name: 't1', permissions: ['alerts:read'], ttl: 5 },
      { name: 't1', permissions: ['alerts:read'], cluster: 'bad cluster' },
      { name: 't1', permissions: ['alerts:read'], cluster: 'c'.repeat(65) },
      { name: 't1', permissions: ['alerts:read'], secret: 'x' },
      '{"name":"t\\u0000x","permissions":["alerts:read"]}',
    ]],
    ['POST', '/api/v1/auth/password', [
      { current_password: 'p'.repeat(1024 * 1024), new_password: 'long-enough-pw' },
      { current_password: PW, new_password: 'p'.repeat(1025) },
      { current_password: PW, new_password: 1 },
      { current_password: PW },
      '{"current_password":"x","new_password":"long\\u0000enough"}',
    ]],
  ];
  const me = await signIn(srv.url, 'h-user', PW);
  for (const [method, target, bodies] of cases) {
    const who = target === '/api/v1/auth/password' ? me : admin;
    for (const b of bodies) {
      const r = await as(srv.url, who, method, target, { body: b });
      const what = `${method} ${target} ${(Buffer.isBuffer(b) ? b.toString('hex') : typeof b === 'string' ? b : JSON.stringify(b)).slice(0, 80)}`;
      assert.ok(r.status >= 400 && r.status < 500 && r.status !== 401, `${what} -> ${r.status} ${r.text.slice(0, 200)}`);
      assert.equal(typeof r.json?.error?.code, 'string', `${what}: envelope`);
    }
  }
  // Nothing was created or changed by any of it.
  const users = (await as(srv.url, admin, 'GET', '/api/v1/users')).json.items.map((u) => u.username).sort();
  assert.deepEqual(users, ['h-admin', 'h-user']);
  assert.equal((await as(srv.url, admin, 'GET', '/api/v1/tokens')).json.items.length, 0);
  assert.equal((await as(srv.url, admin, 'GET', '/api/v1/roles')).json.items.length, 4);
  await signIn(srv.url, 'h-user', PW);
});

/** Sends raw `head` then `body` (written in pieces, errors ignored) and
 *  resolves with the status line and body of the answer. */
function rawSend(head, bodyChunks, timeoutMs = 30000) {
  const u = new URL(srv.url);
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: u.hostname, port: Number(u.port) });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`no answer in ${timeoutMs} ms: ${buf.toString('latin1').slice(0, 300)}`)); }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      const text = buf.toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : 0, text });
    };
    sock.on('error', () => {});
    sock.on('data', (d) => { buf = Buffer.concat([buf, d]); });
    sock.on('close', done);
    sock.on('connect', async () => {
      sock.write(head);
      for (const c of bodyChunks) {
        if (sock.destroyed) break;
        if (!sock.write(c)) await new Promise((r) => { sock.once('drain', r); sock.once('close', r); });
      }
      if (!sock.destroyed) sock.end();
    });
  });
}

test('a body over --max-body (8 MiB by default) is refused with 413', async () => {
  const declared = await rawSend(
    'POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
    `Content-Length: ${9 * 1024 * 1024}\r\nConnection: close\r\n\r\n`, [Buffer.from('{"username":"')]);
  assert.equal(declared.status, 413, declared.text.slice(0, 300));
  assert.match(declared.text, /"code":"too_large"/);

  const chunk = Buffer.alloc(1024 * 1024, 'a');
  const chunks = [Buffer.from('1a\r\n{"username":"h-user","x":"\r\n')];
  for (let i = 0; i < 9; i++) chunks.push(Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n'));
  chunks.push(Buffer.from('0\r\n\r\n'));
  const chunked = await rawSend(
    'POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
    'Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n', chunks);
  assert.equal(chunked.status, 413, chunked.text.slice(0, 300));

  const admin413 = await rawSend(
    'POST /api/v1/users HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
    `Cookie: stockade_session=${admin.cookie}\r\nX-CSRF-Token: ${admin.csrf}\r\n` +
    `Content-Length: ${64 * 1024 * 1024}\r\nConnection: close\r\n\r\n`, [Buffer.from('{')]);
  assert.equal(admin413.status, 413, admin413.text.slice(0, 300));

  // A body shorter than its Content-Length (client gives up) is not a 500.
  const short = await rawSend(
    'POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
    'Content-Length: 100\r\nConnection: close\r\n\r\n', [Buffer.from('{"username":')]);
  assert.ok(short.status === 0 || (short.status >= 400 && short.status < 500), short.text.slice(0, 300));
});

test('long paths and query strings on the identity routes are 4xx, never 500', async () => {
  for (const target of [
    `/api/v1/users/${'a'.repeat(1000)}`,
    `/api/v1/users/${'%00'.repeat(50)}`,
    `/api/v1/tokens/${'9'.repeat(1000)}`,
    `/api/v1/audit?actor=${'a'.repeat(5000)}`,
    `/api/v1/audit?limit=${'9'.repeat(100)}`,
    '/api/v1/audit?since=not-a-time',
    '/api/v1/audit?cursor=-1',
    '/api/v1/audit?outcome=maybe',
  ]) {
    const method = target.startsWith('/api/v1/users/') ? 'PATCH' : target.startsWith('/api/v1/tokens/') ? 'DELETE' : 'GET';
    const r = await as(srv.url, admin, method, target, { body: method === 'PATCH' ? { role: 'viewer' } : undefined });
    assert.ok(r.status >= 400 && r.status < 500, `${method} ${target.slice(0, 60)} -> ${r.status} ${r.text.slice(0, 200)}`);
  }
});

test('the server is healthy after all of it', async () => {
  const h = await request(srv.url, 'GET', '/healthz');
  assert.equal(h.status, 200);
  assert.deepEqual(h.json, { status: 'ok' });
  const s = await signIn(srv.url, 'h-user', PW);
  assert.equal((await request(srv.url, 'GET', '/api/v1/auth/me', { cookie: s.cookie })).status, 200);
  assert.doesNotMatch(srv.stderr(), /level=error/, 'no errors logged');
});
