// The application shell: header, navigation, the five pages behind it, and
// the page's own hygiene (no console errors, failed requests or CSP
// violations) in headless Chromium against a real `stockade serve`.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ADMIN, screenshot, useHarness } from './lib/harness.mjs';

const h = useHarness({ prefix: 'shell' });

const NAV = [
  { label: 'Incidents', path: '/incidents', icon: 'incidents' },
  { label: 'Action center', path: '/action-center', icon: 'actions' },
  { label: 'Hunting', path: '/hunting', icon: 'hunting' },
  { label: 'Attack paths', path: '/attack-paths', icon: 'paths' },
  { label: 'Settings', path: '/settings', icon: 'settings' },
];

const pathOf = (page) => new URL(page.url()).pathname;
const navLinks = (page) => page.getByRole('navigation', { name: 'Main' }).getByRole('link');

/** Asserts `page` shows `entry`'s page: URL, h1, title and the nav marking. */
async function assertOnPage(page, entry) {
  assert.equal(pathOf(page), entry.path);
  assert.equal((await page.locator('main h1').textContent()).trim(), entry.label);
  assert.match(await page.title(), new RegExp(`^${entry.label} · Stockade$`));
  const current = await navLinks(page).evaluateAll((as) =>
    as.map((a) => ({ href: a.getAttribute('href'), aria: a.getAttribute('aria-current'), cls: a.classList.contains('current') })));
  assert.deepEqual(current, NAV.map((n) => ({
    href: n.path, aria: n.path === entry.path ? 'page' : null, cls: n.path === entry.path,
  })), `only ${entry.label} is marked current`);
}

/** Where keyboard focus is, described for assertions. */
const focused = (page) => page.evaluate(() => {
  const el = document.activeElement;
  return {
    tag: el ? el.tagName.toLowerCase() : null,
    id: el ? el.id : null,
    cls: el && el.className ? String(el.className) : '',
    href: el && el.getAttribute ? el.getAttribute('href') : null,
    inNav: Boolean(el && el.closest && el.closest('nav.sidenav')),
    text: el ? el.textContent.trim() : '',
  };
});

test('/incidents loads with no console errors, page errors, failed requests or HTTP errors', async (t) => {
  const { page, rec } = await h.newPage(t);
  const res = await page.goto(h.url('/incidents'));
  assert.equal(res.status(), 200);
  assert.match(res.headers()['content-type'], /^text\/html; charset=utf-8$/i);
  await page.waitForLoadState('networkidle');

  // Every sub-resource the shell needs was fetched with the right type.
  const expectLoaded = (p, typeRe) => {
    const got = rec.responsesFor(p);
    assert.ok(got.length > 0, `${p} was requested`);
    for (const r of got) {
      assert.ok(r.status === 200 || r.status === 304, `${p} answered ${r.status}`);
      if (r.status === 200) assert.match(r.type, typeRe, `${p} content type`);
    }
  };
  expectLoaded('/static/css/app.css', /^text\/css/);
  expectLoaded('/web/app.js', /^(text|application)\/javascript/);
  expectLoaded('/static/icons/logo.svg', /^image\/svg\+xml/);
  for (const n of NAV) expectLoaded(`/static/icons/${n.icon}.svg`, /^image\/svg\+xml/);

  // The favicon: headless Chromium does not report its own favicon fetch
  // to the page, so load the <link rel=icon> the way an <img> would.
  const favicon = await page.evaluate(async () => {
    const link = document.querySelector('link[rel~="icon"]');
    if (!link) return { error: 'no <link rel=icon>' };
    const img = new Image();
    img.src = link.href;
    try {
      await img.decode();
      return { href: new URL(link.href).pathname, width: img.naturalWidth };
    } catch (e) {
      return { href: link.href, error: String(e) };
    }
  });
  assert.equal(favicon.error, undefined, `favicon: ${JSON.stringify(favicon)}`);
  assert.equal(favicon.href, '/static/icons/logo.svg');
  assert.ok(favicon.width > 0, 'favicon has a size');

  // Every <img> decoded (icons are real SVGs, not error bodies).
  const broken = await page.locator('img').evaluateAll((imgs) =>
    imgs.filter((i) => !i.complete || i.naturalWidth === 0).map((i) => i.src));
  assert.deepEqual(broken, [], 'no broken images');

  // The stylesheet applied and the module ran as a module.
  const style = await page.evaluate(() => ({
    topbar: getComputedStyle(document.querySelector('.topbar')).backgroundColor,
    sheets: [...document.styleSheets].map((s) => ({ href: new URL(s.href).pathname, rules: s.cssRules.length })),
  }));
  assert.equal(style.topbar, 'rgb(23, 32, 44)', 'app.css styles the top bar');
  assert.equal(style.sheets.length, 1);
  assert.equal(style.sheets[0].href, '/static/css/app.css');
  assert.ok(style.sheets[0].rules > 10, 'app.css parsed');
  const moduleExports = await page.evaluate(async () => Object.keys(await import('/web/app.js')));
  assert.ok(moduleExports.includes('markCurrentNav'), `app.js exports: ${moduleExports}`);

  // Layout: header across the top, navigation on the left of the content.
  const box = async (sel) => page.locator(sel).boundingBox();
  const [topbar, nav, main] = [await box('header.topbar'), await box('nav.sidenav'), await box('main#main')];
  assert.ok(topbar.y === 0 && topbar.width >= 1280 - 1, `top bar spans the page: ${JSON.stringify(topbar)}`);
  assert.ok(nav.y >= topbar.y + topbar.height - 1, 'navigation below the top bar');
  assert.ok(nav.x + nav.width <= main.x + 1, 'content to the right of the navigation');
  assert.ok(nav.height >= 800 - topbar.height - 1, 'navigation fills the window height');

  await screenshot(page, 'shell-incidents');
  rec.assertClean();
});

test('header and the five navigation links are visible', async (t) => {
  const { page, rec } = await h.newPage(t);
  await page.goto(h.url('/incidents'));

  const header = page.getByRole('banner');
  assert.ok(await header.isVisible(), 'header visible');
  const brand = header.getByRole('link', { name: 'Stockade' });
  assert.ok(await brand.isVisible(), 'brand link visible');
  assert.equal(await brand.getAttribute('href'), '/incidents');
  assert.match((await header.locator('.topbar-version').textContent()).trim(), /^v\d+\.\d+\.\d+/);
  assert.ok(await header.getByText(ADMIN.username, { exact: true }).isVisible(), 'signed-in user shown');

  const links = navLinks(page);
  assert.equal(await links.count(), NAV.length);
  assert.deepEqual((await links.allTextContents()).map((s) => s.trim()), NAV.map((n) => n.label));
  for (const n of NAV) {
    const link = page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: n.label, exact: true });
    assert.ok(await link.isVisible(), `${n.label} visible`);
    assert.equal(await link.getAttribute('href'), n.path);
    const b = await link.boundingBox();
    assert.ok(b.width > 40 && b.height >= 24, `${n.label} has a usable size: ${JSON.stringify(b)}`);
  }
  await assertOnPage(page, NAV[0]);
  rec.assertClean();
});

test('clicking each navigation link goes to its page and marks it current', async (t) => {
  const { page, rec } = await h.newPage(t);
  await page.goto(h.url('/incidents'));
  await assertOnPage(page, NAV[0]);
  // Every page in turn, then back to the first.
  for (const n of [...NAV.slice(1), NAV[0]]) {
    const link = page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: n.label, exact: true });
    await link.click();
    await page.waitForURL(h.url(n.path));
    await page.waitForLoadState('load');
    await assertOnPage(page, n);
  }
  // History navigation lands on the right, still-marked page.
  await page.goBack();
  await page.waitForURL(h.url('/settings'));
  await assertOnPage(page, NAV[4]);
  await page.waitForLoadState('networkidle');
  rec.assertClean();
});

test('/ redirects to /incidents', async (t) => {
  const { page, rec } = await h.newPage(t);
  const res = await page.goto(h.url('/'));
  assert.equal(pathOf(page), '/incidents');
  assert.equal(res.status(), 200);
  const from = res.request().redirectedFrom();
  assert.ok(from, 'the page was reached by a redirect');
  assert.equal(new URL(from.url()).pathname, '/');
  assert.equal((await from.response()).status(), 302);
  await assertOnPage(page, NAV[0]);
  rec.assertClean();
});

test('signed out, the shell sends you to /login and back after signing in', async (t) => {
  const { page, rec } = await h.newPage(t, { user: null });
  const res = await page.goto(h.url('/hunting'));
  assert.equal(pathOf(page), '/login');
  assert.equal(new URL(page.url()).searchParams.get('next'), '/hunting');
  assert.equal((await res.request().redirectedFrom().response()).status(), 302);
  await page.getByLabel('User name').fill(ADMIN.username);
  await page.getByLabel('Password').fill(ADMIN.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(h.url('/hunting'));
  await assertOnPage(page, NAV[2]);
  await page.waitForLoadState('networkidle');
  rec.assertClean();
});

test('keyboard: Tab reaches the skip link, then the navigation links in order', async (t) => {
  const { page, rec } = await h.newPage(t);
  await page.goto(h.url('/incidents'));
  await page.waitForLoadState('networkidle');

  // The first Tab lands on the skip link, which becomes visible.
  await page.keyboard.press('Tab');
  let f = await focused(page);
  assert.equal(f.cls, 'skip-link', `first Tab focuses the skip link, got ${JSON.stringify(f)}`);
  assert.equal(f.href, '#main');
  const skip = await page.locator('.skip-link').boundingBox();
  assert.ok(skip.x >= 0 && skip.y >= 0 && skip.x + skip.width <= 1280, `skip link on screen: ${JSON.stringify(skip)}`);
  await screenshot(page, 'shell-keyboard-skip-link');

  // Following Tabs reach the brand and the five navigation links in order.
  const order = [];
  for (let i = 0; i < 8 && order.length < NAV.length; i++) {
    await page.keyboard.press('Tab');
    f = await focused(page);
    if (f.inNav) order.push(f.href);
  }
  assert.deepEqual(order, NAV.map((n) => n.path), 'Tab order through the navigation');

  // A keyboard-focused link shows a focus indicator.
  const bg = await navLinks(page).evaluateAll((as) => as.map((a) => getComputedStyle(a).backgroundColor));
  assert.notEqual(bg[4], bg[3], 'the focused link (Settings) looks different from an unfocused one');

  // Enter on the focused link follows it.
  await page.keyboard.press('Enter');
  await page.waitForURL(h.url('/settings'));
  await assertOnPage(page, NAV[4]);

  // Activating the skip link moves focus to the main content.
  await page.keyboard.press('Tab');
  assert.equal((await focused(page)).cls, 'skip-link');
  await page.keyboard.press('Enter');
  f = await focused(page);
  assert.equal(f.id, 'main', `skip link moves focus to <main>, got ${JSON.stringify(f)}`);
  rec.assertClean();
});

test('narrow window: navigation collapses to icons that keep their names', async (t) => {
  const { page, rec } = await h.newPage(t, { viewport: { width: 600, height: 700 } });
  await page.goto(h.url('/incidents'));
  const nav = await page.locator('nav.sidenav').boundingBox();
  assert.ok(nav.width <= 64, `navigation is an icon rail: ${JSON.stringify(nav)}`);
  const main = await page.locator('main#main').boundingBox();
  assert.ok(main.x >= nav.x + nav.width - 1 && main.x + main.width <= 600 + 1, 'content fits beside it');
  // The labels are hidden visually but still name the links.
  const link = page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Hunting', exact: true });
  assert.equal(await link.count(), 1, 'the Hunting icon link keeps its accessible name');
  const label = await link.locator('span').boundingBox();
  assert.ok(label.width <= 1 && label.height <= 1, `label hidden visually: ${JSON.stringify(label)}`);
  await link.click();
  await page.waitForURL(h.url('/hunting'));
  await assertOnPage(page, NAV[2]);
  rec.assertClean();
});

test('Content-Security-Policy: violations are detected (control)', async (t) => {
  // Proves the detection the next test relies on: an inline script, which
  // the policy forbids, must be reported.
  const { page, rec } = await h.newPage(t);
  await page.goto(h.url('/incidents'));
  await page.evaluate(() => {
    const s = document.createElement('script');
    s.textContent = 'window.__inlineRan = true;';
    document.body.append(s);
  });
  await page.waitForFunction(() => true); // one round trip for the event
  const deadline = Date.now() + 5_000;
  while (!rec.cspViolations.some((v) => v.source === 'event') && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(await page.evaluate(() => window.__inlineRan === true), false, 'inline script blocked');
  assert.ok(rec.cspViolations.some((v) => v.source === 'event' && /^script-src/.test(v.directive)),
    `securitypolicyviolation event recorded: ${JSON.stringify(rec.cspViolations)}`);
  assert.ok(rec.cspViolations.some((v) => v.source === 'console'),
    `console message recorded: ${JSON.stringify(rec.cspViolations)}`);
});

test('Content-Security-Policy blocks nothing on any shell page', async (t) => {
  const { page, rec } = await h.newPage(t);
  for (const p of ['/', ...NAV.map((n) => n.path)]) {
    const res = await page.goto(h.url(p));
    await page.waitForLoadState('networkidle');
    const csp = res.headers()['content-security-policy'] || '';
    assert.match(csp, /(^|;)\s*script-src 'self'\s*(;|$)/, `${p} has a strict script-src: ${csp}`);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, `${p} CSP`);
    assert.match(csp, /frame-ancestors 'none'/, `${p} CSP`);
  }
  assert.deepEqual(rec.cspViolations, [], 'no CSP violations');
  rec.assertClean();
});
