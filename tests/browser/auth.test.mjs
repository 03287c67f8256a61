// Signing in and out in a real browser: the sign-in form, the shell with
// the user's name, sign-out, and that history (Back) shows no protected
// content afterwards; a wrong password; a protected page while signed out.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { allowing } from './lib/expected.mjs';
import { screenshot, useHarness } from './lib/harness.mjs';

const h = useHarness({ prefix: 'auth' });

// Users of this file only, so signing out ends no session another test uses.
const ALICE = { username: 'alice.admin', password: 'alice-correct-horse-1', role: 'admin' };
const BOB = { username: 'bob', password: 'bob-battery-staple-22', role: 'analyst' };

// Created on first use, from the tests: under node 20 a root-level before()
// in this file ran before the harness's own had started the server.
let usersAdded = null;
const users = () => {
  usersAdded ??= (async () => {
    await h.addUser(ALICE);
    await h.addUser(BOB);
  })();
  return usersAdded;
};

const pathOf = (page) => new URL(page.url()).pathname;

/** Fills and submits the sign-in form. */
async function signIn(page, user, password = user.password) {
  await page.getByLabel('User name').fill(user.username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** What of the signed-in application is on the page right now. */
const protectedContent = (page) => page.evaluate(() => ({
  path: location.pathname,
  topbarUser: Boolean(document.querySelector('.topbar-user')),
  signOut: Boolean(document.getElementById('sign-out')),
  nav: Boolean(document.querySelector('nav.sidenav')),
  settings: Boolean(document.querySelector('#settings-admin, #users-table, #password-form')),
  incidentsH1: [...document.querySelectorAll('main h1')].map((e) => e.textContent.trim()),
  loginForm: Boolean(document.getElementById('login-form')),
}));

test('sign in, see the shell with the user, sign out: Back shows no protected content', async (t) => {
  await users();
  const { context, page, rec } = await h.newPage(t, { user: null });
  await page.goto(h.url('/login'));
  assert.equal(await page.title(), 'Sign in · Stockade');
  // The user name field has focus, the form is usable from the keyboard.
  assert.equal(await page.evaluate(() => document.activeElement.id), 'username');
  await page.keyboard.type(ALICE.username);
  await page.keyboard.press('Tab');
  await page.keyboard.type(ALICE.password);
  await page.keyboard.press('Enter');
  await page.waitForURL(h.url('/incidents'));

  // The shell, with who is signed in.
  const user = page.getByRole('banner').locator('.topbar-user');
  assert.equal((await user.locator('.user-name').textContent()).trim(), ALICE.username);
  assert.equal((await user.locator('.user-role').textContent()).trim(), 'admin');
  assert.ok(await page.getByRole('button', { name: 'Sign out' }).isVisible());
  assert.equal((await page.locator('main h1').textContent()).trim(), 'Incidents');
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === 'stockade_session');
  assert.ok(session, 'a session cookie was set');
  assert.equal(session.httpOnly, true, 'session cookie is HttpOnly');
  assert.equal(session.sameSite, 'Strict', 'session cookie is SameSite=Strict');
  assert.equal(await page.evaluate(() => document.cookie.includes('stockade_session')), false,
    'scripts cannot read the session cookie');

  // A second protected page in history, with admin content on it.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
  await page.waitForURL(h.url('/settings'));
  await page.locator('#users-table tbody tr[data-user]').first().waitFor();
  await page.waitForLoadState('networkidle');
  await screenshot(page, 'auth-signed-in-settings');

  // Sign out.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL((u) => u.pathname === '/login');
  await page.waitForLoadState('load');
  let seen = await protectedContent(page);
  assert.equal(seen.loginForm, true, 'the sign-in form is shown');
  assert.equal(seen.topbarUser, false);
  assert.equal((await context.cookies()).some((c) => c.name === 'stockade_session' && c.value), false,
    'the session cookie is gone');
  // The server forgot the session too.
  const me = await context.request.get(h.url('/api/v1/auth/me'));
  assert.equal(me.status(), 401, 'the session is revoked on the server');

  // Back through the whole history: the settings entry was replaced by
  // /login on sign-out, so the first Back reaches /incidents, which the
  // server now answers with a redirect to /login; the one before it is the
  // tab's initial blank page. No step shows anything of the signed-in pages.
  const visited = [];
  for (let i = 0; i < 3; i++) {
    await page.goBack().catch(() => {}); // may be cut short by the redirect
    await page.waitForURL((u) => u.pathname === '/login' || u.href === 'about:blank');
    await page.waitForLoadState('load');
    seen = await protectedContent(page);
    visited.push(seen.path);
    assert.deepEqual({ ...seen, path: undefined, loginForm: undefined }, {
      path: undefined, topbarUser: false, signOut: false, nav: false, settings: false,
      incidentsH1: [], loginForm: undefined,
    }, `after Back #${i + 1} (${page.url()})`);
    if (seen.path === '/login') {
      assert.equal(seen.loginForm, true);
      const next = new URL(page.url()).searchParams.get('next');
      assert.ok(next === null || next === '/incidents' || next === '/settings', `next=${next}`);
    }
  }
  assert.ok(visited.includes('/login'), `Back reached the sign-in page: ${visited}`);
  assert.ok(rec.responses.some((r) => new URL(r.url).pathname === '/incidents' && r.status === 302),
    'going Back to /incidents asked the server, which redirected');
  // Forward again does not bring anything back either.
  for (let i = 0; i < 2; i++) {
    await page.goForward().catch(() => {});
    await page.waitForLoadState('load');
    seen = await protectedContent(page);
    assert.equal(seen.topbarUser || seen.settings || seen.nav, false, `after Forward #${i + 1} (${page.url()})`);
  }

  // Going straight to a protected page again needs a new sign-in.
  const res = await page.goto(h.url('/settings'));
  assert.equal(pathOf(page), '/login');
  assert.equal(res.status(), 200);
  await page.waitForLoadState('networkidle');
  rec.assertClean();
});

test('a wrong password shows the error and signs nobody in; the right one then works', async (t) => {
  await users();
  const { context, page, rec } = await h.newPage(t, { user: null });
  await page.goto(h.url('/login'));
  const error = page.locator('#login-error');
  assert.equal(await error.isVisible(), false, 'no error before trying');

  await signIn(page, BOB, 'not-the-password');
  await error.waitFor({ state: 'visible' });
  const wrongPassword = (await error.textContent()).trim();
  assert.ok(wrongPassword.length > 0, 'an error message is shown');
  assert.equal(await error.getAttribute('role'), 'alert', 'announced to screen readers');
  assert.equal(pathOf(page), '/login');
  assert.equal(await page.getByLabel('Password').inputValue(), '', 'password field cleared');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'password', 'focus back on the password');
  assert.equal((await context.cookies()).some((c) => c.name === 'stockade_session'), false, 'no session cookie');
  await screenshot(page, 'auth-wrong-password');

  // An unknown user gets the very same answer (no user enumeration).
  const answered = page.waitForResponse((r) => r.url().endsWith('/api/v1/auth/login'));
  await signIn(page, { username: 'nobody-here', password: 'whatever-1234' });
  assert.equal((await answered).status(), 401);
  await error.waitFor({ state: 'visible' });
  await page.waitForFunction(() => !document.getElementById('login-submit').disabled);
  assert.equal((await error.textContent()).trim(), wrongPassword, 'same message for an unknown user');

  // The right password signs in and lands on the default page.
  await signIn(page, BOB);
  await page.waitForURL(h.url('/incidents'));
  assert.equal((await page.locator('.topbar-user .user-name').textContent()).trim(), BOB.username);
  assert.equal((await page.locator('.topbar-user .user-role').textContent()).trim(), 'analyst');
  await page.waitForLoadState('networkidle');
  rec.assertClean({ ignore: allowing([{ path: '/api/v1/auth/login', status: 401 }]) });
  assert.equal(rec.badResponses.length, 2, `exactly the two refused sign-ins: ${JSON.stringify(rec.badResponses)}`);
});

test('/incidents signed out goes to /login?next=/incidents and lands there after sign-in', async (t) => {
  await users();
  const { page, rec } = await h.newPage(t, { user: null });
  const res = await page.goto(h.url('/incidents'));
  assert.equal(pathOf(page), '/login');
  assert.equal(new URL(page.url()).search, '?next=/incidents');
  const redirect = res.request().redirectedFrom();
  assert.ok(redirect, 'reached by a redirect');
  const first = await redirect.response();
  assert.equal(first.status(), 302);
  assert.match(first.headers()['cache-control'] || '', /no-store/);
  assert.equal(await page.locator('.topbar-user, nav.sidenav').count(), 0, 'no shell before sign-in');

  await signIn(page, ALICE);
  await page.waitForURL(h.url('/incidents'));
  assert.equal((await page.locator('main h1').textContent()).trim(), 'Incidents');
  assert.equal((await page.locator('.topbar-user .user-name').textContent()).trim(), ALICE.username);
  await page.waitForLoadState('networkidle');
  rec.assertClean();
});

test('a next= pointing off-site is ignored', async (t) => {
  await users();
  const { page, rec } = await h.newPage(t, { user: null });
  await page.goto(h.url('/login?next=//evil.example/x'));
  await signIn(page, ALICE);
  await page.waitForURL(h.url('/incidents'));
  await page.waitForLoadState('networkidle');
  rec.assertClean();
});
