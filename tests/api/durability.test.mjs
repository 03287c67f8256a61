// A 2xx means it is in the database: writes acknowledged while SIGTERM
// arrives mid-load are all there after a restart, nothing half-written is,
// and the audit chain still verifies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startServer, runCli, makeTempDir, sqlite, sleep } from './lib/server.mjs';

const ADMIN_PW = 'durability-admin-pw';

async function login(url) {
  const res = await fetch(`${url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: 'root', password: ADMIN_PW }),
  });
  assert.equal(res.status, 200);
  const cookie = res.headers.get('set-cookie').split(';')[0];
  const { csrf_token: csrf } = await res.json();
  return { cookie, csrf };
}

test('SIGTERM during a write load loses no acknowledged write', async () => {
  const dir = makeTempDir();
  const db = path.join(dir, 'stockade.db');
  const add = await runCli(['user', 'add', 'root', '--role', 'admin', '--password-stdin', '--db', db],
                           { input: `${ADMIN_PW}\n` });
  assert.equal(add.code, 0, add.stderr);

  const server = await startServer({ dir, dbPath: db });
  const { cookie, csrf } = await login(server.url);

  const acked = new Map(); // token name -> id the server acknowledged
  let stop = false;
  let n = 0;
  const writer = async (w) => {
    while (!stop) {
      const name = `w${w}-${n++}`;
      let res;
      try {
        res = await fetch(`${server.url}/api/v1/tokens`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Cookie: cookie, 'X-CSRF-Token': csrf },
          body: JSON.stringify({ name, permissions: ['alerts:read'] }),
        });
      } catch {
        return; // the server went away: that request was never acknowledged
      }
      if (res.status === 201) {
        const body = await res.json();
        acked.set(name, body.id);
      } else {
        await res.body?.cancel();
        return;
      }
    }
  };
  const writers = [0, 1, 2, 3, 4, 5].map(writer);
  while (acked.size < 30) await sleep(20);
  const stopped = server.stop('SIGTERM'); // rejects on a non-zero exit or sanitizer report
  await stopped;
  stop = true;
  await Promise.all(writers);
  assert.ok(acked.size >= 30);

  // The WAL was checkpointed on the way out; the data is in the main file.
  const rows = sqlite(db, 'SELECT id, name FROM api_tokens ORDER BY id;', { json: true });
  const stored = new Map(rows.map((r) => [r.name, r.id]));
  for (const [name, id] of acked) {
    assert.equal(stored.get(name), id, `acknowledged token ${name} (#${id}) is missing`);
  }
  // Each stored token has exactly one audit entry: no half-written change.
  const audited = sqlite(db, "SELECT count(*) AS n FROM audit_log WHERE action = 'token.create';",
                         { json: true })[0].n;
  assert.equal(audited, rows.length);

  const restarted = await startServer({ dir, dbPath: db });
  const again = await login(restarted.url);
  const list = await fetch(`${restarted.url}/api/v1/tokens`, { headers: { Cookie: again.cookie } });
  assert.equal(list.status, 200);
  const names = new Set((await list.json()).items.map((t) => t.name));
  for (const name of acked.keys()) assert.ok(names.has(name), `${name} not listed after restart`);
  await restarted.stop();

  const verify = await runCli(['audit', 'verify', '--db', db]);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  assert.match(verify.stdout, /^OK \d+ entries/);
});
