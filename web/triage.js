// Shared pieces of the incident queue, incident, alert and report pages:
// display names of the domain's fixed vocabularies (SPEC 3 and 4), MITRE
// tactics in kill-chain order, severity/status chips, the high-impact
// crown, and the generic evidence renderer. Everything the API returns is
// put into the page as text only.
import { el } from './ui.js';

export const SEVERITIES = ['high', 'medium', 'low', 'informational'];
export const SEVERITY_LABEL = { high: 'High', medium: 'Medium', low: 'Low', informational: 'Informational' };
const SEVERITY_RANK = { informational: 0, low: 1, medium: 2, high: 3 };

export const STATUSES = ['active', 'in_progress', 'resolved'];
export const STATUS_LABEL = { active: 'Active', in_progress: 'In progress', resolved: 'Resolved' };

export const SOURCES = ['falco', 'k8s-audit', 'stockade-rules', 'api'];
export const SOURCE_LABEL = {
  falco: 'Falco', 'k8s-audit': 'Kubernetes audit', 'stockade-rules': 'Stockade rules', api: 'API',
};

/** SPEC 4, used until (or if) /api/v1/classifications answers. */
export const CLASSIFICATIONS = [
  {
    name: 'true_positive',
    label: 'True positive',
    determinations: [
      { name: 'multi_stage_attack', label: 'Multi-stage attack' },
      { name: 'malicious_user_activity', label: 'Malicious user activity' },
      { name: 'malware', label: 'Malware' },
      { name: 'phishing', label: 'Phishing' },
      { name: 'unwanted_software', label: 'Unwanted software' },
      { name: 'other', label: 'Other' },
    ],
  },
  {
    name: 'informational',
    label: 'Informational, expected activity',
    determinations: [
      { name: 'security_testing', label: 'Security testing' },
      { name: 'line_of_business_application', label: 'Line-of-business application' },
      { name: 'confirmed_activity', label: 'Confirmed activity' },
      { name: 'other', label: 'Other' },
    ],
  },
  {
    name: 'false_positive',
    label: 'False positive',
    determinations: [
      { name: 'not_malicious', label: 'Not malicious' },
      { name: 'not_enough_data_to_validate', label: 'Not enough data to validate' },
      { name: 'other', label: 'Other' },
    ],
  },
];

/** MITRE ATT&CK tactics in kill-chain order (snake_case, as the API names them). */
export const TACTICS = [
  ['reconnaissance', 'Reconnaissance'],
  ['resource_development', 'Resource development'],
  ['initial_access', 'Initial access'],
  ['execution', 'Execution'],
  ['persistence', 'Persistence'],
  ['privilege_escalation', 'Privilege escalation'],
  ['defense_evasion', 'Defense evasion'],
  ['credential_access', 'Credential access'],
  ['discovery', 'Discovery'],
  ['lateral_movement', 'Lateral movement'],
  ['collection', 'Collection'],
  ['command_and_control', 'Command and control'],
  ['exfiltration', 'Exfiltration'],
  ['impact', 'Impact'],
];
const TACTIC_INDEX = new Map(TACTICS.map(([k], i) => [k, i]));
const TACTIC_LABEL = new Map(TACTICS);

/** "Credential Access", "credential-access" -> "credential_access". */
export function tacticKey(t) {
  return String(t || '').trim().toLowerCase().replace(/[\s-]+/g, '_');
}

export function tacticLabel(t) {
  const k = tacticKey(t);
  if (!k) return 'Other activity';
  return TACTIC_LABEL.get(k) || humanize(k);
}

/** Kill-chain position; unknown tactics after the known ones, none last. */
export function tacticRank(t) {
  const k = tacticKey(t);
  if (!k) return TACTICS.length + 1;
  return TACTIC_INDEX.has(k) ? TACTIC_INDEX.get(k) : TACTICS.length;
}

export function severityRank(s) {
  return SEVERITY_RANK[s] ?? -1;
}

/** A CSS-safe token for a class name ("high", "in_progress"), else "other". */
export function token(v) {
  return /^[a-z0-9_-]{1,40}$/.test(String(v)) ? String(v) : 'other';
}

/** "parent_pid" -> "Parent pid"; a few well-known keys get proper names. */
const KEY_LABEL = {
  cmdline: 'Command line', exepath: 'Executable path', pid: 'PID', ppid: 'Parent PID', uid: 'UID',
  gid: 'GID', ip: 'IP', src_ip: 'Source IP', dst_ip: 'Destination IP', sport: 'Source port',
  dport: 'Destination port', proto: 'Protocol', uri: 'URI', url: 'URL', id: 'ID', sha256: 'SHA-256',
  user_agent: 'User agent', source_ips: 'Source IPs', request_uri: 'Request URI',
};
export function humanize(key) {
  const k = String(key);
  if (KEY_LABEL[k]) return KEY_LABEL[k];
  if (/^[a-z0-9_]+(\.[a-z0-9_\[\]]+)+$/i.test(k)) return k; // "proc.name": a field name, kept as is
  const s = k.replace(/[_.-]+/g, ' ').trim();
  return s ? s[0].toUpperCase() + s.slice(1) : k;
}

export function severityChip(sev) {
  return el('span', {
    class: `sev-chip sev-${token(sev)}`, 'data-severity': sev, text: SEVERITY_LABEL[sev] || sev || 'Unknown',
  });
}

export function statusChip(status) {
  return el('span', {
    class: `status-chip st-${token(status)}`, 'data-status': status, text: STATUS_LABEL[status] || status,
  });
}

/** The high-impact crown (also used for critical entities). */
export function crown(label = 'High impact') {
  return el('img', {
    class: 'crown', src: '/static/icons/crown.svg', alt: label, title: label, width: 16, height: 16,
  });
}

/** Display names of a classification and determination from `list` (the API's or CLASSIFICATIONS). */
export function classificationLabel(cls, det, list = CLASSIFICATIONS) {
  if (!cls) return '';
  const c = list.find((x) => x.name === cls);
  const cl = c ? c.label : humanize(cls);
  if (!det) return cl;
  const d = c && (c.determinations || []).find((x) => x.name === det);
  return `${cl} · ${d ? d.label : humanize(det)}`;
}

/** `href` when it is a same-site path ("/incidents/12#x"), else null. */
export function safeHref(href) {
  const s = String(href || '');
  return /^\/(?![/\\])/.test(s) ? s : null;
}

/** The numeric id the page is about: data-*-id from the template, else the path. */
export function pageId(hostId, attr, re) {
  const host = document.getElementById(hostId);
  const v = host ? host.getAttribute(attr) : '';
  if (v && /^\d+$/.test(v)) return Number(v);
  const m = re.exec(window.location.pathname);
  return m ? Number(m[1]) : null;
}

/** A compact list of small labels (tactics, sources, tags). */
export function chipList(values, labelOf = (v) => v, cls = 'chip-list') {
  const ul = el('ul', { class: cls });
  for (const v of values || []) ul.append(el('li', { text: labelOf(v) }));
  return ul;
}

/** Disables a form's controls while `work` runs, then restores them. */
export async function busy(form, work) {
  const controls = [...form.querySelectorAll('button, input, select, textarea')];
  const was = controls.map((c) => c.disabled);
  controls.forEach((c) => { c.disabled = true; });
  form.setAttribute('aria-busy', 'true');
  try {
    return await work();
  } finally {
    controls.forEach((c, i) => { c.disabled = was[i]; });
    form.removeAttribute('aria-busy');
  }
}

// ------------------------------------------------------------ evidence

/** Evidence parts shown first, in this order, with these headings. */
const EVIDENCE_ORDER = [
  ['process', 'Process'],
  ['parent', 'Parent process'],
  ['file', 'File'],
  ['pod', 'Pod'],
  ['cluster', 'Cluster'],
  ['container', 'Container'],
  ['image', 'Image'],
  ['network', 'Network'],
  ['request', 'Kubernetes request'],
  ['user', 'User'],
  ['falco', 'Falco event'],
];
const CODE_KEYS = new Set(['cmdline', 'exepath', 'path', 'name', 'request_uri', 'uri', 'sha256', 'id', 'image']);

function isEmpty(v) {
  return v === null || v === undefined || v === '' ||
    (Array.isArray(v) && v.length === 0) ||
    (typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0);
}

/** One value: scalars as text, arrays as lists, objects as nested lists. */
function valueNode(key, v, depth) {
  if (v === null || v === undefined) return el('span', { class: 'muted', text: '–' });
  if (Array.isArray(v)) {
    if (v.every((x) => x === null || typeof x !== 'object')) {
      const ol = el('ul', { class: 'ev-list' });
      for (const x of v) ol.append(el('li', {}, el('code', { text: String(x) })));
      return ol;
    }
    const ol = el('ol', { class: 'ev-list ev-objects' });
    for (const x of v) ol.append(el('li', {}, valueNode(key, x, depth + 1)));
    return ol;
  }
  if (typeof v === 'object') {
    if (depth > 6) return el('code', { text: JSON.stringify(v) });
    return dlOf(v, depth + 1);
  }
  const s = typeof v === 'boolean' ? (v ? 'yes' : 'no') : String(v);
  return CODE_KEYS.has(key) || key.endsWith('cmdline') || key.endsWith('path')
    ? el('code', { class: 'ev-code', text: s })
    : el('span', { text: s });
}

function dlOf(obj, depth = 0) {
  const dl = el('dl', { class: 'ev-dl' });
  for (const [k, v] of Object.entries(obj)) {
    if (isEmpty(v)) continue;
    dl.append(el('dt', { text: humanize(k) }), el('dd', {}, valueNode(k, v, depth)));
  }
  return dl;
}

/**
 * The evidence of `alert` as headed definition lists: process, parent
 * process, file, pod, cluster first, then whatever else is there.
 */
export function renderEvidence(alert, { headingLevel = 'h4' } = {}) {
  const ev = alert && typeof alert.evidence === 'object' && alert.evidence ? alert.evidence : {};
  const parts = [];
  const seen = new Set();
  const add = (key, label, value) => {
    if (isEmpty(value)) return;
    const body = typeof value === 'object' && !Array.isArray(value) ? dlOf(value) : valueNode(key, value, 0);
    parts.push(el('section', { class: 'ev-part', 'data-part': key }, el(headingLevel, { text: label }), body));
  };
  for (const [key, label] of EVIDENCE_ORDER) {
    seen.add(key);
    if (key === 'cluster' && isEmpty(ev.cluster) && alert.cluster) {
      add('cluster', label, { name: alert.cluster });
    } else {
      add(key, label, ev[key]);
    }
  }
  for (const [key, value] of Object.entries(ev)) {
    if (!seen.has(key)) add(key, humanize(key), value);
  }
  if (parts.length === 0) parts.push(el('p', { class: 'muted', text: 'No evidence recorded for this alert.' }));
  return parts;
}

/** Alert facts (provider, rule, technique ...) as a definition list. */
export function alertFacts(a) {
  const dl = el('dl', { class: 'ev-dl alert-facts' });
  const add = (label, node) => dl.append(el('dt', { text: label }), el('dd', {}, node));
  if (a.provider) add('Source', el('span', { text: SOURCE_LABEL[a.provider] || a.provider }));
  if (a.rule) add('Rule', el('code', { class: 'ev-code', text: a.rule }));
  if (a.tactic) add('Tactic', el('span', { text: tacticLabel(a.tactic) }));
  if (a.technique) add('Technique', el('code', { class: 'ev-code', text: a.technique }));
  if (a.cluster) add('Cluster', el('span', { text: a.cluster }));
  return dl;
}

/** The entities an alert involves, as a small list (crown for critical). */
export function entityList(entities) {
  const ul = el('ul', { class: 'entity-chips' });
  for (const e of entities || []) {
    ul.append(el('li', { 'data-kind': e.kind, title: e.key || '' },
      el('span', { class: 'kind-label', text: e.kind || 'entity' }),
      el('span', { class: 'entity-name', text: e.name || e.key || '' }),
      e.critical ? crown('Critical asset') : null));
  }
  return ul;
}
