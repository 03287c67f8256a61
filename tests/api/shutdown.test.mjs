// Clean shutdown: SIGTERM/SIGINT exit 0, log it, checkpoint the WAL, and
// under load every response that went out is complete.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import {
  SOURCE_DIR, startServer, get, sqlite, sleep, withTimeout, makeTempDir,
} from './lib/server.mjs';
import { migrationFiles, copyAssets } from './lib/checks.mjs';

function walSize(db) {
  try {
    return fs.statSync(`${db}-wal`).size;
  } catch (e) {
    if (e.code === 'ENOENT') return 0; // removed with the last connection: also checkpointed
    throw e;
  }
}

test('SIGTERM while idle exits 0, logs the stop and truncates the WAL', async () => {
  const s = await startServer();
  assert.equal((await get(`${s.url}/healthz`)).status, 200);
  const code = await s.stop('SIGTERM');
  assert.equal(code, 0);
  assert.match(s.stderr(), /event=shutdown signal=15/);
  assert.match(s.stderr(), /event=stopped /);
  const order = ['event=listening', 'event=shutdown', 'event=stopped'].map((e) => s.stderr().indexOf(e));
  assert.deepEqual([...order].sort((a, b) => a - b), order, 'listening, shutdown, stopped in that order');
  assert.equal(walSize(s.dbPath), 0, 'the -wal file is empty after a clean stop');
  assert.equal(sqlite(s.dbPath, 'PRAGMA integrity_check;'), 'ok');
  assert.equal(sqlite(s.dbPath, 'SELECT count(*) FROM schema_migrations;'), String(migrationFiles().length));
});

test('SIGINT stops the server the same way', async () => {
  const s = await startServer();
  assert.equal(await s.stop('SIGINT'), 0);
  assert.match(s.stderr(), /event=shutdown signal=2/);
  assert.match(s.stderr(), /event=stopped /);
  assert.equal(walSize(s.dbPath), 0);
});

/**
 * One keep-alive client that sends requests slowly (the request line and
 * headers trickle in over ~60 ms) and reads each response in full, until
 * the server closes the connection. Resolves with what it saw.
 */
function slowClient(port, target, expected) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const res = { complete: 0, partial: null, bad: null, error: null };
    let buf = Buffer.alloc(0);
    let waiting = false;
    let timers = [];

    const sendOne = () => {
      waiting = true;
      const parts = [`GET ${target} HTTP/1.1\r\n`, 'Host: 127.0.0.1\r\n', 'User-Agent: slow\r\n', '\r\n'];
      parts.forEach((p, i) => {
        timers.push(setTimeout(() => { if (!sock.destroyed) sock.write(p); }, i * 20));
      });
    };

    const parse = () => {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return false;
      const head = buf.subarray(0, end).toString('latin1');
      const len = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? NaN);
      if (buf.length < end + 4 + len) return false;
      const body = buf.subarray(end + 4, end + 4 + len);
      if (!head.startsWith('HTTP/1.1 200 ') || !body.equals(expected)) {
        res.bad = res.bad ?? head.split('\r\n')[0];
      }
      res.complete++;
      buf = buf.subarray(end + 4 + len);
      return true;
    };

    sock.on('connect', sendOne);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (parse()) {
        waiting = false;
        if (buf.length === 0) sendOne();
      }
    });
    const done = () => {
      timers.forEach(clearTimeout);
      timers = [];
      if (buf.length > 0) res.partial = buf.toString('latin1').slice(0, 300);
      res.waiting = waiting;
      resolve(res);
    };
    sock.on('error', (e) => { res.error = e.code; });
    sock.on('close', done);
  });
}

test('SIGTERM during 20 slow keep-alive connections: every response is complete, exit 0', async () => {
  const s = await startServer();
  const expected = fs.readFileSync(path.join(SOURCE_DIR, 'static/css/app.css'));
  const clients = Array.from({ length: 20 }, () => slowClient(s.port, '/static/css/app.css', expected));
  // Wait until the clients are well under way (each has had answers).
  const deadline = Date.now() + 20000;
  const counted = () => s.stderr().split('\n').filter((l) => l.includes('event=http_request')).length;
  while (counted() < 60 && Date.now() < deadline) await sleep(50);
  assert.ok(counted() >= 20, `the clients got going (${counted()} requests served)`);

  // Also a burst of ordinary requests racing the signal.
  const burst = Array.from({ length: 20 }, () => get(`${s.url}/healthz`)
    .then(async (r) => ({ status: r.status, body: await r.text() }))
    .catch((e) => ({ error: e.cause?.code ?? e.name })));
  await sleep(15);

  const code = await s.stop('SIGTERM');
  assert.equal(code, 0);
  const states = await withTimeout(Promise.all(clients), 20000,
                                   'the clients to see their connections closed after the server exited');

  for (const [i, r] of states.entries()) {
    assert.equal(r.bad, null, `client ${i} got a wrong response: ${r.bad}`);
    assert.equal(r.partial, null, `client ${i} got a truncated response: ${JSON.stringify(r.partial)}`);
    assert.ok(r.complete >= 1, `client ${i} was served before the signal`);
  }
  for (const b of await Promise.all(burst)) {
    if (b.error) continue; // refused or reset before a response: allowed
    assert.equal(b.status, 200);
    assert.equal(b.body, '{"status":"ok"}', 'a response that arrived is complete');
  }
  assert.match(s.stderr(), /event=stopped /);
  assert.equal(walSize(s.dbPath), 0);
});

/**
 * A client that asks for one large file and reads it slowly, so that the
 * server is still writing when the signal comes. Returns {state, done}:
 * state {status, length, received, error} fills in as data arrives; done
 * resolves with it when the connection closes.
 */
function slowReader(port, target) {
  const state = { status: 0, length: -1, received: 0, error: null };
  const done = new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let head = Buffer.alloc(0);
    sock.on('connect', () => sock.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`));
    sock.on('data', (d) => {
      if (state.length < 0) {
        head = Buffer.concat([head, d]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        const text = head.subarray(0, end).toString('latin1');
        state.status = Number(text.slice(9, 12));
        state.length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(text)?.[1] ?? NaN);
        state.received = head.length - end - 4;
      } else {
        state.received += d.length;
      }
      if (state.received >= state.length) {
        sock.end();
        return;
      }
      // About 64 KiB per 10 ms: a 15 MiB body takes a few seconds.
      sock.pause();
      setTimeout(() => sock.resume(), 10);
    });
    sock.on('error', (e) => { state.error = e.code; });
    sock.on('close', () => resolve(state));
  });
  return { state, done };
}

// The server promises to finish in-flight requests on SIGTERM. A response
// still being written when the signal comes must reach the client whole.
test('SIGTERM while large responses are being read slowly: they are finished, not cut', async () => {
  const assets = copyAssets(path.join(makeTempDir(), 'assets'));
  const size = 15 * 1024 * 1024;
  fs.writeFileSync(path.join(assets, 'static', 'big.txt'), Buffer.alloc(size, 'x'));
  const s = await startServer({ args: ['--assets-dir', assets] });
  const readers = Array.from({ length: 5 }, () => slowReader(s.port, '/static/big.txt'));
  const deadline = Date.now() + 20000;
  while (readers.some((r) => r.state.received < 256 * 1024) && Date.now() < deadline) await sleep(20);
  assert.ok(readers.every((r) => r.state.status === 200), 'every reader is receiving its file');
  assert.ok(readers.some((r) => r.state.received < size), 'the signal comes while responses are in flight');

  await s.stop('SIGTERM');
  const results = await withTimeout(Promise.all(readers.map((r) => r.done)), 30000,
                                    'the slow readers to finish');
  for (const [i, r] of results.entries()) {
    assert.equal(r.length, size, `reader ${i}: Content-Length`);
    assert.equal(r.received, size,
                 `reader ${i} got ${r.received} of ${size} body bytes: the response was cut by the shutdown`);
  }
});

test('a restart after SIGTERM finds the database as it was', async () => {
  const s1 = await startServer();
  assert.equal((await get(`${s1.url}/healthz`)).status, 200);
  await s1.stop();
  const s2 = await startServer({ dir: s1.dir });
  assert.doesNotMatch(s2.stderr(), /migration_applied/);
  const r = await get(`${s2.url}/healthz`);
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { status: 'ok' });
  await s2.stop();
  assert.equal(sqlite(s1.dbPath, 'PRAGMA integrity_check;'), 'ok');
});
