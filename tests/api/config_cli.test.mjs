// Command line and configuration: unknown commands and flags, --config
// files with FILE:LINE errors, environment variables, and the precedence
// flags > environment > file. Every refusal happens before the database
// is created.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { startServer, get, runCli, makeTempDir, mapLimit } from './lib/server.mjs';

/** Runs `stockade serve` with a fresh db path that must not get created. */
async function serveRefused(args, opts = {}) {
  const dir = makeTempDir();
  const db = path.join(dir, 'stockade.db');
  const r = await runCli(['serve', '--db', db, '--data-dir', path.join(dir, 'data'), ...args], opts);
  assert.notEqual(r.code, 0, `serve accepted ${args.join(' ')}:\n${r.stdout}`);
  assert.doesNotMatch(r.stdout, /listening/);
  assert.ok(!fs.existsSync(db), 'a refused configuration must not create the database');
  return r;
}

function writeConfig(text) {
  const f = path.join(makeTempDir(), 'stockade.conf');
  fs.writeFileSync(f, text);
  return f;
}

test('help, version and usage errors', async () => {
  const help = await runCli(['help']);
  assert.equal(help.code, 0);
  for (const flag of ['--db', '--listen', '--data-dir', '--log-level', '--threads', '--config']) {
    assert.ok(help.stdout.includes(flag), `help mentions ${flag}`);
  }
  const none = await runCli([]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /usage: stockade/);
  const unknown = await runCli(['frobnicate']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command 'frobnicate'/);
  const version = await runCli(['version']);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^stockade \d+\.\d+\.\d+/);
});

test('an unknown flag exits 2 with a message', async () => {
  await mapLimit([['--bogus', '1'], ['--bogus=1'], ['--listenx', '127.0.0.1:0'], ['-x'], ['stray']], 4,
                 async (args) => {
                   const r = await serveRefused(args);
                   assert.equal(r.code, 2, args.join(' '));
                   assert.match(r.stderr, /^stockade: .*(unknown option|unexpected argument)/m, args.join(' '));
                 });
  const m = await runCli(['migrate', '--db', path.join(makeTempDir(), 'x.db'), '--nope', '1']);
  assert.equal(m.code, 2);
  assert.match(m.stderr, /unknown option '--nope'/);
});

test('bad flag values are refused with the setting named', async () => {
  const cases = [
    [['--threads', 'abc'], /threads needs a number, got 'abc'/],
    [['--threads', '0'], /threads must be between 2 and \d+, got 0/],
    [['--threads', '99999999999999999999999'], /threads/],
    [['--listen', 'nonsense'], /invalid value for listen/],
    [['--listen', '127.0.0.1:99999'], /invalid value for listen/],
    [['--log-level', 'loud'], /invalid value for log_level/],
    [['--max-body', '12Q'], /max_body needs a number/],
    [['--max-body', '1'], /max_body must be between/],
    [['--public-url', 'ftp://x'], /invalid value for public_url/],
    [['--threads'], /--threads needs a value/],
  ];
  await mapLimit(cases, 4, async ([args, re]) => {
    const r = await serveRefused(args);
    assert.match(r.stderr, re, args.join(' '));
  });
});

test('--config errors name FILE:LINE and the reason', async () => {
  const cases = [
    ['# comment\nthreads = 4\nnope = 1\n', 3, /unknown setting 'nope'/],
    ['threads = 4\n\nthreads = 5\n', 3, /duplicate setting 'threads'/],
    ['threads = 0\n', 1, /threads must be between 2 and \d+, got 0/],
    ['threads = many\n', 1, /threads needs a number/],
    ['log_level = info\njust some words\n', 2, /expected 'key = value'/],
    ['data-dir = /tmp/x\n', 1, /unknown setting 'data-dir'/],
    ['listen = :80\n', 1, /invalid value for listen/],
    [`db = x\n${'#'.repeat(5000)}\n`, 2, /line too long/],
  ];
  await mapLimit(cases, 4, async ([text, line, re]) => {
    const f = writeConfig(text);
    const r = await serveRefused(['--config', f]);
    assert.match(r.stderr, new RegExp(`${f.replace(/[.]/g, '\\.')}:${line}: `), `FILE:LINE for ${JSON.stringify(text)}`);
    assert.match(r.stderr, re, JSON.stringify(text));
  });
  const missing = await serveRefused(['--config', '/nonexistent/stockade.conf']);
  assert.match(missing.stderr, /\/nonexistent\/stockade\.conf/);
  const noArg = await serveRefused(['--config']);
  assert.match(noArg.stderr, /--config needs a file/);
});

test('bad environment variables are refused with the variable named', async () => {
  const cases = [
    [{ STOCKADE_THREADS: 'abc' }, /STOCKADE_THREADS: threads needs a number, got 'abc'/],
    [{ STOCKADE_THREADS: '1' }, /STOCKADE_THREADS: threads must be between/],
    [{ STOCKADE_LISTEN: 'nowhere' }, /STOCKADE_LISTEN: invalid value for listen/],
    [{ STOCKADE_LOG_LEVEL: '' }, /STOCKADE_LOG_LEVEL/],
  ];
  await mapLimit(cases, 4, async ([env, re]) => {
    const r = await serveRefused([], { env });
    assert.match(r.stderr, re, JSON.stringify(env));
  });
});

test('flags win over the environment, which wins over the file', async () => {
  // Each source listens on its own loopback address, so the URL the server
  // prints tells which one won; the thread count is in the listening log.
  const f = writeConfig('listen = 127.0.0.2:0\nthreads = 3\nlog_level = info\n');
  const env = { STOCKADE_LISTEN: '127.0.0.3:0', STOCKADE_THREADS: '4' };

  const [fileOnly, fileEnv, all] = await Promise.all([
    startServer({ listen: false, args: ['--config', f] }),
    startServer({ listen: false, args: ['--config', f], env }),
    startServer({ listen: false, env, args: ['--listen=127.0.0.1:0', '--config', f, '--threads', '5'] }),
  ]);
  assert.match(fileOnly.url, /^http:\/\/127\.0\.0\.2:\d+$/);
  assert.match(fileOnly.stderr(), /event=listening .*threads=3 /);
  assert.equal((await get(`${fileOnly.url}/healthz`)).status, 200);

  assert.match(fileEnv.url, /^http:\/\/127\.0\.0\.3:\d+$/);
  assert.match(fileEnv.stderr(), /event=listening .*threads=4 /);

  assert.match(all.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.match(all.stderr(), /event=listening .*threads=5 /);
  assert.equal((await get(`${all.url}/healthz`)).status, 200);

  await Promise.all([fileOnly.stop(), fileEnv.stop(), all.stop()]);
});

test('log_level from the environment is applied', async () => {
  const s = await startServer({ env: { STOCKADE_LOG_LEVEL: 'warn' } });
  await (await get(`${s.url}/healthz`)).arrayBuffer();
  await s.stop();
  assert.doesNotMatch(s.stderr(), /level=info/, 'info lines are hidden at log_level=warn');
});

test('a port already in use is refused with a message', async () => {
  const first = await startServer();
  const dir = makeTempDir();
  const r = await runCli(['serve', '--db', path.join(dir, 'stockade.db'), '--data-dir', path.join(dir, 'data'),
                          '--listen', `127.0.0.1:${first.port}`, '--agent-listen', '127.0.0.1:0'],
                         { timeoutMs: 30000 });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${first.port}`));
  assert.equal((await get(`${first.url}/healthz`)).status, 200, 'the first server is unaffected');
  await first.stop();
});

test('a data dir that cannot be created is refused with a message', async () => {
  const dir = makeTempDir();
  const file = path.join(dir, 'a-file');
  fs.writeFileSync(file, 'x');
  const r = await runCli(['serve', '--db', path.join(dir, 'stockade.db'),
                          '--data-dir', path.join(file, 'data'), '--listen', '127.0.0.1:0']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /cannot create data dir/);
  const m = await runCli(['migrate', '--db', path.join(file, 'sub', 'stockade.db')]);
  assert.notEqual(m.code, 0);
  assert.match(m.stderr, /cannot create/);
});
