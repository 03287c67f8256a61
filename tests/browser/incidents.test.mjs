// Incident queue, incident, alert and report pages in a real browser, on
// data loaded through the real ingestion endpoint (POST /api/v1/alerts with
// an API token): the queue filters by severity (with counts) and keeps its
// filters in the URL; an incident's attack story expands to evidence and
// groups by tactic; an analyst classifies (seen in the history), comments,
// and cannot resolve without a classification; the report has a section
// per tactic; a viewer sees every triage control disabled with the reason.
//
// The tests of this file build on each other (node:test runs them in order).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { runCli, screenshot, useHarness } from './lib/harness.mjs';

const h = useHarness({ prefix: 'incidents' });

const ANALYST = { username: 'inc-analyst', password: 'inc-analyst-password-1', role: 'analyst' };
const VIEWER = { username: 'inc-viewer', password: 'inc-viewer-password-1', role: 'viewer' };
const HOSTILE = '<img src=x id=pwned onerror="document.title=\'pwned\'">';

const minutesAgo = (m) => new Date(Date.now() - m * 60_000).toISOString().replace(/\.\d+Z$/, 'Z');
const POD_A = { kind: 'pod', key: 'pod:prod-aks/default/web-7f9', name: 'web-7f9' };
const POD_B = { kind: 'pod', key: 'pod:dev-gke/tools/debug-1', name: 'debug-1' };
const POD_C = { kind: 'pod', key: 'pod:qa-eks/batch/miner-0', name: 'miner-0' };

/** Three alerts on one pod (one high incident), a low and a medium one elsewhere. */
const ALERTS = [
  {
    id: 'ui-test-exec-1', title: 'Terminal shell spawned in container', severity: 'medium',
    first_activity: minutesAgo(30), tactic: 'execution', technique: 'T1059.004', cluster: 'prod-aks',
    rule: 'Terminal shell in container', description: 'A shell was spawned with an attached terminal.',
    entities: [POD_A],
    evidence: {
      process: { name: 'bash', cmdline: 'bash -i', exepath: '/bin/bash', pid: 4242, user: 'root' },
      parent: { name: 'node', pid: 1, cmdline: 'node server.js' },
      pod: { name: 'web-7f9', namespace: 'default' },
    },
  },
  {
    id: 'ui-test-cred-1', title: 'Service account token read', severity: 'high',
    first_activity: minutesAgo(20), tactic: 'credential_access', technique: 'T1552.001', cluster: 'prod-aks',
    entities: [POD_A],
    evidence: {
      process: { name: 'cat', cmdline: 'cat /var/run/secrets/kubernetes.io/serviceaccount/token', pid: 4300 },
      file: { path: '/var/run/secrets/kubernetes.io/serviceaccount/token' },
    },
  },
  {
    id: 'ui-test-disc-1', title: 'Cluster discovery with kubectl', severity: 'low',
    first_activity: minutesAgo(10), tactic: 'discovery', technique: 'T1613', cluster: 'prod-aks',
    entities: [POD_A],
    evidence: { process: { name: 'kubectl', cmdline: 'kubectl get pods -A', pid: 4400 } },
  },
  {
    id: 'ui-test-low-1', title: `Package manager run ${HOSTILE}`, severity: 'low',
    first_activity: minutesAgo(40), tactic: 'execution', technique: 'T1059', cluster: 'dev-gke',
    entities: [POD_B],
    evidence: { process: { name: 'apt', cmdline: 'apt install curl', pid: 77 } },
  },
  {
    id: 'ui-test-qa-1', title: 'Crypto miner started', severity: 'medium',
    first_activity: minutesAgo(50), tactic: 'impact', technique: 'T1496', cluster: 'qa-eks',
    entities: [POD_C],
    evidence: { process: { name: 'xmrig', cmdline: 'xmrig -o pool:3333', pid: 9 } },
  },
];

// ---------------------------------------------------------------- data

let loaded = null;
/** Users, an ingestion token, the alerts; resolves with the three incident ids. */
function data() {
  loaded ??= (async () => {
    await h.addUser(ANALYST);
    await h.addUser(VIEWER);
    const token = (await runCli(h.server, ['token', 'create', '--name', 'ui-ingest', '--permissions', 'alerts:read,alerts:manage'])).trim();
    const auth = { Authorization: `Bearer ${token}` };
    const res = await fetch(h.url('/api/v1/alerts'), {
      method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: JSON.stringify(ALERTS),
    });
    assert.ok(res.ok, `ingest: ${res.status} ${await res.text()}`);
    const list = await (await fetch(h.url('/api/v1/incidents?limit=50'), { headers: auth })).json();
    const by = (cluster) => list.items.find((i) => (i.clusters || []).includes(cluster));
    const a = by('prod-aks');
    const b = by('dev-gke');
    const c = by('qa-eks');
    assert.ok(a && b && c, `three incidents: ${JSON.stringify(list.items)}`);
    assert.equal(a.severity, 'high');
    assert.equal(a.alert_count, 3);
    return { high: a.id, low: b.id, medium: c.id, token };
  })();
  return loaded;
}

const rows = (page) => page.getByTestId('incident-row');
const rowIds = (page) => rows(page).evaluateAll((trs) => trs.map((tr) => Number(tr.dataset.id)));

/** Waits until the queue shows exactly `ids` (any order). */
async function waitForRows(page, ids) {
  const want = [...ids].sort((x, y) => x - y);
  await page.waitForFunction((w) => {
    const got = [...document.querySelectorAll('[data-testid="incident-row"]')].map((tr) => Number(tr.dataset.id)).sort((x, y) => x - y);
    return JSON.stringify(got) === JSON.stringify(w);
  }, want);
}

async function openIncident(t, id, user) {
  const opened = await h.newPage(t, user ? { user } : {});
  const res = await opened.page.goto(h.url(`/incidents/${id}`));
  assert.equal(res.status(), 200);
  await opened.page.getByTestId('story-alert').first().waitFor();
  await opened.page.waitForLoadState('networkidle');
  return opened;
}

// ---------------------------------------------------------------- queue

test('queue: rows, facet counts, filter by severity in the URL, Back, open an incident', async (t) => {
  const ids = await data();
  const { page, rec } = await h.newPage(t, { user: ANALYST });
  const res = await page.goto(h.url('/incidents'));
  assert.equal(res.status(), 200);
  await waitForRows(page, [ids.high, ids.low, ids.medium]);

  // The high incident's row: severity chip, title link, tactics, counts.
  const high = page.locator(`[data-testid="incident-row"][data-id="${ids.high}"]`);
  assert.equal((await high.locator('.sev-chip').textContent()).trim(), 'High');
  assert.equal(await high.getByTestId('incident-link').getAttribute('href'), `/incidents/${ids.high}`);
  const cells = await high.locator('td').evaluateAll((tds) => tds.map((td) => td.innerText.trim()));
  assert.equal(cells[4], '3', 'alert count');
  assert.match(cells[3], /Execution/);
  assert.match(cells[3], /Credential access/);
  assert.equal(cells[7], 'Unassigned');

  // Hostile text from an alert never becomes markup.
  assert.equal(await page.locator('#pwned').count(), 0);

  // Facet options show their counts.
  const count = async (id) => (await page.locator(`label[for="${id}"] .facet-count`).textContent()).trim();
  assert.equal(await count('facet-severity-high'), '(1)');
  assert.equal(await count('facet-severity-low'), '(1)');
  assert.equal(await count('facet-severity-medium'), '(1)');
  assert.equal(await count('facet-severity-informational'), '(0)');
  assert.equal(await count('facet-status-active'), '(3)');
  assert.equal(await count('facet-status-resolved'), '(0)');

  // Filter by severity: the URL follows; only the high incident is left.
  await page.getByTestId('facet-severity-high').check();
  await page.waitForURL((u) => u.searchParams.get('severity') === 'high');
  await waitForRows(page, [ids.high]);
  // Other facets' counts are computed with this filter applied.
  await page.waitForFunction(() =>
    document.querySelector('label[for="facet-status-active"] .facet-count')?.textContent === '(1)');
  await screenshot(page, 'incidents-queue-filtered');

  // A shared link shows the same queue.
  const shared = page.url();
  // Back: the unfiltered queue again, the box unchecked.
  await page.goBack();
  await page.waitForURL((u) => !u.searchParams.has('severity'));
  await waitForRows(page, [ids.high, ids.low, ids.medium]);
  assert.equal(await page.getByTestId('facet-severity-high').isChecked(), false);
  await page.goto(shared);
  await waitForRows(page, [ids.high]);
  assert.equal(await page.getByTestId('facet-severity-high').isChecked(), true);

  // Free-text search (debounced) and the empty state.
  await page.getByTestId('facet-severity-high').uncheck();
  await waitForRows(page, [ids.high, ids.low, ids.medium]);
  await page.getByLabel('Search').fill('no-such-incident-anywhere');
  await page.waitForURL((u) => u.searchParams.get('q') === 'no-such-incident-anywhere');
  await page.getByTestId('incidents-empty').waitFor();
  assert.match(await page.getByTestId('incidents-empty').innerText(), /No incidents match these filters/);
  await page.getByTestId('incidents-empty').getByRole('button', { name: 'Clear filters' }).click();
  await waitForRows(page, [ids.high, ids.low, ids.medium]);

  // Open the incident from its link.
  await high.getByTestId('incident-link').click();
  await page.waitForURL(h.url(`/incidents/${ids.high}`));
  await page.getByTestId('story-alert').first().waitFor();
  await page.waitForLoadState('networkidle');
  rec.assertClean();
});

test('queue: Load more pages on with the cursor; time presets and sort are in the URL', async (t) => {
  const ids = await data();
  const { page, rec } = await h.newPage(t, { user: ANALYST });
  await page.goto(h.url('/incidents?limit=1'));
  await rows(page).first().waitFor();
  const more = page.getByTestId('load-more');
  const seen = [];
  for (let n = 1; n <= 3; n++) {
    await page.waitForFunction((k) => document.querySelectorAll('[data-testid="incident-row"]').length === k, n);
    if (n < 3) {
      assert.equal(await more.isVisible(), true, `Load more after ${n}`);
      await more.click();
    }
  }
  seen.push(...await rowIds(page));
  assert.deepEqual([...seen].sort((x, y) => x - y), [ids.high, ids.low, ids.medium].sort((x, y) => x - y), 'each incident once');
  await page.waitForFunction(() => document.getElementById('incidents-more').hidden);
  // Newest activity first (the default sort): the discovery alert is the latest.
  assert.equal(seen[0], ids.high);
  assert.match(await page.getByTestId('incidents-count').innerText(), /3 incidents shown/);

  // Sort by severity, then a time preset: both in the URL, page size kept.
  await page.getByLabel('Sort by').selectOption('severity');
  await page.waitForURL((u) => u.searchParams.get('sort') === 'severity' && u.searchParams.get('limit') === '1');
  await page.goto(h.url('/incidents?range=24h'));
  await waitForRows(page, [ids.high, ids.low, ids.medium]);
  assert.equal(await page.getByLabel('Time range').inputValue(), '24h');
  const since = rec.responses.filter((r) => new URL(r.url).pathname === '/api/v1/incidents')
    .map((r) => new URL(r.url).searchParams.get('since')).filter(Boolean).pop();
  assert.ok(since && Math.abs(Date.parse(since) - (Date.now() - 24 * 3600e3)) < 120e3, `since ≈ 24 h ago: ${since}`);
  // A custom range in the past: nothing.
  await page.getByLabel('Time range').selectOption('custom');
  await page.getByLabel('From (local time)').fill('2020-01-01T00:00');
  await page.getByLabel('To (local time)').fill('2020-01-02T00:00');
  await page.getByTestId('incidents-empty').waitFor();
  assert.equal(new URL(page.url()).searchParams.get('range'), 'custom');
  await page.getByTestId('filters-clear').click();
  await waitForRows(page, [ids.high, ids.low, ids.medium]);
  rec.assertClean();
});

// ---------------------------------------------------------------- incident

test('incident: attack story in time order, expands to evidence, groups by tactic', async (t) => {
  const ids = await data();
  const { page, rec } = await openIncident(t, ids.high, ANALYST);
  assert.match(await page.getByTestId('incident-title').innerText(), /\S/);
  assert.equal((await page.getByTestId('incident-severity').innerText()).trim(), 'High');
  assert.equal((await page.getByTestId('incident-status').innerText()).trim(), 'Active');
  assert.doesNotMatch(await page.getByTestId('incident-badges').innerText(), /\b(null|undefined)\b/);

  const titles = await page.locator('[data-testid="story-alert"] .story-title').allTextContents();
  assert.deepEqual(titles, ['Terminal shell spawned in container', 'Service account token read', 'Cluster discovery with kubectl'],
    'oldest first');
  // Severity-coloured left borders.
  const borders = await page.getByTestId('story-alert').evaluateAll((lis) => lis.map((li) => getComputedStyle(li).borderLeftColor));
  assert.equal(new Set(borders).size, 3, `three severities, three colours: ${borders}`);

  // Expand the first alert: a real button with aria-expanded, evidence below.
  const first = page.getByTestId('story-alert').first();
  const toggle = first.getByTestId('story-toggle');
  assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
  assert.equal(await first.getByTestId('evidence').isVisible(), false);
  await toggle.focus();
  await page.keyboard.press('Enter');
  assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
  const evidence = first.getByTestId('evidence');
  await evidence.waitFor();
  const text = await evidence.innerText();
  for (const want of [/Process/i, /bash -i/, /Parent process/i, /node server\.js/, /Pod/i, /web-7f9/, /Cluster/i, /prod-aks/]) {
    assert.match(text, want);
  }
  // Process comes before the parent process, and that before the pod.
  const parts = await evidence.locator('.ev-part[data-part]').evaluateAll((s) => s.map((x) => x.dataset.part));
  assert.ok(parts.indexOf('process') < parts.indexOf('parent') && parts.indexOf('parent') < parts.indexOf('pod'), `order: ${parts}`);
  await screenshot(page, 'incidents-story-evidence');

  // Group by tactic: kill-chain order, and the expanded alert stays open.
  await page.getByTestId('group-by-tactic').check();
  const groups = await page.locator('[data-testid="tactic-group"] h3 span:first-child').allTextContents();
  assert.deepEqual(groups, ['Execution', 'Credential access', 'Discovery']);
  assert.equal(await page.getByTestId('evidence').first().isVisible(), true);
  await page.getByTestId('group-by-tactic').uncheck();
  assert.equal(await page.getByTestId('tactic-group').count(), 0);

  // Entities: the pod, with its alert count and a Mark critical control.
  const pod = page.getByTestId('entity-row').filter({ hasText: 'web-7f9' });
  assert.equal(await pod.count(), 1);
  await pod.getByTestId('entity-critical-toggle').click();
  await pod.locator('.critical-mark').waitFor();
  assert.equal((await pod.getByTestId('entity-critical-toggle').innerText()).trim(), 'Unmark critical');
  await pod.getByTestId('entity-critical-toggle').click();
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="entity-row"]')]
    .some((r) => r.textContent.includes('web-7f9') && !r.querySelector('.critical-mark')));
  rec.assertClean();
});

test('triage: classify as True positive / Multi-stage attack, assign, tag; the history shows it', async (t) => {
  const ids = await data();
  const { page, rec } = await openIncident(t, ids.high, ANALYST);
  const before = await page.getByTestId('history-item').count();

  const cls = page.getByLabel('Classification');
  const det = page.getByLabel('Determination');
  assert.equal(await det.isDisabled(), true, 'no determination without a classification');
  await cls.selectOption({ label: 'True positive' });
  assert.deepEqual(await det.locator('option').allTextContents(), [
    'No determination', 'Multi-stage attack', 'Malicious user activity', 'Malware', 'Phishing', 'Unwanted software', 'Other',
  ]);
  await det.selectOption({ label: 'Multi-stage attack' });
  await page.getByLabel('Status').selectOption({ label: 'In progress' });
  await page.getByTestId('tag-input').fill('lateral');
  await page.getByTestId('tag-input').press('Enter');
  const patch = page.waitForResponse((r) => r.url().endsWith(`/api/v1/incidents/${ids.high}`) && r.request().method() === 'PATCH');
  await page.getByTestId('triage-save').click();
  const sent = (await patch).request().postDataJSON();
  assert.deepEqual(sent, { status: 'in_progress', classification: 'true_positive', determination: 'multi_stage_attack', tags: ['lateral'] });
  await page.getByTestId('triage-saved').filter({ hasText: 'Saved.' }).waitFor();
  assert.equal((await page.getByTestId('incident-classification').innerText()).trim(), 'True positive · Multi-stage attack');
  assert.equal((await page.getByTestId('incident-status').innerText()).trim(), 'In progress');

  // The history, newest first, names the change and who made it.
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid="history-item"]').length > n, before);
  const history = await page.getByTestId('history-item').allInnerTexts();
  assert.match(history[0], new RegExp(ANALYST.username));
  assert.ok(history.some((s) => /true.positive|multi.stage/i.test(s)), `history: ${history.join(' / ')}`);

  // Assign to me: one click, saved.
  await page.getByTestId('assign-me').click();
  await page.getByTestId('incident-assignee').filter({ hasText: ANALYST.username }).waitFor();

  // A comment shows in the list.
  await page.getByLabel('Add a comment').fill(`Confirmed with the app team. ${HOSTILE}`);
  await page.getByRole('button', { name: 'Comment', exact: true }).click();
  const comment = page.getByTestId('comment').filter({ hasText: 'Confirmed with the app team.' });
  await comment.waitFor();
  assert.match(await comment.innerText(), new RegExp(ANALYST.username));
  assert.equal(await page.locator('#pwned').count(), 0);

  // Everything is still there after a reload.
  await page.reload();
  await page.getByTestId('story-alert').first().waitFor();
  await page.waitForLoadState('networkidle');
  assert.equal(await cls.inputValue(), 'true_positive');
  assert.equal(await det.inputValue(), 'multi_stage_attack');
  assert.equal(await page.getByLabel('Assigned to').inputValue(), ANALYST.username);
  assert.deepEqual(await page.getByTestId('tag').evaluateAll((l) => l.map((x) => x.dataset.tag)), ['lateral']);
  await screenshot(page, 'incidents-triaged');
  rec.assertClean();
});

test('triage: resolving asks for a classification first', async (t) => {
  const ids = await data();
  const { page, rec } = await openIncident(t, ids.low, ANALYST);
  let patches = 0;
  page.on('request', (r) => { if (r.method() === 'PATCH') patches++; });

  await page.getByLabel('Status').selectOption({ label: 'Resolved' });
  const hint = page.locator('#classification-hint');
  assert.equal(await hint.isVisible(), true);
  assert.equal(await page.getByLabel('Classification').getAttribute('aria-invalid'), 'true');
  await page.getByTestId('triage-save').click();
  const error = page.getByTestId('triage-error');
  await error.waitFor();
  assert.match(await error.innerText(), /classification/i);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'triage-classification', 'focus on the missing field');
  assert.equal(patches, 0, 'nothing sent');

  await page.getByLabel('Classification').selectOption({ label: 'False positive' });
  assert.equal(await hint.isVisible(), false);
  await page.getByLabel('Determination').selectOption({ label: 'Not malicious' });
  await page.getByTestId('triage-save').click();
  await page.getByTestId('incident-status').filter({ hasText: 'Resolved' }).waitFor();
  assert.equal(patches, 1);
  assert.equal((await page.getByTestId('incident-classification').innerText()).trim(), 'False positive · Not malicious');
  assert.equal(await page.getByTestId('triage-error').isVisible(), false);
  rec.assertClean();
});

test('the server refuses to resolve without a classification', async () => {
  const ids = await data();
  const res = await fetch(h.url(`/api/v1/incidents/${ids.medium}`), {
    method: 'PATCH',
    headers: { Authorization: `Bearer ${ids.token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ status: 'resolved' }),
  });
  assert.equal(res.status, 400);
  assert.match((await res.json()).error.message, /classif/i);
});

// ---------------------------------------------------------------- alert, report

test('alert page: evidence, entities and the way back to the incident', async (t) => {
  const ids = await data();
  const { page, rec } = await openIncident(t, ids.high, ANALYST);
  await page.getByTestId('story-alert').first().getByRole('link', { name: /Open alert/ }).click();
  await page.waitForURL(/\/alerts\/[^/]+$/);
  await page.getByTestId('evidence').locator('.ev-part').first().waitFor();
  assert.equal((await page.getByTestId('alert-title').innerText()).trim(), 'Terminal shell spawned in container');
  assert.match(await page.getByTestId('evidence').innerText(), /bash -i/);
  assert.match(await page.getByTestId('alert-entities').innerText(), /web-7f9/);
  assert.match(await page.getByTestId('alert-facts').innerText(), /T1059\.004/);
  const back = page.getByTestId('alert-incident-link');
  assert.equal(await back.getAttribute('href'), `/incidents/${ids.high}`);
  await back.click();
  await page.waitForURL(h.url(`/incidents/${ids.high}`));
  await page.waitForLoadState('networkidle');
  rec.assertClean();
});

test('report: summary, one section per tactic in kill-chain order, entities, printable', async (t) => {
  const ids = await data();
  const { page, rec } = await openIncident(t, ids.high, ANALYST);
  await page.getByTestId('report-link').click();
  await page.waitForURL(h.url(`/incidents/${ids.high}/report`));
  await page.getByTestId('report-section').first().waitFor();
  assert.match(await page.getByTestId('report-summary').innerText(), /\S/);
  const sections = await page.locator('[data-testid="report-section"] h3').allTextContents();
  assert.deepEqual(sections.slice(0, 3), ['Execution', 'Credential access', 'Discovery']);
  assert.equal(await page.getByTestId('report-alert').count(), 3);
  assert.match(await page.getByTestId('report-entities').innerText(), /web-7f9/);
  for (const a of await page.getByTestId('report-response').locator('a').evaluateAll((l) => l.map((x) => x.getAttribute('href')))) {
    assert.match(a, /^\/(?!\/)/, 'responses link inside the console');
  }
  // Print: the navigation and the buttons go, the document stays.
  await page.emulateMedia({ media: 'print' });
  assert.equal(await page.locator('nav.sidenav').isVisible(), false);
  assert.equal(await page.getByTestId('report-print').isVisible(), false);
  assert.equal(await page.getByTestId('report').isVisible(), true);
  await screenshot(page, 'incidents-report-print');
  await page.emulateMedia({ media: 'screen' });
  rec.assertClean();
});

// ---------------------------------------------------------------- viewer

test('viewer: reads everything, every triage control disabled with "Requires Alerts: Manage"', async (t) => {
  const ids = await data();
  const { page, rec } = await openIncident(t, ids.high, VIEWER);
  const reason = 'Requires Alerts: Manage';
  for (const id of ['triage-save', 'triage-status', 'triage-assignee', 'triage-classification', 'assign-me', 'tag-input',
    'split', 'move', 'comment-text', 'comment-submit', 'merge-ids', 'merge-submit']) {
    assert.equal(await page.getByTestId(id).isDisabled(), true, `${id} disabled`);
  }
  const fieldset = page.locator('#triage-fields');
  assert.equal(await fieldset.getAttribute('title'), reason);
  assert.equal((await page.locator('#triage-fields + .requires-reason').textContent()).trim(), reason);
  assert.equal((await page.locator('[data-testid="comment-submit"] + .requires-reason').textContent()).trim(), reason);
  const toggles = page.getByTestId('entity-critical-toggle');
  assert.ok(await toggles.count() > 0);
  for (const b of await toggles.all()) {
    assert.equal(await b.isDisabled(), true);
    assert.equal(await b.getAttribute('title'), reason);
  }
  assert.equal(await page.getByTestId('story-select').count(), 0, 'no alert selection without Alerts: Manage');
  // Reading still works: the story expands, the report opens.
  await page.getByTestId('story-toggle').first().click();
  await page.getByTestId('evidence').first().waitFor();
  await screenshot(page, 'incidents-viewer');
  rec.assertClean();
});

// ---------------------------------------------------------------- split, merge, move

test('split alerts into a new incident, merge it back, move an alert elsewhere', async (t) => {
  const ids = await data();
  const { page, rec } = await openIncident(t, ids.high, ANALYST);
  const story = () => page.getByTestId('story-alert');
  assert.equal(await story().count(), 3);
  assert.equal(await page.getByTestId('split').isDisabled(), true, 'nothing selected yet');

  // Split the discovery alert off.
  const disc = story().filter({ hasText: 'Cluster discovery with kubectl' });
  await disc.getByTestId('story-select').check();
  assert.equal((await page.getByTestId('story-selected').innerText()).trim(), '1 alert selected');
  await page.getByTestId('split').click();
  const dialog = page.getByRole('dialog');
  await dialog.getByRole('button', { name: 'Split', exact: true }).click();
  const notice = page.locator('#story-notice');
  await notice.waitFor();
  const link = notice.getByRole('link');
  const href = await link.getAttribute('href');
  const newId = Number(/^\/incidents\/(\d+)$/.exec(href)[1]);
  assert.ok(newId > 0 && newId !== ids.high, `new incident ${href}`);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="story-alert"]').length === 2);
  assert.ok((await page.getByTestId('history-item').allInnerTexts()).some((x) => /split/i.test(x)), 'history names the split');

  // Merge it back by its id: its alerts return, it points here.
  await page.getByTestId('merge-ids').fill(String(newId));
  await page.getByTestId('merge-submit').click();
  await dialog.getByRole('button', { name: 'Merge', exact: true }).click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="story-alert"]').length === 3);
  const merged = await h.newPage(t, { user: ANALYST });
  await merged.page.goto(h.url(`/incidents/${newId}`));
  const banner = merged.page.getByTestId('merged-banner');
  await banner.waitFor();
  assert.equal(await banner.getByRole('link').getAttribute('href'), `/incidents/${ids.high}`);
  await merged.page.waitForLoadState('networkidle');
  merged.rec.assertClean();

  // Move the discovery alert to the medium incident.
  await story().filter({ hasText: 'Cluster discovery with kubectl' }).getByTestId('story-select').check();
  await page.getByTestId('move').click();
  const move = page.getByRole('dialog', { name: 'Move alerts to another incident' });
  await move.getByLabel('Target incident id').fill(String(ids.medium));
  await move.getByTestId('move-submit').click();
  await move.waitFor({ state: 'hidden' });
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="story-alert"]').length === 2);
  assert.equal(await notice.getByRole('link').getAttribute('href'), `/incidents/${ids.medium}`);
  await page.goto(h.url(`/incidents/${ids.medium}`));
  await story().filter({ hasText: 'Cluster discovery with kubectl' }).waitFor();
  await page.waitForLoadState('networkidle');
  rec.assertClean();
});
