// Helpers for the identity, authorization and audit API tests
// (tests/api/auth_*.test.mjs), on top of ./server.mjs.
//
// - request(): one HTTP request over node:http on a fresh connection, with
//   control over every header and the client's source address (the server
//   throttles logins per source address; binding 127.0.0.N gives each test
//   an address of its own).
// - login() / Principal: sign in, keep the cookie and the CSRF token.
// - addUsers() / cliToken(): create users and tokens through the CLI.
// - routeTable(): the route table parsed from server/http_routes.c, so the
//   permission matrix covers a new route without anyone editing the test.
//
// Only node's standard library (Node 18).
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';

import { runCli, SOURCE_DIR, mapLimit } from './server.mjs';

export const COOKIE = 'stockade_session';

/** The permission names and the labels the server names in refusals
 *  (SPEC section 5). */
export const PERMS = ['alerts:read', 'alerts:manage', 'response:read', 'response:manage', 'admin'];
export const LABEL = {
  'alerts:read': 'Alerts: Read',
  'alerts:manage': 'Alerts: Manage',
  'response:read': 'Response: Read',
  'response:manage': 'Response: Manage',
  admin: 'Administration',
};

/** Built-in roles as SPEC section 5 defines them. */
export const ROLE_PERMS = {
  viewer: ['alerts:read', 'response:read'],
  analyst: ['alerts:read', 'alerts:manage', 'response:read'],
  responder: ['alerts:read', 'alerts:manage', 'response:read', 'response:manage'],
  admin: [...PERMS],
};

/** What each route declaration requires, in the order the refusal names
 *  them (Response: Manage also needs Alerts: Manage; the refusal names the
 *  permission the route is about first). null: public. */
export const PERM_NEEDS = {
  PERM_PUBLIC: null,
  PERM_SIGNED_IN: [],
  PERM_ALERTS_READ: ['alerts:read'],
  PERM_ALERTS_MANAGE: ['alerts:manage'],
  PERM_RESPONSE_READ: ['response:read'],
  PERM_RESPONSE_MANAGE: ['response:manage', 'alerts:manage'],
  PERM_ADMIN: ['admin'],
};

/** A manage permission implies its read permission. */
export function effectivePerms(perms) {
  const set = new Set(perms);
  if (set.has('alerts:manage')) set.add('alerts:read');
  if (set.has('response:manage')) set.add('response:read');
  return PERMS.filter((p) => set.has(p));
}

/** The label the server must name when `perms` lack what `decl` needs,
 *  null when nothing is missing. */
export function missingLabel(decl, perms) {
  const needs = PERM_NEEDS[decl];
  if (needs === null) return null;
  const have = new Set(perms);
  const lacking = needs.find((p) => !have.has(p));
  return lacking ? LABEL[lacking] : null;
}

// ---------------------------------------------------------------------------
// HTTP

/**
 * One request on a new connection (no keep-alive). Options:
 * headers, body (string, Buffer or object -> JSON), cookie (session token
 * value), csrf, bearer, origin, localAddress, timeoutMs.
 * Resolves with {status, headers, text, json (or undefined), ms, setCookie}.
 */
export function request(baseUrl, method, target, opts = {}) {
  const u = new URL(baseUrl);
  const headers = { ...(opts.headers ?? {}) };
  let body = opts.body;
  if (body !== undefined && typeof body !== 'string' && !Buffer.isBuffer(body)) {
    body = JSON.stringify(body);
  }
  if (body !== undefined) {
    headers['Content-Type'] ??= 'application/json';
    headers['Content-Length'] = Buffer.byteLength(body);
  }
  if (opts.cookie !== undefined) headers.Cookie = `${COOKIE}=${opts.cookie}`;
  if (opts.csrf !== undefined) headers['X-CSRF-Token'] = opts.csrf;
  if (opts.bearer !== undefined) headers.Authorization = `Bearer ${opts.bearer}`;
  if (opts.origin !== undefined) headers.Origin = opts.origin;
  const timeoutMs = opts.timeoutMs ?? 20000;
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = http.request({
      host: u.hostname,
      port: Number(u.port),
      method,
      path: target,
      headers,
      agent: false,
      localAddress: opts.localAddress,
    }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        if (/json/.test(res.headers['content-type'] ?? '')) {
          try { json = JSON.parse(text); } catch { json = undefined; }
        }
        const sc = res.headers['set-cookie'] ?? [];
        resolve({ status: res.statusCode, headers: res.headers, text, json, ms, setCookie: sc });
      });
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${target} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    if (body !== undefined) req.end(body); else req.end();
  });
}

/** The value of the session cookie a response sets, or null. */
export function sessionCookieOf(res) {
  for (const line of res.setCookie ?? []) {
    const m = new RegExp(`^${COOKIE}=([^;]*)`).exec(line);
    if (m) return m[1];
  }
  return null;
}

/** POST /api/v1/auth/login. Resolves with the response plus {cookie, csrf}. */
export async function login(baseUrl, username, password, opts = {}) {
  const res = await request(baseUrl, 'POST', '/api/v1/auth/login', {
    ...opts,
    body: { username, password },
  });
  return { ...res, cookie: sessionCookieOf(res), csrf: res.json?.csrf_token };
}

/** Signs in and asserts success; resolves with {name, cookie, csrf, user}. */
export async function signIn(baseUrl, username, password, opts = {}) {
  const r = await login(baseUrl, username, password, opts);
  assert.equal(r.status, 200, `sign-in of ${username}: ${r.status} ${r.text}`);
  assert.ok(r.cookie, `sign-in of ${username}: no ${COOKIE} cookie`);
  assert.ok(r.csrf, `sign-in of ${username}: no csrf_token`);
  return { name: username, cookie: r.cookie, csrf: r.csrf, user: r.json.user };
}

/** A request as a signed-in browser (cookie plus, for state-changing
 *  methods, the CSRF token) or as a token holder. `who` is a session from
 *  signIn(), {bearer}, or null for nobody. */
export function as(baseUrl, who, method, target, opts = {}) {
  const o = { ...opts };
  if (who?.cookie) {
    o.cookie = who.cookie;
    if (!['GET', 'HEAD', 'OPTIONS'].includes(method) && !('csrf' in opts)) o.csrf = who.csrf;
  }
  if (who?.bearer) o.bearer = who.bearer;
  return request(baseUrl, method, target, o);
}

/** Asserts the {"error":{"code","message"}} envelope with `code` (and a
 *  message matching `message` when given). */
export function assertError(res, status, code, message, what = '') {
  const ctx = `${what} -> ${res.status} ${res.text.slice(0, 300)}`;
  assert.equal(res.status, status, ctx);
  assert.ok(res.json && typeof res.json.error === 'object', `no error envelope: ${ctx}`);
  assert.equal(res.json.error.code, code, ctx);
  assert.equal(typeof res.json.error.message, 'string', ctx);
  if (message instanceof RegExp) assert.match(res.json.error.message, message, ctx);
  else if (message !== undefined) assert.equal(res.json.error.message, message, ctx);
}

/** Resolves with the median of `values`. */
export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// ---------------------------------------------------------------------------
// CLI

/** `stockade user add` for each {name, role, password}, two at a time. */
export async function addUsers(dbPath, users) {
  const add = async (u) => {
    const r = await runCli(['user', 'add', u.name, '--role', u.role, '--password-stdin',
                            '--db', dbPath], { input: `${u.password}\n` });
    assert.equal(r.code, 0, `user add ${u.name}: ${r.stderr}`);
  };
  // The first one alone: two processes migrating a new database at the
  // same time trip over each other (see the report on migrate_apply).
  if (users.length > 0) await add(users[0]);
  await mapLimit(users.slice(1), 2, add);
}

/** `stockade token create`; resolves with the token it printed. */
export async function cliToken(dbPath, name, perms, { ttl, cluster } = {}) {
  const args = ['token', 'create', '--name', name, '--permissions', perms.join(','), '--db', dbPath];
  if (ttl) args.push('--ttl', ttl);
  if (cluster) args.push('--cluster', cluster);
  const r = await runCli(args);
  assert.equal(r.code, 0, `token create ${name}: ${r.stderr}`);
  const tok = r.stdout.trim();
  assert.match(tok, /^stk_[A-Za-z0-9_-]{43}$/, `token create ${name} printed ${JSON.stringify(r.stdout)}`);
  return tok;
}

/** The bytes of the database and its WAL (where recent writes live). */
export function databaseBytes(dbPath) {
  const parts = [];
  for (const p of [dbPath, `${dbPath}-wal`, `${dbPath}-journal`]) {
    if (fs.existsSync(p)) parts.push(fs.readFileSync(p));
  }
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------
// The route table

/**
 * Parses `http_route_table` in server/http_routes.c into
 * [{method, pattern, perm, handler}]. Throws when a row does not have the
 * expected shape, so a route cannot slip past the matrix by being written
 * differently.
 */
export function routeTable(file = path.join(SOURCE_DIR, 'server', 'http_routes.c')) {
  const src = fs.readFileSync(file, 'utf8');
  const start = src.search(/const\s+struct\s+route\s+http_route_table\s*\[\s*\]\s*=\s*\{/);
  assert.ok(start >= 0, 'http_route_table not found in server/http_routes.c');
  const open = src.indexOf('{', src.indexOf('=', start));
  const close = src.indexOf('};', open);
  const body = src.slice(open + 1, close)
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/[^\n]*/g, '');
  // Split into {...} rows, ignoring braces inside string literals ("/users/{username}").
  const rows = [];
  let leftover = '';
  let row = null;
  let inStr = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (inStr) {
      if (c === '\\') { row += c + body[++i]; continue; }
      if (c === '"') inStr = false;
      row += c;
    } else if (c === '"') {
      assert.ok(row !== null, 'route table: string outside a row');
      inStr = true;
      row += c;
    } else if (c === '{') {
      assert.equal(row, null, 'route table: nested braces');
      row = '';
    } else if (c === '}') {
      assert.notEqual(row, null, 'route table: unbalanced braces');
      const f = /^\s*"([A-Z]+)"\s*,\s*"([^"]+)"\s*,\s*([A-Z_]+)\s*,\s*([A-Za-z_][A-Za-z0-9_]*)\s*$/.exec(row);
      assert.ok(f, `route table row not understood: {${row}}`);
      rows.push({ method: f[1], pattern: f[2], perm: f[3], handler: f[4] });
      row = null;
    } else if (row !== null) {
      row += c;
    } else {
      leftover += c;
    }
  }
  leftover = leftover.replace(/[\s,]/g, '');
  assert.equal(leftover, '', `route table has text outside rows: ${leftover.slice(0, 200)}`);
  assert.ok(rows.length > 0, 'route table is empty');
  return rows;
}

/** Is `pattern` answered as API (JSON) rather than as a page? */
export function isApiPath(p) {
  return p.startsWith('/api/') || p === '/healthz';
}

/** A file under SOURCE_DIR/`dir` (relative path), for routes like /static/*. */
function someFile(dir) {
  const root = path.join(SOURCE_DIR, dir);
  const walk = (d) => {
    let entries;
    try { entries = fs.readdirSync(d, { withFileTypes: true }); } catch { return null; }
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      if (e.isFile() && /^[A-Za-z0-9._-]+$/.test(e.name)) return path.relative(root, path.join(d, e.name));
    }
    for (const e of entries) {
      if (e.isDirectory()) {
        const f = walk(path.join(d, e.name));
        if (f) return f;
      }
    }
    return null;
  };
  return walk(root);
}

/** A concrete path for a route pattern: {username} and {id} get the given
 *  values, other parameters a harmless word, a trailing * a real file. */
export function concretePath(pattern, values = {}) {
  let p = pattern.replace(/\{([A-Za-z_]+)\}/g, (_, name) => encodeURIComponent(values[name] ?? (name === 'id' ? '999999' : 'x1')));
  if (p.endsWith('/*')) {
    const dir = p.slice(1, -2);
    p = `/${dir}/${someFile(dir) ?? 'none'}`;
  }
  return p;
}
