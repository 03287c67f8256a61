// Response actions on a pod (docs/actions.md): the Actions menu of a pod's
// entity pane (isolate, terminate, release, as they apply), and the dialog
// that asks for a reason, shows the dry run (the exact label patch and
// NetworkPolicy, the pods the selector matches), asks for confirmation and
// sends POST /api/v1/actions. Controls are disabled with the reason when
// the user lacks Response: Manage or a precondition fails; the server
// checks both again.
import { api, missingPermission, permissions } from './api.js';
import { registerEntityActions } from './entity-pane.js';
import { el, errorText } from './ui.js';

const LABEL = { isolate: 'Isolate', terminate: 'Terminate', release: 'Release from isolation' };
const DURATIONS = [
  ['0', 'Until released'],
  ['3600', '1 hour'],
  ['14400', '4 hours'],
  ['86400', '24 hours'],
];
const FINAL = new Set(['succeeded', 'failed', 'cancelled']);

function incidentOfPage() {
  const m = /^\/incidents\/(\d+)/.exec(window.location.pathname);
  return m ? Number(m[1]) : null;
}

/** Which actions apply to a pod in this state. */
function applicable(details) {
  const status = (details && details.status) || '';
  const gone = status === 'Deleted' || status === 'Succeeded' || status === 'Failed';
  const out = [];
  if (details && details.isolated) out.push('release');
  else if (!gone) out.push('isolate');
  if (!gone) out.push('terminate');
  return out;
}

async function dryRun(type, target) {
  return api('POST', '/api/v1/actions', { type, target, comment: 'dry run', dry_run: true });
}

function disable(btn, reason, note) {
  btn.disabled = true;
  btn.setAttribute('aria-disabled', 'true');
  btn.title = reason;
  note.textContent = reason;
  note.hidden = false;
}

function renderMenu(container, entity) {
  const target = entity.details && entity.details.response_target;
  if (!target || !target.cluster || !target.pod) return;
  const missing = missingPermission(['response:manage'], permissions());
  const types = applicable(entity.details);
  const buttons = types.map((t) => el('button', {
    type: 'button', class: t === 'terminate' ? 'btn btn-small btn-danger' : 'btn btn-small',
    'data-testid': `action-${t}`, 'data-action': t, text: LABEL[t],
  }));
  const notes = types.map((t) => el('span', { class: 'requires-reason', 'data-testid': `action-${t}-reason`, hidden: true }));
  const row = el('div', { class: 'action-buttons' });
  buttons.forEach((b, i) => row.append(el('span', { class: 'action-slot' }, b, notes[i])));
  container.replaceChildren(el('h4', { class: 'pane-subhead', text: 'Response actions' }), row);
  buttons.forEach((b, i) => {
    const type = types[i];
    if (missing) {
      disable(b, missing, notes[i]);
      return;
    }
    b.addEventListener('click', () => openDialog(type, target, entity));
    if (type === 'release') return;
    // Preconditions as the server sees them now; the click re-checks.
    dryRun(type, target).then((plan) => {
      if (plan && plan.allowed === false) disable(b, plan.reason, notes[i]);
    }).catch(() => {});
  });
}

let dialog = null;

function ensureDialog() {
  if (dialog && dialog.isConnected) return dialog;
  dialog = el('dialog', { id: 'action-dialog', class: 'confirm-dialog action-dialog', 'aria-labelledby': 'action-dialog-title', 'data-testid': 'action-dialog' });
  document.body.append(dialog);
  return dialog;
}

function pre(obj, testid) {
  return el('pre', { class: 'ev-code action-json', 'data-testid': testid, text: JSON.stringify(obj, null, 2) });
}

function planView(type, plan) {
  const parts = [];
  if (!plan.allowed) {
    parts.push(el('p', { class: 'form-error', role: 'alert', 'data-testid': 'action-precondition', text: plan.reason }));
  }
  if (type === 'isolate' && plan.network_policy) {
    const n = plan.matched_pods ? plan.matched_pods.length : 0;
    parts.push(
      el('p', { 'data-testid': 'action-matched', text: `The policy's selector matches ${n === 1 ? 'exactly one pod' : `${n} pods`}: ${(plan.matched_pods || []).join(', ')}` }),
      el('details', { open: true }, el('summary', { text: 'Label patch applied to the pod' }), pre(plan.label_patch, 'action-label-patch')),
      el('details', { open: true }, el('summary', { text: 'NetworkPolicy created in its namespace' }), pre(plan.network_policy, 'action-policy')),
    );
    if (plan.note) parts.push(el('p', { class: 'muted', text: plan.note }));
  }
  if (type === 'terminate' && plan.evidence) parts.push(el('p', { class: 'muted', 'data-testid': 'action-evidence-note', text: `Before deleting: ${plan.evidence}.` }));
  return parts;
}

async function watch(id, statusBox) {
  for (let i = 0; i < 60; i++) {
    let a;
    try {
      a = await api('GET', `/api/v1/actions/${id}`);
    } catch {
      return;
    }
    statusBox.dataset.status = a.status;
    statusBox.textContent = a.status === 'failed'
      ? `Action #${id} failed: ${a.failure_reason}`
      : `Action #${id} is ${a.status.replace('_', ' ')}.`;
    if (FINAL.has(a.status)) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function openDialog(type, target, entity) {
  const dlg = ensureDialog();
  const title = el('h2', { id: 'action-dialog-title', class: 'confirm-title', text: `${LABEL[type]} pod ${target.pod}` });
  const where = el('p', { class: 'muted', text: `${target.namespace} in cluster ${target.cluster}` });
  const planBox = el('div', { class: 'action-plan', 'data-testid': 'action-plan', 'aria-busy': 'true', text: 'Checking preconditions…' });
  const reason = el('textarea', { name: 'comment', required: true, rows: '3', maxlength: '2000', 'data-testid': 'action-reason', 'aria-label': 'Reason' });
  const duration = type === 'isolate'
    ? el('select', { name: 'isolate_for_s', 'data-testid': 'action-duration' }, ...DURATIONS.map(([v, l]) => el('option', { value: v, text: l })))
    : null;
  const confirm = el('input', { type: 'checkbox', name: 'confirm', 'data-testid': 'action-confirm' });
  const error = el('p', { class: 'form-error', role: 'alert', hidden: true });
  const status = el('p', { class: 'action-status', role: 'status', 'data-testid': 'action-status' });
  const ok = el('button', { type: 'submit', class: type === 'terminate' ? 'btn btn-danger-solid' : 'btn btn-primary', 'data-testid': 'action-submit', disabled: true, text: LABEL[type] });
  const cancel = el('button', { type: 'button', class: 'btn', text: 'Close' });
  const form = el('form', { method: 'dialog', class: 'action-form' },
    title, where, planBox,
    el('label', { class: 'field' }, el('span', { text: 'Reason (recorded in the Action center and the audit log)' }), reason),
    duration ? el('label', { class: 'field' }, el('span', { text: 'Isolate for' }), duration) : null,
    el('label', { class: 'check' }, confirm, ` I confirm: ${LABEL[type].toLowerCase()} ${target.pod}`),
    error, status,
    el('div', { class: 'dialog-actions' }, cancel, ok));
  dlg.replaceChildren(form);
  let allowed = type === 'release';
  const sync = () => { ok.disabled = !(allowed && confirm.checked && reason.value.trim() !== ''); };
  confirm.addEventListener('change', sync);
  reason.addEventListener('input', sync);
  cancel.addEventListener('click', () => dlg.close());
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    ok.disabled = true;
    error.hidden = true;
    const body = { type, target, comment: reason.value.trim() };
    const inc = incidentOfPage();
    if (inc) body.incident_id = inc;
    if (duration && duration.value !== '0') body.isolate_for_s = Number(duration.value);
    try {
      const a = await api('POST', '/api/v1/actions', body);
      status.dataset.status = a.status;
      status.replaceChildren(`Action #${a.id} is ${a.status.replace('_', ' ')}. `,
        el('a', { href: `/action-center?id=${a.id}`, 'data-testid': 'action-center-link', text: 'Open in the Action center' }));
      const live = el('span', { 'data-testid': 'action-live-status' });
      status.append(' ', live);
      watch(a.id, live);
    } catch (e) {
      error.textContent = errorText(e);
      error.hidden = false;
      sync();
    }
  });
  dlg.showModal();
  reason.focus();
  if (type === 'release') {
    planBox.textContent = 'Removes the NetworkPolicy and the isolation labels from the pod.';
    planBox.removeAttribute('aria-busy');
    return;
  }
  try {
    const plan = await dryRun(type, target);
    allowed = plan.allowed;
    planBox.replaceChildren(...planView(type, plan));
  } catch (e) {
    planBox.textContent = errorText(e);
  }
  planBox.removeAttribute('aria-busy');
  sync();
  void entity;
}

/** Adds the Actions menu to every pod pane of the page. */
export function installPodActions() {
  return registerEntityActions(renderMenu);
}
