// The entity side pane: what GET /api/v1/entities/{id} says about one
// entity (docs/inventory.md, "The entity pane"): its facts by kind (a pod's
// namespace, node, images, labels, status, isolation and restarts; a
// cluster's cloud, version, network policy and agent ...), image
// vulnerabilities, the attack paths through it, the incidents and alerts
// that involve it, its relations, and the critical-asset (crown) switch for
// users with Alerts: Manage (greyed out with the reason for others). A
// grouped graph node shows its members instead.
//
// Pods get an empty `<div data-testid="entity-actions">`: response actions
// (issue 6) fill it through registerEntityActions(); nothing here acts on
// a pod.
//
// Everything the API returns goes into the page as text (ui.js el()).
import { api, applyPermissionGates } from './api.js';
import { el, errorText, handleSignedOut, showError, timeEl } from './ui.js';
import { crown, humanize, severityChip, statusChip, token } from './triage.js';

const actionHooks = [];
let shownPod = null; // {container, entity} of the pod pane on screen

function runHook(fn, container, entity) {
  try {
    fn(container, entity);
  } catch (e) {
    // A broken hook must not take the pane down with it.
    console.warn('entity actions hook failed', e); // eslint-disable-line no-console
  }
}

/**
 * Registers `fn(container, entity)`, called each time a pod's pane is shown
 * with the pane's empty `<div data-testid="entity-actions"
 * data-entity-id="ID">` and the entity as the API returned it (its
 * `details.response_target` is what POST /api/v1/actions takes). Called at
 * once for a pod pane already on screen. Returns a function that removes
 * the hook.
 */
export function registerEntityActions(fn) {
  if (typeof fn !== 'function') throw new TypeError('registerEntityActions needs a function');
  actionHooks.push(fn);
  if (shownPod && shownPod.container.isConnected) runHook(fn, shownPod.container, shownPod.entity);
  return () => {
    const i = actionHooks.indexOf(fn);
    if (i >= 0) actionHooks.splice(i, 1);
  };
}

export const KIND_LABEL = {
  cluster: 'Cluster', namespace: 'Namespace', node: 'Node', pod: 'Pod', container: 'Container',
  deployment: 'Deployment', service: 'Service', image: 'Image', registry: 'Registry', identity: 'Identity',
  ip: 'IP address', 'cloud-resource': 'Cloud resource',
};
const CLOUD_LABEL = { aks: 'Azure (AKS)', eks: 'AWS (EKS)', gke: 'Google Cloud (GKE)', other: 'Other' };
const RISK_LABEL = { critical: 'Critical', high: 'High', medium: 'Medium', low: 'Low' };
const VULN_LEVELS = ['critical', 'high', 'medium', 'low', 'unknown'];

/** Field labels that humanize() would not get right. */
const FIELD_LABEL = {
  ip: 'Pod IP', kubernetes_version: 'Kubernetes version', network_policy: 'Network policy',
  cluster_ip: 'Cluster IP', external_ip: 'External IP', os: 'OS', internet_exposed: 'Internet exposed',
  anonymising_proxy: 'Anonymising proxy', service_account: 'Service account', isolated: 'Isolation',
  agent: 'Agent', group: 'Resource group / project',
};
/** Fields shown in this order for a kind; others follow as the API gives them. */
const FIELD_ORDER = {
  pod: [
    'cluster', 'namespace', 'node', 'status', 'isolated', 'restarts', 'images', 'labels', 'ip',
    'service_account', 'owner',
  ],
  cluster: ['cloud', 'region', 'kubernetes_version', 'network_policy', 'agent'],
};
const HIDDEN_FIELDS = new Set(['response_target']);

export function kindLabel(kind) {
  return KIND_LABEL[kind] || humanize(kind || 'entity');
}

/** A risk level as a coloured chip (attack paths). */
export function riskChip(risk) {
  return el('span', {
    class: `risk-chip risk-${token(risk)}`, 'data-risk': risk || '', text: RISK_LABEL[risk] || risk || 'Unknown',
  });
}

function isBlank(v) {
  return v === null || v === undefined || v === '' || (Array.isArray(v) && v.length === 0) ||
    (typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0);
}

function none(text = 'Unknown') {
  return el('span', { class: 'muted', text });
}

/** A value of `details` as page nodes, by field. */
function fieldValue(field, v) {
  switch (field) {
    case 'isolated':
      return v
        ? el('span', { class: 'state-chip state-isolated', text: 'Isolated' })
        : el('span', { class: 'state-chip', text: 'Not isolated' });
    case 'labels': {
      if (isBlank(v) || typeof v !== 'object') return none('None');
      const ul = el('ul', { class: 'label-chips' });
      for (const [k, val] of Object.entries(v)) {
        const text = `${k}=${typeof val === 'string' ? val : JSON.stringify(val)}`;
        ul.append(el('li', {}, el('code', { text })));
      }
      return ul;
    }
    case 'images':
      if (isBlank(v)) return none('None known');
      return el('ul', { class: 'plain-list' },
        ...[].concat(v).map((x) => el('li', {}, el('code', { class: 'ev-code', text: String(x) }))));
    case 'network_policy': {
      if (!v || typeof v !== 'object') {
        return isBlank(v) ? none('None reported') : el('span', { text: String(v) });
      }
      if (!v.plugin) return none('None reported');
      return el('span', {
        text: v.version ? `${v.plugin} ${v.version}` : `${v.plugin} (version not reported)`,
      });
    }
    case 'agent':
      return agentValue(v);
    case 'cloud':
      return isBlank(v) ? none() : el('span', { text: CLOUD_LABEL[v] || String(v) });
    case 'status':
      if (isBlank(v)) return none();
      return el('span', { class: `state-chip pod-${token(String(v).toLowerCase())}`, text: String(v) });
    default:
      break;
  }
  if (isBlank(v)) return none(typeof v === 'object' && v !== null ? 'None' : 'Unknown');
  if (typeof v === 'boolean') return el('span', { text: v ? 'Yes' : 'No' });
  if (Array.isArray(v)) {
    return el('ul', { class: 'plain-list' },
      ...v.map((x) => el('li', { text: typeof x === 'object' ? JSON.stringify(x) : String(x) })));
  }
  if (typeof v === 'object') return el('code', { class: 'ev-code', text: JSON.stringify(v) });
  return el('span', { text: String(v) });
}

/** The cluster's agent: nothing yet, or what the agent gateway records. */
function agentValue(v) {
  if (isBlank(v)) {
    return el('span', { class: 'state-chip state-off', 'data-agent': 'none', text: 'No agent connected' });
  }
  if (typeof v !== 'object') return el('span', { text: String(v) });
  const connected = v.connected === true || v.status === 'connected';
  const seen = v.last_seen || v.last_seen_at;
  return el('span', { class: 'agent-state', 'data-agent': connected ? 'connected' : 'disconnected' },
    el('span', {
      class: `state-chip ${connected ? 'state-on' : 'state-off'}`,
      text: connected ? 'Connected' : 'Not connected',
    }),
    v.version ? el('span', { class: 'muted', text: ` agent ${v.version}` }) : null,
    seen ? el('span', { class: 'muted' }, ' last seen ', timeEl(seen)) : null);
}

function detailsList(e) {
  const d = e.details && typeof e.details === 'object' ? e.details : null;
  const dl = el('dl', { class: 'ev-dl pane-facts', 'data-testid': 'entity-details' });
  const add = (field, label, node) => dl.append(
    el('dt', { 'data-field': field, text: label }),
    el('dd', { 'data-field': field }, node));
  if (!d) {
    add('key', 'Key', el('code', { class: 'ev-code', text: e.key || '' }));
    return dl;
  }
  const order = FIELD_ORDER[e.kind] || [];
  const fields = [...order.filter((f) => f in d), ...Object.keys(d).filter((f) => !order.includes(f))];
  for (const f of fields) {
    if (HIDDEN_FIELDS.has(f)) continue;
    if (e.kind !== 'pod' && e.kind !== 'cluster' && isBlank(d[f])) continue; // keep short panes short
    add(f, FIELD_LABEL[f] || humanize(f), fieldValue(f, d[f]));
  }
  add('first_seen', 'First seen', timeEl(e.first_seen, { none: 'unknown' }));
  add('last_seen', 'Last seen', timeEl(e.last_seen, { none: 'unknown' }));
  return dl;
}

function section(title, testid, ...body) {
  const id = `pane-${testid}-h`;
  return el('section', { class: 'pane-section', 'data-testid': testid, 'aria-labelledby': id },
    el('h3', { id, text: title }), ...body);
}

function vulnCounts(counts) {
  const ul = el('ul', { class: 'vuln-counts', 'data-testid': 'vuln-counts' });
  for (const level of VULN_LEVELS) {
    const n = Number(counts?.[level]) || 0;
    ul.append(el('li', { class: `vuln-${level}${n ? '' : ' vuln-zero'}`, 'data-level': level },
      el('span', { class: 'vuln-n', text: String(n) }), ' ', el('span', { text: humanize(level) })));
  }
  return ul;
}

/** `url` when it is an http(s) address, else null (a finding's link comes from Trivy). */
function safeUrl(url) {
  try {
    const u = new URL(String(url));
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : null;
  } catch {
    return null;
  }
}

function vulnSection(v) {
  if (!v) return null;
  const total = Number(v.counts?.total) || 0;
  const parts = [vulnCounts(v.counts)];
  if ((v.images || []).length) {
    parts.push(el('ul', { class: 'plain-list pane-images' }, ...v.images.map((img) => el('li', {},
      el('code', { class: 'ev-code', text: img.name || img.key || '' }),
      el('span', {
        class: 'muted', text: ` ${Number(img.counts?.total) || 0} findings${img.os ? `, ${img.os}` : ''}`,
      }),
      img.scanned_at ? el('span', { class: 'muted' }, ', scanned ', timeEl(img.scanned_at)) : null))));
  } else {
    parts.push(el('p', { class: 'muted', text: 'No image scan is known for it.' }));
  }
  if ((v.top || []).length) {
    const rows = v.top.map((f) => {
      const href = safeUrl(f.url);
      return el('tr', {},
        el('td', {}, href
          ? el('a', { href, rel: 'noopener noreferrer', target: '_blank', text: f.id || '' })
          : el('span', { text: f.id || '' })),
        el('td', {}, el('span', {
          class: `vuln-sev vuln-${token(f.severity)}`, text: humanize(f.severity || 'unknown'),
        })),
        el('td', {}, el('code', { text: `${f.package || ''} ${f.installed || ''}`.trim() })),
        el('td', { text: f.fixed || '–' }));
    });
    parts.push(el('table', { class: 'data pane-table' },
      el('thead', {}, el('tr', {}, ...['Finding', 'Severity', 'Package', 'Fixed in'].map((h) => el('th', { text: h })))),
      el('tbody', {}, ...rows)));
  }
  return section(`Vulnerabilities (${total})`, 'entity-vulnerabilities', ...parts);
}

function pathsSection(e) {
  const ap = e.attack_paths || {};
  const items = ap.items || [];
  const total = Object.values(ap.counts || {}).reduce((n, x) => n + (Number(x) || 0), 0);
  if (items.length === 0) {
    return section('Attack paths', 'entity-attack-paths',
      el('p', { class: 'muted', text: 'Not on any attack path.' }));
  }
  const list = el('ul', { class: 'pane-list' }, ...items.map((p) => el('li', {},
    riskChip(p.risk), ' ',
    el('a', {
      href: `/attack-paths/${encodeURIComponent(p.id)}`, 'data-testid': 'entity-attack-path',
      text: p.title || `Attack path ${p.id}`,
    }),
    el('span', { class: 'muted', text: ` ${p.hops} ${p.hops === 1 ? 'hop' : 'hops'}` }))));
  return section(`On ${total} attack ${total === 1 ? 'path' : 'paths'}`, 'entity-attack-paths', list,
    total > items.length
      ? el('p', {}, el('a', {
        href: `/attack-paths?entity=${encodeURIComponent(e.id)}`, text: `All ${total} paths through it`,
      }))
      : null);
}

function incidentsSection(e) {
  const items = e.incidents || [];
  const body = items.length
    ? el('ul', { class: 'pane-list' }, ...items.map((i) => el('li', {},
      severityChip(i.severity), ' ', statusChip(i.status), ' ',
      el('a', { href: `/incidents/${encodeURIComponent(i.id)}`, text: `#${i.id} ${i.title || ''}`.trim() }),
      i.high_impact ? crown('High impact') : null,
      el('span', { class: 'muted', text: ` ${i.entity_alert_count ?? 0} of its alerts` }))))
    : el('p', { class: 'muted', text: 'No incident involves it.' });
  return section(`Incidents (${items.length})`, 'entity-incidents', body);
}

function alertsSection(e) {
  const items = e.alerts || [];
  const total = e.alerts_total ?? items.length;
  const body = items.length
    ? el('ul', { class: 'pane-list' }, ...items.map((a) => el('li', {},
      severityChip(a.severity), ' ',
      el('a', { href: `/alerts/${encodeURIComponent(a.id)}`, text: a.title || a.rule || `Alert ${a.id}` }),
      ' ',
      el('span', { class: 'muted' }, timeEl(a.first_activity, { none: '' })))))
    : el('p', { class: 'muted', text: 'No alert involves it.' });
  const title = total > items.length ? `Alerts (latest ${items.length} of ${total})` : `Alerts (${total})`;
  return section(title, 'entity-alerts', body);
}

/**
 * Wires the pane in `host` (an <aside>, hidden until opened).
 *   onChanged(e)   after the crown changed (the page reloads what shows it)
 *   onUngroup()    the group pane's "Ungroup" button
 *   lookup(id)     a known entity {name, kind, key} for group members, or null
 *   onClose()      after the pane closed
 * Returns {openEntity(id, opener), openGroup(info, membersPromise, opener), close(), openId}.
 */
export function createEntityPane(host, {
  onChanged = () => {}, onUngroup = () => {}, lookup = () => null, onClose = () => {},
} = {}) {
  let seq = 0;
  let opener = null;
  let openId = null;

  const body = el('div', { class: 'pane-body' });
  const title = el('h2', { id: 'entity-pane-title', class: 'pane-title', tabindex: '-1', text: '' });
  const closeBtn = el('button', {
    type: 'button', class: 'btn btn-small pane-close', 'aria-label': 'Close the entity pane',
    'data-testid': 'entity-pane-close', text: '×',
  });
  const kind = el('p', { class: 'pane-kind', 'data-testid': 'entity-pane-kind' });
  host.replaceChildren(el('header', { class: 'pane-head' }, el('div', {}, kind, title), closeBtn), body);
  host.setAttribute('aria-labelledby', 'entity-pane-title');

  function setHead(kindText, name) {
    kind.textContent = kindText;
    title.textContent = name;
  }

  function reveal() {
    host.hidden = false;
    host.classList.add('open');
    title.focus({ preventScroll: true });
  }

  function close() {
    if (host.hidden) return;
    seq++;
    host.hidden = true;
    host.classList.remove('open');
    openId = null;
    shownPod = null;
    delete host.dataset.entityId;
    delete host.dataset.kind;
    const back = opener;
    opener = null;
    onClose();
    if (back && back.isConnected && typeof back.focus === 'function') back.focus({ preventScroll: true });
  }

  closeBtn.addEventListener('click', close);
  host.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') {
      ev.preventDefault();
      close();
    }
  });
  // A relation's other end, or a group member: opens in the same pane.
  host.addEventListener('click', (ev) => {
    const b = ev.target.closest && ev.target.closest('[data-open-entity]');
    if (!b || !host.contains(b)) return;
    const id = Number(b.dataset.openEntity);
    if (Number.isFinite(id)) openEntity(id, opener);
  });

  function critSwitch(e) {
    const btn = el('button', {
      type: 'button', class: 'btn btn-small', 'data-testid': 'entity-pane-critical',
      'data-requires': 'alerts:manage',
      'aria-pressed': e.critical ? 'true' : 'false',
      text: e.critical ? 'Unmark critical asset' : 'Mark as critical asset',
    });
    const error = el('p', { class: 'form-error', role: 'alert', hidden: true });
    btn.addEventListener('click', async () => {
      showError(error, '');
      btn.disabled = true;
      try {
        const updated = await api('PATCH', `/api/v1/entities/${encodeURIComponent(e.id)}`,
          { critical: !e.critical });
        await openEntity(e.id, opener, { keepFocus: true });
        host.querySelector('[data-testid="entity-pane-critical"]')?.focus();
        onChanged(updated || e);
      } catch (err) {
        btn.disabled = false;
        if (!handleSignedOut(err)) showError(error, errorText(err));
      }
    });
    return el('div', { class: 'pane-critical' }, btn, error);
  }

  function relations(e) {
    const edges = e.edges || [];
    if (edges.length === 0) return null;
    const list = el('ul', { class: 'pane-list pane-edges' }, ...edges.map((x) => {
      const other = x.entity || {};
      const name = other.name || other.key || `#${other.id}`;
      return el('li', { 'data-relation': x.kind || '' },
        el('span', { class: 'muted', text: x.direction === 'in' ? `${x.kind} from ` : `${x.kind} → ` }),
        el('button', {
          type: 'button', class: 'link-button', 'data-open-entity': String(other.id),
          'aria-label': `Open ${kindLabel(other.kind)} ${name}`, text: name,
        }),
        el('span', { class: 'kind-label', text: other.kind || '' }),
        other.critical ? crown('Critical asset') : null);
    }));
    const more = e.edges_truncated
      ? el('p', { class: 'muted', text: 'Only the first 200 relations are listed.' })
      : null;
    return el('details', { class: 'pane-section', 'data-testid': 'entity-relations' },
      el('summary', { text: `Relations (${edges.length}${e.edges_truncated ? '+' : ''})` }), list, more);
  }

  function render(e) {
    setHead(kindLabel(e.kind), e.name || e.key || `Entity ${e.id}`);
    host.dataset.entityId = String(e.id);
    host.dataset.kind = e.kind || '';
    const flags = el('p', { class: 'pane-flags' },
      e.critical
        ? el('span', { class: 'critical-mark', 'data-testid': 'entity-pane-crown' },
          crown('Critical asset'), ' Critical asset')
        : null,
      e.internet_exposed
        ? el('span', {
          class: 'state-chip state-exposed', 'data-testid': 'entity-pane-exposed', text: 'Exposed to the internet',
        })
        : null);
    const parts = [
      el('p', { class: 'pane-key' }, el('code', { class: 'ev-code', text: e.key || '' })),
      flags,
      critSwitch(e),
    ];
    let actions = null;
    if (e.kind === 'pod') {
      actions = el('div', {
        class: 'entity-actions', 'data-testid': 'entity-actions', 'data-entity-id': String(e.id),
      });
      parts.push(actions);
    }
    parts.push(
      section('Details', 'entity-facts', detailsList(e)),
      vulnSection(e.vulnerabilities),
      pathsSection(e),
      incidentsSection(e),
      alertsSection(e),
      relations(e),
    );
    body.replaceChildren(...parts.filter(Boolean));
    applyPermissionGates(body);
    shownPod = actions ? { container: actions, entity: e } : null;
    if (actions) for (const fn of actionHooks) runHook(fn, actions, e);
  }

  /** Opens the pane on entity `id`; `from` gets focus back on close. */
  async function openEntity(id, from = null, { keepFocus = false } = {}) {
    const mine = ++seq;
    opener = from || opener;
    openId = id;
    shownPod = null;
    host.setAttribute('aria-busy', 'true');
    if (!keepFocus) {
      const known = lookup(id);
      setHead(known ? kindLabel(known.kind) : 'Entity', known ? known.name || known.key : `Entity ${id}`);
      body.replaceChildren(el('p', { class: 'muted', text: 'Loading…' }));
      reveal();
    }
    try {
      const e = await api('GET', `/api/v1/entities/${encodeURIComponent(id)}`);
      if (mine !== seq) return;
      render(e);
    } catch (err) {
      if (mine !== seq || handleSignedOut(err)) return;
      body.replaceChildren(el('p', { class: 'form-error', role: 'alert', text: errorText(err) }));
    } finally {
      if (mine === seq) host.removeAttribute('aria-busy');
    }
  }

  /** Opens the pane on a grouped graph node: its members (from `members`, a promise of the JSON node). */
  async function openGroup(info, members, from = null) {
    const mine = ++seq;
    opener = from || opener;
    openId = info.id;
    shownPod = null;
    host.dataset.entityId = String(info.id);
    host.dataset.kind = 'group';
    const label = (info.label || '').split(',')[0] || `${info.count} ${kindLabel(info.kind)}`;
    setHead(`Group of ${kindLabel(info.kind).toLowerCase()} entities`, label);
    body.replaceChildren(el('p', { class: 'muted', text: 'Loading…' }));
    host.setAttribute('aria-busy', 'true');
    reveal();
    let node = null;
    try {
      node = await members;
    } catch (err) {
      if (mine !== seq || handleSignedOut(err)) return;
      body.replaceChildren(el('p', { class: 'form-error', role: 'alert', text: errorText(err) }));
      host.removeAttribute('aria-busy');
      return;
    }
    if (mine !== seq) return;
    host.removeAttribute('aria-busy');
    const ids = (node && node.members) || [];
    const ungroup = el('button', {
      type: 'button', class: 'btn btn-small', 'data-testid': 'group-ungroup', text: 'Ungroup the graph',
    });
    ungroup.addEventListener('click', () => onUngroup());
    const member = (mid) => {
      const known = lookup(mid);
      const name = known ? known.name || known.key : `Entity #${mid}`;
      return el('li', { 'data-member-id': String(mid) },
        el('button', {
          type: 'button', class: 'link-button', 'data-open-entity': String(mid), 'data-testid': 'group-member',
          text: name,
        }),
        known && known.key && known.key !== name ? el('span', { class: 'cell-sub', text: known.key }) : null);
    };
    const list = el('ul', { class: 'pane-list group-members', 'data-testid': 'group-members' }, ...ids.map(member));
    body.replaceChildren(
      el('p', {}, `${ids.length} similar ${ids.length === 1 ? 'entity' : 'entities'}: same kind, same `
        + 'flags and the same kind of neighbours, drawn as one node.'),
      el('p', { class: 'pane-flags' },
        info.critical ? el('span', { class: 'critical-mark' }, crown('Critical asset'), ' Critical assets') : null,
        info.onPath ? el('span', { class: 'state-chip state-exposed', text: 'On an attack path' }) : null,
        info.context ? el('span', { class: 'state-chip', text: 'Not in this incident' }) : null),
      el('div', { class: 'pane-critical' }, ungroup),
      section(`Members (${ids.length})`, 'group-member-list', list),
    );
  }

  return {
    openEntity,
    openGroup,
    close,
    get openId() { return openId; },
    get isOpen() { return !host.hidden; },
  };
}
