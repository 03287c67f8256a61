// Incident queue: facet filters with counts, sort, free-text search,
// keyset pagination ("Load more"). The filters live in the URL with the
// API's own parameter names (plus `range` for the time presets), so a
// reload, a shared link or the Back button shows the same queue.
import { api } from './api.js';
import { el, errorText, fillBody, handleSignedOut, row, showError, timeEl } from './ui.js';
import {
  CLASSIFICATIONS, SEVERITIES, SEVERITY_LABEL, SOURCES, SOURCE_LABEL, STATUSES, STATUS_LABEL,
  chipList, crown, severityChip, statusChip, tacticLabel, tacticRank, token,
} from './triage.js';

const PAGE = 50;
const DEBOUNCE_MS = 300;
const RANGES = { '24h': 24 * 3600e3, '7d': 7 * 24 * 3600e3, '30d': 30 * 24 * 3600e3 };
const SORTS = ['activity', 'severity', 'alerts'];
/** Multi-valued facets (checkbox groups), with their options and labels. */
const FACETS = {
  status: { options: STATUSES, label: (v) => STATUS_LABEL[v] || v },
  severity: { options: SEVERITIES, label: (v) => SEVERITY_LABEL[v] || v },
  source: { options: SOURCES, label: (v) => SOURCE_LABEL[v] || v },
  classification: {
    options: [...CLASSIFICATIONS.map((c) => c.name), 'none'],
    label: (v) => (v === 'none' ? 'Not classified' : (CLASSIFICATIONS.find((c) => c.name === v) || {}).label || v),
  },
};
const TEXT_FIELDS = ['q', 'cluster'];

const me = (document.querySelector('.user-name') || {}).dataset?.user || '';
const form = document.getElementById('incident-filters');
const table = document.getElementById('incidents-table');
const tbody = table.querySelector('tbody');
const more = document.getElementById('incidents-more');
const count = document.getElementById('incidents-count');
const error = document.getElementById('incidents-error');
const empty = document.getElementById('incidents-empty');

// ------------------------------------------------------------ local time

/** A datetime-local value (local time) -> RFC 3339 UTC, '' when invalid. */
export function localToUtc(value) {
  if (!value) return '';
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

/** RFC 3339 -> a datetime-local value in local time. */
export function utcToLocal(iso) {
  const d = new Date(iso);
  if (!iso || Number.isNaN(d.getTime())) return '';
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

// ------------------------------------------------------------ filters <-> URL

/** The filters as a plain object of strings (only those set). */
function filtersFromUrl(search = window.location.search) {
  const q = new URLSearchParams(search);
  const f = {};
  for (const [k, facet] of Object.entries(FACETS)) {
    const vals = (q.get(k) || '').split(',').filter((v) => facet.options.includes(v) || /^[a-z0-9_-]+$/.test(v));
    if (vals.length) f[k] = vals.join(',');
  }
  for (const k of [...TEXT_FIELDS, 'assignee']) if (q.get(k)) f[k] = q.get(k);
  const range = q.get('range');
  if (range && (RANGES[range] || range === 'custom')) f.range = range;
  if (f.range === 'custom') {
    for (const k of ['since', 'until']) if (q.get(k)) f[k] = q.get(k);
  }
  if (SORTS.includes(q.get('sort')) && q.get('sort') !== 'activity') f.sort = q.get('sort');
  return f;
}

function filtersFromForm() {
  const f = {};
  for (const k of Object.keys(FACETS)) {
    const vals = [...form.querySelectorAll(`fieldset[data-facet="${k}"] input:checked`)].map((b) => b.value);
    if (vals.length) f[k] = vals.join(',');
  }
  for (const k of TEXT_FIELDS) {
    const v = form.elements[k].value.trim();
    if (v) f[k] = v;
  }
  if (form.elements.assignee.value) f.assignee = form.elements.assignee.value;
  const range = form.elements.range.value;
  if (range) f.range = range;
  if (range === 'custom') {
    for (const k of ['since', 'until']) {
      const v = localToUtc(form.elements[k].value);
      if (v) f[k] = v;
    }
  }
  if (form.elements.sort.value !== 'activity') f.sort = form.elements.sort.value;
  return f;
}

function fillForm(f) {
  for (const k of Object.keys(FACETS)) {
    const on = new Set((f[k] || '').split(',').filter(Boolean));
    for (const b of form.querySelectorAll(`fieldset[data-facet="${k}"] input`)) b.checked = on.has(b.value);
  }
  for (const k of TEXT_FIELDS) form.elements[k].value = f[k] || '';
  ensureAssigneeOption(f.assignee || '');
  form.elements.assignee.value = f.assignee || '';
  form.elements.range.value = f.range || '';
  form.elements.since.value = utcToLocal(f.since);
  form.elements.until.value = utcToLocal(f.until);
  form.elements.sort.value = f.sort || 'activity';
  showCustomRange();
}

function showCustomRange() {
  const custom = form.elements.range.value === 'custom';
  for (const l of form.querySelectorAll('.range-custom')) l.hidden = !custom;
}

/** The API query for filters `f` (time presets become `since`). */
export function apiQuery(f, now = Date.now()) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) {
    if (k === 'range' || k === 'since' || k === 'until') continue;
    q.set(k, v);
  }
  if (f.range && RANGES[f.range]) q.set('since', new Date(now - RANGES[f.range]).toISOString());
  if (f.range === 'custom') {
    if (f.since) q.set('since', f.since);
    if (f.until) q.set('until', f.until);
  }
  if (!q.has('sort')) q.set('sort', 'activity');
  return q;
}

function urlQuery(f) {
  const q = new URLSearchParams(f);
  if (view.limit !== PAGE) q.set('limit', String(view.limit));
  const s = q.toString();
  return s ? `?${s}` : window.location.pathname;
}

/** The page size: `limit` from the URL (1..200), else PAGE. Kept across filter changes. */
function limitFromUrl() {
  const v = new URLSearchParams(window.location.search).get('limit');
  const n = /^\d{1,3}$/.test(v || '') ? Number(v) : 0;
  return n >= 1 && n <= 200 ? n : PAGE;
}

function hasFilters(f) {
  return Object.keys(f).some((k) => k !== 'sort');
}

// ------------------------------------------------------------ facets

/** "12", or "1000+" when the server only knows a lower bound. */
function countText(n, exact) {
  if (typeof n !== 'number') return '0';
  return exact ? String(n) : `${n}+`;
}

function buildFacets() {
  for (const [k, facet] of Object.entries(FACETS)) {
    const set = form.querySelector(`fieldset[data-facet="${k}"]`);
    for (const v of facet.options) addFacetOption(set, k, v, facet.label(v));
  }
}

function addFacetOption(set, facet, value, label) {
  const id = `facet-${facet}-${token(value)}`;
  const box = el('input', { type: 'checkbox', name: `facet-${facet}`, value, id, 'data-testid': id });
  const lab = el('label', { for: id, class: `check facet-option facet-${facet}-${token(value)}` }, box,
    el('span', { class: 'facet-label', text: label }), ' ',
    el('span', { class: 'facet-count', 'data-count-for': value, text: '' }));
  set.append(lab);
  return lab;
}

/** Shows each facet option's count from the API's `counts`. */
function showCounts(counts, exact) {
  if (!counts) return;
  for (const [k, facet] of Object.entries(FACETS)) {
    const set = form.querySelector(`fieldset[data-facet="${k}"]`);
    const c = counts[k] || {};
    // Values the server knows that this page does not (a new source): add them.
    for (const v of Object.keys(c)) {
      if (v && !set.querySelector(`input[value="${CSS.escape(v)}"]`)) addFacetOption(set, k, v, facet.label(v));
    }
    for (const span of set.querySelectorAll('.facet-count')) {
      const v = span.dataset.countFor;
      span.textContent = `(${countText(c[v] || 0, exact)})`;
      span.closest('label').classList.toggle('facet-zero', !c[v]);
    }
  }
  fillAssignees(counts.assignee || {}, exact);
}

function ensureAssigneeOption(value) {
  const sel = form.elements.assignee;
  if (value && ![...sel.options].some((o) => o.value === value)) {
    sel.append(el('option', { value, text: value }));
  }
}

/** Assignee select: Anyone, Me, Unassigned, then everyone with incidents. */
function fillAssignees(c, exact) {
  const sel = form.elements.assignee;
  const keep = sel.value;
  const n = (v) => (c ? ` (${countText(c[v] || 0, exact)})` : '');
  const opts = [
    el('option', { value: '', text: 'Anyone' }),
    el('option', { value: 'me', text: `Me${me ? n(me) : ''}`, 'data-testid': 'assignee-me' }),
    el('option', { value: 'unassigned', text: `Unassigned${n('')}`, 'data-testid': 'assignee-unassigned' }),
  ];
  for (const name of Object.keys(c || {}).filter((v) => v).sort()) {
    opts.push(el('option', { value: name, text: `${name}${n(name)}` }));
  }
  sel.replaceChildren(...opts);
  ensureAssigneeOption(keep);
  sel.value = keep;
}

// ------------------------------------------------------------ rows

function incidentRow(inc) {
  const title = el('td', { class: 'incident-title-cell' },
    el('div', { class: 'cell-inline' },
      inc.high_impact ? crown('High impact') : null,
      el('a', { href: `/incidents/${encodeURIComponent(inc.id)}`, class: 'cell-title', 'data-testid': 'incident-link', text: inc.title || `Incident ${inc.id}` })),
    el('span', { class: 'cell-sub', text: `#${inc.id}${(inc.clusters || []).length ? ` · ${inc.clusters.join(', ')}` : ''}` }),
    (inc.tags || []).length ? chipList(inc.tags, (t) => t, 'chip-list tag-chips') : null);
  const tactics = [...(inc.tactics || [])].sort((a, b) => tacticRank(a) - tacticRank(b));
  const tr = row(
    severityChip(inc.severity),
    title,
    statusChip(inc.status),
    tactics.length ? chipList(tactics, tacticLabel) : el('span', { class: 'muted', text: '–' }),
    el('span', { class: 'num', text: String(inc.alert_count ?? 0) }),
    el('span', { class: 'num', text: String(inc.entity_count ?? 0) }),
    chipList(inc.sources, (s) => SOURCE_LABEL[s] || s),
    inc.assignee ? el('span', { text: inc.assignee }) : el('span', { class: 'muted', text: 'Unassigned' }),
    timeEl(inc.last_activity, { none: '–' }),
  );
  tr.dataset.testid = 'incident-row';
  tr.dataset.id = String(inc.id);
  tr.dataset.severity = inc.severity;
  tr.classList.add('incident-row', `sev-row-${token(inc.severity)}`);
  if (inc.status === 'resolved') tr.classList.add('row-resolved');
  return tr;
}

// ------------------------------------------------------------ loading

const view = { filters: {}, cursor: null, shown: 0, seq: 0, loading: false, limit: PAGE };

async function load({ append }) {
  if (append && view.loading) return;
  const seq = ++view.seq; // a newer fresh load wins over an older one
  view.loading = true;
  more.disabled = true;
  table.setAttribute('aria-busy', 'true');
  showError(error, '');
  const q = apiQuery(view.filters);
  q.set('limit', String(view.limit));
  if (append && view.cursor) q.set('cursor', view.cursor);
  try {
    const page = await api('GET', `/api/v1/incidents?${q}`);
    if (seq !== view.seq) return;
    const rows = (page.items || []).map(incidentRow);
    if (append) tbody.append(...rows);
    else fillBody(tbody, rows, 'No incidents');
    view.shown = (append ? view.shown : 0) + rows.length;
    view.cursor = page.next_cursor || null;
    more.hidden = !view.cursor;
    const none = view.shown === 0;
    table.hidden = none;
    empty.hidden = !none;
    document.getElementById('incidents-empty-none').hidden = hasFilters(view.filters);
    document.getElementById('incidents-empty-filtered').hidden = !hasFilters(view.filters);
    count.textContent = none ? '' : `${view.shown} incident${view.shown === 1 ? '' : 's'} shown${view.cursor ? ', more available' : ''}`;
    if (!append) showCounts(page.counts, page.counts_exact !== false);
  } catch (e) {
    if (seq === view.seq && !handleSignedOut(e)) showError(error, errorText(e));
  } finally {
    if (seq === view.seq) {
      view.loading = false;
      more.disabled = false;
      table.removeAttribute('aria-busy');
    }
  }
}

/**
 * Applies the form's filters: a new history entry (so Back returns to the
 * previous queue), or a replaced one while the user keeps typing a search.
 */
let lastPushWasTyping = false;
function apply({ typing = false } = {}) {
  const f = filtersFromForm();
  if (f.since && f.until && f.since > f.until) {
    showError(error, '"From" is after "To".');
    return;
  }
  const url = urlQuery(f);
  const same = url === urlQuery(view.filters);
  view.filters = f;
  view.cursor = null;
  if (!same) {
    if (typing && lastPushWasTyping) window.history.replaceState(null, '', url);
    else window.history.pushState(null, '', url);
  }
  lastPushWasTyping = typing;
  load({ append: false });
}

function clearFilters() {
  fillForm({ sort: form.elements.sort.value === 'activity' ? undefined : form.elements.sort.value });
  apply();
  form.elements.q.focus();
}

// ------------------------------------------------------------ wiring

buildFacets();
fillAssignees(null, true);
let debounce = null;
form.addEventListener('input', (ev) => {
  const t = ev.target;
  if (t.name === 'q' || t.name === 'cluster') {
    clearTimeout(debounce);
    debounce = setTimeout(() => apply({ typing: true }), DEBOUNCE_MS);
  }
});
form.addEventListener('change', (ev) => {
  const t = ev.target;
  if (t.name === 'q' || t.name === 'cluster') return; // the debounced input handles these
  if (t.name === 'range') {
    showCustomRange();
    if (t.value === 'custom') {
      form.elements.since.focus();
      return; // wait for a date
    }
  }
  apply();
});
form.addEventListener('keydown', (ev) => {
  // Enter in the search or cluster box: search now, not after the pause.
  if (ev.key === 'Enter' && (ev.target.name === 'q' || ev.target.name === 'cluster')) {
    ev.preventDefault();
    clearTimeout(debounce);
    apply();
  }
});
form.addEventListener('submit', (ev) => {
  // Enter in the search box: search now.
  ev.preventDefault();
  clearTimeout(debounce);
  apply();
});
document.getElementById('filters-clear').addEventListener('click', clearFilters);
document.getElementById('empty-clear').addEventListener('click', clearFilters);
more.addEventListener('click', () => load({ append: true }));
window.addEventListener('popstate', () => {
  clearTimeout(debounce);
  lastPushWasTyping = false;
  view.limit = limitFromUrl();
  view.filters = filtersFromUrl();
  fillForm(view.filters);
  view.cursor = null;
  load({ append: false });
});

view.limit = limitFromUrl();
view.filters = filtersFromUrl();
fillForm(view.filters);
load({ append: false });
