// The incident graph on the incident page: the SVG the server draws
// (GET /api/v1/incidents/{id}/graph.svg, docs/graph.md) shown inline, with
// pan (drag, arrow keys), zoom (wheel, +/- buttons and keys, fit), a
// "Group similar" / "Ungroup" switch that keeps both drawings (no reload),
// and node selection by click or by Enter/Space on a focused node (the
// server makes every node focusable, so Tab walks them).
//
// Safety: the SVG is parsed with DOMParser as XML and imported node by
// node into the page; no markup is ever assigned to innerHTML. The server
// escapes every outside string already; on top of that only the elements
// and attributes its renderer writes are kept (anything else, a <script>,
// an on* handler, a foreign link, is dropped), and the page's CSP forbids
// inline script and style anyway.
//
// Speed: one listener of each kind on the viewport (event delegation, never
// one per node), pan and zoom change one viewBox attribute at most once per
// animation frame, and each grouping is parsed once and then kept.
import { el, errorText, handleSignedOut } from './ui.js';

const SVG_NS = 'http://www.w3.org/2000/svg';
const MAX_SCALE = 4;
const ZOOM_STEP = 1.25;
const WHEEL_SENSITIVITY = 0.0015;
const DRAG_THRESHOLD_PX = 4;
const PAN_STEP_PX = 60;
const FIT_MARGIN = 16; // SVG units around the drawing when fitted
const LEGEND_FALLBACK = { w: 640, h: 90 }; // graph_render.c's LEGEND_W, LEGEND_H

const ELEMENTS = new Set([
  'svg', 'g', 'title', 'desc', 'rect', 'circle', 'path', 'text', 'tspan', 'image', 'line',
]);
const ATTRIBUTES = new Set([
  'class', 'data-id', 'data-kind', 'data-count', 'data-from', 'data-to', 'tabindex', 'role', 'aria-label',
  'cx', 'cy', 'r', 'x', 'y', 'x1', 'x2', 'y1', 'y2', 'd', 'transform', 'width', 'height', 'viewBox',
  'fill', 'stroke', 'stroke-width', 'stroke-dasharray', 'stroke-linejoin', 'stroke-linecap', 'paint-order',
  'text-anchor', 'font-size', 'font-family', 'href',
]);
const ICON_HREF = /^\/static\/icons\/kind-[a-z-]{1,32}\.svg$/;

/**
 * Keeps only what graph_render.c writes: known elements, known
 * presentation attributes, and image links to our own kind icons.
 * Works in place on the parsed (not yet adopted) document.
 */
function sanitize(root) {
  const all = [root, ...root.getElementsByTagName('*')];
  for (const node of all) {
    if (!node.isConnected && node !== root) continue; // inside something removed already
    if (node.namespaceURI !== SVG_NS || !ELEMENTS.has(node.localName)) {
      node.remove();
      continue;
    }
    for (const a of [...node.attributes]) {
      const name = a.name;
      const keep = ATTRIBUTES.has(name) || name === 'xmlns';
      if (!keep || (name === 'href' && !ICON_HREF.test(a.value))) node.removeAttribute(name);
    }
  }
}

/** The error for a failed graph request, with the server's message. */
async function httpError(res) {
  let message = `HTTP ${res.status}`;
  try {
    const data = await res.json();
    if (data && data.error && data.error.message) message = data.error.message;
  } catch {
    // not JSON: keep the status
  }
  const e = new Error(message);
  e.status = res.status;
  return e;
}

async function fetchText(url, accept) {
  const res = await fetch(url, { headers: { Accept: accept }, credentials: 'same-origin' });
  if (!res.ok) throw await httpError(res);
  return res.text();
}

/**
 * Parses the server's SVG into page nodes: the drawing (<svg> without its
 * legend) and the legend in an <svg> of its own, so the legend stays put
 * while the drawing pans and zooms. Throws on anything but well-formed SVG.
 */
function prepare(text) {
  const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
  const src = doc.documentElement;
  const broken = doc.getElementsByTagName('parsererror').length > 0;
  if (broken || src.localName !== 'svg' || src.namespaceURI !== SVG_NS) {
    throw new Error('The graph could not be read.');
  }
  sanitize(src);
  const vb = (src.getAttribute('viewBox') || '').split(/[\s,]+/).map(Number);
  const legendSrc = src.querySelector(':scope > g.legend');
  const rule = legendSrc && legendSrc.querySelector(':scope > line');
  const total = { w: vb[2] > 0 ? vb[2] : 100, h: vb[3] > 0 ? vb[3] : 100 };
  const top = rule ? Number(rule.getAttribute('y1')) : total.h;
  const box = { w: total.w, h: Number.isFinite(top) && top > 0 ? top : total.h };
  // The background fills "100%" of the viewBox, which moves with panning:
  // the viewport's own background (CSS) stands in for it.
  for (const bg of src.querySelectorAll(':scope > rect.background')) bg.remove();
  // Likewise "50%" (the empty graph's message) would follow the viewBox.
  for (const t of src.querySelectorAll(':scope > text.empty')) t.setAttribute('x', String(box.w / 2));
  if (rule) rule.remove();
  if (legendSrc) legendSrc.remove();

  const svg = document.importNode(src, true);
  svg.removeAttribute('width');
  svg.removeAttribute('height');
  svg.setAttribute('class', 'stk-graph');
  svg.setAttribute('data-testid', 'graph-svg');
  svg.setAttribute('preserveAspectRatio', 'xMinYMin meet');
  svg.setAttribute('focusable', 'false');

  let legend = null;
  if (legendSrc) {
    legend = document.createElementNS(SVG_NS, 'svg');
    for (const name of ['font-family', 'font-size', 'fill']) {
      if (src.hasAttribute(name)) legend.setAttribute(name, src.getAttribute(name));
    }
    legend.setAttribute('class', 'stk-graph-legend');
    legend.setAttribute('role', 'img');
    legend.setAttribute('aria-label', 'Legend');
    legend.setAttribute('data-testid', 'graph-legend');
    legend.setAttribute('viewBox', `0 ${box.h} ${LEGEND_FALLBACK.w} ${LEGEND_FALLBACK.h}`);
    legend.append(document.importNode(legendSrc, true));
  }
  const nodes = svg.querySelectorAll('g.node').length;
  const edges = svg.querySelectorAll('g.edge').length;
  return { svg, legend, box, nodes, edges };
}

const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

/** The centre of a node's disc, in SVG units, or null. */
function nodeCentre(g) {
  const disc = g.querySelector('circle.disc');
  if (!disc) return null;
  const x = Number(disc.getAttribute('cx'));
  const y = Number(disc.getAttribute('cy'));
  return Number.isFinite(x) && Number.isFinite(y) ? { x, y } : null;
}

/**
 * Wires the graph panel. `root` holds the elements named by data-graph
 * attributes in the incident template (viewport, legend, toolbar buttons,
 * status). Callbacks:
 *   onSelect({id, kind, count, group, onPath, critical, element})
 *   onBadge({...same}) when an attack-path badge is clicked
 * Returns {refresh(), setGrouped(bool), groupNode(id), select(id), grouped}.
 */
export function createGraph(root, { incidentId, onSelect = () => {}, onBadge = () => {} }) {
  const part = (name) => root.querySelector(`[data-graph="${name}"]`);
  const viewport = part('viewport');
  const legendHost = part('legend');
  const toggle = part('group');
  const status = part('status');

  const views = new Map(); // grouped (true/false) -> view
  let grouped = true;
  let current = null; // the view shown
  let selectedId = null;
  let frame = 0;
  const drag = { id: null, x0: 0, y0: 0, vx: 0, vy: 0, moved: false };
  let swallowClick = false;

  const size = () => ({ W: viewport.clientWidth || 1, H: viewport.clientHeight || 1 });

  function draw() {
    frame = 0;
    const v = current;
    if (!v || !v.svg) return;
    const { W, H } = size();
    const box = [v.x, v.y, W / v.s, H / v.s].map((n) => n.toFixed(2));
    v.svg.setAttribute('viewBox', box.join(' '));
    viewport.dataset.scale = v.s.toFixed(4);
  }

  function schedule() {
    if (!frame) frame = requestAnimationFrame(draw);
  }

  function fitScale(v) {
    const { W, H } = size();
    return Math.min(W / (v.box.w + 2 * FIT_MARGIN), H / (v.box.h + 2 * FIT_MARGIN));
  }

  function minScale(v) {
    return Math.min(0.1, fitScale(v) / 2);
  }

  function fit(v = current) {
    if (!v || !v.svg) return;
    const { W, H } = size();
    v.s = clamp(fitScale(v), minScale(v), 1.25);
    v.x = v.box.w / 2 - W / (2 * v.s);
    v.y = v.box.h / 2 - H / (2 * v.s);
    v.fitted = viewport.clientWidth > 0;
    schedule();
  }

  /** Zooms by `factor` keeping the point at viewport pixel (mx, my) still. */
  function zoom(factor, mx, my) {
    const v = current;
    if (!v || !v.svg) return;
    const { W, H } = size();
    const px = mx ?? W / 2;
    const py = my ?? H / 2;
    const gx = v.x + px / v.s;
    const gy = v.y + py / v.s;
    v.s = clamp(v.s * factor, minScale(v), MAX_SCALE);
    v.x = gx - px / v.s;
    v.y = gy - py / v.s;
    schedule();
  }

  function pan(dx, dy) {
    const v = current;
    if (!v || !v.svg) return;
    v.x -= dx / v.s;
    v.y -= dy / v.s;
    schedule();
  }

  /** Pans so that node `g` is in view (keyboard focus may land off-screen). */
  function reveal(g) {
    const v = current;
    const c = v && nodeCentre(g);
    if (!c) return;
    const { W, H } = size();
    const m = 40 / v.s;
    const inside = c.x > v.x + m && c.x < v.x + W / v.s - m && c.y > v.y + m && c.y < v.y + H / v.s - m;
    if (inside) return;
    v.x = c.x - W / (2 * v.s);
    v.y = c.y - H / (2 * v.s);
    schedule();
  }

  function nodeInfo(g) {
    const id = Number(g.dataset.id);
    return {
      id,
      kind: g.dataset.kind || '',
      count: Number(g.dataset.count) || 1,
      group: g.classList.contains('group'),
      onPath: g.classList.contains('on-path'),
      critical: g.classList.contains('critical'),
      context: g.classList.contains('context'),
      label: g.getAttribute('aria-label') || '',
      element: g,
    };
  }

  function markSelected() {
    if (!current || !current.svg) return;
    for (const g of current.svg.querySelectorAll('g.node.selected')) {
      g.classList.remove('selected');
      g.removeAttribute('aria-current');
    }
    if (selectedId === null) return;
    const g = current.svg.querySelector(`g.node[data-id="${CSS.escape(String(selectedId))}"]`);
    if (g) {
      g.classList.add('selected');
      g.setAttribute('aria-current', 'true');
    }
  }

  function choose(g, viaBadge) {
    const info = nodeInfo(g);
    if (!Number.isFinite(info.id)) return;
    if (viaBadge && info.onPath) {
      onBadge(info);
      return;
    }
    selectedId = info.id;
    markSelected();
    onSelect(info);
  }

  function setStatus(text) {
    status.textContent = text;
  }

  function showMessage(text) {
    viewport.replaceChildren(el('p', { class: 'muted graph-message', text }));
  }

  function updateToggle() {
    toggle.textContent = grouped ? 'Ungroup' : 'Group similar';
    toggle.title = grouped ? 'Show every entity on its own' : 'Collapse similar entities into one node';
    toggle.dataset.grouped = grouped ? '1' : '0';
  }

  function show(v) {
    current = v;
    viewport.dataset.grouped = v.grouped ? '1' : '0';
    if (v.error) {
      viewport.dataset.state = 'error';
      viewport.removeAttribute('aria-busy');
      delete viewport.dataset.nodes;
      viewport.replaceChildren(el('p', { class: 'form-error graph-message', role: 'alert', text: v.error }));
      legendHost.replaceChildren();
      setStatus('');
      return;
    }
    if (!v.svg) {
      viewport.dataset.state = 'loading';
      viewport.setAttribute('aria-busy', 'true');
      showMessage('Loading the graph…');
      setStatus('');
      return;
    }
    viewport.replaceChildren(v.svg);
    legendHost.replaceChildren(...(v.legend ? [v.legend] : []));
    if (v.legend && !v.legendSized) {
      // The legend's real extent, once it is laid out (getBBox needs that).
      const g = v.legend.querySelector('g.legend');
      try {
        const b = g.getBBox();
        if (b.width > 0 && b.height > 0) {
          v.legend.setAttribute('viewBox', `${b.x - 4} ${b.y - 4} ${b.width + 8} ${b.height + 8}`);
        }
      } catch {
        // keep the fallback box
      }
      v.legendSized = true;
    }
    if (!v.fitted) fit(v);
    else schedule();
    markSelected();
    viewport.dataset.state = 'ready';
    viewport.dataset.nodes = String(v.nodes);
    viewport.removeAttribute('aria-busy');
    const what = `${v.nodes} ${v.nodes === 1 ? 'node' : 'nodes'}, `
      + `${v.edges} ${v.edges === 1 ? 'relation' : 'relations'}`;
    setStatus(v.grouped ? `${what} (similar entities grouped)` : `${what} (every entity)`);
  }

  function load(g, { keepView = null } = {}) {
    let v = views.get(g);
    if (v) return v;
    v = {
      grouped: g, svg: null, legend: null, box: null, x: 0, y: 0, s: 1, fitted: false, json: null, error: null,
    };
    views.set(g, v);
    const url = `/api/v1/incidents/${incidentId}/graph.svg?grouped=${g ? 1 : 0}`;
    v.ready = fetchText(url, 'image/svg+xml').then((text) => {
      Object.assign(v, prepare(text));
      if (keepView && keepView.box && keepView.box.w === v.box.w && keepView.box.h === v.box.h) {
        Object.assign(v, { x: keepView.x, y: keepView.y, s: keepView.s, fitted: keepView.fitted });
      }
    }).catch((e) => {
      if (handleSignedOut(e)) return;
      v.error = e.status === 413 && !g
        ? `${errorText(e)}. Group similar entities to see this incident's graph.`
        : `The graph could not be loaded: ${errorText(e)}`;
      views.delete(g); // a later refresh or switch tries again
    }).then(() => {
      if (current === v) show(v);
    });
    return v;
  }

  function setGrouped(g) {
    grouped = Boolean(g);
    updateToggle();
    show(load(grouped));
  }

  // ---- events: one listener of each kind on the viewport

  viewport.addEventListener('click', (ev) => {
    if (swallowClick) { swallowClick = false; return; }
    const g = ev.target.closest && ev.target.closest('g.node');
    if (!g || !viewport.contains(g)) return;
    choose(g, Boolean(ev.target.closest('g.badge')));
  });

  viewport.addEventListener('keydown', (ev) => {
    if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
    const g = ev.target.closest && ev.target.closest('g.node');
    if (g && (ev.key === 'Enter' || ev.key === ' ')) {
      ev.preventDefault();
      choose(g, false);
      return;
    }
    const k = ev.key;
    const moves = {
      ArrowLeft: [PAN_STEP_PX, 0], ArrowRight: [-PAN_STEP_PX, 0],
      ArrowUp: [0, PAN_STEP_PX], ArrowDown: [0, -PAN_STEP_PX],
    };
    if (k === '+' || k === '=') zoom(ZOOM_STEP);
    else if (k === '-' || k === '_') zoom(1 / ZOOM_STEP);
    else if (k === '0') fit();
    else if (moves[k]) pan(...moves[k]);
    else return;
    ev.preventDefault();
  });

  viewport.addEventListener('focusin', (ev) => {
    const g = ev.target.closest && ev.target.closest('g.node');
    if (g) reveal(g);
  });

  viewport.addEventListener('wheel', (ev) => {
    if (!current || !current.svg) return;
    ev.preventDefault();
    const r = viewport.getBoundingClientRect();
    const dy = ev.deltaMode === 1 ? ev.deltaY * 16 : ev.deltaY;
    zoom(Math.exp(-dy * WHEEL_SENSITIVITY), ev.clientX - r.left, ev.clientY - r.top);
  }, { passive: false });

  viewport.addEventListener('pointerdown', (ev) => {
    if (ev.button !== 0 || !current || !current.svg) return;
    Object.assign(drag, {
      id: ev.pointerId, x0: ev.clientX, y0: ev.clientY, vx: current.x, vy: current.y, moved: false,
    });
  });
  viewport.addEventListener('pointermove', (ev) => {
    if (drag.id !== ev.pointerId || !current) return;
    const dx = ev.clientX - drag.x0;
    const dy = ev.clientY - drag.y0;
    if (!drag.moved) {
      if (Math.hypot(dx, dy) < DRAG_THRESHOLD_PX) return;
      drag.moved = true;
      viewport.setPointerCapture(ev.pointerId);
      viewport.classList.add('panning');
    }
    current.x = drag.vx - dx / current.s;
    current.y = drag.vy - dy / current.s;
    schedule();
  });
  const endDrag = (ev) => {
    if (drag.id !== ev.pointerId) return;
    if (drag.moved) {
      swallowClick = true; // the click that ends a drag selects nothing
      setTimeout(() => { swallowClick = false; }, 0);
    }
    drag.id = null;
    viewport.classList.remove('panning');
  };
  viewport.addEventListener('pointerup', endDrag);
  viewport.addEventListener('pointercancel', endDrag);

  part('zoom-in').addEventListener('click', () => zoom(ZOOM_STEP));
  part('zoom-out').addEventListener('click', () => zoom(1 / ZOOM_STEP));
  part('fit').addEventListener('click', () => fit());
  toggle.addEventListener('click', () => setGrouped(!grouped));

  // A viewport that changes size keeps its scale and corner; one that was
  // hidden when the graph arrived is fitted once it has a size.
  if (typeof ResizeObserver === 'function') {
    new ResizeObserver(() => {
      if (current && current.svg && !current.fitted) fit();
      else schedule();
    }).observe(viewport);
  }

  updateToggle();

  return {
    get grouped() { return grouped; },
    setGrouped,
    /** Loads the shown grouping again (after a change to the incident); keeps the view. */
    refresh() {
      const old = views.get(grouped);
      views.clear();
      const keep = old && old.svg ? { box: old.box, x: old.x, y: old.y, s: old.s, fitted: old.fitted } : null;
      const v = load(grouped, { keepView: keep });
      if (old && old.svg) {
        // Keep showing the old drawing until the new one is in.
        v.ready.then(() => { if (current === old) show(v); });
        current = old;
        return;
      }
      show(v);
    },
    /** The grouped graph's JSON node `id` ({members, name, ...}), or null. */
    async groupNode(id) {
      const v = views.get(grouped) || current;
      if (!v) return null;
      const url = `/api/v1/incidents/${incidentId}/graph?grouped=${v.grouped ? 1 : 0}`;
      v.json ??= fetchText(url, 'application/json')
        .then((t) => JSON.parse(t))
        .catch((e) => { v.json = null; throw e; });
      const data = await v.json;
      return (data.nodes || []).find((n) => n.id === id) || null;
    },
    /** Marks node `id` selected (null: none). */
    select(id) {
      selectedId = id;
      markSelected();
    },
    /** The node element of `id` in the shown drawing, or null. */
    nodeElement(id) {
      if (!current || !current.svg) return null;
      return current.svg.querySelector(`g.node[data-id="${CSS.escape(String(id))}"]`);
    },
    start() { setGrouped(true); },
  };
}
