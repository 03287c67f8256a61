// Controls that need a permission the signed-in user lacks are greyed out
// with the server's own reason ("Requires Response: Manage"), by the same
// module every page loads (web/api.js applyPermissionGates). The response
// action buttons of the incident and Action center pages are marked with
// data-requires and rely on this.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { screenshot, useHarness } from './lib/harness.mjs';

const h = useHarness({ prefix: 'gates' });

const ANALYST = { username: 'gate-analyst', password: 'gate-analyst-password', role: 'analyst' };
const RESPONDER = { username: 'gate-responder', password: 'gate-responder-password', role: 'responder' };
const VIEWER = { username: 'gate-viewer', password: 'gate-viewer-password', role: 'viewer' };

/** Adds controls the way the action menus mark them, then runs the page's
 *  own gate function on them, and reports what each looks like. */
async function gateControls(page) {
  return page.evaluate(async () => {
    const host = document.createElement('div');
    host.id = 'gate-fixture';
    const mk = (id, requires) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.id = id;
      b.textContent = id;
      b.dataset.requires = requires;
      host.append(b);
    };
    mk('isolate', 'response:manage');
    mk('classify', 'alerts:manage');
    mk('view', 'alerts:read');
    document.querySelector('main').append(host);
    const { applyPermissionGates } = await import('/web/api.js');
    applyPermissionGates();
    applyPermissionGates(); // twice: no second note
    const state = (id) => {
      const b = document.getElementById(id);
      const note = b.nextElementSibling && b.nextElementSibling.classList.contains('requires-reason')
        ? b.nextElementSibling : null;
      return {
        disabled: b.disabled,
        title: b.title,
        note: note ? note.textContent : null,
        describedBy: b.getAttribute('aria-describedby') === (note && note.id),
        notes: host.querySelectorAll(`#${id} + .requires-reason`).length,
      };
    };
    return { isolate: state('isolate'), classify: state('classify'), view: state('view') };
  });
}

for (const user of [ANALYST, VIEWER]) {
  test(`${user.role}: response controls are disabled with "Requires Response: Manage"`, async (t) => {
    await h.addUser(user);
    const { page, rec } = await h.newPage(t, { user });
    await page.goto(h.url('/incidents'));
    const s = await gateControls(page);
    assert.deepEqual(s.isolate, {
      disabled: true, title: 'Requires Response: Manage', note: 'Requires Response: Manage',
      describedBy: true, notes: 1,
    });
    if (user.role === 'viewer') {
      assert.equal(s.classify.disabled, true);
      assert.equal(s.classify.note, 'Requires Alerts: Manage');
    } else {
      assert.equal(s.classify.disabled, false);
      assert.equal(s.classify.note, null);
    }
    assert.equal(s.view.disabled, false);
    await screenshot(page, `gates-${user.role}`);
    rec.assertClean();
  });
}

test('responder: nothing is disabled', async (t) => {
  await h.addUser(RESPONDER);
  const { page, rec } = await h.newPage(t, { user: RESPONDER });
  await page.goto(h.url('/incidents'));
  const s = await gateControls(page);
  for (const k of ['isolate', 'classify', 'view']) {
    assert.equal(s[k].disabled, false, k);
    assert.equal(s[k].note, null, k);
  }
  rec.assertClean();
});
