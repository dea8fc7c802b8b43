// @ts-check
/**
 * Catalog pickers for the id widgets (Pose id, Clothes clothesId, the LoRA stacks' slot ids,
 * Create Character Image's profileId; the table is CATALOG_WIDGETS in lib/catalog.js).
 *
 * Each such widget stays a plain STRING widget: a remote COMBO would add UI-only widgets to
 * widgets_values and change how saved workflows load. Instead the node gets a "choose …" button
 * that opens a filterable list with thumbnails and writes the chosen id into the STRING widget,
 * and one small strip showing the thumbnail and name of each value it recognises. Both are
 * never serialised (widget.serialize = false: not in widgets_values; options.serialize = false:
 * not in the API prompt). A value missing from its catalog is kept and marked "not in catalog";
 * the run then fails with the server's message naming the node, the field and the id.
 *
 * Lists come from GET /aliveai/catalog/{kind} through api.js and are cached in the page
 * (lib/catalog.js CatalogCache). Text from the API goes in with textContent, pictures only as
 * http(s) URLs.
 */
import { app } from "../../scripts/app.js";
import { getCatalog } from "./api.js";
import {
  CatalogCache, buttonLabel, describeValue, filterEntries, groupEntries, mergeListings, moveIndex, pickersFor,
  statusLine,
} from "./lib/catalog.js";
import { ICON_BUTTON, STYLE_HREF, domWidgetHeight, ensureStyles, markChanged, placePopup, popupAnchor } from "./lib/ui.js";

/** @typedef {import("./lib/catalog.js").Picker} Picker */
/** @typedef {import("./lib/catalog.js").Entry} Entry */
/** @typedef {import("./lib/catalog.js").Merged} Merged */

const STRIP = "aliveai_catalog";
const ROW_PX = 36;
const STRIP_MARGIN = 2;  // the DOM widget's margin (the classic canvas defaults to 10 px each side)
/** The last pointerdown in the page: a button widget's callback gets no event in Nodes 2.0. */
/** @type {{x: number, y: number, t: number} | null} */
let lastPointer = null;
const cache = new CatalogCache((kind, refresh) => getCatalog(kind, refresh));

/**
 * @param {string} tag
 * @param {Record<string, any>} [props] properties set on the element (never innerHTML)
 * @param {(Node | string)[]} [children]
 */
function el(tag, props = {}, children = []) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

/** @param {string} src @param {number} size */
function thumb(src, size) {
  const img = /** @type {HTMLImageElement} */ (el("img", { alt: "", loading: "lazy", referrerPolicy: "no-referrer",
    decoding: "async" }));
  img.style.cssText = `width:${size}px;height:${size}px;object-fit:cover;border-radius:3px;flex:none;`
    + "background:var(--comfy-input-bg, #222)";
  if (src) img.src = src;
  img.onerror = () => { img.style.visibility = "hidden"; };
  return img;
}

/** @param {any} node @param {string} name */
function widgetOf(node, name) {
  return node.widgets?.find((/** @type {any} */ w) => w.name === name);
}

/** @param {any} widget */
function noSerialize(widget) {
  widget.serialize = false;                              // LGraphNode.serialize: widgets_values
  widget.options = { ...(widget.options || {}), serialize: false };  // graphToPrompt: the API prompt
}

/** The merged list of each picker of a node, loading every catalog once. @param {Picker[]} pickers */
async function loadFor(pickers, force = false) {
  const kinds = [...new Set(pickers.flatMap((p) => p.kinds))];
  const listings = await cache.getAll(kinds, { force });
  const byKind = new Map(listings.map((l, i) => [kinds[i], l]));
  return pickers.map((p) => mergeListings(p.kinds.map((k) => byKind.get(k) ?? { kind: k, items: [] })));
}

// -- the widgets on the node ------------------------------------------------------------------------
/**
 * Set a widget as if the user had typed it: its callback runs (our strip refreshes) and the
 * graph is marked changed, so the workflow counts as modified.
 * @param {any} node @param {any} widget @param {string} value
 */
function setWidget(node, widget, value) {
  if (!widget || widget.value === value) return;
  widget.value = value;
  widget.callback?.(value, /** @type {any} */ (app).canvas, node);
  node.setDirtyCanvas?.(true, true);
  node.graph?.change?.();
  markChanged(/** @type {any} */ (app).extensionManager?.workflow?.activeWorkflow?.changeTracker);
}

/** @param {any} node @param {Picker[]} pickers */
async function paintStrip(node, pickers) {
  const strip = widgetOf(node, STRIP);
  if (!strip) return;
  const token = (strip.aliveaiToken = (strip.aliveaiToken || 0) + 1);
  const values = pickers.map((p) => widgetOf(node, p.widget)?.value);
  const wanted = pickers.filter((_, i) => typeof values[i] === "string" && values[i].trim());
  /** @type {(Merged | null)[]} */
  let merged = pickers.map(() => null);
  if (wanted.length) {
    const loaded = await loadFor(wanted);
    merged = pickers.map((p) => loaded[wanted.indexOf(p)] ?? null);
  }
  if (strip.aliveaiToken !== token) return;  // a newer paint started meanwhile
  const rows = [];
  pickers.forEach((p, i) => {
    const d = describeValue(values[i], merged[i]);
    if (d.state === "empty") return;
    const text = el("span", { textContent: `${p.noun}: ${d.text}` });
    text.style.cssText = "overflow:hidden;text-overflow:ellipsis;white-space:nowrap;"
      + (d.state === "missing" ? "color:var(--error-text, #f87171)" : d.state === "unknown" ? "opacity:.7" : "");
    const row = el("div", { title: d.text }, [thumb(d.entry?.thumb || "", ROW_PX - 4), text]);
    row.style.cssText = `display:flex;align-items:center;gap:6px;height:${ROW_PX}px;font-size:11px`;
    rows.push(row);
  });
  strip.aliveaiShown.rows = rows.length;
  strip.aliveaiBox.replaceChildren(...rows);
  strip.aliveaiBox.style.display = rows.length ? "block" : "none";
  const [w, h] = node.computeSize?.() ?? node.size;
  node.setSize?.([Math.max(node.size[0], w), Math.max(node.size[1], h)]);
  node.setDirtyCanvas?.(true, true);
}

/** @param {any} node @param {Picker[]} pickers */
function attach(node, pickers) {
  if (widgetOf(node, STRIP)) return;
  for (const p of pickers) {
    const target = widgetOf(node, p.widget);
    if (!target) continue;
    const original = target.callback;
    target.callback = function (/** @type {any[]} */ ...args) {
      const r = original?.apply(this, args);
      paintStrip(node, pickers);
      return r;
    };
    const button = node.addWidget("button", buttonLabel(p), null,
      (/** @type {any[]} */ ...args) => openPicker(node, p, pickers, args.find((a) => typeof a?.clientX === "number")),
      { serialize: false });
    button.label = buttonLabel(p);
    noSerialize(button);
  }
  if (typeof node.addDOMWidget !== "function") return;  // very old frontends: buttons only
  const box = el("div");
  box.style.cssText = "display:none;overflow:hidden;padding:0 2px";
  // read by the size callbacks, which may run before addDOMWidget returns
  const shown = { rows: 0, margin: STRIP_MARGIN };
  const height = () => domWidgetHeight(shown.rows ? shown.rows * ROW_PX + 4 : 0, shown.margin);
  const strip = node.addDOMWidget(STRIP, "aliveai-catalog", box, {
    serialize: false,
    margin: STRIP_MARGIN,
    hideOnZoom: true,
    getValue: () => "",
    setValue: () => {},
    getMinHeight: height,
    getMaxHeight: height,
  });
  noSerialize(strip);
  if (Number.isFinite(strip.margin)) shown.margin = strip.margin;  // what this frontend really uses
  strip.aliveaiBox = box;
  strip.aliveaiShown = shown;
}

/**
 * The node's top-left corner in the window (classic canvas), or null when it cannot be found.
 * @param {any} node
 * @returns {{x: number, y: number} | null}
 */
function nodeOnScreen(node) {
  try {
    const canvas = /** @type {any} */ (app).canvas;
    const [cx, cy] = canvas.ds.convertOffsetToCanvas([node.pos[0], node.pos[1]]);
    const r = canvas.canvas.getBoundingClientRect();
    return Number.isFinite(cx) && Number.isFinite(cy) ? { x: r.left + cx, y: r.top + cy } : null;
  } catch {
    return null;  // no canvas (yet) or another renderer: the picker is centred
  }
}

// -- the picker -------------------------------------------------------------------------------------
/** @type {{close: () => void} | null} */
let open = null;

/**
 * @param {any} node
 * @param {Picker} picker
 * @param {Picker[]} pickers all pickers of the node (their strip is repainted)
 * @param {{clientX: number, clientY: number} | undefined} at
 */
function openPicker(node, picker, pickers, at) {
  open?.close();
  const target = widgetOf(node, picker.widget);
  if (!target) return;
  const panelStyle = "position:fixed;z-index:10000;background:var(--comfy-menu-bg, #202020);"
    + "color:var(--fg-color, #ddd);border:1px solid var(--border-color, #555);border-radius:6px;"
    + "box-shadow:0 6px 24px rgba(0,0,0,.5);font-size:12px";
  const root = el("div");
  root.setAttribute("role", "dialog");
  root.setAttribute("aria-label", `Choose ${picker.noun}`);
  root.style.cssText = `${panelStyle};width:360px;max-height:480px;display:flex;flex-direction:column;padding:8px;gap:6px`;
  const title = el("div", { textContent: `Choose ${picker.noun}` });
  title.style.cssText = "flex:1;font-weight:600";
  const refresh = el("button", { type: "button", textContent: "\u21bb", title: "Refresh from AliveAI",
    className: ICON_BUTTON });
  const close = el("button", { type: "button", textContent: "\u00d7", title: "Close", className: ICON_BUTTON });
  const head = el("div", {}, [title, refresh, close]);
  head.style.cssText = "display:flex;align-items:center;gap:4px";
  const filter = /** @type {HTMLInputElement} */ (el("input", { type: "search", placeholder: "filter by name or id",
    spellcheck: false, autocomplete: "off" }));
  filter.style.cssText = "width:100%;box-sizing:border-box;padding:4px 6px;border-radius:4px;"
    + "border:1px solid var(--border-color, #555);background:var(--comfy-input-bg, #222);color:var(--input-text, #ddd)";
  const info = el("div");
  info.style.cssText = "opacity:.7;font-size:11px;white-space:pre-wrap;word-break:break-word";
  const list = el("div");
  list.setAttribute("role", "listbox");
  list.style.cssText = "overflow-y:auto;flex:1;min-height:60px";
  const preview = el("div");
  preview.style.cssText = `${panelStyle};display:none;padding:4px;pointer-events:none`;
  const previewImg = thumb("", 256);
  preview.append(previewImg);
  root.append(head, filter, info, list);
  document.body.append(root, preview);

  const pos = placePopup(popupAnchor(at, lastPointer, Date.now(), nodeOnScreen(node)), { width: 360, height: 480 },
    { width: window.innerWidth, height: window.innerHeight });
  root.style.left = `${pos.left}px`;
  root.style.top = `${pos.top}px`;

  /** @type {Merged | null} */
  let merged = null;
  /** @type {{entry: Entry, row: HTMLElement}[]} */
  let rows = [];
  let highlighted = -1;
  let closed = false;
  /** @type {number | undefined} */
  let retry;

  /** @param {Entry} entry @param {HTMLElement} row */
  const showPreview = (entry, row) => {
    if (!entry.thumb) {
      preview.style.display = "none";
      return;
    }
    previewImg.style.visibility = "visible";
    previewImg.src = entry.thumb;
    const r = root.getBoundingClientRect();
    const left = r.right + 270 < window.innerWidth ? r.right + 6 : r.left - 270;
    preview.style.left = `${Math.max(4, left)}px`;
    preview.style.top = `${Math.max(4, Math.min(row.getBoundingClientRect().top - 100, window.innerHeight - 270))}px`;
    preview.style.display = "block";
  };

  /** @param {number} index */
  const highlight = (index) => {
    rows[highlighted]?.row.style.removeProperty("outline");
    highlighted = index;
    const r = rows[index];
    if (!r) return;
    r.row.style.outline = "1px solid var(--p-primary-color, #4f8cff)";
    r.row.scrollIntoView({ block: "nearest" });
    showPreview(r.entry, r.row);
  };

  /** @param {Entry} entry */
  const choose = (entry) => {
    setWidget(node, target, entry.id);
    if (picker.typeWidget && entry.type) setWidget(node, widgetOf(node, picker.typeWidget), entry.type);
    paintStrip(node, pickers);
    shut();
  };

  const render = () => {
    if (!merged) {
      info.textContent = "Loading\u2026";
      list.replaceChildren();
      return;
    }
    const shown = filterEntries(merged.entries, filter.value);
    info.textContent = statusLine(merged, shown.length, Date.now());
    const current = typeof target.value === "string" ? target.value.trim() : "";
    rows = [];
    highlighted = -1;
    const children = [];
    for (const section of groupEntries(shown)) {
      const header = el("div", { textContent: section.title });
      header.style.cssText = "position:sticky;top:0;background:var(--comfy-menu-bg, #202020);padding:4px 2px 2px;"
        + "font-size:11px;font-weight:600;opacity:.8;text-transform:uppercase;letter-spacing:.03em";
      children.push(header);
      for (const entry of section.entries) {
        const name = el("div", { textContent: entry.name });
        name.style.cssText = "overflow:hidden;text-overflow:ellipsis;white-space:nowrap";
        const id = el("div", { textContent: entry.id });
        id.style.cssText = "overflow:hidden;text-overflow:ellipsis;white-space:nowrap;opacity:.6;font-size:10px";
        const text = el("div", {}, [name, id]);
        text.style.cssText = "min-width:0;flex:1";
        const row = el("div", { title: entry.name }, [thumb(entry.thumb, 40), text]);
        row.setAttribute("role", "option");
        row.style.cssText = "display:flex;align-items:center;gap:8px;padding:3px 4px;border-radius:4px;cursor:pointer"
          + (entry.id === current ? ";background:var(--comfy-input-bg, #333);font-weight:600" : "");
        const index = rows.length;
        row.addEventListener("mouseenter", () => highlight(index));
        row.addEventListener("click", () => choose(entry));
        rows.push({ entry, row });
        children.push(row);
      }
    }
    if (!shown.length) {
      children.push(el("div", { textContent: merged.entries.length ? "Nothing matches the filter."
        : "No entries." }));
    }
    list.replaceChildren(...children);
  };

  const load = async (force = false) => {
    merged = null;
    render();
    const [m] = await loadFor([picker], force);
    if (closed) return;
    merged = m;
    render();
    // The server answered an expired list and is refreshing it: ask once more shortly.
    if (m.revalidating && !force && retry === undefined) {
      retry = window.setTimeout(async () => {
        if (closed) return;
        const [again] = await loadFor([picker]);
        if (closed) return;
        merged = again;
        render();
        paintStrip(node, pickers);
      }, 2500);
    }
  };

  /** @param {PointerEvent} e */
  const outside = (e) => {
    if (!root.contains(/** @type {Node} */ (e.target))) shut();
  };
  /** @param {KeyboardEvent} e */
  const keys = (e) => {
    if (e.key === "Escape") {
      shut();
    } else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      highlight(moveIndex(highlighted, e.key === "ArrowDown" ? 1 : -1, rows.length));
    } else if (e.key === "Enter") {
      const r = rows[highlighted] ?? (rows.length === 1 ? rows[0] : undefined);
      if (r) choose(r.entry);
    } else {
      return;
    }
    e.preventDefault();
    e.stopPropagation();  // keep the canvas's shortcuts out of the picker
  };
  function shut() {
    if (closed) return;
    closed = true;
    window.clearTimeout(retry);
    document.removeEventListener("pointerdown", outside, true);
    root.remove();
    preview.remove();
    if (open === handle) open = null;
  }
  const handle = { close: shut };
  open = handle;

  filter.addEventListener("input", render);
  root.addEventListener("keydown", keys);
  list.addEventListener("mouseleave", () => { preview.style.display = "none"; });
  refresh.addEventListener("click", async () => {
    await load(true);
    paintStrip(node, pickers);
  });
  close.addEventListener("click", shut);
  // Registered after this click has finished, so the click that opened the picker does not close it.
  setTimeout(() => { if (!closed) document.addEventListener("pointerdown", outside, true); }, 0);
  filter.focus();
  load();
}

app.registerExtension({
  name: "aliveai.catalogs",
  setup() {
    ensureStyles(document, STYLE_HREF);
    // Capture phase: the canvas and Vue nodes stop the event before it bubbles up.
    document.addEventListener("pointerdown", (e) => { lastPointer = { x: e.clientX, y: e.clientY, t: Date.now() }; },
      true);
  },
  /** @param {any} node */
  nodeCreated(node) {
    const pickers = pickersFor(node?.comfyClass ?? node?.type);
    if (!pickers.length) return;
    attach(node, pickers);
    // A loaded or pasted node gets its values from configure(), which runs after this hook.
    setTimeout(() => paintStrip(node, pickers), 0);
  },
  /** @param {any} node */
  loadedGraphNode(node) {
    const pickers = pickersFor(node?.comfyClass ?? node?.type);
    if (pickers.length) paintStrip(node, pickers);
  },
});
