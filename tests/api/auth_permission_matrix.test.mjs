// The permission matrix, route by route (issue 3, SPEC section 5).
//
// The route table is parsed from server/http_routes.c at test time, so a
// route added later is walked without editing this file. Every route is
// requested by nobody, by one user per built-in role, by a user with a
// custom role, and by one API token per permission set; each answer must be
// exactly what the route's declared permission implies:
// - nobody: 401 {"error":{"code":"unauthorized"}} on the API, a 302 to
//   /login?next=PATH on pages (public routes answer normally);
// - lacking the permission: 403 naming it ("Requires Response: Manage"),
//   as the JSON envelope on the API and as the error page on pages;
// - having it: whatever the handler answers to a harmless request (2xx, 3xx,
//   or a 4xx about the request itself such as 400 for the empty body `{}`
//   or 404 for a made-up id), never 401, 403-"Requires", 405 or 5xx.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';

import { startServer, makeTempDir, runCli } from './lib/server.mjs';
import {
  PERMS, LABEL, ROLE_PERMS, PERM_NEEDS, effectivePerms, missingLabel, request, as, signIn,
  addUsers, cliToken, routeTable, isApiPath, concretePath, assertError,
} from './lib/auth.mjs';

const PW = 'matrix-password-1';
const TARGET_USER = 'matrix-target';
const CUSTOM_ROLE = 'matrix-custom';
const CUSTOM_PERMS = ['alerts:read', 'admin'];

const TOKEN_SETS = {
  'tok-alerts-read': ['alerts:read'],
  'tok-alerts-manage': ['alerts:manage'],
  'tok-response-read': ['response:read'],
  'tok-response-manage': ['alerts:manage', 'response:manage'],
  'tok-admin': ['admin'],
  'tok-all': [...PERMS],
};

let srv;
let routes;
/** [{name, kind: 'user'|'token', role, perms (effective), auth, password}] */
const principals = [];

before(async () => {
  routes = routeTable();
  const dir = makeTempDir('stockade-matrix-');
  const dbPath = `${dir}/stockade.db`;
  // Migrate and add the custom role first: users reference roles.
  const role = await runCli(['role', 'add', CUSTOM_ROLE, '--permissions', CUSTOM_PERMS.join(','),
                             '--db', dbPath]);
  assert.equal(role.code, 0, role.stderr);
  const users = [
    ...Object.keys(ROLE_PERMS).map((r) => ({ name: `m-${r}`, role: r, password: PW })),
    { name: 'm-custom', role: CUSTOM_ROLE, password: PW },
    { name: TARGET_USER, role: 'viewer', password: PW },
  ];
  await addUsers(dbPath, users);
  const tokens = {};
  for (const [name, perms] of Object.entries(TOKEN_SETS)) {
    tokens[name] = await cliToken(dbPath, name, perms);
  }
  srv = await startServer({ dir });
  assert.doesNotMatch(srv.stdout(), /created user 'admin'/, 'no bootstrap admin when users exist');

  for (const r of Object.keys(ROLE_PERMS)) {
    principals.push({ name: `m-${r}`, kind: 'user', role: r, perms: ROLE_PERMS[r], password: PW,
                      auth: await signIn(srv.url, `m-${r}`, PW) });
  }
  principals.push({ name: 'm-custom', kind: 'user', role: CUSTOM_ROLE, perms: effectivePerms(CUSTOM_PERMS),
                    password: PW, auth: await signIn(srv.url, 'm-custom', PW) });
  for (const [name, perms] of Object.entries(TOKEN_SETS)) {
    principals.push({ name, kind: 'token', perms: effectivePerms(perms), auth: { bearer: tokens[name] } });
  }
});

test('the route table parses and every route declares a known permission', () => {
  assert.ok(routes.length >= 20, `only ${routes.length} routes parsed`);
  const seen = new Set();
  for (const r of routes) {
    assert.ok(r.perm in PERM_NEEDS,
              `${r.method} ${r.pattern} declares ${r.perm}, which this test does not know ` +
              '(PERM_UNDECLARED is never allowed; a new permission needs a row in PERM_NEEDS)');
    assert.match(r.method, /^(GET|POST|PUT|PATCH|DELETE)$/, `${r.method} ${r.pattern}`);
    assert.match(r.pattern, /^\//, `${r.method} ${r.pattern}`);
    const key = `${r.method} ${r.pattern}`;
    assert.ok(!seen.has(key), `${key} is declared twice`);
    seen.add(key);
  }
});

test('the refusal names the permission the route is about (test model sanity)', () => {
  for (const role of ['viewer', 'analyst']) {
    assert.equal(missingLabel('PERM_RESPONSE_MANAGE', ROLE_PERMS[role]), 'Response: Manage');
  }
  assert.equal(missingLabel('PERM_RESPONSE_MANAGE', ROLE_PERMS.responder), null);
  assert.equal(missingLabel('PERM_RESPONSE_MANAGE', ['alerts:read', 'response:manage', 'response:read']),
               'Alerts: Manage');
  assert.equal(missingLabel('PERM_ADMIN', ROLE_PERMS.responder), 'Administration');
});

test('each principal is who it should be (GET /api/v1/auth/me)', async () => {
  for (const p of principals) {
    const r = await as(srv.url, p.auth, 'GET', '/api/v1/auth/me');
    assert.equal(r.status, 200, `${p.name}: ${r.text}`);
    const u = r.json.user;
    assert.deepEqual(u.permissions, p.perms, `${p.name}: permissions`);
    if (p.kind === 'user') {
      assert.equal(u.username, p.name);
      assert.equal(u.role, p.role);
      assert.equal(u.kind, 'user');
      assert.equal(r.json.csrf_token, p.auth.csrf, `${p.name}: csrf token of the session`);
    } else {
      assert.equal(u.kind, 'token');
      assert.equal(u.username, `token:${p.name}`);
      assert.ok(r.json.csrf_token == null, 'tokens have no CSRF token');
    }
  }
});

/** A JSON body for state-changing routes: valid JSON, invalid request, so
 *  an allowed caller gets a validation error and nothing changes. */
function bodyFor(route) {
  return ['GET', 'HEAD', 'DELETE'].includes(route.method) ? undefined : {};
}

function describeRes(r) {
  return `${r.status} ${r.headers.location ?? ''} ${r.text.slice(0, 200)}`;
}

/** Asserts the answer of `who` (null: nobody) for `route`. */
function checkAnswer(route, p, res) {
  const target = concretePath(route.pattern, { username: TARGET_USER });
  const what = `${route.method} ${target} (${route.perm}) as ${p ? p.name : 'nobody'}: ${describeRes(res)}`;
  const api = isApiPath(target);
  const needs = PERM_NEEDS[route.perm];
  let refusal = null;
  if (needs !== null) {
    if (p === null) refusal = 'unauthorized';
    else refusal = missingLabel(route.perm, p.perms);
  }
  if (refusal === 'unauthorized') {
    if (api) {
      assertError(res, 401, 'unauthorized', undefined, what);
    } else if (route.method === 'GET') {
      assert.equal(res.status, 302, what);
      assert.equal(res.headers.location, `/login?next=${target}`, what);
    } else {
      assert.equal(res.status, 401, what);
    }
    return 'refused';
  }
  if (refusal !== null) {
    if (api) {
      assertError(res, 403, 'forbidden', `Requires ${refusal}`, what);
    } else {
      assert.equal(res.status, 403, what);
      assert.match(res.headers['content-type'] ?? '', /^text\/html/, what);
      assert.ok(res.text.includes(`Requires ${refusal}`), `page does not name the permission: ${what}`);
    }
    return 'refused';
  }
  // Allowed: the guard let it through; the handler answers the request.
  assert.ok(res.status < 500, what);
  assert.notEqual(res.status, 401, what);
  assert.notEqual(res.status, 405, what);
  if (res.status === 403) {
    assert.ok(!/Requires /.test(res.json?.error?.message ?? res.text), `refused although allowed: ${what}`);
    assert.notEqual(res.json?.error?.code, 'csrf', what);
  }
  if (!api && route.method === 'GET') {
    assert.ok([200, 302].includes(res.status), what);
  }
  return res.status;
}

async function send(route, p) {
  const target = concretePath(route.pattern, { username: TARGET_USER });
  return as(srv.url, p ? p.auth : null, route.method, target, { body: bodyFor(route) });
}

test('every route answers every principal as its declared permission implies', async () => {
  const summary = [];
  for (const route of routes) {
    const cells = [];
    cells.push(checkAnswer(route, null, await send(route, null)));
    const results = await Promise.all(principals.map((p) => send(route, p)));
    for (let i = 0; i < principals.length; i++) {
      cells.push(checkAnswer(route, principals[i], results[i]));
    }
    // A state-changing route may have ended a session (sign-out, password
    // change): sign in again so the next route sees the same principals.
    for (const p of principals) {
      if (p.kind !== 'user') continue;
      const me = await as(srv.url, p.auth, 'GET', '/api/v1/auth/me');
      if (me.status === 401) p.auth = await signIn(srv.url, p.name, p.password);
    }
    summary.push(`${route.method.padEnd(6)} ${route.pattern.padEnd(28)} ${cells.join(' ')}`);
  }
  console.log(`nobody ${principals.map((p) => p.name).join(' ')}\n${summary.join('\n')}`);
});

test('viewer and analyst get 403 "Requires Response: Manage" on every response action route', async (t) => {
  const rm = routes.filter((r) => r.perm === 'PERM_RESPONSE_MANAGE');
  if (rm.length === 0) t.diagnostic('no route declares PERM_RESPONSE_MANAGE yet');
  for (const route of rm) {
    const target = concretePath(route.pattern, { username: TARGET_USER });
    for (const name of ['m-viewer', 'm-analyst']) {
      const p = principals.find((x) => x.name === name);
      const res = await send(route, p);
      if (isApiPath(target)) {
        assertError(res, 403, 'forbidden', 'Requires Response: Manage', `${route.method} ${target} as ${name}`);
      } else {
        assert.equal(res.status, 403);
        assert.ok(res.text.includes('Requires Response: Manage'));
      }
    }
  }
});

test('a custom role grants exactly its permissions', async () => {
  const p = principals.find((x) => x.name === 'm-custom');
  // admin without response:read: Administration yes, Action center no.
  assert.equal((await as(srv.url, p.auth, 'GET', '/api/v1/users')).status, 200);
  assert.equal((await as(srv.url, p.auth, 'GET', '/incidents')).status, 200);
  const ac = await as(srv.url, p.auth, 'GET', '/action-center');
  assert.equal(ac.status, 403);
  assert.ok(ac.text.includes(`Requires ${LABEL['response:read']}`));
});

test('unauthenticated pages redirect to /login?next= and the API answers 401', async () => {
  for (const route of routes.filter((r) => r.perm !== 'PERM_PUBLIC')) {
    const target = concretePath(route.pattern, { username: TARGET_USER });
    const res = await request(srv.url, route.method, target, { body: bodyFor(route) });
    if (isApiPath(target)) {
      assertError(res, 401, 'unauthorized', undefined, `${route.method} ${target}`);
      assert.equal(res.headers['set-cookie'], undefined, `${target}: no cookie for nobody`);
    } else if (route.method === 'GET') {
      assert.equal(res.status, 302, target);
      assert.equal(res.headers.location, `/login?next=${target}`);
      assert.equal(res.headers['cache-control'], 'no-store', target);
    }
  }
  // A next= that is not a plain path is dropped rather than reflected.
  const odd = await request(srv.url, 'GET', '/incidents?x=1');
  assert.equal(odd.status, 302);
  assert.match(odd.headers.location, /^\/login\?next=\/[A-Za-z0-9/_.-]*$/);
});

test('an unknown or garbage session cookie is the same as none', async () => {
  for (const cookie of ['', 'x', 'A'.repeat(43), 'A'.repeat(44), '%00', 'a b']) {
    const api = await request(srv.url, 'GET', '/api/v1/auth/me', { headers: { Cookie: `stockade_session=${cookie}` } });
    assertError(api, 401, 'unauthorized', undefined, `cookie ${JSON.stringify(cookie)}`);
    const page = await request(srv.url, 'GET', '/incidents', { headers: { Cookie: `stockade_session=${cookie}` } });
    assert.equal(page.status, 302, `cookie ${JSON.stringify(cookie)}`);
  }
  const health = await request(srv.url, 'GET', '/healthz', { headers: { Cookie: 'stockade_session=junk' } });
  assert.equal(health.status, 200);
});
