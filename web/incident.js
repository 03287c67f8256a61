// Incident page: header and summary, the attack story (alerts in time
// order or grouped by MITRE tactic in kill-chain order, each expandable to
// its evidence), entities, comments, history, and the triage panel
// (status, assignee, classification and determination, tags), merge, split
// and move. Every change goes to the API and the page is re-read from it.
// The incident graph lives in graph.js and the entity side pane in
// entity-pane.js; this module wires them to each other and to the page.
import { api, applyPermissionGates, permissions } from './api.js';
import { createEntityPane } from './entity-pane.js';
import { createGraph } from './graph.js';
import { installPodActions } from './actions.js';
import {
  confirmAction, el, errorText, fillBody, handleSignedOut, row, showError, timeEl, wireConfirmDialog,
} from './ui.js';
import {
  CLASSIFICATIONS, SOURCE_LABEL, alertFacts, busy, chipList, classificationLabel, crown, entityList,
  pageId, renderEvidence, severityChip, statusChip, tacticKey, tacticLabel, tacticRank, token,
} from './triage.js';

const incidentId = pageId('incident-page', 'data-incident-id', /^\/incidents\/(\d+)/);
const me = (document.querySelector('.user-name') || {}).dataset?.user || '';
const canManage = permissions().has('alerts:manage');
const $ = (id) => document.getElementById(id);

const state = {
  inc: null,
  classifications: CLASSIFICATIONS,
  assignees: [],
  expanded: new Set(),
  selected: new Set(),
  grouped: false,
  tags: [],
  triageDirty: false,
  entityById: new Map(), // the incident's entities, for the graph's group members
  graph: null,
  pane: null,
};

function failed(box, e) {
  if (handleSignedOut(e)) return;
  showError(box, errorText(e));
}

function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

/** Shows a short message in the story's notice line, optionally with a link. */
function notice(text, link) {
  const box = $('story-notice');
  box.replaceChildren(el('span', { text }), ...(link ? [' ', el('a', { href: link.href, text: link.text })] : []));
  box.hidden = false;
}

// ------------------------------------------------------------ header

function renderHeader(inc) {
  $('incident-title').textContent = inc.title || `Incident ${inc.id}`;
  $('incident-crumb').textContent = `Incident #${inc.id}`;
  document.title = `${inc.title || `Incident ${inc.id}`} · Stockade`;
  const cls = classificationLabel(inc.classification, inc.determination, state.classifications);
  const badges = $('incident-badges');
  badges.replaceChildren(...[
    el('span', { 'data-testid': 'incident-severity' }, severityChip(inc.severity)),
    el('span', { 'data-testid': 'incident-status' }, statusChip(inc.status)),
    inc.high_impact ? el('span', { class: 'high-impact', 'data-testid': 'high-impact' }, crown('High impact'), ' High impact') : null,
    el('span', { class: 'head-fact', 'data-testid': 'incident-assignee' },
      el('span', { class: 'muted', text: 'Assigned to ' }), inc.assignee ? el('strong', { text: inc.assignee }) : el('span', { text: 'nobody' })),
    el('span', {
      class: `head-fact classification${inc.classification ? ` cls-${token(inc.classification)}` : ''}`,
      'data-testid': 'incident-classification',
      'data-classification': inc.classification || '',
      text: cls || 'Not classified',
    }),
  ].filter(Boolean));
  const banner = $('merged-banner');
  if (inc.merged_into) {
    const to = Number(inc.merged_into);
    banner.replaceChildren('This incident was merged into ',
      el('a', { href: `/incidents/${to}`, text: `incident #${to}` }), '. Its alerts are there now.');
    banner.hidden = false;
  } else {
    banner.hidden = true;
  }
  document.querySelector('.incident-head').removeAttribute('aria-busy');
}

function card(label, value, testid) {
  return el('div', { class: 'card', 'data-testid': testid },
    el('span', { class: 'card-label', text: label }),
    typeof value === 'string' ? el('span', { class: 'card-value', text: value }) : el('span', { class: 'card-value' }, value));
}

function renderCards(inc) {
  const tactics = [...(inc.tactics || [])].sort((a, b) => tacticRank(a) - tacticRank(b));
  $('summary-cards').replaceChildren(
    card('Alerts', String(inc.alert_count ?? (inc.alerts || []).length), 'card-alerts'),
    card('Entities', String(inc.entity_count ?? (inc.entities || []).length), 'card-entities'),
    card('First activity', timeEl(inc.first_activity, { none: '–' }), 'card-first'),
    card('Last activity', timeEl(inc.last_activity, { none: '–' }), 'card-last'),
    card('Service sources', chipList(inc.sources, (s) => SOURCE_LABEL[s] || s), 'card-sources'),
    card('Clusters', (inc.clusters || []).join(', ') || '–', 'card-clusters'),
    card('Tactics', tactics.length ? chipList(tactics, tacticLabel) : '–', 'card-tactics'),
  );
}

// ------------------------------------------------------------ attack story

function byTime(a, b) {
  const ta = Date.parse(a.first_activity || '') || 0;
  const tb = Date.parse(b.first_activity || '') || 0;
  return ta - tb || (Number(a.id) || 0) - (Number(b.id) || 0) || String(a.id).localeCompare(String(b.id));
}

/** The DOM id fragment for an alert id (ids are idempotency keys: any text). */
function domId(alertId) {
  return String(alertId).replace(/[^A-Za-z0-9_-]/g, (c) => `_${c.charCodeAt(0).toString(16)}`);
}

function evidenceBody(a) {
  return [
    a.description ? el('p', { class: 'alert-description', text: a.description }) : null,
    alertFacts(a),
    (a.entities || []).length ? el('div', { class: 'ev-part' }, el('h4', { text: 'Entities' }), entityList(a.entities)) : null,
    ...renderEvidence(a),
  ].filter(Boolean);
}

function storyItem(a) {
  const key = String(a.id);
  const evId = `ev-${domId(key)}`;
  const open = state.expanded.has(key);
  const evidence = el('div', { id: evId, class: 'evidence', 'data-testid': 'evidence', hidden: !open });
  if (open) evidence.append(...evidenceBody(a));
  const toggle = el('button', {
    type: 'button', class: 'story-toggle', 'aria-expanded': open ? 'true' : 'false', 'aria-controls': evId,
    'data-testid': 'story-toggle',
  },
  el('span', { class: 'story-caret', 'aria-hidden': 'true' }),
  el('span', { class: 'story-time' }, timeEl(a.first_activity, { seconds: true, none: '–' })),
  severityChip(a.severity),
  el('span', { class: 'story-title', text: a.title || a.rule || key }),
  a.tactic || a.technique
    ? el('span', { class: 'story-tactic', text: [a.tactic ? tacticLabel(a.tactic) : '', a.technique].filter(Boolean).join(' · ') })
    : null);
  toggle.addEventListener('click', () => {
    const nowOpen = toggle.getAttribute('aria-expanded') !== 'true';
    toggle.setAttribute('aria-expanded', nowOpen ? 'true' : 'false');
    if (nowOpen) {
      state.expanded.add(key);
      if (!evidence.firstChild) evidence.append(...evidenceBody(a));
    } else {
      state.expanded.delete(key);
    }
    evidence.hidden = !nowOpen;
  });
  const head = el('div', { class: 'story-row' });
  if (canManage) {
    const boxId = `sel-${domId(key)}`;
    const box = el('input', {
      type: 'checkbox', id: boxId, class: 'story-select', 'data-testid': 'story-select',
      'aria-label': `Select alert: ${a.title || key}`, checked: state.selected.has(key),
    });
    box.addEventListener('change', () => {
      if (box.checked) state.selected.add(key);
      else state.selected.delete(key);
      updateToolbar();
    });
    head.append(box);
  }
  head.append(toggle);
  if (a.pinned) head.append(el('span', { class: 'badge', title: 'Moved or split by an analyst: correlation leaves it where it is', text: 'pinned' }));
  head.append(
    el('a', { class: 'story-open', href: `/alerts/${encodeURIComponent(key)}`, 'aria-label': `Open alert: ${a.title || key}`, text: 'Open' }));
  const li = el('li', {
    class: `story-alert sev-border-${token(a.severity)}`, 'data-testid': 'story-alert', 'data-alert-id': key,
    'data-tactic': tacticKey(a.tactic), 'data-severity': a.severity,
  }, head, evidence);
  return li;
}

function renderStory(inc) {
  const alerts = [...(inc.alerts || [])].sort(byTime);
  const present = new Set(alerts.map((a) => String(a.id)));
  for (const k of [...state.selected]) if (!present.has(k)) state.selected.delete(k);
  const host = $('story-list');
  if (alerts.length === 0) {
    host.replaceChildren(el('p', { class: 'muted', text: 'This incident has no alerts.' }));
  } else if (!state.grouped) {
    host.replaceChildren(el('ol', { class: 'story-alerts' }, ...alerts.map(storyItem)));
  } else {
    const groups = new Map();
    for (const a of alerts) {
      const k = tacticKey(a.tactic);
      if (!groups.has(k)) groups.set(k, []);
      groups.get(k).push(a);
    }
    const keys = [...groups.keys()].sort((x, y) => tacticRank(x) - tacticRank(y) || x.localeCompare(y));
    host.replaceChildren(...keys.map((k) => {
      const hid = `tactic-${token(k || 'other')}-h`;
      return el('section', { class: 'tactic-group', 'data-testid': 'tactic-group', 'data-tactic': k, 'aria-labelledby': hid },
        el('h3', { id: hid }, el('span', { text: tacticLabel(k) }), ' ',
          el('span', { class: 'muted', text: `(${plural(groups.get(k).length, 'alert')})` })),
        el('ol', { class: 'story-alerts' }, ...groups.get(k).map(storyItem)));
    }));
  }
  $('story-truncated').hidden = !inc.alerts_truncated;
  updateToolbar();
}

function updateToolbar() {
  const n = state.selected.size;
  $('story-selected').textContent = n ? `${plural(n, 'alert')} selected` : 'No alerts selected';
  if (canManage) {
    $('split-btn').disabled = n === 0;
    $('move-btn').disabled = n === 0;
  }
}

function selectedIds() {
  // Ids as the API gave them (numbers stay numbers).
  const byKey = new Map((state.inc.alerts || []).map((a) => [String(a.id), a.id]));
  return [...state.selected].map((k) => byKey.get(k) ?? k);
}

async function split() {
  const error = $('story-error');
  showError(error, '');
  const ids = selectedIds();
  const total = state.inc.alert_count ?? (state.inc.alerts || []).length;
  if (ids.length >= total && !state.inc.alerts_truncated) {
    showError(error, 'Leave at least one alert in this incident: select fewer alerts to split off.');
    return;
  }
  const ok = await confirmAction({
    title: 'Split into a new incident',
    message: `Move ${plural(ids.length, 'selected alert')} out of incident #${incidentId} into a new incident?`,
    confirmLabel: 'Split',
  });
  if (!ok) { $('split-btn').focus(); return; }
  try {
    const created = await api('POST', `/api/v1/incidents/${incidentId}/split`, { alert_ids: ids });
    state.selected.clear();
    await load();
    notice(`Split ${plural(ids.length, 'alert')} into a new incident:`,
      { href: `/incidents/${Number(created.id)}`, text: `incident #${Number(created.id)}` });
  } catch (e) {
    failed(error, e);
  }
}

function wireMoveDialog() {
  const dlg = $('move-dialog');
  const form = $('move-form');
  const error = form.querySelector('.form-error');
  const input = $('move-target');
  form.querySelector('.move-cancel').addEventListener('click', () => dlg.close('cancel'));
  dlg.addEventListener('close', () => $('move-btn').focus());
  $('move-btn').addEventListener('click', () => {
    showError(error, '');
    input.value = '';
    $('move-message').textContent = `Move ${plural(state.selected.size, 'selected alert')} from incident #${incidentId} to:`;
    dlg.showModal();
    input.focus();
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    showError(error, '');
    const target = input.value.trim();
    if (!/^\d+$/.test(target) || Number(target) === incidentId) {
      showError(error, Number(target) === incidentId
        ? 'The alerts are already in this incident: enter another incident id.'
        : 'Enter the number of the incident to move the alerts to.');
      input.focus();
      return;
    }
    const ids = selectedIds();
    let moved = 0;
    await busy(form, async () => {
      for (const id of ids) {
        try {
          await api('POST', `/api/v1/alerts/${encodeURIComponent(id)}/move`, { incident_id: Number(target) });
          moved++;
          state.selected.delete(String(id));
        } catch (e) {
          failed(error, e);
          break;
        }
      }
    });
    if (moved > 0) {
      await load();
      notice(`Moved ${plural(moved, 'alert')} to`, { href: `/incidents/${Number(target)}`, text: `incident #${Number(target)}` });
    }
    if (moved === ids.length) dlg.close('moved');
  });
}

// ------------------------------------------------------------ entities

/** Opens the entity pane from the table (the graph's nodes do the same). */
function openButton(e) {
  const b = el('button', {
    type: 'button', class: 'btn btn-small', 'data-testid': 'entity-open',
    'aria-label': `Details of ${e.name || e.key}`, text: 'Details',
  });
  b.addEventListener('click', () => {
    if (state.graph) state.graph.select(e.id);
    state.pane.openEntity(e.id, b);
  });
  return b;
}

function entityRow(e) {
  const action = el('button', {
    type: 'button', class: 'btn btn-small', 'data-testid': 'entity-critical-toggle', 'data-requires': 'alerts:manage',
    'aria-label': `${e.critical ? 'Unmark' : 'Mark'} ${e.name || e.key} ${e.critical ? 'as critical' : 'critical'}`,
    text: e.critical ? 'Unmark critical' : 'Mark critical',
  });
  action.addEventListener('click', async () => {
    const error = $('entities-error');
    showError(error, '');
    action.disabled = true;
    try {
      await api('PATCH', `/api/v1/entities/${encodeURIComponent(e.id)}`, { critical: !e.critical });
      await load();
      if (state.graph) state.graph.refresh();
      if (state.pane && state.pane.isOpen && state.pane.openId === e.id) state.pane.openEntity(e.id);
      const again = document.querySelector(`#entities-table tr[data-entity-id="${CSS.escape(String(e.id))}"] [data-testid="entity-critical-toggle"]`);
      if (again) again.focus();
    } catch (err) {
      action.disabled = false;
      failed(error, err);
    }
  });
  const tr = row(
    el('span', { class: `kind-label kind-${token(e.kind)}`, text: e.kind || 'entity' }),
    el('td', {}, el('span', { class: 'cell-title', text: e.name || e.key }),
      e.key && e.key !== e.name ? el('span', { class: 'cell-sub', text: e.key }) : null),
    e.critical ? el('span', { class: 'critical-mark' }, crown('Critical asset'), ' Critical') : el('span', { class: 'muted', text: '–' }),
    el('span', { class: 'num', text: String(e.alert_count ?? 0) }),
    el('td', { class: 'actions' }, openButton(e), ' ', action),
  );
  tr.dataset.testid = 'entity-row';
  tr.dataset.entityId = String(e.id);
  tr.dataset.kind = e.kind || '';
  if (e.critical) tr.dataset.critical = 'true';
  return tr;
}

function renderEntities(inc) {
  const tbody = document.querySelector('#entities-table tbody');
  const list = [...(inc.entities || [])].sort((a, b) =>
    (b.critical ? 1 : 0) - (a.critical ? 1 : 0) || (b.alert_count || 0) - (a.alert_count || 0));
  fillBody(tbody, list.map(entityRow), 'No entities');
  applyPermissionGates(tbody);
}

// ------------------------------------------------------------ comments, history

function renderComments(inc) {
  const list = $('comment-list');
  const items = [...(inc.comments || [])].sort((a, b) =>
    (Date.parse(a.time || '') || 0) - (Date.parse(b.time || '') || 0) || (a.id || 0) - (b.id || 0));
  if (items.length === 0) {
    list.replaceChildren(el('li', { class: 'muted empty-item', text: 'No comments yet.' }));
    return;
  }
  list.replaceChildren(...items.map((c) => el('li', { class: 'comment', 'data-testid': 'comment', 'data-id': c.id },
    el('div', { class: 'comment-head' }, el('strong', { text: c.author || 'unknown' }), ' ', timeEl(c.time, { none: '' })),
    el('p', { class: 'comment-text', text: c.text || '' }))));
}

function wireCommentForm() {
  const form = $('comment-form');
  const error = form.querySelector('.form-error');
  form.addEventListener('input', () => showError(error, ''));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const text = form.elements.text.value.trim();
    if (!text) {
      showError(error, 'Write a comment first.');
      form.elements.text.focus();
      return;
    }
    await busy(form, async () => {
      try {
        await api('POST', `/api/v1/incidents/${incidentId}/comments`, { text });
        form.reset();
        await load();
      } catch (e) {
        failed(error, e);
      }
    });
    form.elements.text.focus();
  });
}

function renderHistory(inc) {
  const list = $('history-list');
  const items = [...(inc.history || [])].sort((a, b) =>
    (Date.parse(b.time || '') || 0) - (Date.parse(a.time || '') || 0) || (Number(b.id) || 0) - (Number(a.id) || 0));
  if (items.length === 0) {
    list.replaceChildren(el('li', { class: 'muted empty-item', text: 'No history yet.' }));
    return;
  }
  list.replaceChildren(...items.map((h) => el('li', {
    class: `history-item hk-${token(h.kind)}`, 'data-testid': 'history-item', 'data-kind': h.kind || '',
  },
  el('div', { class: 'history-head' }, timeEl(h.time, { seconds: true, none: '' }), ' ',
    el('strong', { class: 'history-actor', text: h.actor || 'system' })),
  el('p', { class: 'history-summary', text: h.summary || h.kind || '' }))));
}

// ------------------------------------------------------------ triage

const tf = () => $('triage-form');

function fillSelect(sel, options, value) {
  sel.replaceChildren(...options.map(([v, label]) => el('option', { value: v, text: label })));
  if (value !== undefined) sel.value = value;
}

function fillAssigneeSelect(current) {
  const names = state.assignees.map((a) => a.username);
  if (current && !names.includes(current)) names.push(current);
  fillSelect($('triage-assignee'),
    [['', 'Unassigned'], ...names.map((n) => [n, n === me ? `${n} (me)` : n])], current || '');
}

function fillClassificationSelect(value) {
  fillSelect($('triage-classification'),
    [['', 'Not classified'], ...state.classifications.map((c) => [c.name, c.label])], value || '');
}

function fillDeterminations(cls, value) {
  const sel = $('triage-determination');
  const c = state.classifications.find((x) => x.name === cls);
  if (!c) {
    fillSelect(sel, [['', 'Choose a classification first']], '');
    sel.disabled = true;
    return;
  }
  const opts = [['', 'No determination'], ...(c.determinations || []).map((d) => [d.name, d.label])];
  if (value && !opts.some(([v]) => v === value)) opts.push([value, value]);
  fillSelect(sel, opts, value || '');
  sel.disabled = false;
}

function renderTags() {
  const list = $('tag-list');
  list.replaceChildren(...state.tags.map((t) => {
    const remove = el('button', { type: 'button', class: 'tag-remove', 'aria-label': `Remove tag ${t}`, text: '×' });
    remove.addEventListener('click', () => {
      state.tags = state.tags.filter((x) => x !== t);
      state.triageDirty = true;
      renderTags();
      $('tag-input').focus();
    });
    return el('li', { class: 'tag', 'data-testid': 'tag', 'data-tag': t }, el('span', { text: t }), remove);
  }));
  if (state.tags.length === 0) list.append(el('li', { class: 'muted empty-item', text: 'No tags' }));
}

function addTag() {
  const input = $('tag-input');
  const t = input.value.trim();
  if (!t) return;
  if (!state.tags.includes(t)) state.tags.push(t);
  input.value = '';
  state.triageDirty = true;
  renderTags();
  input.focus();
}

/** Whether resolving is being asked without a classification; shows why. */
function checkResolveNeedsClassification() {
  const f = tf();
  const need = f.elements.status.value === 'resolved' && !f.elements.classification.value;
  const sel = $('triage-classification');
  $('classification-hint').hidden = !need;
  sel.required = f.elements.status.value === 'resolved';
  if (need) sel.setAttribute('aria-invalid', 'true');
  else sel.removeAttribute('aria-invalid');
  return need;
}

function fillTriage(inc, { force = false } = {}) {
  if (state.triageDirty && !force) return; // keep what the user is editing
  const f = tf();
  f.elements.status.value = inc.status;
  fillAssigneeSelect(inc.assignee);
  fillClassificationSelect(inc.classification);
  fillDeterminations(inc.classification, inc.determination);
  state.tags = [...(inc.tags || [])];
  renderTags();
  state.triageDirty = false;
  checkResolveNeedsClassification();
}

/** The PATCH body: only what differs from the incident as last read. */
function triageChanges() {
  const f = tf();
  const inc = state.inc;
  const body = {};
  if (f.elements.status.value !== inc.status) body.status = f.elements.status.value;
  if (f.elements.assignee.value !== (inc.assignee || '')) body.assignee = f.elements.assignee.value;
  if (f.elements.classification.value !== (inc.classification || '')) body.classification = f.elements.classification.value;
  const det = f.elements.classification.value ? f.elements.determination.value : '';
  if (det !== (inc.determination || '')) body.determination = det;
  const tags = state.tags;
  const was = inc.tags || [];
  if (tags.length !== was.length || tags.some((t, i) => t !== was[i])) body.tags = [...tags];
  return body;
}

async function saveTriage() {
  const f = tf();
  const error = $('triage-error');
  const status = $('triage-status-msg');
  showError(error, '');
  status.textContent = '';
  if (checkResolveNeedsClassification()) {
    showError(error, 'Choose a classification before resolving this incident.');
    $('triage-classification').focus();
    return;
  }
  const body = triageChanges();
  if (Object.keys(body).length === 0) {
    status.textContent = 'No changes to save.';
    return;
  }
  let ok = false;
  await busy(f, async () => {
    try {
      await api('PATCH', `/api/v1/incidents/${incidentId}`, body);
      ok = true;
    } catch (e) {
      failed(error, e);
    }
  });
  if (!ok) return;
  state.triageDirty = false;
  await load({ forceTriage: true });
  status.textContent = 'Saved.';
}

function wireTriage() {
  const f = tf();
  f.addEventListener('change', (ev) => {
    const t = ev.target;
    state.triageDirty = true;
    $('triage-status-msg').textContent = '';
    if (t.name === 'classification') fillDeterminations(t.value, '');
    if (t.name === 'status' || t.name === 'classification') {
      const need = checkResolveNeedsClassification();
      if (!need && $('triage-error').textContent.startsWith('Choose a classification')) showError($('triage-error'), '');
    }
  });
  f.addEventListener('submit', (ev) => {
    ev.preventDefault();
    saveTriage();
  });
  $('tag-add').addEventListener('click', addTag);
  $('tag-input').addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') {
      ev.preventDefault();
      addTag();
    }
  });
  $('assign-me').addEventListener('click', () => {
    if (!me) return;
    const sel = $('triage-assignee');
    if (![...sel.options].some((o) => o.value === me)) sel.append(el('option', { value: me, text: `${me} (me)` }));
    sel.value = me;
    state.triageDirty = true;
    saveTriage();
  });
}

// ------------------------------------------------------------ merge

/** "14, 15 16" -> [14, 15, 16]; null when something is not an id. */
export function parseIds(text) {
  const parts = String(text).split(/[\s,;]+/).filter(Boolean);
  if (parts.length === 0 || parts.some((p) => !/^#?\d+$/.test(p))) return null;
  return [...new Set(parts.map((p) => Number(p.replace('#', ''))))];
}

function wireMerge() {
  const form = $('merge-form');
  const error = form.querySelector('.form-error');
  form.addEventListener('input', () => showError(error, ''));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const ids = parseIds(form.elements.ids.value);
    if (!ids) {
      showError(error, 'Enter incident numbers separated by commas, for example 14, 15.');
      form.elements.ids.focus();
      return;
    }
    if (ids.includes(incidentId)) {
      showError(error, `Incident #${incidentId} is this incident: it cannot be merged into itself.`);
      form.elements.ids.focus();
      return;
    }
    const ok = await confirmAction({
      title: 'Merge incidents',
      message: `Merge ${ids.map((i) => `#${i}`).join(', ')} into incident #${incidentId}? Their alerts move here and they are closed as merged.`,
      confirmLabel: 'Merge',
    });
    if (!ok) { form.elements.ids.focus(); return; }
    await busy(form, async () => {
      try {
        await api('POST', `/api/v1/incidents/${incidentId}/merge`, { incident_ids: ids });
        form.reset();
        await load();
        notice(`Merged ${ids.map((i) => `#${i}`).join(', ')} into this incident.`);
      } catch (e) {
        failed(error, e);
      }
    });
  });
}

// ------------------------------------------------------------ graph and entity pane

/**
 * Where an attack-path badge leads: the path itself when the entity is on
 * one, else the list of the paths through it.
 */
async function followBadge(info) {
  if (info.group) {
    // A group's members share the flag but not the paths: show the members.
    state.pane.openGroup(info, state.graph.groupNode(info.id), info.element);
    return;
  }
  try {
    const list = await api('GET', `/api/v1/attack-paths?entity=${encodeURIComponent(info.id)}&limit=2`);
    const items = (list && list.items) || [];
    window.location.assign(items.length === 1
      ? `/attack-paths/${encodeURIComponent(items[0].id)}`
      : `/attack-paths?entity=${encodeURIComponent(info.id)}`);
  } catch (e) {
    failed($('incident-error'), e);
  }
}

function wireGraph() {
  installPodActions();
  state.pane = createEntityPane($('entity-pane'), {
    lookup: (id) => state.entityById.get(Number(id)) || null,
    onChanged: async () => {
      await load();
      state.graph.refresh();
    },
    onUngroup: () => {
      state.pane.close();
      state.graph.setGrouped(false);
      $('graph-viewport').focus();
    },
    onClose: () => state.graph.select(null),
  });
  state.graph = createGraph($('graph'), {
    incidentId,
    onSelect: (info) => {
      if (info.group) state.pane.openGroup(info, state.graph.groupNode(info.id), info.element);
      else state.pane.openEntity(info.id, info.element);
    },
    onBadge: followBadge,
  });
  state.graph.start();
}

// ------------------------------------------------------------ loading

async function loadLookups() {
  const [cls, people] = await Promise.allSettled([
    api('GET', '/api/v1/classifications'),
    api('GET', '/api/v1/assignees'),
  ]);
  if (cls.status === 'fulfilled' && Array.isArray(cls.value?.items) && cls.value.items.length) {
    state.classifications = cls.value.items;
  }
  if (people.status === 'fulfilled' && Array.isArray(people.value?.items)) {
    state.assignees = people.value.items;
  }
  for (const r of [cls, people]) {
    if (r.status === 'rejected') failed($('triage-error'), r.reason);
  }
}

async function load({ forceTriage = false } = {}) {
  const error = $('incident-error');
  try {
    const inc = await api('GET', `/api/v1/incidents/${incidentId}`);
    state.inc = inc;
    state.entityById = new Map((inc.entities || []).map((e) => [Number(e.id), e]));
    showError(error, '');
    renderHeader(inc);
    renderCards(inc);
    renderStory(inc);
    renderEntities(inc);
    renderComments(inc);
    renderHistory(inc);
    fillTriage(inc, { force: forceTriage });
  } catch (e) {
    failed(error, e);
    if (e && e.status === 404) document.querySelector('.incident-layout').hidden = true;
  }
}

async function start() {
  if (incidentId === null) {
    showError($('incident-error'), 'No incident id in the address.');
    return;
  }
  wireConfirmDialog();
  wireMoveDialog();
  wireCommentForm();
  wireTriage();
  wireMerge();
  wireGraph();
  $('split-btn').addEventListener('click', split);
  $('group-by-tactic').addEventListener('change', (ev) => {
    state.grouped = ev.target.checked;
    if (state.inc) renderStory(state.inc);
  });
  await loadLookups();
  await load({ forceTriage: true });
}

start();
