// @ts-check
/**
 * AliveAI sidebar tab: credits, the account's pending jobs (queued and running), and this ComfyUI
 * session's estimated spend against its limits.
 *
 * A sidebar tab rather than a bottom-panel tab or a badge: registerSidebarTab with a custom
 * render is a documented extension API of the 1.27 frontend, its icon is always in reach, and
 * the panel has room for a queue list. The bottom panel is shared with logs and the terminal
 * and usually collapsed; a top-bar badge has no stable API in 1.27.
 * Refreshed on `aliveai.job` (a job node finished or failed) and every 30 s, only while the tab
 * is open and the browser tab visible: a closed tab costs no API calls. The queue list also follows
 * `aliveai.queue` live: the server holds AliveAI's user websocket (opened by the first status
 * request) and pushes each new queue; without it (an API key, a dropped socket) the server polls
 * Get Pending and the status says why.
 */
import { app } from "../../scripts/app.js";
import { getStatus, onJobEvent, onQueueEvent, resetSpend } from "./api.js";
import { TtlCache } from "./lib/cache.js";
import { BUTTON, STYLE_HREF, ensureStyles } from "./lib/ui.js";
import { formatAge, formatCredits, queueLine, sessionLine } from "./lib/format.js";

const REFRESH_MS = 30000;

/** One cache for the panel, the timer and job events: one request answers them all. */
const cache = new TtlCache(5000);

/**
 * @param {HTMLElement} root
 * @param {boolean} [afterJob] a job just finished: skip the server's cache too
 */
async function paint(root, afterJob = false) {
  const credits = /** @type {HTMLElement} */ (root.querySelector("[data-aliveai=credits]"));
  const info = /** @type {HTMLElement} */ (root.querySelector("[data-aliveai=info]"));
  const list = /** @type {HTMLElement} */ (root.querySelector("[data-aliveai=queue]"));
  const spent = /** @type {HTMLElement} */ (root.querySelector("[data-aliveai=session]"));
  let res;
  try {
    res = await cache.get(() => getStatus(afterJob), { force: afterJob });
  } catch (e) {
    info.textContent = `Could not reach the pack: ${e instanceof Error ? e.message : String(e)}`;
    return;
  }
  const s = res.value;
  credits.textContent = formatCredits(s.credits);
  const notes = [`updated ${formatAge(s.updated, Date.now())}`];
  if (s.stale || res.stale) notes.push("stale");
  if (s.error) notes.push(String(s.error));
  spent.textContent = sessionLine(s.session);
  const reset = /** @type {HTMLElement} */ (root.querySelector("[data-aliveai=reset]"));
  reset.style.display = s.session && s.session.jobs > 0 && typeof s.session.budget === "number" ? "" : "none";
  notes.push(s.queue_source === "websocket" ? "queue live" : "queue polled");
  if (s.queue_note) notes.push(String(s.queue_note));
  info.textContent = notes.join(" · ");
  paintQueue(list, s.queue);
}

/**
 * @param {HTMLElement} list
 * @param {any} queue
 */
function paintQueue(list, queue) {
  const items = Array.isArray(queue) ? queue : [];
  list.replaceChildren(...(items.length ? items.map((/** @type {any} */ q) => Object.assign(document.createElement("li"),
    { textContent: queueLine(q) })) : [Object.assign(document.createElement("li"), { textContent: "No pending jobs." })]));
}

/** @type {{root: HTMLElement, timer: number} | null} */
let mounted = null;

function unmount() {
  if (mounted) clearInterval(mounted.timer);
  mounted = null;
}

/** @param {HTMLElement} container */
function render(container) {
  unmount();
  const root = document.createElement("div");
  root.style.cssText = "padding:10px;display:flex;flex-direction:column;gap:8px;font-size:13px";
  const title = Object.assign(document.createElement("h3"), { textContent: "AliveAI" });
  title.style.margin = "0";
  const credits = Object.assign(document.createElement("div"), { style: "font-size:18px" });
  credits.dataset.aliveai = "credits";
  const info = Object.assign(document.createElement("div"), { style: "opacity:.7;font-size:11px;white-space:pre-wrap" });
  info.dataset.aliveai = "info";
  const spent = Object.assign(document.createElement("div"), { style: "font-size:12px" });
  spent.dataset.aliveai = "session";
  const list = Object.assign(document.createElement("ul"), { style: "margin:0;padding-left:18px;word-break:break-all" });
  list.dataset.aliveai = "queue";
  const refresh = Object.assign(document.createElement("button"), { type: "button", textContent: "Refresh",
    className: BUTTON, style: "align-self:flex-start" });
  refresh.onclick = () => paint(root, true);
  const reset = Object.assign(document.createElement("button"), { type: "button", textContent: "Reset session spend",
    title: "Start a new budget session: the spend counted against the credit budget goes back to zero.",
    className: BUTTON, style: "display:none;align-self:flex-start" });
  reset.dataset.aliveai = "reset";
  reset.onclick = async () => {
    try {
      await resetSpend();
    } catch (e) {
      console.warn("[AliveAI] could not reset the session's spend", e);
    }
    cache.invalidate();
    paint(root);
  };
  const hint = Object.assign(document.createElement("div"), {
    textContent: "Credentials and limits: Settings › AliveAI.", style: "opacity:.6;font-size:11px" });
  root.append(title, credits, info, spent, reset, Object.assign(document.createElement("div"), { textContent: "Pending jobs" }),
    list, refresh, hint);
  container.replaceChildren(root);

  const timer = window.setInterval(() => {
    if (!root.isConnected) return unmount();  // the tab was closed without destroy()
    if (document.visibilityState === "visible") paint(root);
  }, REFRESH_MS);
  mounted = { root, timer };
  paint(root);
}

app.registerExtension({
  name: "aliveai.status",
  setup() {
    ensureStyles(document, STYLE_HREF);
    onJobEvent(() => {
      cache.invalidate();
      if (mounted?.root.isConnected) paint(mounted.root, true);
    });
    onQueueEvent((detail) => {
      cache.invalidate();
      const list = mounted?.root.isConnected ? mounted.root.querySelector("[data-aliveai=queue]") : null;
      if (list) paintQueue(/** @type {HTMLElement} */ (list), detail.queue);
    });
    const manager = /** @type {any} */ (app).extensionManager;
    if (!manager?.registerSidebarTab) {
      console.warn("[AliveAI] this ComfyUI frontend has no sidebar tabs; the status tab is not shown");
      return;
    }
    manager.registerSidebarTab({
      id: "aliveai-status",
      icon: "pi pi-bolt",
      title: "AliveAI",
      tooltip: "AliveAI: credits and pending jobs",
      type: "custom",
      render,
      destroy: unmount,
    });
  },
});
