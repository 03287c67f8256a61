// Browser test harness: a real `stockade serve` on a free loopback port
// with a fresh temporary database, and Debian's Chromium driven by
// playwright-core. Every page a test gets records what went wrong on it
// (console errors, uncaught exceptions, failed requests, HTTP >= 400,
// Content-Security-Policy violations) so the test can assert none did.
//
// Usage (node:test):
//   const h = useHarness();            // registers before/after hooks
//   test('x', async (t) => {
//     const {page, rec} = await h.newPage(t);   // signed in as ADMIN;
//     await page.goto(h.url('/incidents'));     // closed + screenshotted after t
//     rec.assertClean();
//   });
// h.newPage(t, {user: null}) is signed out; h.addUser({username, password,
// role}) then h.newPage(t, {user}) signs in as another user.
//
// Every wait is bounded: server start, browser launch, navigation, actions,
// browser close and server stop all have timeouts, and a watchdog ends the
// whole file (killing the server and the browser) if it still runs after
// FILE_DEADLINE_MS, so a hung browser or server fails and never hangs ctest.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const BROWSER_DIR = path.resolve(HERE, '..');
export const SOURCE_DIR = path.resolve(BROWSER_DIR, '..', '..');

export const CHROMIUM = process.env.STOCKADE_CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic',
];

const SERVER_START_MS = 20_000;
const SERVER_STOP_MS = 15_000;
const BROWSER_LAUNCH_MS = 30_000;
const BROWSER_CLOSE_MS = 10_000;
const ACTION_MS = 10_000;
const CLI_MS = 20_000;
const NAVIGATION_MS = 15_000;
const FILE_DEADLINE_MS = 240_000; // below ctest's TIMEOUT 300

/** A sanitizer report on the server's stderr. */
const SANITIZER_RE =
  /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer)|WARNING: ThreadSanitizer/;

/** Resolves with `p`, or rejects after `ms` with `what` in the message. */
export function withTimeout(p, ms, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

async function loadPlaywright() {
  try {
    // Bare specifier: resolved from this file, so tests/browser/node_modules
    // is found whatever the working directory (ctest runs in the build dir).
    return await import('playwright-core');
  } catch (e) {
    throw new Error(
      `playwright-core is not installed under ${BROWSER_DIR}/node_modules ` +
        `(run scripts/browser-deps.sh): ${e.message}`,
    );
  }
}

// ---------------------------------------------------------------- server

/**
 * Starts `STOCKADE_BIN serve` on 127.0.0.1:0 with a fresh database and data
 * dir in a new temporary directory. Resolves once it prints its URL.
 */
export async function startServer({ extraArgs = [], env = {} } = {}) {
  const bin = process.env.STOCKADE_BIN;
  assert.ok(bin, 'STOCKADE_BIN is not set (run the browser tests through ctest)');
  assert.ok(fs.existsSync(bin), `STOCKADE_BIN ${bin} does not exist`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stockade-browser-'));
  const db = path.join(tmp, 'stockade.db');
  const dataDir = path.join(tmp, 'data');
  const args = [
    'serve',
    '--db', db,
    '--data-dir', dataDir,
    '--listen', '127.0.0.1:0',
    '--assets-dir', process.env.STOCKADE_SOURCE_DIR || SOURCE_DIR,
    // The agent gateway on a free loopback port: tests run side by side.
    ...(extraArgs.includes('--agent-listen') ? [] : ['--agent-listen', '127.0.0.1:0']),
    ...extraArgs,
  ];
  // Its own process group, so a kill reaches anything it (or a wrapper
  // such as valgrind or a shell script) started.
  const child = spawn(bin, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const server = {
    child, tmp, db, dataDir, url: null, stdout: '', stderr: '', exited: null,
    // 'close', not 'exit': a sanitizer report is written last, and 'close'
    // comes only once stderr has been read to its end.
    exitPromise: new Promise((resolve) => {
      child.on('close', (code, signal) => {
        server.exited = { code, signal };
        resolve(server.exited);
      });
    }),
  };
  killOnExit.add(child);
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => { server.stderr += d; });

  const ready = new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      server.stdout += d;
      const m = /stockade listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(server.stdout);
      if (m && server.url === null) {
        server.url = m[1];
        resolve();
      }
    });
    child.on('error', reject);
    server.exitPromise.then(({ code, signal }) =>
      reject(new Error(`stockade exited before listening (code ${code}, signal ${signal}):\n${server.stderr}`)));
  });
  try {
    await withTimeout(ready, SERVER_START_MS, 'stockade serve start');
  } catch (e) {
    killServer(server);
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return server;
}

/**
 * Stops the server with SIGTERM. Throws if it does not exit in time, exits
 * non-zero or by a signal, or printed a sanitizer report.
 */
export async function stopServer(server) {
  if (server.exited === null) {
    server.child.kill('SIGTERM');
    try {
      await withTimeout(server.exitPromise, SERVER_STOP_MS, 'stockade shutdown after SIGTERM');
    } catch (e) {
      killServer(server);
      throw new Error(`${e.message}\n--- server stderr ---\n${tail(server.stderr)}`);
    }
  }
  killOnExit.delete(server.child);
  const { code, signal } = server.exited;
  const problems = [];
  if (code !== 0) problems.push(`stockade exited with code ${code}, signal ${signal}`);
  if (SANITIZER_RE.test(server.stderr)) problems.push('stockade stderr has a sanitizer report');
  if (problems.length > 0) {
    throw new Error(`${problems.join('; ')} (database kept in ${server.tmp})\n--- server stderr ---\n${tail(server.stderr)}`);
  }
  fs.rmSync(server.tmp, { recursive: true, force: true });
}

/**
 * Runs `STOCKADE_BIN ARGS... --db DB --data-dir DIR` against `server`'s
 * database (stdin: `input`). Resolves with its stdout; rejects on a
 * non-zero exit, a sanitizer report or a timeout.
 */
export function runCli(server, args, { input = '', timeoutMs = CLI_MS } = {}) {
  const full = [...args, '--db', server.db, '--data-dir', server.dataDir];
  return new Promise((resolve, reject) => {
    const child = spawn(process.env.STOCKADE_BIN, full, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    killOnExit.add(child);
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d) => { err += d; });
    const timer = setTimeout(() => {
      killGroup(child);
      reject(new Error(`stockade ${args.join(' ')}: timed out after ${timeoutMs} ms\n${err}`));
    }, timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      killOnExit.delete(child);
      if (code !== 0 || SANITIZER_RE.test(err)) {
        reject(new Error(`stockade ${args.join(' ')}: exit code ${code}, signal ${signal}\n${err}`));
      } else {
        resolve(out);
      }
    });
    child.stdin.on('error', () => {}); // it may exit before reading
    child.stdin.end(input);
  });
}

/** SIGKILLs the server's process group and lets go of its pipes. */
function killServer(server) {
  killGroup(server.child);
  killOnExit.delete(server.child);
  server.child.stdout.destroy();
  server.child.stderr.destroy();
}

function killGroup(child) {
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function tail(s, n = 12_000) {
  return s.length > n ? `...${s.slice(-n)}` : s;
}

// ---------------------------------------------------------------- browser

export async function launchBrowser() {
  const { chromium } = await loadPlaywright();
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing (apt-get install chromium)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    timeout: BROWSER_LAUNCH_MS,
    handleSIGINT: false,
    handleSIGTERM: false,
  });
}

export async function closeBrowser(browser) {
  if (browser) await withTimeout(browser.close(), BROWSER_CLOSE_MS, 'closing chromium');
}

// ---------------------------------------------------------------- recorder

/**
 * Records what goes wrong on a page (and every response, for tests that
 * check what was loaded). Events from all pages of `context` are recorded.
 */
export class Recorder {
  constructor() {
    this.consoleErrors = [];
    this.pageErrors = [];
    this.failedRequests = [];
    this.badResponses = [];
    this.cspViolations = [];
    this.crashes = [];
    this.responses = [];
  }

  /** Starts recording `page`'s events. */
  attach(page) {
    page.on('console', (msg) => {
      const text = msg.text();
      if (/Content[- ]Security[- ]Policy/i.test(text)) {
        this.cspViolations.push({ source: 'console', text, url: page.url() });
      }
      if (msg.type() === 'error') {
        const loc = msg.location();
        this.consoleErrors.push({ text, url: loc && loc.url ? `${loc.url}:${loc.lineNumber}` : page.url() });
      }
    });
    page.on('pageerror', (err) => {
      this.pageErrors.push({ text: String(err && err.stack ? err.stack : err), url: page.url() });
    });
    // A navigation cancels what the page it leaves was still loading (its
    // favicon, a fetch whose body was not read): Chromium reports those as
    // net::ERR_ABORTED. They are kept apart in abortedByNavigation, not
    // counted as failures; every other failure is. A request counts as
    // cut short by a navigation when a main-frame navigation began after
    // it, or was already under way when it began.
    const nav = { seq: 0, pending: false };
    const began = new WeakMap(); // request -> {seq, duringNav}
    page.on('request', (req) => {
      if (req.isNavigationRequest() && req.frame() === page.mainFrame()) {
        nav.seq++;
        nav.pending = true;
      }
      began.set(req, { seq: nav.seq, duringNav: nav.pending });
    });
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) nav.pending = false;
    });
    page.on('requestfailed', (req) => {
      const f = req.failure();
      const entry = { url: req.url(), method: req.method(), error: f ? f.errorText : 'unknown' };
      const b = began.get(req) || { seq: nav.seq, duringNav: false };
      // Judged when problems() is asked, since the navigation's own
      // request may be reported after the failure it causes.
      Object.defineProperty(entry, 'cutByNavigation', {
        enumerable: false,
        get: () => entry.error === 'net::ERR_ABORTED' &&
          (nav.seq > b.seq || (b.duringNav && !req.isNavigationRequest())),
      });
      this.failedRequests.push(entry);
    });
    page.on('response', (res) => {
      const entry = {
        url: res.url(),
        status: res.status(),
        type: res.headers()['content-type'] || '',
        resourceType: res.request().resourceType(),
      };
      this.responses.push(entry);
      if (entry.status >= 400) this.badResponses.push(entry);
    });
    page.on('crash', () => this.crashes.push({ url: page.url() }));
  }

  /** Everything recorded as a problem, minus what `ignore(kind, entry)` accepts. */
  problems({ ignore = () => false } = {}) {
    const out = [];
    const add = (kind, list) => {
      for (const e of list) if (!ignore(kind, e)) out.push(`${kind}: ${JSON.stringify(e)}`);
    };
    add('console error', this.consoleErrors);
    add('page error', this.pageErrors);
    add('failed request', this.failedRequests.filter((e) => !e.cutByNavigation));
    add('HTTP error response', this.badResponses);
    add('CSP violation', this.cspViolations);
    add('renderer crash', this.crashes);
    return out;
  }

  /** Requests a navigation cut short (not counted as problems). */
  get abortedByNavigation() {
    return this.failedRequests.filter((e) => e.cutByNavigation);
  }

  /** Fails listing every problem recorded so far. */
  assertClean(opts) {
    const p = this.problems(opts);
    assert.deepEqual(p, [], `the page had problems:\n  ${p.join('\n  ')}`);
  }

  /** Responses whose URL path is `pathname` (query ignored). */
  responsesFor(pathname) {
    return this.responses.filter((r) => new URL(r.url).pathname === pathname);
  }

  clear() {
    for (const k of Object.keys(this)) if (Array.isArray(this[k])) this[k].length = 0;
  }
}

// ---------------------------------------------------------------- artifacts

export const ARTIFACTS_DIR = path.resolve(
  process.env.STOCKADE_ARTIFACTS || path.join(process.cwd(), 'artifacts'),
);

/** A file name from a test name: `shell: nav links` -> `shell-nav-links`. */
export function artifactName(...parts) {
  return parts
    .join('-')
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 120);
}

/** Saves a full-page screenshot to STOCKADE_ARTIFACTS/<name>.png; returns the path. */
export async function screenshot(page, name) {
  fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const file = path.join(ARTIFACTS_DIR, `${artifactName(name)}.png`);
  await page.screenshot({ path: file, fullPage: true, timeout: ACTION_MS });
  return file;
}

// ---------------------------------------------------------------- per file

// Servers still running when node goes away (a failed test, the watchdog,
// Ctrl-C) are killed with it rather than left behind.
const killOnExit = new Set();
process.on('exit', () => {
  for (const child of killOnExit) killGroup(child);
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => {
    for (const child of killOnExit) killGroup(child);
    process.exit(128 + os.constants.signals[sig]);
  });
}

/** The user every test file gets, created with the CLI before its tests. */
export const ADMIN = { username: 'browser-admin', password: 'browser-admin-password-1', role: 'admin' };

/**
 * Registers before/after hooks for one test file: one server and one
 * browser shared by its tests, a fresh browser context per test, signed in
 * as ADMIN unless asked otherwise. `prefix` names the file's screenshots
 * (default: the test file's name); `serverArgs` are added to `stockade
 * serve`'s command line.
 */
export function useHarness({
  prefix = path.basename(process.argv[1] || 'browser', '.test.mjs'),
  serverArgs = [],
} = {}) {
  const h = { server: null, browser: null, prefix, browserGone: false };
  const open = new Set();
  const sessions = new Map(); // username -> storageState

  const watchdog = setTimeout(() => {
    process.stderr.write(`browser tests: still running after ${FILE_DEADLINE_MS} ms, giving up\n`);
    for (const child of killOnExit) killGroup(child);
    process.exit(1);
  }, FILE_DEADLINE_MS);
  watchdog.unref();

  before(async () => {
    h.server = await startServer({ extraArgs: serverArgs });
    await h.addUser(ADMIN);
    h.browser = await launchBrowser();
    h.browser.on('disconnected', () => { h.browserGone = true; });
  }, { timeout: SERVER_START_MS + CLI_MS + BROWSER_LAUNCH_MS + 5_000 });

  after(async () => {
    const errors = [];
    for (const ctx of open) await ctx.close().catch(() => {});
    try { await closeBrowser(h.browser); } catch (e) { errors.push(e); }
    if (h.server) {
      try { await stopServer(h.server); } catch (e) { errors.push(e); }
    }
    clearTimeout(watchdog);
    if (errors.length > 0) throw errors.length === 1 ? errors[0] : new AggregateError(errors, errors.map((e) => e.message).join('\n'));
  }, { timeout: BROWSER_CLOSE_MS + SERVER_STOP_MS + 5_000 });

  /** Absolute URL on the server for `p`. */
  h.url = (p = '/') => new URL(p, h.server.url).href;

  /** Creates a user with `stockade user add` (password through stdin). */
  h.addUser = ({ username, password, role }) =>
    runCli(h.server, ['user', 'add', username, '--role', role, '--password-stdin'], { input: `${password}\n` });

  /**
   * The cookies of a browser session signed in as `user` (through the
   * login API, once per user and file), for newContext({storageState}).
   */
  h.session = async (user = ADMIN) => {
    if (!sessions.has(user.username)) {
      const ctx = await h.browser.newContext();
      try {
        const res = await ctx.request.post(h.url('/api/v1/auth/login'), {
          data: { username: user.username, password: user.password },
          timeout: NAVIGATION_MS,
        });
        assert.equal(res.status(), 200, `sign-in as ${user.username}: ${await res.text()}`);
        sessions.set(user.username, await ctx.storageState());
      } finally {
        await ctx.close();
      }
    }
    return sessions.get(user.username);
  };

  /**
   * A fresh context and page for test `t`, with a Recorder attached and
   * CSP violation events reported; signed in as `user` (null: signed out).
   * After `t` ends, the page is screenshotted to <prefix>-<test name>.png
   * and the context closed.
   */
  h.newPage = async (t, { viewport = { width: 1280, height: 800 }, user = ADMIN } = {}) => {
    assert.ok(h.browser && !h.browserGone, 'chromium is not running');
    const storageState = user ? await h.session(user) : undefined;
    const context = await h.browser.newContext({ viewport, storageState, serviceWorkers: 'block' });
    open.add(context);
    context.setDefaultTimeout(ACTION_MS);
    context.setDefaultNavigationTimeout(NAVIGATION_MS);
    const rec = new Recorder();
    // securitypolicyviolation events reach node through a binding, which
    // (like the init script) is installed over CDP and so is not itself
    // subject to the page's CSP.
    await context.exposeBinding('__stockadeCspViolation', ({ page }, v) => {
      rec.cspViolations.push({ source: 'event', ...v, url: page.url() });
    });
    await context.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        globalThis.__stockadeCspViolation({
          directive: e.effectiveDirective,
          blocked: e.blockedURI,
          where: `${e.sourceFile}:${e.lineNumber}`,
        });
      });
    });
    const attached = new WeakSet();
    const attach = (p) => {
      if (!attached.has(p)) { attached.add(p); rec.attach(p); }
    };
    context.on('page', attach);
    const page = await context.newPage();
    attach(page);
    t.after(async () => {
      try {
        if (!page.isClosed()) await screenshot(page, `${h.prefix}-${t.name}`);
      } finally {
        open.delete(context);
        await withTimeout(context.close(), BROWSER_CLOSE_MS, 'closing browser context').catch(() => {});
      }
    });
    return { context, page, rec };
  };

  return h;
}
