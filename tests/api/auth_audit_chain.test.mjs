// The tamper-evident audit log (issue 3): sign-in, failed sign-in,
// sign-out, user, role and token changes each append an entry with the
// right actor, source address, action, target and outcome (read back
// through GET /api/v1/audit with its filters and cursor paging); the hash
// chain links every entry to the one before; `stockade audit verify` is OK
// with the count and detects an edited, a deleted and a reordered entry;
// no entry carries a password or a token.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { startServer, makeTempDir, runCli, sqlite } from './lib/server.mjs';
import { as, login, signIn, addUsers, cliToken, assertError } from './lib/auth.mjs';

const PW = 'audit-password-1';
const WRONG = 'audit-wrong-password';
const NEW_PW = 'audit-new-password-2';
const ZERO = '0'.repeat(64);

let srv;
let admin;
let tokenSecret;
const secrets = new Set([PW, WRONG, NEW_PW]);
const marks = {}; // name -> the id of the entry the step appended
let all = []; // every entry, ascending by id, after the steps

const sq = (db, sql) => sqlite(db, `.timeout 5000\n${sql}`);

/** Every audit entry through the API, newest first, following next_cursor. */
async function auditAll(query = '', limit = 200) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < 1000; page++) {
    const q = [query, `limit=${limit}`, cursor ? `cursor=${cursor}` : ''].filter(Boolean).join('&');
    const r = await as(srv.url, admin, 'GET', `/api/v1/audit?${q}`);
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.items.length <= limit);
    items.push(...r.json.items);
    cursor = r.json.next_cursor;
    if (cursor == null) return items;
    assert.match(String(cursor), /^[0-9]+$/);
  }
  throw new Error('audit paging does not end');
}

/** The newest entry (optionally with `action`), asserting its fields. */
async function lastEntry(action) {
  const r = await as(srv.url, admin, 'GET', `/api/v1/audit?limit=1${action ? `&action=${action}` : ''}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.items.length, 1, `an entry for ${action}`);
  return r.json.items[0];
}

function expectEntry(e, want, what) {
  for (const [k, v] of Object.entries(want)) {
    if (v instanceof RegExp) assert.match(String(e[k]), v, `${what}: ${k} in ${JSON.stringify(e)}`);
    else if (typeof v === 'object' && v !== null) assert.deepEqual(e[k], v, `${what}: ${k} in ${JSON.stringify(e)}`);
    else assert.equal(e[k], v, `${what}: ${k} in ${JSON.stringify(e)}`);
  }
  assert.match(e.hash, /^[0-9a-f]{64}$/);
  assert.match(e.prev_hash, /^[0-9a-f]{64}$/);
  assert.match(e.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
}

before(async () => {
  const dir = makeTempDir('stockade-audit-');
  const db = `${dir}/stockade.db`;
  await addUsers(db, [
    { name: 'a-admin', role: 'admin', password: PW },
    { name: 'a-user', role: 'viewer', password: PW },
  ]);
  tokenSecret = await cliToken(db, 'a-tok', ['admin']);
  secrets.add(tokenSecret);
  srv = await startServer({ dir });
});

test('the CLI\'s changes are audited with a cli: actor', async () => {
  // Sign in first: the audit API needs an admin.
  admin = await signIn(srv.url, 'a-admin', PW);
  secrets.add(admin.cookie);
  secrets.add(admin.csrf);
  const items = (await auditAll()).reverse();
  const creates = items.filter((e) => e.action === 'user.create');
  assert.deepEqual(creates.map((e) => e.target), ['a-admin', 'a-user']);
  for (const e of creates) {
    expectEntry(e, { actor: /^cli:/, actor_kind: 'cli', source_ip: 'local', outcome: 'success' }, 'user add');
  }
  assert.deepEqual(creates.map((e) => e.details.role), ['admin', 'viewer']);
  const tok = items.find((e) => e.action === 'token.create');
  expectEntry(tok, { actor: /^cli:/, actor_kind: 'cli', target: /^token:\d+$/ }, 'token create');
  assert.deepEqual(tok.details.permissions, ['admin']);
});

test('signing in, failing to, and signing out are audited with actor, address and outcome', async () => {
  marks.login = (await lastEntry('auth.login')).id;
  expectEntry(await lastEntry('auth.login'), {
    actor: 'a-admin', actor_kind: 'user', source_ip: '127.0.0.1', target: 'a-admin', outcome: 'success',
  }, 'admin login');

  const f = await login(srv.url, 'a-user', WRONG, { localAddress: '127.0.6.7' });
  assert.equal(f.status, 401);
  const fe = await lastEntry('auth.login');
  expectEntry(fe, {
    actor: 'a-user', actor_kind: 'anonymous', source_ip: '127.0.6.7', target: 'a-user', outcome: 'failure',
  }, 'wrong password');
  assert.equal(fe.details.reason, 'wrong password');
  marks.failed = fe.id;

  const g = await login(srv.url, 'a-ghost', WRONG, { localAddress: '127.0.6.8' });
  assert.equal(g.status, 401);
  const ge = await lastEntry('auth.login');
  expectEntry(ge, { actor: 'a-ghost', actor_kind: 'anonymous', source_ip: '127.0.6.8', outcome: 'failure' }, 'unknown user');
  assert.equal(ge.details.reason, 'unknown user');

  const u = await signIn(srv.url, 'a-user', PW, { localAddress: '127.0.6.9' });
  secrets.add(u.cookie);
  secrets.add(u.csrf);
  expectEntry(await lastEntry('auth.login'), {
    actor: 'a-user', actor_kind: 'user', source_ip: '127.0.6.9', outcome: 'success',
  }, 'user login');
  const out = await as(srv.url, u, 'POST', '/api/v1/auth/logout', { localAddress: '127.0.6.9' });
  assert.equal(out.status, 200);
  const oe = await lastEntry('auth.logout');
  expectEntry(oe, { actor: 'a-user', actor_kind: 'user', source_ip: '127.0.6.9', target: 'a-user', outcome: 'success' }, 'logout');
  marks.logout = oe.id;
});

test('user, role and token changes are audited', async () => {
  const mk = await as(srv.url, admin, 'POST', '/api/v1/users', { body: { username: 'a-new', role: 'viewer', password: PW } });
  assert.equal(mk.status, 201, mk.text);
  const ce = await lastEntry();
  expectEntry(ce, { action: 'user.create', actor: 'a-admin', actor_kind: 'user', source_ip: '127.0.0.1', target: 'a-new', outcome: 'success' }, 'user create');
  assert.deepEqual(ce.details, { role: 'viewer' });
  marks.create = ce.id;

  assert.equal((await as(srv.url, admin, 'PATCH', '/api/v1/users/a-new', { body: { role: 'analyst' } })).status, 200);
  const re = await lastEntry();
  expectEntry(re, { action: 'user.set_role', actor: 'a-admin', target: 'a-new', outcome: 'success' }, 'set role');
  assert.deepEqual(re.details, { from: 'viewer', to: 'analyst' });

  assert.equal((await as(srv.url, admin, 'PATCH', '/api/v1/users/a-new', { body: { disabled: true } })).status, 200);
  expectEntry(await lastEntry(), { action: 'user.disable', actor: 'a-admin', target: 'a-new', outcome: 'success' }, 'disable');
  assert.equal((await as(srv.url, admin, 'PATCH', '/api/v1/users/a-new', { body: { disabled: false } })).status, 200);
  expectEntry(await lastEntry(), { action: 'user.enable', actor: 'a-admin', target: 'a-new', outcome: 'success' }, 'enable');
  assert.equal((await as(srv.url, admin, 'PATCH', '/api/v1/users/a-new', { body: { password: NEW_PW } })).status, 200);
  expectEntry(await lastEntry(), { action: 'user.set_password', actor: 'a-admin', target: 'a-new', outcome: 'success' }, 'set password');

  // Refusals are on the record too.
  const last = await as(srv.url, admin, 'PATCH', '/api/v1/users/a-admin', { body: { disabled: true } });
  assert.equal(last.status, 409);
  expectEntry(await lastEntry(), { action: 'user.disable', actor: 'a-admin', target: 'a-admin', outcome: 'failure' }, 'refused disable');

  const role = await as(srv.url, admin, 'POST', '/api/v1/roles', { body: { name: 'a-role', permissions: ['alerts:manage'] } });
  assert.equal(role.status, 201, role.text);
  const rle = await lastEntry();
  expectEntry(rle, { action: 'role.create', actor: 'a-admin', target: 'a-role', outcome: 'success' }, 'role create');
  assert.deepEqual(rle.details.permissions, ['alerts:read', 'alerts:manage']);

  const tk = await as(srv.url, admin, 'POST', '/api/v1/tokens', { body: { name: 'a-api-tok', permissions: ['alerts:read'], ttl: '1h', cluster: 'c1' } });
  assert.equal(tk.status, 201, tk.text);
  secrets.add(tk.json.token);
  const te = await lastEntry();
  expectEntry(te, { action: 'token.create', actor: 'a-admin', target: `token:${tk.json.id}`, outcome: 'success' }, 'token create');
  assert.deepEqual(te.details, { permissions: ['alerts:read'], ttl_s: 3600, cluster: 'c1' });
  marks.tokenCreate = te.id;
  assert.equal((await as(srv.url, admin, 'DELETE', `/api/v1/tokens/${tk.json.id}`)).status, 200);
  const tre = await lastEntry();
  expectEntry(tre, { action: 'token.revoke', actor: 'a-admin', target: `token:${tk.json.id}`, outcome: 'success' }, 'token revoke');
  assert.deepEqual(tre.details, { name: 'a-api-tok' });

  // A change made with an API token is attributed to the token.
  const bt = await as(srv.url, { bearer: tokenSecret }, 'POST', '/api/v1/users', { body: { username: 'a-by-token', role: 'viewer', password: PW } });
  assert.equal(bt.status, 201, bt.text);
  expectEntry(await lastEntry(), { action: 'user.create', actor: 'token:a-tok', actor_kind: 'token', source_ip: '127.0.0.1', target: 'a-by-token' }, 'by token');

  // A wrong current password when changing one's own is a failure entry.
  const s = await signIn(srv.url, 'a-new', NEW_PW);
  secrets.add(s.cookie);
  const pw = await as(srv.url, s, 'POST', '/api/v1/auth/password', { body: { current_password: WRONG, new_password: 'audit-other-pw-3' } });
  assert.equal(pw.status, 403);
  expectEntry(await lastEntry('user.set_password'), { actor: 'a-new', target: 'a-new', outcome: 'failure' }, 'own password, wrong current');
  secrets.add('audit-other-pw-3');
});

test('the entries form a hash chain from the zero hash, readable page by page', async () => {
  const full = await auditAll('', 200);
  const paged = await auditAll('', 3);
  assert.deepEqual(paged.map((e) => e.id), full.map((e) => e.id), 'paging with limit=3 returns the same entries');
  for (let i = 1; i < full.length; i++) assert.ok(full[i].id < full[i - 1].id, 'newest first, no duplicates');
  all = [...full].reverse();
  assert.equal(all[0].id, 1);
  assert.equal(all[0].prev_hash, ZERO);
  for (let i = 1; i < all.length; i++) {
    assert.equal(all[i].id, all[i - 1].id + 1, 'ids are consecutive');
    assert.equal(all[i].prev_hash, all[i - 1].hash, `entry ${all[i].id} links to ${all[i - 1].id}`);
    assert.ok(Date.parse(all[i].time) >= Date.parse(all[i - 1].time), 'time does not go backwards');
  }
  assert.equal(new Set(all.map((e) => e.hash)).size, all.length, 'hashes are distinct');
  const count = Number(sq(srv.dbPath, 'SELECT count(*) FROM audit_log;'));
  assert.equal(all.length, count);
  assert.ok(count >= 20, `only ${count} entries`);

  // The last page has no cursor; a limit of 1 pages one by one.
  const one = await as(srv.url, admin, 'GET', `/api/v1/audit?limit=1&cursor=${all[0].id + 1}`);
  assert.deepEqual(one.json.items.map((e) => e.id), [1]);
  const none = await as(srv.url, admin, 'GET', '/api/v1/audit?limit=5&cursor=1');
  assert.deepEqual(none.json.items, []);
  assert.equal(none.json.next_cursor ?? null, null);
});

test('the audit list filters by actor, action prefix, outcome and time', async () => {
  const byActor = await auditAll('actor=a-user');
  assert.ok(byActor.length >= 3);
  assert.ok(byActor.every((e) => e.actor === 'a-user'));
  assert.deepEqual(byActor.map((e) => e.id), all.filter((e) => e.actor === 'a-user').map((e) => e.id).reverse());

  const users = await auditAll('action=user.');
  assert.ok(users.length >= 8 && users.every((e) => e.action.startsWith('user.')));
  const exact = await auditAll('action=auth.logout');
  assert.deepEqual(exact.map((e) => e.id), [marks.logout]);

  const failures = await auditAll('outcome=failure');
  assert.ok(failures.length >= 4 && failures.every((e) => e.outcome === 'failure'));
  assert.ok(failures.some((e) => e.id === marks.failed));
  const combined = await auditAll('actor=a-admin&action=user.&outcome=failure');
  assert.equal(combined.length, 1);
  assert.equal(combined[0].target, 'a-admin');

  const from = all.find((e) => e.id === marks.create);
  const to = all.find((e) => e.id === marks.tokenCreate);
  const sinceMs = Date.parse(from.time);
  const untilMs = Date.parse(to.time);
  const windowMs = await auditAll(`since=${sinceMs}&until=${untilMs}`);
  const want = all.filter((e) => Date.parse(e.time) >= sinceMs && Date.parse(e.time) <= untilMs).map((e) => e.id).reverse();
  assert.deepEqual(windowMs.map((e) => e.id), want);
  const windowIso = await auditAll(`since=${encodeURIComponent(from.time)}&until=${encodeURIComponent(to.time)}`);
  assert.deepEqual(windowIso.map((e) => e.id), want, 'RFC 3339 times work like milliseconds');
  const offset = new Date(sinceMs).toISOString().replace('Z', '+00:00');
  assert.deepEqual((await auditAll(`since=${encodeURIComponent(offset)}&until=${untilMs}`)).map((e) => e.id), want);
  assert.deepEqual(await auditAll(`since=${Date.now() + 3600e3}`), []);

  for (const q of ['limit=0', 'limit=201', 'limit=x', 'outcome=ok', 'since=yesterday', 'until=2024-13-01T00:00:00Z',
                   'cursor=abc', 'cursor=0']) {
    const r = await as(srv.url, admin, 'GET', `/api/v1/audit?${q}`);
    assertError(r, 400, 'invalid_request', undefined, q);
  }
});

test('no audit entry carries a password, a session or CSRF token, or an API token', async () => {
  const table = sq(srv.dbPath, '.mode list\nSELECT actor, actor_kind, source_ip, action, target, outcome, details FROM audit_log;');
  const api = JSON.stringify(await auditAll());
  for (const s of secrets) {
    assert.ok(!table.includes(s), `a secret (${s.slice(0, 6)}...) in the audit_log table`);
    assert.ok(!api.includes(s), `a secret (${s.slice(0, 6)}...) in GET /api/v1/audit`);
    if (s.startsWith('stk_')) assert.ok(!table.includes(s.slice(4)), 'token body in the audit_log table');
  }
});

test('`stockade audit verify` is OK with the entry count and the head hash', async () => {
  const r = await runCli(['audit', 'verify', '--db', srv.dbPath]);
  assert.equal(r.code, 0, r.stderr);
  const count = Number(sq(srv.dbPath, 'SELECT count(*) FROM audit_log;'));
  const head = sq(srv.dbPath, 'SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1;');
  assert.equal(r.stdout.trim(), `OK ${count} entries, head ${head}`);
});

// ---------------------------------------------------------------------------
// Tampering, each on a fresh copy of the database taken after the server
// stopped.

let pristine;
function copyDb(name) {
  const dest = path.join(path.dirname(srv.dbPath), `${name}.db`);
  fs.copyFileSync(pristine, dest);
  return dest;
}
async function verify(db) {
  const r = await runCli(['audit', 'verify', '--db', db]);
  return { ...r, out: r.stdout.trim() };
}
function assertBroken(r, id, what) {
  assert.equal(r.code, 1, `${what}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  assert.match(r.out, new RegExp(`^BROKEN entry=${id}( |$)`), `${what}: ${r.out}`);
  assert.match(r.stderr, new RegExp(`\\b${id}\\b`), `${what}: stderr names the entry: ${r.stderr}`);
}

test('audit verify detects an edited, a deleted and a reordered entry', async () => {
  await srv.stop();
  pristine = path.join(path.dirname(srv.dbPath), 'pristine.db');
  sq(srv.dbPath, `VACUUM INTO '${pristine}';`);
  const count = Number(sq(pristine, 'SELECT count(*) FROM audit_log;'));
  const ok = await verify(pristine);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.out, new RegExp(`^OK ${count} entries`));
  const k = marks.failed; // a failed sign-in in the middle of the log
  assert.ok(k > 1 && k < count - 1);

  // Edited: the failed sign-in made to look like a success, then only its details.
  const edited = copyDb('edited');
  sq(edited, `UPDATE audit_log SET outcome = 'success' WHERE id = ${k};`);
  assertBroken(await verify(edited), k, 'outcome edited');
  const edited2 = copyDb('edited2');
  sq(edited2, `UPDATE audit_log SET details = '{"reason":"password"}' WHERE id = ${k};`);
  assertBroken(await verify(edited2), k, 'details edited');
  const edited3 = copyDb('edited3');
  sq(edited3, `UPDATE audit_log SET ts = ts + 1 WHERE id = ${k};`);
  assertBroken(await verify(edited3), k, 'time edited');

  // Deleted: the chain breaks at the entry after the gap.
  const deleted = copyDb('deleted');
  sq(deleted, `DELETE FROM audit_log WHERE id = ${k};`);
  assertBroken(await verify(deleted), k + 1, 'entry deleted');

  // Deleted and the ids renumbered to hide the gap: the link breaks.
  const renumbered = copyDb('renumbered');
  sq(renumbered, `DELETE FROM audit_log WHERE id = ${k}; UPDATE audit_log SET id = id - 1 WHERE id > ${k};`);
  assertBroken(await verify(renumbered), k, 'entry deleted and ids renumbered');

  // Reordered: two neighbours' contents swapped (ids kept in order).
  const reordered = copyDb('reordered');
  const cols = 'ts, actor, actor_kind, source_ip, action, target, outcome, details, prev_hash, hash';
  sq(reordered, `
    CREATE TEMP TABLE a AS SELECT ${cols} FROM audit_log WHERE id = ${k};
    CREATE TEMP TABLE b AS SELECT ${cols} FROM audit_log WHERE id = ${k + 1};
    UPDATE audit_log SET (${cols}) = (SELECT ${cols} FROM b) WHERE id = ${k};
    UPDATE audit_log SET (${cols}) = (SELECT ${cols} FROM a) WHERE id = ${k + 1};`);
  assertBroken(await verify(reordered), k, 'two entries swapped');

  // Reordered by swapping ids.
  const reids = copyDb('reids');
  sq(reids, `UPDATE audit_log SET id = -1 WHERE id = ${k};
             UPDATE audit_log SET id = ${k} WHERE id = ${k + 1};
             UPDATE audit_log SET id = ${k + 1} WHERE id = -1;`);
  assertBroken(await verify(reids), k, 'ids swapped');

  // The newest entry's hash replaced, and a forged entry appended.
  const head = copyDb('head');
  sq(head, `UPDATE audit_log SET hash = '${'a'.repeat(64)}' WHERE id = ${count};`);
  assertBroken(await verify(head), count, 'head hash replaced');
  const forged = copyDb('forged');
  sq(forged, `INSERT INTO audit_log (id, ts, actor, actor_kind, source_ip, action, target, outcome, details, prev_hash, hash)
              SELECT id + 1, ts + 1, 'a-admin', 'user', '127.0.0.1', 'user.create', 'backdoor', 'success', '{}', hash, '${'b'.repeat(64)}'
              FROM audit_log WHERE id = ${count};`);
  assertBroken(await verify(forged), count + 1, 'forged entry appended');

  // Cutting entries off the end leaves a valid shorter chain: only a
  // remembered head (printed by verify) shows it.
  const cut = copyDb('cut');
  sq(cut, `DELETE FROM audit_log WHERE id = ${count};`);
  const c = await verify(cut);
  assert.equal(c.code, 0);
  assert.match(c.out, new RegExp(`^OK ${count - 1} entries, head [0-9a-f]{64}$`));
  assert.notEqual(c.out.split(' ').pop(), ok.out.split(' ').pop(), 'a different head');

  // The original is untouched by all of this.
  assert.equal((await verify(pristine)).code, 0);
});
