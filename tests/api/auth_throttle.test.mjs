// Login throttling (issue 3): from the fifth failure per user name and per
// source address on, the key is blocked for an exponentially growing delay
// (2, 4, 8 ... s in milliseconds today; the tests accept any first delay of
// at least 1 s that then doubles), at most 900 s, checked before the
// password is hashed; unknown users are throttled like known ones, and a
// failed sign-in answers the same, in about the same time, whether the
// user exists or not.
//
// Every scenario uses source addresses of its own (127.0.1.N, 127.0.2.N:
// any 127/8 address reaches a server listening on 127.0.0.1) so that the
// per-address counters of one test do not leak into another.
//
// A block starts when the failing attempt starts and lasts at least 1 s, so
// the tests assert a 429 only for follow-up attempts answered within 1 s of
// sending the fifth failure, and otherwise retry with a fresh user and
// address (a very slow machine).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';

import { startServer, makeTempDir, sqlite, sleep } from './lib/server.mjs';
import {
  request, login, addUsers, cliToken, assertError, median,
} from './lib/auth.mjs';

const PW = 'throttle-password-1';
const WRONG = 'wrong-password-0';
let srv;
let adminToken;

let addrN = 0;
/** A source address no other attempt in this file has used. */
const freshAddr = () => {
  const n = addrN++;
  return `127.0.${1 + Math.floor(n / 200)}.${10 + (n % 200)}`;
};
let userN = 0;
const USERS = Array.from({ length: 20 }, (_, i) => `th-u${i}`);
/** A known user no other test has used. */
const freshUser = () => {
  assert.ok(userN < USERS.length, 'out of prepared users');
  return USERS[userN++];
};

const sq = (sql) => sqlite(srv.dbPath, `.timeout 5000\n${sql}`);
const sqj = (sql) => sqlite(srv.dbPath, `.timeout 5000\n${sql}`, { json: true });
const throttleRow = (key) => sqj(`SELECT * FROM login_throttle WHERE key = '${key}';`)[0];

before(async () => {
  const dir = makeTempDir('stockade-throttle-');
  const db = `${dir}/stockade.db`;
  await addUsers(db, USERS.map((name) => ({ name, role: 'viewer', password: PW })));
  adminToken = await cliToken(db, 'th-admin', ['admin']);
  srv = await startServer({ dir });
});

function assert429(r, what) {
  assertError(r, 429, 'too_many_requests', undefined, what);
  const ra = r.headers['retry-after'];
  assert.match(ra ?? '', /^[1-9][0-9]*$/, `${what}: Retry-After ${ra}`);
  assert.ok(Number(ra) <= 900, `${what}: Retry-After ${ra} over 15 minutes`);
  assert.equal(r.cookie, null, `${what}: no cookie when throttled`);
  return Number(ra);
}

/**
 * Makes five failed sign-ins with `attempts[i] = {name, addr}`, then runs
 * `check()`, which makes the follow-up attempts. Resolves with check()'s
 * result when its answers all arrived within 1 s of sending the fifth
 * failure (so well inside the first block); null when the machine was too
 * slow to tell (the caller retries).
 */
async function fiveFailuresThen(attempts, check) {
  assert.equal(attempts.length, 5);
  for (let i = 0; i < 4; i++) {
    const r = await login(srv.url, attempts[i].name, WRONG, { localAddress: attempts[i].addr });
    assertError(r, 401, 'invalid_credentials', 'invalid username or password', `failure ${i + 1}`);
  }
  const sent = Date.now();
  const r5 = await login(srv.url, attempts[4].name, WRONG, { localAddress: attempts[4].addr });
  assertError(r5, 401, 'invalid_credentials', 'invalid username or password', 'failure 5');
  const result = await check();
  if (Date.now() - sent >= 1000) return null;
  return result;
}

/** Runs `scenario()` (which returns null when inconclusive) up to 4 times. */
async function conclusive(t, scenario) {
  for (let i = 0; i < 4; i++) {
    const out = await scenario();
    if (out !== null) return out;
    t.diagnostic(`attempt ${i + 1} was too slow to tell (over 1 s); trying again`);
  }
  assert.fail('the machine is too slow: four tries could not make two sign-ins within one second');
}

test('after 5 failures for a user, the right password is refused with 429 and Retry-After, from any address', async (t) => {
  await conclusive(t, async () => {
    const user = freshUser();
    const a = freshAddr();
    const b = freshAddr();
    const attempts = Array.from({ length: 5 }, () => ({ name: user, addr: a }));
    return fiveFailuresThen(attempts, async () => {
      const same = await login(srv.url, user, PW, { localAddress: a });
      const other = await login(srv.url, user, PW, { localAddress: b });
      return { same, other };
    }).then((res) => {
      if (res === null) return null;
      assert429(res.same, 'right password, same address');
      assert429(res.other, 'right password, another address (per-user throttle)');
      const row = throttleRow(`user:${user}`);
      assert.equal(row.failures, 5);
      assert.ok(row.blocked_until - row.last_failure_at >= 1000, `the first delay is at least 1 s: ${JSON.stringify(row)}`);
      return true;
    });
  });
});

test('user names compare without case for throttling', async (t) => {
  await conclusive(t, async () => {
    const user = freshUser();
    const a = freshAddr();
    const spell = [user, user.toUpperCase(), user, `T${user.slice(1)}`, user.toUpperCase()];
    const res = await fiveFailuresThen(spell.map((name) => ({ name, addr: a })),
                                       () => login(srv.url, user, PW, { localAddress: freshAddr() }));
    if (res === null) return null;
    assert429(res, 'five failures under different spellings');
    return true;
  });
});

test('per-address throttling: 5 failures across different user names block the address, not the users', async (t) => {
  await conclusive(t, async () => {
    const c = freshAddr();
    const names = [freshUser(), 'ghost-a1', freshUser(), 'ghost-a2', 'ghost-a3'];
    const victim = freshUser();
    const res = await fiveFailuresThen(names.map((name) => ({ name, addr: c })), async () => ({
      blocked: await login(srv.url, victim, PW, { localAddress: c }),
    }));
    if (res === null) return null;
    assert429(res.blocked, 'another user\'s right password from the blocked address');
    const row = throttleRow(`ip:${c}`);
    assert.equal(row.failures, 5);
    // The user itself is not blocked: from another address it signs in.
    const ok = await login(srv.url, victim, PW, { localAddress: freshAddr() });
    assert.equal(ok.status, 200, ok.text);
    return true;
  });
});

test('unknown users are throttled exactly like known ones', async (t) => {
  // A fresh name for each try: a retried name would carry its failures.
  const sequence = async (nextName) => conclusive(t, async () => {
    const name = nextName();
    const a = freshAddr();
    const res = await fiveFailuresThen(Array.from({ length: 5 }, () => ({ name, addr: a })),
                                       () => login(srv.url, name, PW, { localAddress: freshAddr() }));
    if (res === null) return null;
    assert.ok(throttleRow(`user:${name}`), `${name} has a throttle row`);
    return { status: res.status, code: res.json?.error?.code, retry: res.headers['retry-after'], text: res.text };
  });
  let ghosts = 0;
  const known = await sequence(freshUser);
  const unknown = await sequence(() => `ghost-never-existed-${ghosts++}`);
  assert.equal(known.status, 429);
  assert.deepEqual(unknown, known, 'the throttled answer does not tell whether the user exists');
});

test('unknown user and wrong password: the same status and body, and similar timing', async () => {
  const known = freshUser();
  const times = { unknown: [], wrong: [] };
  const bodies = new Set();
  const headerSets = new Set();
  for (let i = 0; i < 5; i++) {
    for (const kind of i % 2 ? ['unknown', 'wrong'] : ['wrong', 'unknown']) {
      const name = kind === 'wrong' ? known : `ghost-timing-${i}`;
      const r = await login(srv.url, name, WRONG, { localAddress: freshAddr() });
      assertError(r, 401, 'invalid_credentials', 'invalid username or password', `${kind} ${i}`);
      bodies.add(r.text);
      const names = Object.keys(r.headers).filter((h) => h !== 'date').sort().join(',');
      headerSets.add(`${names}|${r.headers['content-length']}`);
      times[kind].push(r.ms);
    }
  }
  assert.equal(bodies.size, 1, `bodies differ: ${[...bodies].join(' / ')}`);
  assert.equal(headerSets.size, 1, `headers differ: ${[...headerSets].join(' / ')}`);
  const mu = median(times.unknown);
  const mw = median(times.wrong);
  const ratio = Math.max(mu, mw) / Math.min(mu, mw);
  console.log(`median sign-in failure: unknown user ${mu.toFixed(1)} ms, wrong password ${mw.toFixed(1)} ms (ratio ${ratio.toFixed(2)})`);
  assert.ok(ratio < 3, `timing tells unknown users apart: ${JSON.stringify(times)}`);
});

test('a successful sign-in clears the user\'s failures (not the address\'s)', async () => {
  const user = freshUser();
  const a = freshAddr();
  for (let i = 0; i < 4; i++) {
    assertError(await login(srv.url, user, WRONG, { localAddress: a }), 401, 'invalid_credentials');
  }
  assert.equal(throttleRow(`user:${user}`).failures, 4);
  const ok = await login(srv.url, user, PW, { localAddress: a });
  assert.equal(ok.status, 200, ok.text);
  const row = throttleRow(`user:${user}`);
  assert.ok(row === undefined || row.failures === 0, `user failures cleared: ${JSON.stringify(row)}`);
  assert.equal(throttleRow(`ip:${a}`).failures, 4, 'the address keeps its count');
  // Four more failures from a new address: the user is not blocked.
  const b = freshAddr();
  for (let i = 0; i < 4; i++) {
    assertError(await login(srv.url, user, WRONG, { localAddress: b }), 401, 'invalid_credentials');
  }
  assert.equal((await login(srv.url, user, PW, { localAddress: b })).status, 200);
});

test('the block lasts its whole delay, then the delay doubles with each further failure, up to 900 s', async (t) => {
  const user = freshUser();
  const a = freshAddr();
  for (let i = 0; i < 4; i++) {
    assertError(await login(srv.url, user, WRONG, { localAddress: a }), 401, 'invalid_credentials');
  }
  const sent = Date.now();
  assertError(await login(srv.url, user, WRONG, { localAddress: a }), 401, 'invalid_credentials');
  let row = throttleRow(`user:${user}`);
  assert.equal(row.failures, 5);
  const d1 = row.blocked_until - row.last_failure_at;
  assert.ok(d1 >= 1000 && d1 <= 900000, `first delay ${d1} ms`);
  assert.ok(row.last_failure_at >= sent - 50 && row.last_failure_at <= Date.now() + 50,
            `times are in milliseconds: ${JSON.stringify(row)} (sent ${sent})`);
  assert.equal(throttleRow(`ip:${a}`).blocked_until - throttleRow(`ip:${a}`).last_failure_at, d1, 'the address too');

  // Late in the block it still holds (when the answer came back in time to tell).
  const lateAt = row.blocked_until - 400;
  if (Date.now() < lateAt) await sleep(lateAt - Date.now());
  const late = await login(srv.url, user, PW, { localAddress: a });
  if (Date.now() < row.blocked_until) assert429(late, `${d1 - 400} ms into a ${d1} ms block`);
  else t.diagnostic('too slow to check the end of the block');

  // After it, one more failure: the delay doubles.
  await sleep(Math.max(0, row.blocked_until - Date.now()) + 50);
  assertError(await login(srv.url, user, WRONG, { localAddress: a }), 401, 'invalid_credentials', undefined, 'a failure after the block');
  row = throttleRow(`user:${user}`);
  assert.equal(row.failures, 6);
  assert.equal(row.blocked_until - row.last_failure_at, 2 * d1, 'the second delay is twice the first');
  const blocked = await login(srv.url, user, PW, { localAddress: a });
  const ra = assert429(blocked, 'within the second block');
  assert.ok(ra <= Math.ceil((2 * d1) / 1000), `Retry-After ${ra}`);

  // Many failures later: capped at 15 minutes.
  sq(`UPDATE login_throttle SET failures = 14, blocked_until = 0 WHERE key IN ('user:${user}', 'ip:${a}');`);
  assertError(await login(srv.url, user, WRONG, { localAddress: a }), 401, 'invalid_credentials');
  row = throttleRow(`user:${user}`);
  assert.equal(row.failures, 15);
  assert.equal(row.blocked_until - row.last_failure_at, 900000, 'capped at 900 s');
  const capped = await login(srv.url, user, PW, { localAddress: a });
  const ra2 = assert429(capped, 'capped block');
  assert.ok(ra2 >= 898 && ra2 <= 900, `Retry-After ${ra2}`);
  sq(`UPDATE login_throttle SET failures = 70, blocked_until = 0 WHERE key IN ('user:${user}', 'ip:${a}');`);
  assertError(await login(srv.url, user, WRONG, { localAddress: a }), 401, 'invalid_credentials');
  row = throttleRow(`user:${user}`);
  assert.equal(row.blocked_until - row.last_failure_at, 900000, 'still 900 s after 71 failures (no overflow)');
});

test('throttled attempts are refused before hashing and audited as denied', async () => {
  const user = freshUser();
  const a = freshAddr();
  const nowMs = Date.now();
  sq(`INSERT OR REPLACE INTO login_throttle (key, failures, last_failure_at, blocked_until)
      VALUES ('user:${user}', 20, ${nowMs}, ${nowMs + 600000});`);
  const failures0 = throttleRow(`user:${user}`).failures;
  for (let i = 0; i < 3; i++) {
    const r = await login(srv.url, user, PW, { localAddress: a });
    const ra = assert429(r, `blocked attempt ${i}`);
    assert.ok(ra > 590 && ra <= 600, `Retry-After ${ra}`);
  }
  assert.equal(throttleRow(`user:${user}`).failures, failures0, 'a refused attempt is not counted as a failure');
  assert.equal(throttleRow(`ip:${a}`), undefined, 'nor against the address');
  const audit = await request(srv.url, 'GET', `/api/v1/audit?action=auth.login&outcome=denied&actor=${user}`, { bearer: adminToken });
  assert.equal(audit.status, 200, audit.text);
  assert.equal(audit.json.items.length, 3);
  for (const e of audit.json.items) {
    assert.equal(e.details.reason, 'throttled');
    assert.equal(e.source_ip, a);
    assert.equal(e.target, user);
    assert.equal(e.actor_kind, 'anonymous');
  }
});

// ---------------------------------------------------------------------------
// Known server bug: fails until server/svc_auth.c is fixed (see the test
// name and message).

test('BUG svc_auth_login: concurrent wrong passwords all get past the throttle (check-then-act race)', async () => {
  const user = freshUser();
  const a = freshAddr();
  const rs = await Promise.all(Array.from({ length: 10 }, () =>
    login(srv.url, user, WRONG, { localAddress: a })));
  const statuses = rs.map((r) => r.status).sort();
  for (const r of rs) assert.ok([401, 429].includes(r.status), `${r.status} ${r.text}`);
  const evaluated = statuses.filter((s) => s === 401).length;
  const row = throttleRow(`user:${user}`);
  assert.ok(evaluated <= 5,
            `${evaluated} of 10 concurrent guesses were checked against the password (expected at most 5 ` +
            `before the throttle applies); failures recorded: ${row?.failures}`);
});
