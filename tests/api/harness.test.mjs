// The harness itself: a crashed server, a sanitizer report, a server that
// never starts and a hung command must all fail the test that meets them,
// quickly, instead of passing or hanging ctest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';

import {
  startServer, runCli, rawRequest, rawGet, sanitizerReport, get, makeTempDir,
} from './lib/server.mjs';

test('sanitizer reports are recognised', () => {
  assert.ok(sanitizerReport('x\n==1==ERROR: AddressSanitizer: heap-use-after-free on address'));
  assert.ok(sanitizerReport('==1==ERROR: LeakSanitizer: detected memory leaks'));
  assert.ok(sanitizerReport('server/x.c:10:5: runtime error: signed integer overflow'));
  assert.equal(sanitizerReport('ts=1 level=info event=stopped db=x'), null);
});

test('a server that dies is reported by stop()', async () => {
  const s = await startServer();
  process.kill(s.proc.pid, 'SIGSEGV');
  await assert.rejects(s.stop(), /sanitizer report|exited with code|signal/);
});

test('a server that exits non-zero on its own is reported by stop()', async () => {
  const s = await startServer();
  s.proc.kill('SIGKILL');
  await s.exited;
  await assert.rejects(s.stop(), /exited with code null signal SIGKILL/);
});

test('a server that cannot start rejects startServer() with its stderr', async () => {
  await assert.rejects(startServer({ args: ['--threads', '0'] }),
                       /exited before listening[\s\S]*threads must be between/);
});

test('the temp dir and database of a server are where it says', async () => {
  const s = await startServer();
  assert.ok(fs.existsSync(s.dbPath));
  assert.ok(s.dbPath.startsWith(s.dir));
  assert.equal((await get(`${s.url}/healthz`)).status, 200);
  assert.equal(await s.stop(), 0);
  assert.equal(await s.stop(), 0, 'stop() twice is harmless');
});

test('waits time out instead of hanging', async () => {
  // A listener that accepts and never answers.
  const net = await import('node:net');
  const silent = net.createServer(() => {});
  await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const { port } = silent.address();
  try {
    await assert.rejects(rawRequest(`http://127.0.0.1:${port}`, rawGet('/'), { timeoutMs: 300 }),
                         /timed out after 300 ms/);
  } finally {
    silent.close();
  }
  // `stockade serve` never exits by itself: runCli gives up after its timeout.
  const dir = makeTempDir();
  await assert.rejects(runCli(['serve', '--db', `${dir}/stockade.db`, '--data-dir', `${dir}/data`,
                               '--listen', '127.0.0.1:0', '--agent-listen', '127.0.0.1:0'],
                              { timeoutMs: 1500 }),
                       /timed out after 1500 ms/);
});
