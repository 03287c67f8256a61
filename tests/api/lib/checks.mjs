// Assertions shared by the API tests: security headers, the JSON error
// envelope, and a few facts about the source tree.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { SOURCE_DIR, runCli } from './server.mjs';

export const JSON_TYPE = 'application/json; charset=utf-8';

/** Reads a header from a fetch Headers object or from rawRequest()'s
 *  lower-case header map. */
export function header(headers, name) {
  if (typeof headers.get === 'function') return headers.get(name);
  return headers[name.toLowerCase()] ?? null;
}

/** Parses a Content-Security-Policy value into {directive: [sources]}. */
export function parseCsp(value) {
  const out = {};
  for (const part of value.split(';')) {
    const tokens = part.trim().split(/\s+/).filter(Boolean);
    if (tokens.length === 0) continue;
    const name = tokens[0].toLowerCase();
    if (!(name in out)) out[name] = tokens.slice(1);
  }
  return out;
}

/** Every response must carry these, whatever its status or origin. */
export function assertSecurityHeaders(headers, what = 'response') {
  const csp = header(headers, 'content-security-policy');
  assert.ok(csp, `${what}: Content-Security-Policy missing`);
  const d = parseCsp(csp);
  const scripts = d['script-src'] ?? d['default-src'];
  assert.ok(scripts, `${what}: CSP has neither script-src nor default-src: ${csp}`);
  assert.ok(!scripts.includes("'unsafe-inline'"), `${what}: script-src allows 'unsafe-inline': ${csp}`);
  assert.ok(!scripts.includes("'unsafe-eval'"), `${what}: script-src allows 'unsafe-eval': ${csp}`);
  assert.ok(!scripts.includes('*'), `${what}: script-src allows any origin: ${csp}`);
  assert.deepEqual(d['frame-ancestors'], ["'none'"], `${what}: CSP frame-ancestors is not 'none': ${csp}`);
  assert.equal(header(headers, 'x-content-type-options'), 'nosniff', `${what}: X-Content-Type-Options`);
  const rp = header(headers, 'referrer-policy');
  assert.ok(rp, `${what}: Referrer-Policy missing`);
  assert.match(rp, /^(no-referrer|same-origin|strict-origin|strict-origin-when-cross-origin)$/,
               `${what}: weak Referrer-Policy ${rp}`);
}

/** Checks the {"error":{"code","message"}} envelope in `body` (text or
 *  parsed) and returns the parsed object. */
export function assertErrorEnvelope(body, what = 'response') {
  const v = typeof body === 'string' ? JSON.parse(body) : body;
  assert.equal(typeof v, 'object', `${what}: error body is not an object`);
  assert.ok(v.error && typeof v.error === 'object', `${what}: no "error" object in ${JSON.stringify(v)}`);
  assert.equal(typeof v.error.code, 'string', `${what}: error.code is not a string`);
  assert.ok(v.error.code.length > 0, `${what}: error.code is empty`);
  assert.equal(typeof v.error.message, 'string', `${what}: error.message is not a string`);
  assert.ok(v.error.message.length > 0, `${what}: error.message is empty`);
  return v;
}

/** The migration files of the source tree, in version order. */
export function migrationFiles(dir = path.join(SOURCE_DIR, 'migrations')) {
  return fs.readdirSync(dir).filter((n) => /^\d{4}_.+\.sql$/.test(n)).sort();
}

/** Copies the assets the server reads (templates/, static/, web/) into
 *  `dest`, so a test can add hostile files without touching the tree. */
export function copyAssets(dest) {
  for (const sub of ['templates', 'static', 'web']) {
    fs.cpSync(path.join(SOURCE_DIR, sub), path.join(dest, sub), { recursive: true });
  }
  return dest;
}

/**
 * Request headers that let a test see the HTML pages. In the walking
 * skeleton the pages are public and this is {}. Once the build has users
 * (SPEC section 8: `stockade user add NAME --role admin --password-stdin`,
 * `POST /api/v1/auth/login`), pages need a session: this adds an admin to
 * the server's database and returns {cookie} of a signed-in session.
 */
export async function pageHeaders(srv) {
  const password = `pages-test-${process.pid}-${Date.now()}`;
  const add = await runCli(['user', 'add', 'pages-admin', '--role', 'admin', '--password-stdin',
                            '--db', srv.dbPath], { input: `${password}\n` });
  if (add.code === 2 && /unknown command 'user'/.test(add.stderr)) return {};
  assert.equal(add.code, 0, `stockade user add failed:\n${add.stderr}`);
  const r = await fetch(`${srv.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'pages-admin', password }),
    signal: AbortSignal.timeout(20000),
  });
  const body = await r.text();
  assert.equal(r.status, 200, `login failed: ${body}`);
  const cookie = (r.headers.get('set-cookie') ?? '').split(';')[0];
  assert.match(cookie, /^stockade_session=/);
  return { cookie };
}
