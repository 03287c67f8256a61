// Audit log page: filters, newest entries first, "Older entries" pages on
// with the server's cursor. The filters live in the URL (the API's own
// parameters, times as RFC 3339 UTC) so a reload or a shared link shows the
// same entries.
import { api } from './api.js';
import { el, errorText, fillBody, handleSignedOut, row, showError, timeEl } from './ui.js';

const PAGE = 50;
const FIELDS = ['actor', 'action', 'outcome', 'since', 'until'];

const form = document.getElementById('audit-filters');
const tbody = document.querySelector('#audit-table tbody');
const more = document.getElementById('audit-more');
const count = document.getElementById('audit-count');
const error = document.getElementById('audit-error');

/** "2026-01-02T03:04" in local time (a datetime-local value) -> RFC 3339 UTC. */
export function localToUtc(value) {
  if (!value) return '';
  const d = new Date(value); // no zone: parsed as local time
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

/** RFC 3339 -> a datetime-local value in local time. */
export function utcToLocal(iso) {
  const d = new Date(iso);
  if (!iso || Number.isNaN(d.getTime())) return '';
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** The API query for the form's filters. */
function filtersFromForm() {
  const f = {};
  for (const k of ['actor', 'action', 'outcome']) {
    const v = form.elements[k].value.trim();
    if (v) f[k] = v;
  }
  for (const k of ['since', 'until']) {
    const v = localToUtc(form.elements[k].value);
    if (v) f[k] = v;
  }
  return f;
}

function filtersFromUrl() {
  const q = new URLSearchParams(window.location.search);
  const f = {};
  for (const k of FIELDS) if (q.get(k)) f[k] = q.get(k);
  return f;
}

function fillForm(f) {
  for (const k of ['actor', 'action', 'outcome']) form.elements[k].value = f[k] || '';
  for (const k of ['since', 'until']) form.elements[k].value = utcToLocal(f[k]);
}

/** Details as one line of JSON; nothing for an empty object. */
function details(d) {
  if (d === null || d === undefined) return el('span', { class: 'muted', text: '–' });
  if (typeof d === 'object' && !Array.isArray(d) && Object.keys(d).length === 0) {
    return el('span', { class: 'muted', text: '–' });
  }
  return el('code', { class: 'details-json', text: JSON.stringify(d) });
}

function entryRow(a) {
  const actor = el('td', {}, el('span', { text: a.actor }),
    a.actor_kind && a.actor_kind !== 'user' ? el('span', { class: 'cell-sub', text: a.actor_kind }) : null);
  const tr = row(
    el('span', { class: 'num', text: String(a.id) }),
    timeEl(a.time, { seconds: true, none: '–' }),
    actor,
    el('span', { text: a.source_ip }),
    el('code', { class: 'action-name', text: a.action }),
    el('span', { class: 'target', text: a.target }),
    el('span', { class: `outcome outcome-${/^[a-z]+$/.test(a.outcome) ? a.outcome : 'other'}`, text: a.outcome }),
    details(a.details),
  );
  tr.dataset.id = String(a.id);
  tr.dataset.action = a.action;
  return tr;
}

const view = { filters: {}, cursor: null, shown: 0, loading: false };

async function load({ append }) {
  if (view.loading) return;
  view.loading = true;
  more.disabled = true;
  tbody.closest('table').setAttribute('aria-busy', 'true');
  showError(error, '');
  const q = new URLSearchParams({ ...view.filters, limit: String(PAGE) });
  if (append && view.cursor) q.set('cursor', view.cursor);
  try {
    const page = await api('GET', `/api/v1/audit?${q}`);
    const rows = page.items.map(entryRow);
    if (append) tbody.append(...rows);
    else fillBody(tbody, rows, 'No audit entries match these filters.');
    view.shown = (append ? view.shown : 0) + rows.length;
    view.cursor = page.next_cursor || null;
    more.hidden = !view.cursor;
    count.textContent = view.shown === 0 ? '' : `${view.shown} entr${view.shown === 1 ? 'y' : 'ies'} shown`;
  } catch (e) {
    if (!handleSignedOut(e)) showError(error, errorText(e));
  } finally {
    view.loading = false;
    more.disabled = false;
    tbody.closest('table').removeAttribute('aria-busy');
  }
}

form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const since = form.elements.since.value;
  const until = form.elements.until.value;
  if (since && until && localToUtc(since) > localToUtc(until)) {
    showError(error, '"Since" is after "Until".');
    return;
  }
  view.filters = filtersFromForm();
  view.cursor = null;
  const q = new URLSearchParams(view.filters).toString();
  window.history.replaceState(null, '', q ? `?${q}` : window.location.pathname);
  load({ append: false });
});

form.addEventListener('reset', () => {
  // After the browser has cleared the fields.
  setTimeout(() => form.requestSubmit(), 0);
});

more.addEventListener('click', () => load({ append: true }));

view.filters = filtersFromUrl();
fillForm(view.filters);
load({ append: false });
