// CSRF protection (issue 3): every state-changing request made with the
// session cookie needs X-CSRF-Token equal to the session's csrf_token, else
// 403 "csrf" and nothing changes; a request whose Origin is another origin
// is refused whatever it carries; bearer-token requests need no CSRF token.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';

import { startServer, makeTempDir } from './lib/server.mjs';
import { request, as, login, signIn, addUsers, cliToken, assertError } from './lib/auth.mjs';

const PW = 'csrf-password-1';
let srv;
let admin;
let admin2;
let bearer;

before(async () => {
  const dir = makeTempDir('stockade-csrf-');
  const db = `${dir}/stockade.db`;
  await addUsers(db, [
    { name: 'c-admin', role: 'admin', password: PW },
    { name: 'c-admin2', role: 'admin', password: PW },
    { name: 'c-victim', role: 'viewer', password: PW },
    { name: 'c-pw', role: 'viewer', password: PW },
  ]);
  bearer = { bearer: await cliToken(db, 'c-tok', ['admin']) };
  srv = await startServer({ dir });
  admin = await signIn(srv.url, 'c-admin', PW);
  admin2 = await signIn(srv.url, 'c-admin2', PW);
});

const listNames = async (what, key = 'name') => {
  const r = await as(srv.url, admin, 'GET', `/api/v1/${what}`);
  assert.equal(r.status, 200, r.text);
  return r.json.items.map((x) => x[key]);
};
const userRow = async (name) => (await as(srv.url, admin, 'GET', '/api/v1/users')).json.items.find((u) => u.username === name);
const tokenRow = async (id) => (await as(srv.url, admin, 'GET', '/api/v1/tokens')).json.items.find((t) => t.id === id);

/** Sends `method target body` with the admin's cookie and each bad CSRF
 *  header in `bad` (undefined: none), asserting 403 csrf each time. */
async function refusedWithout(method, target, body, bad = [undefined, 'wrong']) {
  for (const csrf of bad) {
    const opts = { cookie: admin.cookie, body };
    if (csrf !== undefined) opts.csrf = csrf;
    const r = await request(srv.url, method, target, opts);
    assertError(r, 403, 'csrf', undefined, `${method} ${target} with X-CSRF-Token ${JSON.stringify(csrf)}`);
  }
}

test('reads need no CSRF token', async () => {
  for (const p of ['/api/v1/users', '/api/v1/roles', '/api/v1/tokens', '/api/v1/audit', '/api/v1/auth/me']) {
    const r = await request(srv.url, 'GET', p, { cookie: admin.cookie });
    assert.equal(r.status, 200, `${p}: ${r.text}`);
  }
});

test('creating a user: refused without the right CSRF token, and nothing is created', async () => {
  const body = { username: 'csrf-new', role: 'viewer', password: 'csrf-new-password' };
  const bad = [undefined, '', 'wrong', 'A'.repeat(43), admin.cookie, admin2.csrf,
               admin.csrf.toLowerCase() === admin.csrf ? admin.csrf.toUpperCase() : admin.csrf.toLowerCase(),
               `${admin.csrf}x`, admin.csrf.slice(0, -1), ` ${admin.csrf}`.slice(0, 43)];
  await refusedWithout('POST', '/api/v1/users', body, bad);
  assert.ok(!(await listNames('users', 'username')).includes('csrf-new'), 'no user was created');
  const ok = await as(srv.url, admin, 'POST', '/api/v1/users', { body });
  assert.equal(ok.status, 201, ok.text);
  assert.ok((await listNames('users', 'username')).includes('csrf-new'));
});

test('the CSRF token belongs to its session: another session\'s token is refused', async () => {
  const r = await request(srv.url, 'POST', '/api/v1/roles', {
    cookie: admin.cookie, csrf: admin2.csrf, body: { name: 'csrf-cross', permissions: ['alerts:read'] },
  });
  assertError(r, 403, 'csrf');
  // A second session of the same user has its own token too.
  const again = await signIn(srv.url, 'c-admin', PW);
  assert.notEqual(again.csrf, admin.csrf);
  const r2 = await request(srv.url, 'POST', '/api/v1/roles', {
    cookie: admin.cookie, csrf: again.csrf, body: { name: 'csrf-cross', permissions: ['alerts:read'] },
  });
  assertError(r2, 403, 'csrf');
  assert.ok(!(await listNames('roles')).includes('csrf-cross'));
});

test('changing a user: refused without the CSRF token, and the user is unchanged', async () => {
  for (const body of [{ role: 'analyst' }, { disabled: true }, { password: 'another-password-9' }]) {
    await refusedWithout('PATCH', '/api/v1/users/c-victim', body);
  }
  const row = await userRow('c-victim');
  assert.equal(row.role, 'viewer');
  assert.equal(row.disabled, false);
  const stillWorks = await login(srv.url, 'c-victim', PW);
  assert.equal(stillWorks.status, 200, 'password unchanged');
  const ok = await as(srv.url, admin, 'PATCH', '/api/v1/users/c-victim', { body: { role: 'analyst' } });
  assert.equal(ok.status, 200, ok.text);
  assert.equal((await userRow('c-victim')).role, 'analyst');
});

test('creating a role or a token: refused without the CSRF token, and nothing is created', async () => {
  await refusedWithout('POST', '/api/v1/roles', { name: 'csrf-role', permissions: ['alerts:read'] });
  assert.ok(!(await listNames('roles')).includes('csrf-role'));
  await refusedWithout('POST', '/api/v1/tokens', { name: 'csrf-tok', permissions: ['alerts:read'] });
  assert.ok(!(await listNames('tokens')).includes('csrf-tok'));

  const role = await as(srv.url, admin, 'POST', '/api/v1/roles', { body: { name: 'csrf-role', permissions: ['alerts:read'] } });
  assert.equal(role.status, 201, role.text);
  const tok = await as(srv.url, admin, 'POST', '/api/v1/tokens', { body: { name: 'csrf-tok', permissions: ['alerts:read'] } });
  assert.equal(tok.status, 201, tok.text);
  assert.ok((await listNames('roles')).includes('csrf-role'));
  assert.ok((await listNames('tokens')).includes('csrf-tok'));
});

test('revoking a token: refused without the CSRF token, and the token keeps working', async () => {
  const created = await as(srv.url, admin, 'POST', '/api/v1/tokens', { body: { name: 'csrf-victim-tok', permissions: ['alerts:read'] } });
  assert.equal(created.status, 201, created.text);
  const { id, token } = created.json;
  await refusedWithout('DELETE', `/api/v1/tokens/${id}`, undefined);
  assert.equal((await tokenRow(id)).status, 'active');
  assert.equal((await request(srv.url, 'GET', '/api/v1/auth/me', { bearer: token })).status, 200);
  const ok = await as(srv.url, admin, 'DELETE', `/api/v1/tokens/${id}`);
  assert.equal(ok.status, 200, ok.text);
  assert.equal((await tokenRow(id)).status, 'revoked');
});

test('signing out or changing one\'s password needs the CSRF token too', async () => {
  const s = await signIn(srv.url, 'c-pw', PW);
  for (const csrf of [undefined, 'wrong']) {
    const opts = { cookie: s.cookie };
    if (csrf !== undefined) opts.csrf = csrf;
    assertError(await request(srv.url, 'POST', '/api/v1/auth/logout', opts), 403, 'csrf', undefined, 'logout');
    assertError(await request(srv.url, 'POST', '/api/v1/auth/password',
                              { ...opts, body: { current_password: PW, new_password: 'csrf-changed-pw' } }),
                403, 'csrf', undefined, 'password');
  }
  assert.equal((await request(srv.url, 'GET', '/api/v1/auth/me', { cookie: s.cookie })).status, 200, 'still signed in');
  assert.equal((await login(srv.url, 'c-pw', PW)).status, 200, 'password unchanged');
  const out = await as(srv.url, s, 'POST', '/api/v1/auth/logout');
  assert.equal(out.status, 200);
  assert.equal((await request(srv.url, 'GET', '/api/v1/auth/me', { cookie: s.cookie })).status, 401);
});

test('a request from another origin is refused even with the right CSRF token', async () => {
  const port = new URL(srv.url).port;
  const foreign = ['http://evil.example', 'null', `http://127.0.0.1:${port}.evil.example`,
                   `http://127.0.0.1:${Number(port) + 1}`, `http://evil.example/127.0.0.1:${port}`,
                   `http://localhost:${port}`];
  const body = { username: 'csrf-origin', role: 'viewer', password: 'csrf-origin-password' };
  for (const origin of foreign) {
    const r = await as(srv.url, admin, 'POST', '/api/v1/users', { body, origin });
    assertError(r, 403, 'forbidden', undefined, `Origin: ${origin}`);
    const t = await as(srv.url, bearer, 'POST', '/api/v1/users', { body, origin });
    assertError(t, 403, 'forbidden', undefined, `bearer with Origin: ${origin}`);
    const d = await as(srv.url, admin, 'POST', '/api/v1/auth/logout', { origin });
    assertError(d, 403, 'forbidden', undefined, `logout with Origin: ${origin}`);
  }
  assert.ok(!(await listNames('users', 'username')).includes('csrf-origin'), 'no user was created');
  assert.equal((await request(srv.url, 'GET', '/api/v1/auth/me', { cookie: admin.cookie })).status, 200, 'still signed in');

  // Signing in from another origin is refused too (login CSRF).
  const li = await login(srv.url, 'c-admin', PW, { origin: 'http://evil.example' });
  assertError(li, 403, 'forbidden', undefined, 'cross-origin login');
  assert.equal(li.cookie, null, 'no session cookie for a cross-origin login');

  // Reads from another origin are answered, but never shared with it (no CORS).
  const read = await request(srv.url, 'GET', '/api/v1/auth/me', { cookie: admin.cookie, origin: 'http://evil.example' });
  assert.equal(read.status, 200);
  assert.equal(read.headers['access-control-allow-origin'], undefined);
  assert.equal(read.headers['access-control-allow-credentials'], undefined);

  // The server's own origin is fine.
  const same = await as(srv.url, admin, 'POST', '/api/v1/users', { body, origin: `http://127.0.0.1:${port}` });
  assert.equal(same.status, 201, same.text);
});

test('bearer-token requests need no CSRF token', async () => {
  const u = await as(srv.url, bearer, 'POST', '/api/v1/users', {
    body: { username: 'csrf-bearer', role: 'viewer', password: 'csrf-bearer-password' },
  });
  assert.equal(u.status, 201, u.text);
  const p = await as(srv.url, bearer, 'PATCH', '/api/v1/users/csrf-bearer', { body: { role: 'analyst' } });
  assert.equal(p.status, 200, p.text);
  const t = await as(srv.url, bearer, 'POST', '/api/v1/tokens', { body: { name: 'csrf-bearer-tok', permissions: ['alerts:read'] } });
  assert.equal(t.status, 201, t.text);
  const d = await as(srv.url, bearer, 'DELETE', `/api/v1/tokens/${t.json.id}`);
  assert.equal(d.status, 200, d.text);
  // A wrong X-CSRF-Token header does not matter to a bearer request either.
  const r = await as(srv.url, bearer, 'POST', '/api/v1/roles', { csrf: 'nonsense', body: { name: 'csrf-bearer-role', permissions: ['alerts:read'] } });
  assert.equal(r.status, 201, r.text);
});
