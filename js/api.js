// @ts-check
/**
 * The one wrapper for the pack's routes (/aliveai/…, see nodes/comfy/routes.py) and its
 * websocket event. Paths go through api.fetchApi, which adds ComfyUI's /api prefix and base
 * path, so nothing here depends on the folder the pack was installed in.
 * POSTs are always JSON: the server refuses anything else (it blocks cross-site form posts).
 */
import { api } from "../../scripts/api.js";

export const JOB_EVENT = "aliveai.job";
/** The account's queue changed (the server follows AliveAI's user websocket; see nodes/comfy/live_queue.py). */
export const QUEUE_EVENT = "aliveai.queue";

/**
 * @param {string} path
 * @param {{method?: string, body?: object}} [options]
 * @returns {Promise<any>} the parsed JSON answer
 */
async function call(path, { method = "GET", body } = {}) {
  /** @type {RequestInit} */
  const init = { method };
  if (method !== "GET") {
    init.headers = { "Content-Type": "application/json" };
    init.body = JSON.stringify(body ?? {});
  }
  const resp = await api.fetchApi(path, init);
  let data = null;
  try {
    data = await resp.json();
  } catch {
    // not JSON (a proxy's error page, an older pack without the route): reported below
  }
  if (!resp.ok) {
    throw new Error(data?.error || `${method} ${path}: HTTP ${resp.status}`);
  }
  return data;
}

/** @typedef {import("./lib/format.js").Account} Account */

/** @returns {Promise<Account>} where the credentials come from; never a key or a password */
export const getAccount = () => call("/aliveai/account");

/**
 * Save to the pack's config file (merged; "" clears a field).
 * @param {{api_key?: string, email?: string, password?: string, base_url?: string}} form
 * @returns {Promise<Account>}
 */
export const saveAccount = (form) => call("/aliveai/account", { method: "POST", body: form });

/** @returns {Promise<Account>} */
export const clearAccount = () => call("/aliveai/account/clear", { method: "POST" });

/** @returns {Promise<{ok: boolean, email?: string, credits?: number, premiumExpiration?: string, error?: string}>} */
export const testConnection = () => call("/aliveai/account/test", { method: "POST" });

/** @returns {Promise<{prefs: import("./lib/limits.js").Pref[], config_file: string}>} */
export const getLimits = () => call("/aliveai/limits");

/**
 * Save limits to the pack's config file (a number sets one, null clears it).
 * @param {Record<string, number | null>} form
 * @returns {Promise<{prefs: import("./lib/limits.js").Pref[], config_file: string}>}
 */
export const saveLimits = (form) => call("/aliveai/limits", { method: "POST", body: form });

/**
 * @param {boolean} [refresh] skip the server's 5 s cache (after a job finished)
 * @returns {Promise<{credits: number | null, queue: any[], updated: number | null, stale?: boolean, error?: string,
 *   key_set?: boolean, session?: {jobs: number, estimated: number, budget: number | null, floor: number | null}}>}
 */
export const getStatus = (refresh = false) => call(`/aliveai/status${refresh ? "?refresh=1" : ""}`);

/** @returns {Promise<{session: {jobs: number, estimated: number, budget: number | null, floor: number | null}}>} */
export const resetSpend = () => call("/aliveai/spend/reset", { method: "POST" });

/**
 * One catalog for the id pickers: `{kind, items: [{id, name, thumb, group, type?}], stale, error, updated}`.
 * Without `refresh` the server may answer an expired list at once (stale, `revalidating`) and
 * refresh it in the background.
 * @param {string} kind poses, custom_poses, clothes, custom_clothes, templates, edit_templates,
 *   edit_templates_realism, video_templates, ltx_video_templates or profiles
 * @param {boolean} [refresh] skip the server's cache
 * @returns {Promise<import("./lib/catalog.js").Listing>}
 */
export const getCatalog = (kind, refresh = false) =>
  call(`/aliveai/catalog/${encodeURIComponent(kind)}${refresh ? "?refresh=1" : ""}`);

/**
 * Listen to `aliveai.job` (a job node finished or failed). Call from an extension's setup():
 * the frontend only dispatches a custom event type once a listener for it exists.
 * @param {(detail: {node?: string, prompt_id?: string, status?: string, seconds?: number, medias?: string[]}) => void} fn
 */
export function onJobEvent(fn) {
  api.addEventListener(JOB_EVENT, (/** @type {any} */ e) => fn(e?.detail ?? {}));
}

/**
 * Run the API check (python -m nodes.doctor) with the current settings: spends nothing.
 * @returns {Promise<{text: string, counts: Record<string, number>, proposals: Record<string, string>, error?: string}>}
 */
export const runApiCheck = () => call("/aliveai/doctor/check", { method: "POST" });

/**
 * Save the paths the last check verified (all, or the given operation keys) as path overrides.
 * @param {string[]} [keys]
 * @returns {Promise<{saved: Record<string, string>, note: string}>}
 */
export const saveFoundPaths = (keys) => call("/aliveai/doctor/save", { method: "POST", body: keys ? { keys } : {} });

/**
 * Listen to `aliveai.queue`: the account's pending jobs, pushed by the server as AliveAI's user
 * websocket reports them. Only the queue items arrive here; the token stays on the server.
 * @param {(detail: {queue?: any[], updated?: number, queue_source?: string}) => void} fn
 */
export function onQueueEvent(fn) {
  api.addEventListener(QUEUE_EVENT, (/** @type {any} */ e) => fn(e?.detail ?? {}));
}
