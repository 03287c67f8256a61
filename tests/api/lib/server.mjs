// Black-box harness for the API tests: starts real `stockade` processes on
// a free loopback port with a fresh temporary database, talks to them over
// HTTP (fetch, or raw bytes over node:net for requests fetch would
// normalise), and runs the CLI and Debian's sqlite3 to completion.
//
// Only node's standard library: the API tests must run on a fresh Debian 12
// (Node 18) without npm.
//
// Every process and temporary directory this module creates is tracked:
// an after() hook on the test file stops what is still running (failing the
// run if it crashed or a sanitizer reported anything) and removes the
// directories; an exit handler kills whatever is left so that a failing
// test never leaves a stray server behind. Every wait has a timeout, so a
// hung server fails its test instead of hanging ctest.
import { after } from 'node:test';
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const BIN = process.env.STOCKADE_BIN;
export const SOURCE_DIR = process.env.STOCKADE_SOURCE_DIR;
export const SAMPLES_DIR = process.env.STOCKADE_SAMPLES_DIR;

if (!BIN || !SOURCE_DIR) {
  throw new Error('STOCKADE_BIN and STOCKADE_SOURCE_DIR must be set (run the tests through ctest)');
}

/** Milliseconds a server gets to print its listening line (sanitizer
 *  builds start slowly on a busy two-core machine). */
export const START_TIMEOUT_MS = 30000;
/** Milliseconds a server gets to exit after SIGTERM. */
export const STOP_TIMEOUT_MS = 30000;

const live = new Set(); // servers not yet stopped
const dirs = new Set(); // temporary directories to remove

// ---------------------------------------------------------------------------
// Sanitizer reports

const SANITIZER_PATTERNS = [
  /ERROR: AddressSanitizer/,
  /ERROR: LeakSanitizer/,
  /runtime error:/,
  /UndefinedBehaviorSanitizer/,
  /WARNING: AddressSanitizer/,
  /AddressSanitizer:DEADLYSIGNAL/,
  /ThreadSanitizer/,
];

/** The first sanitizer report found in `text` (with some context), or null. */
export function sanitizerReport(text) {
  for (const re of SANITIZER_PATTERNS) {
    const m = re.exec(text);
    if (m) {
      const start = Math.max(0, m.index - 200);
      return text.slice(start, start + 4000);
    }
  }
  return null;
}

/** Throws when `stderr` carries a sanitizer report. */
export function assertNoSanitizerReport(stderr, what) {
  const report = sanitizerReport(stderr);
  if (report !== null) {
    throw new Error(`${what}: sanitizer report on stderr:\n${report}`);
  }
}

// ---------------------------------------------------------------------------
// Temporary directories and the child environment

/** A new empty directory under os.tmpdir(), removed after the test file. */
export function makeTempDir(prefix = 'stockade-api-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}

/** The environment for a child: ours without any STOCKADE_* variable (the
 *  harness's own STOCKADE_BIN etc. must not leak into the server's
 *  configuration), plus `extra`. */
export function childEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('STOCKADE_')) env[k] = v;
  }
  return { ...env, ...extra };
}

/** Rejects when `promise` has not settled after `ms` milliseconds. */
export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Calls `fn` every 100 ms until it returns something truthy, which it
 *  resolves with; fails after `ms` milliseconds naming `what`. */
export async function until(fn, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}

/**
 * Starts `STOCKADE_AGENT_BIN run ARGS...` in the background:
 * {proc, closed, stderr(), stop(signal = 'SIGTERM')}. stop() waits for the
 * exit and fails on a sanitizer report.
 */
export function startAgentRun(args) {
  const bin = process.env.STOCKADE_AGENT_BIN;
  if (!bin) throw new Error('STOCKADE_AGENT_BIN must be set (run the tests through ctest)');
  const proc = spawn(bin, ['run', ...args], { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => { err += d; });
  proc.stdout.resume();
  const closed = new Promise((resolve) => proc.on('close', (code, signal) => resolve({ code, signal })));
  return {
    proc,
    closed,
    stderr: () => err,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const res = await withTimeout(closed, 30000, `stockade-agent to exit after ${signal}`);
      assertNoSanitizerReport(err, 'stockade-agent run');
      return res;
    },
  };
}

// ---------------------------------------------------------------------------
// Servers

/**
 * Starts `stockade serve` on 127.0.0.1:0 with a database and data dir in a
 * fresh temporary directory (or `dir`, to restart against the same data).
 *
 * Resolves with {url, port, gatewayPort, proc, dir, dbPath, stdout(),
 * stderr(), exited, stop(), kill()} once the server printed its listening
 * line. The agent gateway listens on 127.0.0.1:0 too (gatewayPort), unless
 * `args` or `env` say where.
 * - stop(signal = 'SIGTERM') signals the process and resolves with its exit
 *   code; it rejects (failing the test) when the process does not exit in
 *   time, exits with anything but 0, or wrote a sanitizer report.
 * - exited resolves with {code, signal} when the process ends.
 */
export async function startServer({ args = [], env = {}, dbPath, dir, listen = true } = {}) {
  dir = dir ?? makeTempDir();
  dbPath = dbPath ?? path.join(dir, 'stockade.db');
  const argv = ['serve', '--db', dbPath, '--data-dir', path.join(dir, 'data')];
  if (listen) argv.push('--listen', '127.0.0.1:0');
  // Never the default 0.0.0.0:8443: tests run side by side.
  const agentListenGiven = args.some((a) => a === '--agent-listen' || a.startsWith('--agent-listen='))
    || 'STOCKADE_AGENT_LISTEN' in env;
  if (!agentListenGiven) argv.push('--agent-listen', '127.0.0.1:0');
  argv.push(...args);

  const proc = spawn(BIN, argv, { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { err += d; });

  const exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => resolve({ code, signal }));
  });
  // 'close' waits for the pipes too, so stderr is complete after it.
  const closed = new Promise((resolve) => {
    proc.on('close', (code, signal) => resolve({ code, signal }));
  });

  const server = {
    proc,
    dir,
    dbPath,
    url: null,
    port: 0,
    gatewayPort: 0,
    argv,
    exited,
    closed,
    stdout: () => out,
    stderr: () => err,
    stopped: false,
    async stop(signal = 'SIGTERM') {
      if (server.stopped) return server.stopResult;
      server.stopped = true;
      live.delete(server);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      let res;
      try {
        res = await withTimeout(closed, STOP_TIMEOUT_MS, `stockade to exit after ${signal}`);
      } catch (e) {
        proc.kill('SIGKILL');
        throw new Error(`${e.message}\nstderr:\n${tail(err)}`);
      }
      assertNoSanitizerReport(err, 'stockade serve');
      if (res.code !== 0) {
        throw new Error(`stockade serve exited with code ${res.code} signal ${res.signal}\n` +
                        `stderr:\n${tail(err)}`);
      }
      server.stopResult = res.code;
      return res.code;
    },
    kill() {
      live.delete(server);
      server.stopped = true;
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      return closed;
    },
  };
  live.add(server);

  const ready = new Promise((resolve, reject) => {
    const onData = () => {
      const m = /stockade listening on (http:\/\/[^\s]+)/.exec(out);
      if (m) {
        proc.stdout.off('data', onData);
        resolve(m[1]);
      }
    };
    proc.stdout.on('data', onData);
    proc.on('error', reject);
    closed.then(({ code, signal }) => reject(new Error(
      `stockade serve exited before listening (code ${code}, signal ${signal})\n` +
      `stderr:\n${tail(err)}`)));
  });
  try {
    server.url = await withTimeout(ready, START_TIMEOUT_MS, 'stockade to print its listening line');
  } catch (e) {
    await server.kill();
    throw e;
  }
  server.port = Number(new URL(server.url).port);
  // Printed in the same write as the line above, just before it.
  const gw = /gateway listening on (\S+):(\d+)/.exec(out);
  server.gatewayPort = gw ? Number(gw[2]) : 0;
  return server;
}

function tail(text, n = 6000) {
  return text.length > n ? '...' + text.slice(-n) : text;
}

// ---------------------------------------------------------------------------
// HTTP helpers

/** fetch() with a timeout (default 20 s) that never follows redirects. */
export async function get(url, init = {}) {
  const { timeoutMs = 20000, ...rest } = init;
  return fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(timeoutMs), ...rest });
}

/**
 * Sends `rawText` as-is to the host and port of `url` over a new TCP
 * connection and resolves with the first response:
 * {status, statusLine, headers (lower-case names; repeated ones joined
 * with ", "), headerLines, body (string), raw, closed}. A connection closed
 * without any response gives status 0. HEAD requests and 1xx/204/304
 * responses are read without a body. Rejects after `timeoutMs` (default 20 s).
 */
export function rawRequest(url, rawText, { timeoutMs = 20000 } = {}) {
  const u = new URL(url);
  const isHead = /^HEAD /.test(typeof rawText === 'string' ? rawText : rawText.toString('latin1'));
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: u.hostname, port: Number(u.port) });
    let buf = Buffer.alloc(0);
    let done = false;
    const timer = setTimeout(() => {
      finish(new Error(`raw request timed out after ${timeoutMs} ms; received so far:\n` +
                       buf.toString('latin1').slice(0, 2000)));
    }, timeoutMs);

    function finish(error, result) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (error) reject(error); else resolve(result);
    }

    function tryParse(closed) {
      const text = buf.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) {
        if (closed) finish(null, { status: 0, statusLine: '', headers: {}, headerLines: [],
                                   body: '', raw: text, closed: true });
        return;
      }
      const lines = text.slice(0, end).split('\r\n');
      const statusLine = lines[0];
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
      const headers = {};
      for (const line of lines.slice(1)) {
        const i = line.indexOf(':');
        if (i < 0) continue;
        const name = line.slice(0, i).trim().toLowerCase();
        const value = line.slice(i + 1).trim();
        headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
      }
      const bodyStart = end + 4;
      const noBody = isHead || status === 204 || status === 304 || (status >= 100 && status < 200);
      let bodyBytes;
      if (noBody) {
        bodyBytes = Buffer.alloc(0);
      } else if ('content-length' in headers) {
        const len = Number(headers['content-length']);
        if (buf.length - bodyStart < len) {
          if (closed) {
            finish(null, { status, statusLine, headers, headerLines: lines.slice(1),
                           body: buf.subarray(bodyStart).toString('utf8'), raw: text,
                           closed: true, truncated: true });
          }
          return;
        }
        bodyBytes = buf.subarray(bodyStart, bodyStart + len);
      } else {
        if (!closed) return; // body runs to the end of the connection
        bodyBytes = buf.subarray(bodyStart);
      }
      finish(null, { status, statusLine, headers, headerLines: lines.slice(1),
                     body: bodyBytes.toString('utf8'), raw: text, closed });
    }

    sock.on('connect', () => sock.write(rawText));
    sock.on('data', (d) => { buf = Buffer.concat([buf, d]); tryParse(false); });
    sock.on('end', () => tryParse(true));
    sock.on('close', () => tryParse(true));
    sock.on('error', (e) => {
      // A reset after a complete response is fine; before one it is not.
      if (buf.length > 0) tryParse(true); else finish(e);
    });
  });
}

/** A minimal GET request line plus headers for rawRequest(). */
export function rawGet(target, { method = 'GET', headers = {} } = {}) {
  let text = `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n`;
  for (const [k, v] of Object.entries(headers)) text += `${k}: ${v}\r\n`;
  return text + '\r\n';
}

// ---------------------------------------------------------------------------
// Running the CLI and sqlite3

/**
 * Runs the stockade binary with `args` to completion. Resolves with
 * {code, signal, stdout, stderr}; rejects when it runs longer than
 * `timeoutMs` or writes a sanitizer report (whatever its exit code).
 */
export function runCli(args, { input, env = {}, timeoutMs = 30000, cwd } = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(BIN, args, { env: childEnv(env), cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.setEncoding('utf8');
    proc.stderr.setEncoding('utf8');
    proc.stdout.on('data', (d) => { stdout += d; });
    proc.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`stockade ${args.join(' ')} timed out after ${timeoutMs} ms\n` +
                       `stderr:\n${tail(stderr)}`));
    }, timeoutMs);
    proc.on('error', (e) => { clearTimeout(timer); reject(e); });
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      try {
        assertNoSanitizerReport(stderr, `stockade ${args.join(' ')}`);
      } catch (e) {
        reject(e);
        return;
      }
      resolve({ code, signal, stdout, stderr });
    });
    proc.stdin.on('error', () => {}); // the program may exit without reading
    if (input !== undefined) proc.stdin.end(input); else proc.stdin.end();
  });
}

/**
 * Runs `sql` through Debian's sqlite3 CLI against `dbPath` and returns its
 * stdout (trimmed). With {json: true} the output is parsed from sqlite3's
 * -json mode (an array of row objects; [] for no rows). Throws when sqlite3
 * fails.
 */
export function sqlite(dbPath, sql, { json = false } = {}) {
  const args = ['-batch', '-bail'];
  if (json) args.push('-json');
  args.push(dbPath);
  const r = spawnSync('sqlite3', args, { input: sql, encoding: 'utf8', timeout: 15000 });
  if (r.error) throw r.error;
  if (r.status !== 0) {
    throw new Error(`sqlite3 ${dbPath} failed (${r.status}): ${r.stderr}\nSQL: ${sql}`);
  }
  const text = r.stdout.trim();
  if (!json) return text;
  return text === '' ? [] : JSON.parse(text);
}

// ---------------------------------------------------------------------------
// Clean-up

after(async () => {
  const errors = [];
  for (const s of [...live]) {
    try {
      await s.stop();
    } catch (e) {
      errors.push(e);
    }
  }
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  dirs.clear();
  if (errors.length > 0) {
    throw new Error(`servers left running by the tests failed to stop cleanly:\n` +
                    errors.map((e) => e.message).join('\n'));
  }
});

process.on('exit', () => {
  for (const s of live) {
    try { s.proc.kill('SIGKILL'); } catch { /* already gone */ }
  }
  for (const d of dirs) {
    try { fs.rmSync(d, { recursive: true, force: true }); } catch { /* best effort */ }
  }
});

/** Runs `fn` over `items` with at most `limit` calls in flight; resolves
 *  with the results in order (for independent CLI runs, which are slow
 *  under the sanitizers). */
export async function mapLimit(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
