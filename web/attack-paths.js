// Attack paths: the list (/attack-paths: risk, entry point, target, steps;
// filters by risk and by an entity in the URL, as the API takes them) and
// one path (/attack-paths/{id}): the chain drawn left to right as SVG built
// here with createElementNS and textContent, then each step's risk factors
// and remediation as the API gives them (docs/inventory.md, "Attack paths").
// Everything from the API goes into the page as text.
import { api, applyPermissionGates } from './api.js';
import { el, errorText, fillBody, handleSignedOut, row, showError, timeEl } from './ui.js';
import { crown, humanize, pageId, token } from './triage.js';
import { kindLabel, riskChip } from './entity-pane.js';

const $ = (id) => document.getElementById(id);
const RISKS = ['critical', 'high', 'medium', 'low'];
const PAGE_SIZE = 50;

const hopsText = (n) => `${n} ${n === 1 ? 'hop' : 'hops'}`;
const factorsText = (n) => `${n} risk ${n === 1 ? 'factor' : 'factors'}`;

function failed(box, e) {
  if (handleSignedOut(e)) return;
  showError(box, errorText(e));
}

/** "pod web-1" with the kind as a small label; the crown on critical assets. */
function endpoint(ent, testid) {
  if (!ent) return el('span', { class: 'muted', text: '–' });
  return el('span', { class: 'path-endpoint', 'data-testid': testid, title: ent.key || '' },
    el('span', { class: `kind-label kind-${token(ent.kind)}`, text: ent.label || ent.kind || 'entity' }),
    el('span', { class: 'entity-name', text: ent.name || ent.key || `#${ent.id}` }),
    ent.critical ? crown('Critical asset') : null);
}

// ------------------------------------------------------------ the list

const list = {
  cursor: null,
  items: [],
  seq: 0,
};

/** The API query for the page's URL: risk, entity, target, entry. */
function listQuery(search = window.location.search) {
  const from = new URLSearchParams(search);
  const q = new URLSearchParams();
  const risks = (from.get('risk') || '').split(',').filter((r) => RISKS.includes(r));
  if (risks.length) q.set('risk', risks.join(','));
  for (const k of ['entity', 'target', 'entry']) {
    const v = from.get(k);
    if (v) q.set(k, v);
  }
  return q;
}

/** The name of entity `ref` (an id or key) as the paths on the page show it. */
function nameIn(items, ref) {
  for (const p of items) {
    for (const s of p.steps || []) {
      const e = s.entity || {};
      if (String(e.id) === ref || e.key === ref) return `${e.label || e.kind} ${e.name || e.key}`;
    }
  }
  return /^\d+$/.test(ref) ? `entity #${ref}` : ref;
}

function renderFilterNote(q) {
  const note = $('paths-filter-note');
  const what = [['entity', 'through'], ['entry', 'from'], ['target', 'to']].filter(([k]) => q.get(k));
  if (what.length === 0) {
    note.hidden = true;
    return;
  }
  const text = what.map(([k, word]) => `${word} ${nameIn(list.items, q.get(k))}`).join(', ');
  note.replaceChildren(el('span', { text: `Showing the paths ${text}. ` }),
    el('a', { href: '/attack-paths', text: 'Show every path' }));
  note.hidden = false;
}

function pathRow(p) {
  const steps = (p.steps || []).length || (Number(p.hops) || 0) + 1;
  const tr = row(
    riskChip(p.risk),
    el('td', { class: 'incident-title-cell' },
      el('a', {
        class: 'cell-title', href: `/attack-paths/${encodeURIComponent(p.id)}`, 'data-testid': 'path-link',
        text: p.title || `Attack path ${p.id}`,
      })),
    endpoint(p.entry, 'path-entry'),
    endpoint(p.target, 'path-target'),
    el('span', {
      class: 'num', 'data-testid': 'path-steps-count', title: hopsText(p.hops), text: String(steps),
    }),
    timeEl(p.computed_at, { none: '–' }),
  );
  tr.dataset.testid = 'path-row';
  tr.dataset.id = String(p.id);
  tr.dataset.risk = p.risk || '';
  return tr;
}

async function loadList({ more = false } = {}) {
  const mine = ++list.seq;
  const q = listQuery();
  q.set('limit', String(PAGE_SIZE));
  if (more && list.cursor) q.set('cursor', list.cursor);
  const table = $('paths-table');
  table.setAttribute('aria-busy', 'true');
  try {
    const data = await api('GET', `/api/v1/attack-paths?${q}`);
    if (mine !== list.seq) return;
    showError($('paths-error'), '');
    list.items = more ? [...list.items, ...(data.items || [])] : (data.items || []);
    list.cursor = data.next_cursor || null;
    const tbody = table.querySelector('tbody');
    fillBody(tbody, list.items.map(pathRow), 'No attack paths match these filters.');
    for (const r of RISKS) {
      const n = Number(data.counts?.[r]) || 0;
      const span = document.querySelector(`[data-count="${r}"]`);
      if (span) span.textContent = `(${n})`;
    }
    const total = RISKS.reduce((n, r) => n + (Number(data.counts?.[r]) || 0), 0);
    $('paths-count').textContent = `${list.items.length} of ${total} ${total === 1 ? 'path' : 'paths'}`;
    $('paths-more').hidden = !list.cursor;
    const unfiltered = [...listQuery().keys()].length === 0;
    $('paths-empty').hidden = !(unfiltered && total === 0);
    table.closest('.table-scroll').hidden = unfiltered && total === 0;
    renderFilterNote(listQuery());
  } catch (e) {
    if (mine === list.seq) failed($('paths-error'), e);
  } finally {
    if (mine === list.seq) table.removeAttribute('aria-busy');
  }
}

function syncFilterForm() {
  const risks = new Set((new URLSearchParams(window.location.search).get('risk') || '').split(','));
  for (const box of document.querySelectorAll('#paths-filters input[name="risk"]')) {
    box.checked = risks.has(box.value);
  }
}

function startList() {
  syncFilterForm();
  $('paths-filters').addEventListener('change', () => {
    const url = new URL(window.location.href);
    const risks = [...document.querySelectorAll('#paths-filters input[name="risk"]:checked')]
      .map((b) => b.value);
    if (risks.length) url.searchParams.set('risk', risks.join(','));
    else url.searchParams.delete('risk');
    window.history.pushState(null, '', url);
    loadList();
  });
  $('paths-filters').addEventListener('submit', (ev) => ev.preventDefault());
  window.addEventListener('popstate', () => {
    syncFilterForm();
    loadList();
  });
  $('paths-more').addEventListener('click', () => loadList({ more: true }));
  const recompute = $('paths-recompute');
  recompute.addEventListener('click', async () => {
    const status = $('paths-recompute-status');
    status.textContent = 'Recomputing…';
    recompute.disabled = true;
    try {
      const r = await api('POST', '/api/v1/attack-paths/recompute');
      const a = (r && r.attack_paths) || {};
      status.textContent = `Done: ${a.paths ?? 0} paths from ${a.entry_points ?? 0} entry points.`;
      await loadList();
    } catch (e) {
      status.textContent = '';
      failed($('paths-error'), e);
    } finally {
      recompute.disabled = false;
      applyPermissionGates(recompute.parentElement);
    }
  });
  loadList();
}

// ------------------------------------------------------------ one path

const SVG_NS = 'http://www.w3.org/2000/svg';
const CHAIN = { pad: 90, gap: 230, r: 22, cy: 62, h: 150, label: 26 };

function svgEl(tag, attrs = {}, text) {
  const n = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
  if (text !== undefined) n.textContent = text;
  return n;
}

/** `s` cut to `max` characters (by code point) with an ellipsis. */
function cut(s, max) {
  const chars = [...String(s)];
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : chars.join('');
}

const DARK_KINDS = new Set([
  'cluster', 'namespace', 'node', 'pod', 'container', 'deployment', 'image', 'registry',
]);
const KIND_ICONS = new Set([...DARK_KINDS, 'service', 'identity', 'ip', 'cloud-resource']);

/** The path as a left-to-right chain: one disc per step, an arrow per edge. */
function chainSvg(steps) {
  const n = steps.length;
  const w = CHAIN.pad * 2 + Math.max(0, n - 1) * CHAIN.gap;
  const svg = svgEl('svg', {
    class: 'path-chain', viewBox: `0 0 ${w} ${CHAIN.h}`, width: w, height: CHAIN.h, role: 'group',
    'aria-label': `Attack path of ${n} steps`, 'font-family': 'system-ui, sans-serif', 'font-size': 12,
    fill: '#1b2430',
  });
  const defs = svgEl('defs');
  const marker = svgEl('marker', {
    id: 'chain-arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 8, markerHeight: 8,
    orient: 'auto-start-reverse',
  });
  marker.append(svgEl('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#8a96a6' }));
  defs.append(marker);
  svg.append(defs);
  const x = (i) => CHAIN.pad + i * CHAIN.gap;
  for (let i = 1; i < n; i++) {
    const edge = steps[i].edge || {};
    const g = svgEl('g', { class: 'step-edge-line', 'data-edge': edge.kind || '' });
    g.append(svgEl('line', {
      x1: x(i - 1) + CHAIN.r + 4, y1: CHAIN.cy, x2: x(i) - CHAIN.r - 6, y2: CHAIN.cy,
      stroke: '#8a96a6', 'stroke-width': 1.6, 'marker-end': 'url(#chain-arrow)',
    }));
    g.append(svgEl('text', {
      x: (x(i - 1) + x(i)) / 2, y: CHAIN.cy - 8, 'text-anchor': 'middle', 'font-size': 11, fill: '#4a5565',
    }, edge.kind || ''));
    svg.append(g);
  }
  steps.forEach((s, i) => {
    const e = s.entity || {};
    const factors = (s.risk_factors || []).length;
    const name = e.name || e.key || `#${e.id}`;
    const where = i === 0 ? 'entry point' : i === n - 1 ? 'target' : `step ${i + 1}`;
    const g = svgEl('g', {
      class: `step-node kind-${token(e.kind)}${e.critical ? ' critical' : ''}`, 'data-step': i + 1,
      tabindex: 0, role: 'link', 'data-testid': 'chain-node',
      'aria-label': `${where}: ${e.label || e.kind} ${name}, ${factorsText(factors)}`,
    });
    g.append(svgEl('title', {}, `${e.label || e.kind} ${name}\n${e.key || ''}`));
    const dark = DARK_KINDS.has(e.kind);
    g.append(svgEl('circle', {
      class: 'disc', cx: x(i), cy: CHAIN.cy, r: CHAIN.r, fill: dark ? '#1e2b3c' : '#ffffff',
      stroke: factors ? '#c62828' : dark ? '#0b121b' : '#7a8899', 'stroke-width': factors ? 3 : 1.5,
    }));
    if (KIND_ICONS.has(e.kind)) {
      g.append(svgEl('image', {
        href: `/static/icons/kind-${e.kind}.svg`, x: x(i) - 11, y: CHAIN.cy - 11, width: 22, height: 22,
      }));
    }
    if (e.critical) {
      g.append(svgEl('path', {
        class: 'crown', transform: `translate(${x(i) + 6},${CHAIN.cy - 40}) scale(0.62)`,
        d: 'M3 8l4.5 4L12 5l4.5 7L21 8l-2 11H5z', fill: '#f2b01e', stroke: '#8a5a00', 'stroke-width': 1.5,
      }));
    }
    g.append(svgEl('text', { x: x(i), y: CHAIN.cy + CHAIN.r + 18, 'text-anchor': 'middle', 'font-weight': 600 },
      cut(name, CHAIN.label)));
    g.append(svgEl('text', {
      x: x(i), y: CHAIN.cy + CHAIN.r + 34, 'text-anchor': 'middle', fill: '#5b6675', 'font-size': 11,
    }, cut(`${e.label || e.kind}${factors ? ` · ${factorsText(factors)}` : ''}`, 34)));
    svg.append(g);
  });
  return svg;
}

function edgeText(s, prev) {
  if (!s.edge) return null;
  const props = s.edge.properties && typeof s.edge.properties === 'object' ? s.edge.properties : {};
  const extra = Object.entries(props)
    .filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `${humanize(k).toLowerCase()}: ${typeof v === 'object' ? JSON.stringify(v) : v}`);
  const from = prev ? (prev.entity || {}).name || (prev.entity || {}).key : 'the previous step';
  return el('p', { class: 'step-edge', 'data-testid': 'step-edge' },
    el('span', { text: 'Reached from ' }), el('strong', { text: from }), el('span', { text: ' by ' }),
    el('code', { class: 'ev-code', text: s.edge.kind || '' }),
    extra.length ? el('span', { text: ` (${extra.join('; ')})` }) : null);
}

function stepItem(s, i, steps) {
  const e = s.entity || {};
  const n = steps.length;
  const factors = s.risk_factors || [];
  const role = i === 0 ? 'Entry point' : i === n - 1 ? 'Target' : null;
  return el('li', {
    class: 'path-step', id: `step-${i + 1}`, tabindex: '-1', 'data-testid': 'path-step',
    'data-entity-id': String(e.id ?? ''),
  },
    el('h3', {},
      el('span', { class: 'step-number', text: `${i + 1}.` }),
      el('span', { class: `kind-label kind-${token(e.kind)}`, text: e.label || kindLabel(e.kind) }),
      el('span', { class: 'entity-name', text: e.name || e.key || `#${e.id}` }),
      e.critical ? el('span', { class: 'critical-mark' }, crown('Critical asset'), ' Critical asset') : null,
      role ? el('span', { class: 'badge', text: role }) : null),
    el('p', { class: 'cell-sub' }, el('code', { class: 'ev-code', text: e.key || '' })),
    edgeText(s, steps[i - 1]),
    factors.length
      ? el('ul', { class: 'risk-factors', 'aria-label': 'Risk factors' }, ...factors.map((f) => el('li', {
        'data-testid': 'risk-factor', 'data-code': f.code || '',
      }, el('span', { text: f.text || f.code || '' }),
      el('code', { class: 'risk-code', text: f.code || '' }))))
      : el('p', { class: 'muted', text: 'No risk factor on this step.' }),
    s.remediation
      ? el('div', { class: 'remediation', 'data-testid': 'remediation' },
        el('strong', { text: 'Remediation' }), el('p', { text: s.remediation }))
      : null);
}

/** Moves to step `n`'s details (from the chain). */
function goToStep(n) {
  const li = $(`step-${n}`);
  if (!li) return;
  li.scrollIntoView({ block: 'center', behavior: 'smooth' });
  li.focus({ preventScroll: true });
  li.classList.add('flash');
  setTimeout(() => li.classList.remove('flash'), 1500);
  window.history.replaceState(null, '', `#step-${n}`);
}

function renderPath(p) {
  const steps = p.steps || [];
  const title = p.title || `Attack path ${p.id}`;
  $('path-title').textContent = title;
  $('path-crumb').textContent = `Path #${p.id}`;
  document.title = `${title} · Stockade`;
  $('path-risk').replaceChildren(riskChip(p.risk));
  $('path-facts').replaceChildren(
    `risk score ${p.score ?? '–'} · ${steps.length} steps (${hopsText(p.hops)}) · updated `,
    timeEl(p.computed_at, { none: 'never' }));
  document.querySelector('.path-head').removeAttribute('aria-busy');
  const chain = chainSvg(steps);
  $('path-chain').replaceChildren(chain);
  $('path-steps').replaceChildren(...steps.map(stepItem));
  const pick = (ev) => {
    const g = ev.target.closest && ev.target.closest('g.step-node');
    if (g) goToStep(Number(g.dataset.step));
    return Boolean(g);
  };
  chain.addEventListener('click', pick);
  chain.addEventListener('keydown', (ev) => {
    if ((ev.key === 'Enter' || ev.key === ' ') && pick(ev)) ev.preventDefault();
  });
  const m = /^#step-(\d+)$/.exec(window.location.hash);
  if (m) goToStep(Number(m[1]));
}

async function startPath() {
  const id = pageId('path-page', 'data-path-id', /^\/attack-paths\/(\d+)/);
  if (id === null) {
    showError($('path-error'), 'No attack path id in the address.');
    return;
  }
  try {
    renderPath(await api('GET', `/api/v1/attack-paths/${id}`));
  } catch (e) {
    if (e && e.status === 404) {
      showError($('path-error'),
        'This attack path no longer exists: the inventory changed and it was recomputed away.');
      for (const s of document.querySelectorAll('#path-chain-panel, #path-steps-panel')) s.hidden = true;
      return;
    }
    failed($('path-error'), e);
  }
}

if ($('path-page')) startPath();
else if ($('paths-page')) startList();
