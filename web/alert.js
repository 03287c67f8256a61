// Alert page: one alert with its facts, entities and all its evidence,
// and the way back to its incident.
import { api } from './api.js';
import { el, errorText, handleSignedOut, showError, timeEl } from './ui.js';
import {
  SOURCE_LABEL, entityList, pageId, renderEvidence, severityChip, tacticLabel,
} from './triage.js';

const $ = (id) => document.getElementById(id);
const host = $('alert-page');
const fromPath = /^\/alerts\/([^/]+)/.exec(window.location.pathname);
// Alert ids are idempotency keys: numeric ids come from the template, any
// other id from the address.
const alertId = pageId('alert-page', 'data-alert-id', /^\/alerts\/(\d+)/) ??
  (fromPath ? decodeURIComponent(fromPath[1]) : null);

function fact(dl, label, node) {
  dl.append(el('dt', { text: label }), el('dd', {}, typeof node === 'string' ? el('span', { text: node }) : node));
}

function render(a) {
  const title = a.title || a.rule || `Alert ${a.id}`;
  $('alert-title').textContent = title;
  $('alert-crumb').textContent = `Alert ${a.id}`;
  document.title = `${title} · Stockade`;
  $('alert-badges').replaceChildren(...[
    el('span', { 'data-testid': 'alert-severity' }, severityChip(a.severity)),
    a.tactic ? el('span', { class: 'head-fact', text: tacticLabel(a.tactic) }) : null,
    a.technique ? el('code', { class: 'head-fact ev-code', text: a.technique }) : null,
  ].filter(Boolean));
  const inc = a.incident_id !== null && a.incident_id !== undefined && /^\d+$/.test(String(a.incident_id))
    ? Number(a.incident_id) : null;
  const link = $('alert-incident-link');
  const crumb = $('alert-incident-crumb');
  if (inc !== null) {
    link.href = `/incidents/${inc}`;
    link.textContent = `Back to incident #${inc}`;
    link.hidden = false;
    crumb.href = `/incidents/${inc}`;
    crumb.textContent = `Incident #${inc}`;
  } else {
    crumb.replaceWith(el('span', { text: 'No incident' }));
  }
  $('alert-description').textContent = a.description || '';
  $('alert-description').hidden = !a.description;
  const dl = $('alert-facts');
  dl.replaceChildren();
  if (a.provider) fact(dl, 'Source', SOURCE_LABEL[a.provider] || a.provider);
  if (a.rule) fact(dl, 'Rule', el('code', { class: 'ev-code', text: a.rule }));
  fact(dl, 'Tactic', a.tactic ? tacticLabel(a.tactic) : el('span', { class: 'muted', text: '–' }));
  if (a.technique) fact(dl, 'Technique', el('code', { class: 'ev-code', text: a.technique }));
  if (a.cluster) fact(dl, 'Cluster', a.cluster);
  fact(dl, 'First activity', timeEl(a.first_activity, { seconds: true, none: '–' }));
  fact(dl, 'Last activity', timeEl(a.last_activity, { seconds: true, none: '–' }));
  fact(dl, 'Alert id', el('code', { class: 'ev-code', text: String(a.id) }));
  if (a.pinned) fact(dl, 'Pinned', 'yes');
  $('alert-entity-list').replaceChildren((a.entities || []).length
    ? entityList(a.entities)
    : el('p', { class: 'muted', text: 'No entities recorded for this alert.' }));
  $('alert-evidence-body').replaceChildren(...renderEvidence(a, { headingLevel: 'h3' }));
  $('alert-body').hidden = false;
  document.querySelector('.incident-head').removeAttribute('aria-busy');
}

async function start() {
  const error = $('alert-error');
  if (alertId === null || !host) {
    showError(error, 'No alert id in the address.');
    return;
  }
  try {
    render(await api('GET', `/api/v1/alerts/${encodeURIComponent(alertId)}`));
  } catch (e) {
    if (!handleSignedOut(e)) showError(error, errorText(e));
  }
}

start();
