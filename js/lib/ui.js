// @ts-check
/**
 * Small frontend helpers that differ between frontend 1.27 and 1.53+ (pure, or taking what they
 * touch as arguments, so tests/js runs them under `node --test`):
 * - the pack's stylesheet (1.53+ no longer styles PrimeVue class names on our DOM);
 * - marking the workflow changed (checkState() is deprecated for captureCanvasState() in 1.53+);
 * - where a popup opens (a button widget's callback gets no pointer event in Nodes 2.0);
 * - the height of a DOM widget, which the classic canvas shrinks by its margin on both sides.
 */

export const STYLE_ID = "aliveai-style";
/** Button classes of the pack's stylesheet (js/aliveai.css). */
export const BUTTON = "aliveai-btn";
export const PRIMARY_BUTTON = "aliveai-btn aliveai-btn--primary";
export const ICON_BUTTON = "aliveai-btn aliveai-btn--icon";
/** A pointerdown this recent (ms) is the one that pressed the button whose callback runs now. */
export const RECENT_POINTER_MS = 1500;

/**
 * Link js/aliveai.css once into the page (a second call, or the module loaded twice, adds nothing).
 * @param {Document} doc
 * @param {string} href
 * @returns {boolean} true when it added the link
 */
export function ensureStyles(doc, href) {
  if (!doc?.head || doc.getElementById(STYLE_ID)) return false;
  const link = doc.createElement("link");
  link.id = STYLE_ID;
  link.rel = "stylesheet";
  link.href = href;
  doc.head.append(link);
  return true;
}

/** The stylesheet's address, next to the pack's js files. */
export const STYLE_HREF = new URL("../aliveai.css", import.meta.url).href;

/**
 * Tell the workflow's change tracker that the graph changed: captureCanvasState() where it exists
 * (1.53+, where checkState() logs a deprecation warning), else checkState() (1.27).
 * @param {any} tracker app.extensionManager.workflow.activeWorkflow.changeTracker
 * @returns {"captureCanvasState" | "checkState" | null} what was called
 */
export function markChanged(tracker) {
  if (typeof tracker?.captureCanvasState === "function") {
    tracker.captureCanvasState();
    return "captureCanvasState";
  }
  if (typeof tracker?.checkState === "function") {
    tracker.checkState();
    return "checkState";
  }
  return null;
}

/**
 * Where a popup opened by a button widget goes: at the click when the callback got the event
 * (classic canvas), else at the last pointerdown if it just happened (Nodes 2.0 passes no event),
 * else at `fallback` (e.g. the node on screen), else null (the caller centres it).
 * @param {any} event
 * @param {{x: number, y: number, t: number} | null | undefined} last
 * @param {number} nowMs
 * @param {{x: number, y: number} | null} [fallback]
 * @returns {{x: number, y: number} | null}
 */
export function popupAnchor(event, last, nowMs, fallback = null) {
  if (event && Number.isFinite(event.clientX) && Number.isFinite(event.clientY)) {
    return { x: event.clientX, y: event.clientY };
  }
  if (last && Number.isFinite(last.x) && Number.isFinite(last.y) && nowMs - last.t >= 0
      && nowMs - last.t <= RECENT_POINTER_MS) {
    return { x: last.x, y: last.y };
  }
  return fallback;
}

/**
 * The popup's top-left corner: at the anchor, kept 4 px inside the window; centred without one.
 * @param {{x: number, y: number} | null} anchor
 * @param {{width: number, height: number}} size
 * @param {{width: number, height: number}} viewport
 */
export function placePopup(anchor, size, viewport) {
  const x = anchor ? anchor.x : (viewport.width - size.width) / 2;
  const y = anchor ? anchor.y : (viewport.height - size.height) / 2;
  return {
    left: Math.max(4, Math.min(x, viewport.width - size.width - 4)),
    top: Math.max(4, Math.min(y, viewport.height - size.height - 4)),
  };
}

/**
 * The height to ask for a DOM widget whose content is `content` px tall: the classic canvas
 * draws the element `margin` px inside its slot on each side (10 px by default), so asking for
 * the content's height alone clipped a 36 px row to 16 px.
 * @param {number} content
 * @param {number | undefined} margin the widget's margin (widget.margin), if known
 */
export function domWidgetHeight(content, margin) {
  if (!(content > 0)) return 0;
  const m = Number.isFinite(margin) && /** @type {number} */ (margin) > 0 ? /** @type {number} */ (margin) : 0;
  return Math.ceil(content + 2 * m);
}
