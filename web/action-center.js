// The Action center (/action-center): every response action with its
// entity, cluster, type, requester, time, status, duration and comment;
// filters and paging (GET /api/v1/actions); a details pane with the full
// record, the agent's answer, the evidence download, the comments thread,
// and what may be done now: cancel a pending action, approve or reject one
// awaiting approval (two-person rule), release a pod isolated by it.
import { api, applyPermissionGates, missingPermission, permissions } from './api.js';
import { el, errorText, fillBody, handleSignedOut, showError, confirmAction, wireConfirmDialog } from './ui.js';

const STATUS_LABEL = {
  awaiting_approval: 'Awaiting approval', pending: 'Pending', dispatched: 'Dispatched',
  succeeded: 'Succeeded', failed: 'Failed', cancelled: 'Cancelled',
};
const TYPE_LABEL = { isolate: 'Isolate', terminate: 'Terminate', release: 'Release' };
const PAGE = 50;

const table = document.getElementById('actions-table');
const tbody = table.querySelector('tbody');
const filters = document.getElementById('action-filters');
const more = document.getElementById('actions-more');
const errorBox = document.getElementById('actions-error');
const pane = document.getElementById('action-pane');
const paneBody = document.getElementById('action-pane-body');
const paneTitle = document.getElementById('action-pane-title');
let cursor = null;
let rows = [];
let openId = null;
let seq = 0;

function iso(ms) {
  return ms ? new Date(ms).toISOString() : null;
}

function when(ms) {
  if (!ms) return el('span', { class: 'muted', text: '—' });
  const s = new Date(ms).toISOString();
  return el('time', { datetime: s, title: s, text: `${s.slice(0, 10)} ${s.slice(11, 19)} UTC` });
}

function duration(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 60000)} min`;
}

function statusChip(s) {
  return el('span', { class: `state-chip action-status-${s}`, 'data-status': s, text: STATUS_LABEL[s] || s });
}

function query() {
  const p = new URLSearchParams();
  const f = new FormData(filters);
  for (const k of ['status', 'type', 'cluster', 'q']) {
    const v = String(f.get(k) || '').trim();
    if (v) p.set(k, v);
  }
  p.set('limit', String(PAGE));
  return p;
}

function actionRow(a) {
  const tr = el('tr', { 'data-testid': 'action-row', 'data-id': String(a.id), 'data-status': a.status, tabindex: '0', class: 'clickable' },
    el('td', { text: `#${a.id}` }),
    el('td', { text: TYPE_LABEL[a.type] || a.type }),
    el('td', {}, el('span', { class: 'mono', text: `${a.target.namespace}/${a.target.pod}` })),
    el('td', { text: a.target.cluster }),
    el('td', {}, statusChip(a.status)),
    el('td', { text: a.requested_by }),
    el('td', {}, when(a.created_at)),
    el('td', { text: duration(a.duration_ms) }),
    el('td', { class: 'comment-cell', text: a.comment }));
  const open = () => openAction(a.id);
  tr.addEventListener('click', open);
  tr.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' || ev.key === ' ') {
      ev.preventDefault();
      open();
    }
  });
  return tr;
}

async function load(append = false) {
  const mine = ++seq;
  const p = query();
  if (append && cursor) p.set('cursor', cursor);
  table.setAttribute('aria-busy', 'true');
  try {
    const data = await api('GET', `/api/v1/actions?${p}`);
    if (mine !== seq) return;
    rows = append ? rows.concat(data.items) : data.items;
    cursor = data.next_cursor;
    fillBody(tbody, rows.map(actionRow), 'No actions match.');
    more.hidden = !cursor;
    showError(errorBox, '');
  } catch (e) {
    if (handleSignedOut(e)) return;
    showError(errorBox, errorText(e));
  } finally {
    if (mine === seq) table.removeAttribute('aria-busy');
  }
}

function fact(label, value, testid) {
  return [el('dt', { text: label }), el('dd', { 'data-testid': testid }, value)];
}

function controls(a) {
  const have = permissions();
  const box = el('div', { class: 'form-actions action-controls' });
  const add = (label, testid, cls, requires, fn) => {
    const b = el('button', { type: 'button', class: `btn btn-small ${cls}`, 'data-testid': testid, 'data-requires': requires, text: label });
    b.addEventListener('click', fn);
    box.append(b);
  };
  if (a.can_cancel) {
    add('Cancel action', 'action-cancel', '', 'response:manage', () => decide(a, 'cancel'));
  }
  if (a.status === 'awaiting_approval') {
    add('Approve', 'action-approve', 'btn-primary', 'response:manage', () => decide(a, 'approve'));
    add('Reject', 'action-reject', 'btn-danger', 'response:manage', () => decide(a, 'reject'));
  }
  if (a.type === 'isolate' && a.status === 'succeeded' && a.pod_isolated !== false) {
    add('Release from isolation', 'action-release', '', 'response:manage', () => release(a));
  }
  if (a.has_evidence) {
    box.append(el('a', { class: 'btn btn-small', href: `/api/v1/actions/${a.id}/evidence`, download: `action-${a.id}-evidence.json`, 'data-testid': 'action-evidence', text: `Download evidence (${Math.ceil(a.evidence_bytes / 1024)} KB)` }));
  }
  applyPermissionGates(box, have);
  return box.childElementCount ? box : null;
}

async function decide(a, what) {
  let comment = '';
  if (what === 'reject') {
    comment = window.prompt('Why is this action rejected?') || '';
    if (!comment.trim()) return;
  } else {
    const ok = await confirmAction({
      title: what === 'cancel' ? `Cancel action #${a.id}?` : `Approve action #${a.id}?`,
      message: what === 'cancel' ? 'It will not be sent to the agent.' : `${TYPE_LABEL[a.type]} of pod ${a.target.pod} will be carried out.`,
      confirmLabel: what === 'cancel' ? 'Cancel action' : 'Approve',
      danger: what === 'approve' && a.type === 'terminate',
    });
    if (!ok) return;
  }
  try {
    await api('POST', `/api/v1/actions/${a.id}/${what}`, comment ? { comment } : {});
    await openAction(a.id);
    load();
  } catch (e) {
    if (!handleSignedOut(e)) showError(document.getElementById('action-pane-error'), errorText(e));
  }
}

async function release(a) {
  const reason = window.prompt(`Reason for releasing pod ${a.target.pod} from isolation`) || '';
  if (!reason.trim()) return;
  try {
    const r = await api('POST', '/api/v1/actions', {
      type: 'release', target: a.target, comment: reason.trim(),
      ...(a.incident_id ? { incident_id: a.incident_id } : {}),
    });
    await load();
    await openAction(r.id);
  } catch (e) {
    if (!handleSignedOut(e)) showError(document.getElementById('action-pane-error'), errorText(e));
  }
}

function commentsView(a) {
  const list = el('ol', { class: 'comment-list', 'data-testid': 'action-comments' },
    ...a.comments.map((c) => el('li', { 'data-testid': 'action-comment' },
      el('span', { class: 'comment-author', text: c.author }), ' ', when(c.ts), el('p', { text: c.text }))));
  const text = el('textarea', { name: 'text', rows: '2', maxlength: '2000', required: true, 'aria-label': 'Comment', 'data-testid': 'action-comment-text' });
  const send = el('button', { type: 'submit', class: 'btn btn-small', 'data-testid': 'action-comment-add', 'data-requires': 'response:manage', text: 'Add comment' });
  const form = el('form', { class: 'comment-form' }, text, send);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!text.value.trim()) return;
    send.disabled = true;
    try {
      await api('POST', `/api/v1/actions/${a.id}/comments`, { text: text.value.trim() });
      await openAction(a.id);
    } catch (e) {
      if (!handleSignedOut(e)) showError(document.getElementById('action-pane-error'), errorText(e));
      send.disabled = false;
    }
  });
  applyPermissionGates(form);
  return el('section', {}, el('h3', { text: `Comments (${a.comments.length})` }), list, form);
}

async function openAction(id) {
  openId = id;
  pane.hidden = false;
  pane.setAttribute('aria-busy', 'true');
  let a;
  try {
    a = await api('GET', `/api/v1/actions/${id}`);
  } catch (e) {
    if (handleSignedOut(e)) return;
    paneBody.replaceChildren(el('p', { class: 'form-error', text: errorText(e) }));
    pane.removeAttribute('aria-busy');
    return;
  }
  if (openId !== id) return;
  paneTitle.textContent = `${TYPE_LABEL[a.type]} #${a.id}`;
  const dl = el('dl', { class: 'facts' },
    ...fact('Status', statusChip(a.status), 'action-detail-status'),
    ...fact('Pod', `${a.target.namespace}/${a.target.pod}`, 'action-detail-pod'),
    ...fact('Cluster', a.target.cluster, 'action-detail-cluster'),
    ...fact('Requested by', `${a.requested_by}${a.origin === 'timer' ? ' (isolation timer)' : ''}`, 'action-detail-by'),
    ...fact('Reason', a.comment, 'action-detail-comment'),
    ...(a.incident_id ? fact('Incident', el('a', { href: `/incidents/${a.incident_id}`, text: `#${a.incident_id}` }), 'action-detail-incident') : []),
    ...(a.isolate_for_s ? fact('Isolated for', duration(a.isolate_for_s * 1000), 'action-detail-for') : []),
    ...(a.approved_by ? fact('Approved by', a.approved_by, 'action-detail-approved') : []),
    ...(a.decided_by && !a.approved_by ? fact('Decided by', a.decided_by, 'action-detail-decided') : []),
    ...fact('Requested', when(a.created_at), 'action-detail-created'),
    ...fact('Dispatched', when(a.dispatched_at), 'action-detail-dispatched'),
    ...fact('Finished', when(a.finished_at), 'action-detail-finished'),
    ...fact('Duration', duration(a.duration_ms), 'action-detail-duration'),
    ...(a.failure_reason ? fact('Failure', el('span', { class: 'failure-text', text: a.failure_reason }), 'action-detail-failure') : []));
  const result = Object.keys(a.result || {}).length
    ? el('details', {}, el('summary', { text: "The agent's answer" }), el('pre', { class: 'ev-code', 'data-testid': 'action-detail-result', text: JSON.stringify(a.result, null, 2) }))
    : null;
  paneBody.replaceChildren(dl, controls(a) || '', el('p', { class: 'form-error', id: 'action-pane-error', role: 'alert', hidden: true }), result || '', commentsView(a));
  pane.removeAttribute('aria-busy');
  for (const tr of tbody.querySelectorAll('tr[data-id]')) tr.classList.toggle('selected', tr.dataset.id === String(id));
  void iso;
}

filters.addEventListener('input', () => {
  clearTimeout(filters.timer);
  filters.timer = setTimeout(() => load(), 200);
});
filters.addEventListener('submit', (ev) => ev.preventDefault());
more.addEventListener('click', () => load(true));
document.getElementById('action-pane-close').addEventListener('click', () => {
  pane.hidden = true;
  openId = null;
});
wireConfirmDialog();

const first = new URLSearchParams(window.location.search).get('id');
load().then(() => {
  if (first && /^\d+$/.test(first)) openAction(Number(first));
});
if (missingPermission(['response:read'], permissions())) showError(errorBox, 'Requires Response: Read');
