// The harness itself: its Recorder must see every kind of problem the
// other browser tests assert away, or their "no problems" proves nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { useHarness } from './lib/harness.mjs';

const h = useHarness({ prefix: 'harness' });

test('the recorder sees console errors, uncaught exceptions, HTTP errors and failed requests', async (t) => {
  const { page, rec } = await h.newPage(t);
  await page.goto(h.url('/incidents'));
  await page.waitForLoadState('networkidle');
  rec.assertClean();

  // Stands in for a server that drops the connection.
  await page.route('**/harness-probe-refused', (route) => route.abort('connectionrefused'));
  await page.evaluate(async () => {
    console.error('harness probe: console error');
    setTimeout(() => { throw new Error('harness probe: uncaught'); }, 0);
    await fetch('/no/such/path').catch(() => {});
    // Aborted by the page itself, not by a navigation: a failure.
    const ac = new AbortController();
    const p = fetch('/api/v1/version', { signal: ac.signal }).catch(() => {});
    ac.abort();
    await p;
    await fetch('/harness-probe-refused').catch(() => {});
  });
  await page.waitForTimeout(300);

  assert.ok(rec.consoleErrors.some((e) => e.text === 'harness probe: console error'), 'console error');
  assert.ok(rec.pageErrors.some((e) => e.text.includes('harness probe: uncaught')), 'uncaught exception');
  assert.ok(rec.badResponses.some((e) => new URL(e.url).pathname === '/no/such/path' && e.status === 404), '404');
  const failed = rec.problems().filter((p) => p.startsWith('failed request'));
  assert.ok(failed.some((p) => p.includes('/api/v1/version')), `page-aborted fetch: ${failed}`);
  assert.ok(failed.some((p) => p.includes('/harness-probe-refused') && p.includes('ERR_CONNECTION_REFUSED')), `refused connection: ${failed}`);
  assert.throws(() => rec.assertClean(), /the page had problems/);
});

test('requests a navigation cuts short are not failures; others still are', async (t) => {
  const { page, rec } = await h.newPage(t);
  await page.goto(h.url('/incidents'));
  // A slow request the page leaves behind: the server holds nothing slow,
  // so hold one in the browser and navigate while it is in flight.
  let release;
  const held = new Promise((r) => { release = r; });
  await page.route('**/api/v1/version', async (route) => {
    await held;
    await route.continue().catch(() => {});
  });
  await page.evaluate(() => { fetch('/api/v1/version').catch(() => {}); });
  await page.waitForTimeout(100);
  await page.goto(h.url('/hunting'));
  release();
  await page.unroute('**/api/v1/version');
  await page.waitForLoadState('networkidle');
  assert.ok(rec.abortedByNavigation.some((e) => e.url.endsWith('/api/v1/version')),
    `the left-behind fetch is recorded as cut by the navigation: ${JSON.stringify(rec.failedRequests)}`);
  rec.assertClean();
});
