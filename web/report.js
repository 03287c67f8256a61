// Incident report: the server's narrative of an incident rendered as a
// readable, printable document (summary, one section per MITRE tactic in
// kill-chain order, entities, suggested responses).
import { api } from './api.js';
import { el, errorText, fillBody, handleSignedOut, row, showError, timeEl } from './ui.js';
import {
  STATUS_LABEL, classificationLabel, crown, pageId, safeHref, severityChip, tacticKey, token,
} from './triage.js';

const $ = (id) => document.getElementById(id);
const incidentId = pageId('report-page', 'data-incident-id', /^\/incidents\/(\d+)\/report/);

function meta(dl, label, node) {
  dl.append(el('dt', { text: label }), el('dd', {}, typeof node === 'string' ? el('span', { text: node }) : node));
}

function renderSection(s, i) {
  const hid = `report-sec-${i}-h`;
  const alerts = el('ol', { class: 'report-alerts' }, ...(s.alerts || []).map((a) => el('li', {
    class: `report-alert sev-border-${token(a.severity)}`, 'data-testid': 'report-alert',
  },
  a.time || a.first_activity ? timeEl(a.time || a.first_activity, { seconds: true }) : null, ' ',
  severityChip(a.severity), ' ',
  el('a', { href: `/alerts/${encodeURIComponent(a.id)}`, text: a.title || `Alert ${a.id}` }),
  a.technique ? el('code', { class: 'ev-code report-technique', text: a.technique }) : null)));
  return el('section', {
    class: 'report-tactic', 'data-testid': 'report-section', 'data-tactic': tacticKey(s.tactic), 'aria-labelledby': hid,
  },
  el('h3', { id: hid, text: s.label || s.tactic || 'Other activity' }),
  s.text ? el('p', { text: s.text }) : null,
  (s.alerts || []).length ? alerts : null);
}

function responseItem(r) {
  const href = safeHref(r.href);
  const target = r.target || {};
  const where = [target.cluster, target.namespace, target.pod].filter(Boolean).join(' / ');
  const label = r.label || `${r.type} ${target.pod || ''}`.trim();
  return el('li', { class: `report-response rt-${token(r.type)}`, 'data-testid': 'report-response', 'data-type': r.type || '' },
    href ? el('a', { href, text: label }) : el('span', { text: label }),
    where ? el('span', { class: 'cell-sub', text: where }) : null);
}

function render(rep) {
  const inc = rep.incident || {};
  const title = inc.title || `Incident ${incidentId}`;
  $('report-title').textContent = title;
  document.title = `Report: ${title} · Stockade`;
  const dl = $('report-meta');
  dl.replaceChildren();
  meta(dl, 'Incident', el('a', { href: `/incidents/${incidentId}`, text: `#${incidentId}` }));
  meta(dl, 'Severity', el('span', {}, severityChip(inc.severity),
    inc.high_impact ? el('span', { class: 'high-impact' }, ' ', crown('High impact'), ' High impact') : null));
  meta(dl, 'Status', STATUS_LABEL[inc.status] || inc.status || '–');
  meta(dl, 'Classification', classificationLabel(inc.classification, inc.determination) || 'Not classified');
  meta(dl, 'Assigned to', inc.assignee || 'nobody');
  meta(dl, 'Clusters', (inc.clusters || []).join(', ') || '–');
  meta(dl, 'Activity', el('span', {}, timeEl(inc.first_activity, { none: '–' }), ' – ', timeEl(inc.last_activity, { none: '–' })));
  meta(dl, 'Alerts', String(inc.alert_count ?? '–'));
  if (rep.generated_at) meta(dl, 'Generated', timeEl(rep.generated_at, { seconds: true }));

  $('report-summary-text').textContent = rep.summary || 'No summary.';

  const sections = rep.sections || [];
  $('report-sections').replaceChildren(...(sections.length
    ? sections.map(renderSection)
    : [el('p', { class: 'muted', text: 'No alerts to report.' })]));

  const tbody = document.querySelector('#report-entities-table tbody');
  fillBody(tbody, (rep.entities || []).map((e) => {
    const tr = row(
      el('span', { class: `kind-label kind-${token(e.kind)}`, text: e.kind || 'entity' }),
      el('span', { class: 'cell-title', text: e.name || e.key || '' }),
      el('code', { class: 'ev-code', text: e.key || '' }),
      e.critical ? el('span', { class: 'critical-mark' }, crown('Critical asset'), ' Critical') : el('span', { class: 'muted', text: '–' }),
    );
    tr.dataset.testid = 'report-entity';
    return tr;
  }), 'No entities');

  const responses = rep.responses || [];
  $('report-response-list').replaceChildren(...(responses.length
    ? responses.map(responseItem)
    : [el('li', { class: 'muted', text: 'No response suggested.' })]));
  $('report').removeAttribute('aria-busy');
}

async function start() {
  const error = $('report-error');
  $('report-print').addEventListener('click', () => window.print());
  if (incidentId === null) {
    showError(error, 'No incident id in the address.');
    return;
  }
  try {
    render(await api('GET', `/api/v1/incidents/${incidentId}/report`));
  } catch (e) {
    if (!handleSignedOut(e)) showError(error, errorText(e));
  }
}

start();
