// Settings and audit pages in a real browser: an administrator adds a user,
// changes their role, disables them, creates a custom role, creates an API
// token (secret shown once), revokes it; the audit log shows all of it and
// filters and pages; an analyst sees none of the administration.
//
// The tests of this file build on each other (node:test runs them in order).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { allowing } from './lib/expected.mjs';
import { ADMIN, screenshot, useHarness } from './lib/harness.mjs';

const h = useHarness({ prefix: 'settings' });

const ANALYST = { username: 'ana.lyst', password: 'analyst-password-9', role: 'analyst' };
const CAROL = { username: 'carol', password: 'carol-password-123' };
// Every string the API returns is rendered as text, never as markup.
const HOSTILE = '<img src=x id=pwned onerror="document.title=\'pwned\'"><b>bold</b>';

let usersAdded = null;
const users = () => {
  usersAdded ??= h.addUser(ANALYST);
  return usersAdded;
};

const pathOf = (page) => new URL(page.url()).pathname;
const userRow = (page, name) => page.locator(`#users-table tbody tr[data-user="${name}"]`);
const tokenRowByName = (page, name) =>
  page.locator('#tokens-table tbody tr[data-token]').filter({ has: page.locator('.cell-title', { hasText: name }) });
const roleRow = (page, name) =>
  page.locator('#roles-table tbody tr').filter({ has: page.locator('.cell-title', { hasText: new RegExp(`^${name}$`) }) });
const cellTexts = (row) => row.locator('td').evaluateAll((tds) => tds.map((td) => td.innerText.trim()));

/** Opens /settings as ADMIN and waits for its three tables. */
async function openSettings(t) {
  await users();
  const opened = await h.newPage(t);
  const { page } = opened;
  const res = await page.goto(h.url('/settings'));
  assert.equal(res.status(), 200);
  await userRow(page, ADMIN.username).waitFor();
  await roleRow(page, 'viewer').waitFor();
  await page.locator('#tokens-table tbody tr').first().waitFor();
  await page.waitForLoadState('networkidle');
  return opened;
}

/** Answers the open confirmation dialog with `button`; returns its text. */
async function confirmWith(page, button) {
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  const text = (await dialog.innerText()).trim();
  await dialog.getByRole('button', { name: button, exact: true }).click();
  await dialog.waitFor({ state: 'hidden' });
  return text;
}

test('admin: settings lists users, roles and tokens with usable forms', async (t) => {
  const { page, rec } = await openSettings(t);
  assert.equal((await page.locator('main h1').textContent()).trim(), 'Settings');

  // Users: the admin of this file, the bootstrap admin, the analyst.
  const names = await page.locator('#users-table tbody tr[data-user]').evaluateAll((trs) => trs.map((tr) => tr.dataset.user));
  for (const n of [ADMIN.username, 'admin', ANALYST.username]) assert.ok(names.includes(n), `${n} listed: ${names}`);
  const analystCells = await cellTexts(userRow(page, ANALYST.username));
  assert.equal(analystCells[0], ANALYST.username);
  assert.equal(await userRow(page, ANALYST.username).locator('select').inputValue(), 'analyst');
  assert.equal(analystCells[2], 'active');
  assert.equal(analystCells[3], 'never', 'never signed in');
  // Your own account cannot be disabled from your own session.
  const self = userRow(page, ADMIN.username);
  assert.match(await self.innerText(), /\byou\b/);
  assert.equal(await self.getByRole('button', { name: `Disable ${ADMIN.username}` }).isDisabled(), true);

  // Roles: the four built-in ones with their permissions.
  const builtin = {
    viewer: ['Alerts: Read', 'Response: Read'],
    analyst: ['Alerts: Read', 'Alerts: Manage', 'Response: Read'],
    responder: ['Alerts: Read', 'Alerts: Manage', 'Response: Read', 'Response: Manage'],
    admin: ['Alerts: Read', 'Alerts: Manage', 'Response: Read', 'Response: Manage', 'Administration'],
  };
  for (const [name, perms] of Object.entries(builtin)) {
    const r = roleRow(page, name);
    assert.equal(await r.count(), 1, `role ${name} listed`);
    assert.deepEqual(await r.locator('.perm-tags li').allTextContents(), perms, `${name} permissions`);
    assert.equal((await r.locator('.badge').textContent()).trim(), 'built-in');
  }

  // The add-user form: a labelled role select filled from the API.
  const form = page.locator('#user-form');
  assert.deepEqual(await form.getByLabel('Role').locator('option').allTextContents(),
    ['viewer', 'analyst', 'responder', 'admin']);
  // Permission checkboxes, each with its label, in the role and token forms.
  for (const f of ['#role-form', '#token-form']) {
    for (const label of ['Alerts: Read', 'Alerts: Manage', 'Response: Read', 'Response: Manage', 'Administration']) {
      assert.equal(await page.locator(f).getByLabel(label, { exact: true }).count(), 1, `${f} ${label}`);
    }
  }
  // Tokens: none yet.
  assert.equal((await page.locator('#tokens-table tbody').innerText()).trim(), 'No API tokens');
  rec.assertClean();
});

test('admin: add a user, change their role, disable them', async (t) => {
  const { context, page, rec } = await openSettings(t);
  const form = page.locator('#user-form');
  await form.getByLabel('User name').fill(CAROL.username);
  await form.getByLabel('Role').selectOption('viewer');
  await form.getByLabel('Password').fill(CAROL.password);
  await form.getByRole('button', { name: 'Add user' }).click();
  const carol = userRow(page, CAROL.username);
  await carol.waitFor();
  assert.equal(await carol.locator('select').inputValue(), 'viewer');
  assert.equal((await cellTexts(carol))[2], 'active');
  assert.equal(await form.getByLabel('User name').inputValue(), '', 'the form is cleared');

  // The same name again: the server's refusal shows in the form.
  await form.getByLabel('User name').fill(CAROL.username);
  await form.getByLabel('Password').fill(CAROL.password);
  const refused = page.waitForResponse((r) => r.url().endsWith('/api/v1/users') && r.request().method() === 'POST');
  await form.getByRole('button', { name: 'Add user' }).click();
  const dup = await refused;
  assert.ok(dup.status() >= 400 && dup.status() < 500, `duplicate refused: ${dup.status()}`);
  const error = form.locator('.form-error');
  await error.waitFor({ state: 'visible' });
  assert.equal((await error.textContent()).trim(), (await dup.json()).error.message);
  assert.equal(await error.getAttribute('role'), 'alert');
  await form.getByLabel('User name').fill('');
  await form.getByLabel('Password').fill('');

  // Change the role, confirming in the dialog.
  await carol.getByRole('combobox', { name: `Role for ${CAROL.username}` }).selectOption('analyst');
  await carol.getByRole('button', { name: `Change role of ${CAROL.username}` }).click();
  const text = await confirmWith(page, 'Change role');
  assert.match(text, /carol/);
  assert.match(text, /from viewer to analyst/);
  await page.waitForFunction((n) =>
    document.querySelector(`#users-table tr[data-user="${n}"] select`)?.value === 'analyst', CAROL.username);
  await page.waitForLoadState('networkidle');

  // Keyboard: Enter on Disable opens the dialog with focus on Cancel;
  // Escape cancels and gives focus back; nothing changed.
  await carol.getByRole('button', { name: `Disable ${CAROL.username}` }).focus();
  await page.keyboard.press('Enter');
  const dialog = page.getByRole('dialog', { name: 'Disable user' });
  await dialog.waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Cancel');
  await screenshot(page, 'settings-confirm-dialog');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('aria-label')), `Disable ${CAROL.username}`);
  assert.equal((await cellTexts(carol))[2], 'active', 'Escape changed nothing');

  // Disable for real.
  await carol.getByRole('button', { name: `Disable ${CAROL.username}` }).click();
  assert.match(await confirmWith(page, 'Disable'), /signed out at once/);
  await carol.getByRole('button', { name: `Enable ${CAROL.username}` }).waitFor();
  assert.equal((await cellTexts(carol))[2], 'disabled');
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('aria-label')), `Enable ${CAROL.username}`,
    'focus stays on the row');
  // The server agrees: carol cannot sign in.
  const login = await context.request.post(h.url('/api/v1/auth/login'),
    { data: { username: CAROL.username, password: CAROL.password } });
  assert.equal(login.status(), 401);
  await page.waitForLoadState('networkidle');
  rec.assertClean({ ignore: allowing([{ path: '/api/v1/users', status: dup.status() }]) });
});

test('admin: create a custom role; hostile text stays text', async (t) => {
  const { page, rec } = await openSettings(t);
  const form = page.locator('#role-form');
  await form.getByLabel('Name').fill('triage');
  await form.getByLabel('Description').fill(HOSTILE);
  // Response: Manage needs Alerts: Manage (and both Reads): checking it
  // checks them.
  await form.getByLabel('Response: Manage').check();
  const checked = await form.locator('input[type=checkbox]:checked').evaluateAll((bs) => bs.map((b) => b.value));
  assert.deepEqual(checked, ['alerts:read', 'alerts:manage', 'response:read', 'response:manage']);
  // Unchecking Alerts: Read takes the permissions that need it with it.
  await form.getByLabel('Alerts: Read').uncheck();
  assert.deepEqual(await form.locator('input:checked').evaluateAll((bs) => bs.map((b) => b.value)), ['response:read']);
  await form.getByLabel('Response: Manage').check();
  await form.getByRole('button', { name: 'Add role' }).click();

  const triage = roleRow(page, 'triage');
  await triage.waitFor();
  assert.deepEqual(await triage.locator('.perm-tags li').allTextContents(),
    ['Alerts: Read', 'Alerts: Manage', 'Response: Read', 'Response: Manage']);
  assert.equal((await triage.locator('.badge').textContent()).trim(), 'custom');
  assert.equal((await triage.locator('.cell-sub').textContent()), HOSTILE, 'description shown as text');
  assert.equal(await page.locator('#pwned, main b').count(), 0, 'no markup from data');
  assert.notEqual(await page.title(), 'pwned');
  assert.equal(await form.locator('input:checked').count(), 0, 'the form is cleared');
  // The new role can be given to users at once.
  assert.ok((await page.locator('#user-form').getByLabel('Role').locator('option').allTextContents()).includes('triage'));
  await userRow(page, CAROL.username).locator('option[value="triage"]').waitFor({ state: 'attached' });

  // An invalid name: the server's message in the form.
  await form.getByLabel('Name').fill('no spaces allowed');
  await form.getByLabel('Alerts: Read').check();
  const answer = page.waitForResponse((r) => r.url().endsWith('/api/v1/roles') && r.request().method() === 'POST');
  await form.getByRole('button', { name: 'Add role' }).click();
  assert.equal((await answer).status(), 400);
  await form.locator('.form-error').waitFor({ state: 'visible' });
  assert.ok((await form.locator('.form-error').textContent()).trim().length > 0);
  await page.waitForLoadState('networkidle');
  rec.assertClean({ ignore: allowing([{ path: '/api/v1/roles', status: 400 }]) });
});

test('admin: create an API token (secret shown once, then only its prefix), revoke it', async (t) => {
  const { context, page, rec } = await openSettings(t);
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: h.url('/').replace(/\/$/, '') });
  const form = page.locator('#token-form');

  // A bad expiry: refused, with the server's message.
  await form.getByLabel('Name').fill('falco-prod');
  await form.getByLabel('Alerts: Read').check();
  await form.getByLabel('Expires after').fill('5 parsecs');
  let answer = page.waitForResponse((r) => r.url().endsWith('/api/v1/tokens') && r.request().method() === 'POST');
  await form.getByRole('button', { name: 'Create token' }).click();
  assert.equal((await answer).status(), 400);
  await form.locator('.form-error').waitFor({ state: 'visible' });
  assert.equal(await page.locator('#token-secret').isVisible(), false);

  await form.getByLabel('Expires after').fill('30d');
  await form.getByLabel('Bound to cluster').fill('prod-eu');
  answer = page.waitForResponse((r) => r.url().endsWith('/api/v1/tokens') && r.request().method() === 'POST');
  await form.getByRole('button', { name: 'Create token' }).click();
  assert.equal((await answer).status(), 201);
  const box = page.locator('#token-secret');
  await box.waitFor({ state: 'visible' });
  assert.equal(await form.locator('.form-error').isVisible(), false, 'the old error is gone');
  const secret = (await box.locator('code').textContent()).trim();
  assert.ok(secret.length >= 32, `a long secret: ${secret.length} characters`);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'token-secret', 'focus moves to the secret');

  // The table: the prefix, never the secret.
  const row = tokenRowByName(page, 'falco-prod');
  await row.waitFor();
  const prefix = (await row.locator('.token-prefix').textContent()).replace(/…$/, '');
  assert.ok(prefix.length >= 6 && secret.startsWith(prefix), `prefix ${prefix} of the secret`);
  assert.ok(!(await page.locator('#tokens-table').innerText()).includes(secret), 'table does not show the secret');
  const cells = await cellTexts(row);
  assert.deepEqual([cells[2], cells[3], cells[4]], ['Alerts: Read', 'prod-eu', 'active']);
  assert.match(cells[5], /^\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC$/, 'expiry shown');
  await screenshot(page, 'settings-token-secret');

  // Copy puts it on the clipboard.
  await box.getByRole('button', { name: 'Copy' }).click();
  await page.locator('#token-secret-status', { hasText: 'Copied.' }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);

  // The token works as a bearer token, with its permissions only.
  const bearer = { Authorization: `Bearer ${secret}` };
  assert.equal((await context.request.get(h.url('/api/v1/auth/me'), { headers: bearer })).status(), 200);
  assert.equal((await context.request.get(h.url('/api/v1/audit'), { headers: bearer })).status(), 403);

  // Done hides it for good: not on the page, not after a reload.
  await box.getByRole('button', { name: 'Done' }).click();
  assert.equal(await box.isVisible(), false);
  assert.ok(!(await page.content()).includes(secret), 'secret gone from the page');
  await page.reload();
  await tokenRowByName(page, 'falco-prod').waitFor();
  await page.waitForLoadState('networkidle');
  assert.ok(!(await page.content()).includes(secret), 'secret not shown again');
  assert.equal(await page.locator('#token-secret').isVisible(), false);

  // Revoke, confirming.
  await tokenRowByName(page, 'falco-prod').getByRole('button', { name: 'Revoke token falco-prod' }).click();
  assert.match(await confirmWith(page, 'Revoke'), /falco-prod/);
  await page.waitForFunction(() => [...document.querySelectorAll('#tokens-table tbody tr')]
    .some((tr) => tr.innerText.includes('falco-prod') && tr.innerText.includes('revoked')));
  assert.equal(await tokenRowByName(page, 'falco-prod').getByRole('button', { name: 'Revoke token falco-prod' }).isDisabled(), true);
  assert.equal((await context.request.get(h.url('/api/v1/auth/me'), { headers: bearer })).status(), 401,
    'a revoked token is refused');
  await page.waitForLoadState('networkidle');
  await page.locator('#users').scrollIntoViewIfNeeded();
  await screenshot(page, 'settings-admin');
  rec.assertClean({ ignore: allowing([{ path: '/api/v1/tokens', status: 400 }]) });
});

test('admin: the audit log lists those actions, filters them and pages', async (t) => {
  await users();
  const { page, rec } = await h.newPage(t);
  const res = await page.goto(h.url('/settings/audit'));
  assert.equal(res.status(), 200);
  const rows = page.locator('#audit-table tbody tr[data-id]');
  await rows.first().waitFor();
  await page.waitForLoadState('networkidle');
  const entries = async () => rows.evaluateAll((trs) => trs.map((tr) => {
    const td = [...tr.children].map((c) => c.innerText.trim());
    return { id: Number(td[0]), time: td[1], actor: td[2], action: td[4], target: td[5], outcome: td[6], details: td[7] };
  }));
  let all = await entries();
  const find = (action, target) => all.find((e) => e.action === action && e.target === target);
  for (const [action, target] of [
    ['user.create', CAROL.username], ['user.set_role', CAROL.username], ['user.disable', CAROL.username],
    ['role.create', 'triage'],
  ]) {
    const e = find(action, target);
    assert.ok(e, `${action} ${target} listed`);
    assert.equal(e.actor, ADMIN.username);
    assert.equal(e.outcome, 'success');
    assert.match(e.time, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$/);
  }
  assert.equal(find('user.set_role', CAROL.username).details, '{"from":"viewer","to":"analyst"}', 'details as compact JSON');
  const created = all.find((e) => e.action === 'token.create');
  assert.ok(created, 'token.create listed');
  assert.ok(all.some((e) => e.action === 'token.revoke' && e.target === created.target), 'token.revoke listed');
  assert.ok(all.some((e) => e.action === 'auth.login' && e.outcome === 'failure'), 'the refused sign-in is listed');
  const ids = all.map((e) => e.id);
  assert.deepEqual(ids, [...ids].sort((a, b) => b - a), 'newest first');
  await screenshot(page, 'settings-audit');

  // Filter by action (a prefix): only user changes.
  const filters = page.locator('#audit-filters');
  const reload = () => page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/audit');
  await filters.getByLabel('Action').fill('user.');
  let answered = reload();
  await filters.getByRole('button', { name: 'Filter' }).click();
  await answered;
  await page.waitForFunction(() => !document.querySelector('#audit-table').hasAttribute('aria-busy'));
  all = await entries();
  assert.ok(all.length >= 3, `user entries: ${all.length}`);
  assert.ok(all.every((e) => e.action.startsWith('user.')), `only user.*: ${all.map((e) => e.action)}`);
  assert.equal(new URL(page.url()).searchParams.get('action'), 'user.', 'filters kept in the URL');

  // The filter survives a reload.
  await page.reload();
  await rows.first().waitFor();
  await page.waitForLoadState('networkidle');
  assert.equal(await filters.getByLabel('Action').inputValue(), 'user.');
  assert.ok((await entries()).every((e) => e.action.startsWith('user.')));

  // Outcome filter.
  await filters.getByLabel('Action').fill('');
  await filters.getByLabel('Outcome').selectOption('failure');
  answered = reload();
  await filters.getByRole('button', { name: 'Filter' }).click();
  await answered;
  await page.waitForFunction(() => !document.querySelector('#audit-table').hasAttribute('aria-busy'));
  all = await entries();
  assert.ok(all.length >= 1 && all.every((e) => e.outcome === 'failure'), JSON.stringify(all));

  // Since (local time, sent as RFC 3339 UTC): an hour from now matches nothing.
  const later = await page.evaluate(() => {
    const d = new Date(Date.now() + 3600_000);
    const p = (n) => String(n).padStart(2, '0');
    return { local: `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`,
      utc: new Date(d.getFullYear(), d.getMonth(), d.getDate(), d.getHours(), d.getMinutes()).toISOString() };
  });
  await filters.getByLabel('Outcome').selectOption('');
  await filters.getByLabel('Since').fill(later.local);
  answered = reload();
  await filters.getByRole('button', { name: 'Filter' }).click();
  const sent = new URL((await answered).url());
  assert.equal(sent.searchParams.get('since'), later.utc);
  assert.match(later.utc, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:00\.000Z$/);
  await page.locator('#audit-table tbody tr.empty-row').waitFor();
  assert.equal((await page.locator('#audit-table tbody').innerText()).trim(), 'No audit entries match these filters.');
  assert.equal(await page.locator('#audit-more').isVisible(), false);

  // Clear: everything again.
  answered = reload();
  await filters.getByRole('button', { name: 'Clear' }).click();
  await answered;
  await rows.first().waitFor();
  assert.equal(new URL(page.url()).search, '');

  // Paging: more than a page of token.create entries.
  await page.evaluate(async () => {
    const { api } = await import('/web/api.js');
    for (let i = 0; i < 55; i++) await api('POST', '/api/v1/tokens', { name: `bulk-${i}`, permissions: ['alerts:read'] });
  });
  await filters.getByLabel('Action').fill('token.create');
  answered = reload();
  await filters.getByRole('button', { name: 'Filter' }).click();
  await answered;
  await page.waitForFunction(() => !document.querySelector('#audit-table').hasAttribute('aria-busy'));
  assert.equal(await rows.count(), 50, 'one page of 50');
  const more = page.getByRole('button', { name: 'Older entries' });
  assert.ok(await more.isVisible(), 'older entries can be loaded');
  answered = reload();
  await more.click();
  assert.match(new URL((await answered).url()).search, /cursor=\d+/);
  await page.waitForFunction(() => document.querySelectorAll('#audit-table tbody tr[data-id]').length > 50);
  all = await entries();
  assert.equal(all.length, 56, '55 bulk tokens and falco-prod');
  assert.ok(all.every((e) => e.action === 'token.create'));
  const pagedIds = all.map((e) => e.id);
  assert.equal(new Set(pagedIds).size, pagedIds.length, 'no entry twice');
  assert.deepEqual(pagedIds, [...pagedIds].sort((a, b) => b - a), 'still newest first');
  await page.waitForFunction(() => document.getElementById('audit-more').hidden);
  assert.match(await page.locator('#audit-count').textContent(), /^56 entries shown$/);
  rec.assertClean();
});

test('analyst: /settings shows "Requires Administration" and no admin tables; /settings/audit is a 403 page', async (t) => {
  await users();
  const { context, page, rec } = await h.newPage(t, { user: ANALYST });
  const res = await page.goto(h.url('/settings'));
  assert.equal(res.status(), 200);
  await page.waitForLoadState('networkidle');
  assert.ok(await page.getByText('Requires Administration', { exact: true }).isVisible());
  assert.equal(await page.locator('#users-table, #roles-table, #tokens-table, #settings-admin, nav.tabs').count(), 0,
    'no admin sections');
  assert.equal(rec.responses.filter((r) => new URL(r.url).pathname.startsWith('/api/')).length, 0,
    'no admin API calls that would be refused');
  assert.ok(await page.getByRole('heading', { name: 'Your password' }).isVisible(), 'own password form');
  await screenshot(page, 'settings-analyst');

  // The server refuses the admin API too, naming the missing permission.
  const api = await context.request.get(h.url('/api/v1/users'));
  assert.equal(api.status(), 403);
  assert.equal((await api.json()).error.message, 'Requires Administration');

  const audit = await page.goto(h.url('/settings/audit'));
  assert.equal(audit.status(), 403);
  assert.equal(pathOf(page), '/settings/audit');
  await page.waitForLoadState('networkidle');
  assert.equal((await page.locator('main h1').textContent()).trim(), 'Not allowed');
  assert.equal((await page.locator('.error-message').textContent()).trim(), 'Requires Administration');
  assert.equal(await page.locator('#audit-table, #audit-filters').count(), 0, 'no audit content');
  await screenshot(page, 'settings-analyst-audit-403');
  rec.assertClean({ ignore: allowing([{ path: '/settings/audit', status: 403 }]) });
});

// Last: changing ANALYST's password ends the session the harness cached
// for that user, so no later test may sign in as ANALYST through h.newPage.
test('own password: a wrong current password is shown; a change signs out', async (t) => {
  await users();
  const { page, rec } = await h.newPage(t, { user: ANALYST });
  await page.goto(h.url('/settings'));
  await page.waitForLoadState('networkidle');
  const form = page.locator('#password-form');
  await form.getByLabel('Current password').fill('not-my-password');
  await form.getByLabel('New password').fill('a-brand-new-password-1');
  let answer = page.waitForResponse((r) => r.url().endsWith('/api/v1/auth/password'));
  await form.getByRole('button', { name: 'Change password' }).click();
  assert.equal((await answer).status(), 403);
  await form.locator('.form-error').waitFor({ state: 'visible' });
  assert.match(await form.locator('.form-error').textContent(), /current password/i);
  assert.equal(pathOf(page), '/settings', 'still signed in');

  await form.getByLabel('Current password').fill(ANALYST.password);
  answer = page.waitForResponse((r) => r.url().endsWith('/api/v1/auth/password'));
  await form.getByRole('button', { name: 'Change password' }).click();
  assert.equal((await answer).status(), 200);
  await page.waitForURL((u) => u.pathname === '/login');
  await page.getByLabel('User name').fill(ANALYST.username);
  await page.getByLabel('Password').fill('a-brand-new-password-1');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(h.url('/settings'));
  await page.waitForLoadState('networkidle');
  rec.assertClean({ ignore: allowing([{ path: '/api/v1/auth/password', status: 403 }]) });
});
