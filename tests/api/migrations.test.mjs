// Migrations: applied once and in order, each in its own transaction,
// recorded with a checksum; a tampered migration, a renamed or missing one
// and a newer schema are refused with a clear message and leave the
// database as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import {
  SOURCE_DIR, startServer, get, runCli, sqlite, makeTempDir,
} from './lib/server.mjs';
import { migrationFiles } from './lib/checks.mjs';

const MIGRATIONS = path.join(SOURCE_DIR, 'migrations');

/** A temp dir holding a copy of migrations/ at <dir>/migrations. */
function copyMigrations() {
  const dir = makeTempDir();
  const copy = path.join(dir, 'migrations');
  fs.cpSync(MIGRATIONS, copy, { recursive: true });
  return { dir, copy, db: path.join(dir, 'stockade.db') };
}

/** The bytes of the database and of its -wal (if any), for "untouched". */
function snapshot(db) {
  const wal = `${db}-wal`;
  return {
    db: fs.readFileSync(db).toString('base64'),
    wal: fs.existsSync(wal) ? fs.readFileSync(wal).toString('base64') : '',
    rows: sqlite(db, 'SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version;'),
  };
}

function assertUntouched(before, db, what) {
  const now = snapshot(db);
  assert.equal(now.rows, before.rows, `${what}: schema_migrations changed`);
  assert.ok(now.db === before.db, `${what}: the database file changed`);
  assert.ok(now.wal === before.wal, `${what}: the -wal file changed`);
}

async function migrate(db, extra = []) {
  return runCli(['migrate', '--db', db, ...extra]);
}

/** serve with the given extra flags; must refuse to start. */
async function serveRefuses(dir, db, extra = []) {
  const r = await runCli(['serve', '--db', db, '--data-dir', path.join(dir, 'data'),
                          '--listen', '127.0.0.1:0', ...extra], { timeoutMs: 20000 });
  assert.notEqual(r.code, 0, `serve started against a database it should refuse:\n${r.stdout}`);
  assert.doesNotMatch(r.stdout, /listening/);
  return r;
}

test('migrate applies every migration once, in version order, with checksums', async () => {
  const dir = makeTempDir();
  const db = path.join(dir, 'stockade.db');
  const files = migrationFiles();
  assert.ok(files.length >= 1, 'migrations/ has migrations');
  const t0 = Math.floor(Date.now() / 1000) - 5;

  const first = await migrate(db);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, new RegExp(`schema version ${files.length} \\(${files.length} migrations? applied\\)`));
  for (const f of files) {
    assert.match(first.stderr, new RegExp(`event=migration_applied version=${Number(f.slice(0, 4))} name=${f}`));
  }

  const second = await migrate(db);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, new RegExp(`schema version ${files.length} \\(0 migrations applied\\)`));
  assert.doesNotMatch(second.stderr, /migration_applied/);

  const rows = sqlite(db, 'SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY rowid;',
                      { json: true });
  assert.equal(rows.length, files.length, 'one row per migration file');
  rows.forEach((row, i) => {
    assert.equal(row.version, i + 1, 'versions 1, 2, 3... recorded in the order applied');
    assert.equal(row.name, files[i]);
    assert.match(row.checksum, /^[0-9a-f]{64}$/);
    assert.ok(row.applied_at >= t0 && row.applied_at <= Math.floor(Date.now() / 1000) + 5,
              `applied_at ${row.applied_at} is a current unix time`);
  });
  assert.equal(new Set(rows.map((r) => r.checksum)).size, rows.length, 'checksums differ per file');

  // The same files give the same checksums in another database.
  const other = path.join(dir, 'other.db');
  assert.equal((await migrate(other)).code, 0);
  assert.equal(sqlite(other, 'SELECT group_concat(checksum) FROM schema_migrations ORDER BY version;'),
               sqlite(db, 'SELECT group_concat(checksum) FROM schema_migrations ORDER BY version;'));

  assert.equal(sqlite(db, 'PRAGMA journal_mode;'), 'wal', 'the database is in WAL mode');
  assert.equal(sqlite(db, 'PRAGMA integrity_check;'), 'ok');
});

test('serve migrates a fresh database and a second start applies nothing', async () => {
  const files = migrationFiles();
  const s1 = await startServer();
  const v = await (await get(`${s1.url}/api/v1/version`)).json();
  assert.equal(v.schema_version, files.length);
  assert.equal((s1.stderr().match(/event=migration_applied/g) || []).length, files.length);
  await s1.stop();

  const s2 = await startServer({ dir: s1.dir });
  assert.doesNotMatch(s2.stderr(), /migration_applied/);
  assert.equal((await get(`${s2.url}/healthz`)).status, 200);
  await s2.stop();
  assert.equal(sqlite(s1.dbPath, 'SELECT count(*) FROM schema_migrations;'), String(files.length));
});

test('migrations from --migrations-dir apply in order, each in its own transaction', async () => {
  const { dir, copy, db } = copyMigrations();
  const n = migrationFiles(copy).length;
  assert.equal((await migrate(db, ['--migrations-dir', copy])).code, 0);

  // n+2 depends on n+1: applied in order, both succeed.
  fs.writeFileSync(path.join(copy, `${String(n + 1).padStart(4, '0')}_create_probe.sql`),
                   'CREATE TABLE probe (id INTEGER PRIMARY KEY, v TEXT NOT NULL) STRICT;\n');
  fs.writeFileSync(path.join(copy, `${String(n + 2).padStart(4, '0')}_fill_probe.sql`),
                   "INSERT INTO probe (v) VALUES ('second');\n");
  const r = await migrate(db, ['--migrations-dir', copy]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`schema version ${n + 2} \\(2 migrations applied\\)`));
  assert.equal(sqlite(db, 'SELECT v FROM probe;'), 'second');

  // n+3 creates a table and then fails: nothing of it may stay, n+1/n+2 stay.
  fs.writeFileSync(path.join(copy, `${String(n + 3).padStart(4, '0')}_broken.sql`),
                   'CREATE TABLE half_done (x INTEGER);\nINSERT INTO no_such_table VALUES (1);\n');
  const broken = await migrate(db, ['--migrations-dir', copy]);
  assert.notEqual(broken.code, 0);
  assert.match(broken.stderr, /no_such_table/);
  assert.equal(sqlite(db, "SELECT count(*) FROM sqlite_master WHERE name = 'half_done';"), '0',
               'a failed migration leaves nothing behind');
  assert.equal(sqlite(db, 'SELECT max(version) FROM schema_migrations;'), String(n + 2));
  assert.equal(sqlite(db, 'SELECT v FROM probe;'), 'second');
  void dir;
});

test('a migration altered after it was applied is refused by migrate and serve', async () => {
  const { dir, copy, db } = copyMigrations();
  assert.equal((await migrate(db, ['--migrations-dir', copy])).code, 0);
  const files = migrationFiles(copy);
  const victim = files[0];
  fs.appendFileSync(path.join(copy, victim), '\n-- an innocent-looking edit\n');
  const before = snapshot(db);

  const m = await migrate(db, ['--migrations-dir', copy]);
  assert.notEqual(m.code, 0, 'migrate accepted a tampered migration');
  assert.match(m.stderr, new RegExp(victim.replace('.', '\\.')), 'the message names the file');
  assert.match(m.stderr, /altered/);
  assertUntouched(before, db, 'migrate with a tampered migration');

  const s = await serveRefuses(dir, db, ['--migrations-dir', copy]);
  assert.match(s.stderr, new RegExp(victim.replace('.', '\\.')));
  assert.match(s.stderr, /altered/);
  assertUntouched(before, db, 'serve with a tampered migration');
});

test('a renamed or missing applied migration is refused', async () => {
  const { dir, copy, db } = copyMigrations();
  const files = migrationFiles(copy);
  assert.equal((await migrate(db, ['--migrations-dir', copy])).code, 0);
  const before = snapshot(db);

  const renamed = files[0].replace(/^(\d{4})_/, '$1_renamed_');
  fs.renameSync(path.join(copy, files[0]), path.join(copy, renamed));
  const r = await migrate(db, ['--migrations-dir', copy]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, new RegExp(renamed.replace('.', '\\.')));
  assertUntouched(before, db, 'renamed migration');

  // A hole in the sequence (first file gone) is refused before touching anything.
  fs.rmSync(path.join(copy, renamed));
  if (files.length > 1) {
    const g = await migrate(db, ['--migrations-dir', copy]);
    assert.notEqual(g.code, 0);
    assert.match(g.stderr, /version/);
    assertUntouched(before, db, 'gap in migrations');
  }
  void dir;
});

test('a database with a newer schema is refused and left untouched', async () => {
  const dir = makeTempDir();
  const db = path.join(dir, 'stockade.db');
  assert.equal((await migrate(db)).code, 0);
  sqlite(db, `INSERT INTO schema_migrations (version, name, checksum, applied_at)
              VALUES (9999, '9999_from_the_future.sql', '${'a'.repeat(64)}', 0);`);
  const before = snapshot(db);

  const s = await serveRefuses(dir, db);
  assert.match(s.stderr, /newer/);
  assert.match(s.stderr, /9999/);
  assertUntouched(before, db, 'serve against a newer schema');

  const m = await migrate(db);
  assert.notEqual(m.code, 0);
  assert.match(m.stderr, /newer/);
  assertUntouched(before, db, 'migrate against a newer schema');
});

test('a file that is not a database is refused with a message', async () => {
  const dir = makeTempDir();
  const db = path.join(dir, 'stockade.db');
  const junk = 'this is not an SQLite database\n'.repeat(200);
  fs.writeFileSync(db, junk);
  const r = await migrate(db);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /stockade: .+/);
  assert.equal(fs.readFileSync(db, 'utf8'), junk, 'the file was not overwritten');
});

// migrate (unlike serve) returned without releasing the set it loaded from
// --migrations-dir when the database was refused: LeakSanitizer reports it,
// and runCli() fails on any sanitizer report.
test('a refused migrate run with --migrations-dir does not leak the loaded set', async () => {
  const { copy, db } = copyMigrations();
  assert.equal((await migrate(db, ['--migrations-dir', copy])).code, 0);
  sqlite(db, `INSERT INTO schema_migrations (version, name, checksum, applied_at)
              VALUES (9999, '9999_from_the_future.sql', '${'a'.repeat(64)}', 0);`);
  const r = await migrate(db, ['--migrations-dir', copy]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /newer/);
});
