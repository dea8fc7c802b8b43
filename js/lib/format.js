// @ts-check
/**
 * Pure text helpers for the AliveAI UI: credits, durations, queue lines, the account status
 * line, the lines shown on a node after it ran. No DOM, no app, no api imports, so Node's test
 * runner imports this file as is (tests/js/). Everything returns plain strings; the callers put
 * them in the page with textContent, never innerHTML, so text from the API cannot inject markup.
 */

/** Longest text shown on a node; a Get Prompts JSON answer can be very long. */
export const MAX_NODE_TEXT = 20000;

/**
 * @param {unknown} value
 * @returns {string} "1,234.5 credits", or "—" when unknown
 */
export function formatCredits(value) {
  const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isFinite(n)) return "—";
  return `${n.toLocaleString("en-US", { maximumFractionDigits: 2 })} credits`;
}

/**
 * @param {unknown} seconds
 * @returns {string} "0.4 s", "12 s", "3 min 5 s", "1 h 2 min"
 */
export function formatDuration(seconds) {
  if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0) return "—";
  if (seconds < 10) return `${Math.round(seconds * 10) / 10} s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ""}`;
  const m = Math.floor((s % 3600) / 60);
  return `${Math.floor(s / 3600)} h${m ? ` ${m} min` : ""}`;
}

/**
 * How long ago an answer was fetched.
 * @param {number | null | undefined} updated epoch seconds, as the server sends it
 * @param {number} nowMs
 */
export function formatAge(updated, nowMs) {
  if (typeof updated !== "number" || !Number.isFinite(updated)) return "never";
  const age = Math.max(0, nowMs / 1000 - updated);
  return age < 2 ? "just now" : `${formatDuration(age)} ago`;
}

/**
 * A date from the API as YYYY-MM-DD ("" when it is not a date).
 * @param {unknown} iso
 */
export function formatDate(iso) {
  if (typeof iso !== "string" && typeof iso !== "number") return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString().slice(0, 10);
}

/**
 * One line per pending job: "running 45% · video · <promptId>" or "#2 in queue · image · <promptId>".
 * @param {{promptId?: unknown, queuePosition?: unknown, progress?: unknown, video?: unknown}} item
 */
export function queueLine(item) {
  const pos = Number(item?.queuePosition);
  const progress = Number(item?.progress);
  const state = pos > 0 ? `#${pos} in queue`
    : `running${Number.isFinite(progress) ? ` ${Math.round(progress)}%` : ""}`;
  return `${state} · ${item?.video ? "video" : "image"} · ${String(item?.promptId ?? "?")}`;
}

/**
 * A secret shown as its last four characters, like the server's redact.mask, after the
 * "Key " / "Bearer " prefix the server strips too (so a short key is not half shown).
 * @param {string | null | undefined} value
 */
export function maskSecret(value) {
  const v = (value || "").trim().replace(/^(key|bearer)\s+/i, "");
  if (!v) return "";
  return v.length > 8 ? "\u2022".repeat(4) + v.slice(-4) : "\u2022".repeat(4);
}

/**
 * @typedef {{key_set?: boolean, source?: string, env_overrides?: boolean, env_vars?: string[],
 *   auth?: string, key_masked?: string, email?: string, base_url?: string, default_base_url?: string,
 *   saved?: string, saved_for?: string | null, withheld?: string, credentials_cleared?: string,
 *   config_file?: string, error?: string}} Account
 */

/**
 * The status line of the settings dialog, as lines. Says where the credentials come from and,
 * when the environment wins, that what is saved here is not used.
 * @param {Account} a
 * @returns {string[]}
 */
export function describeAccount(a) {
  const lines = [];
  const from = a.source === "env" ? "from the environment" : "saved in ComfyUI's user directory";
  if (a.auth === "key") lines.push(`Using API key ${a.key_masked || "\u2022\u2022\u2022\u2022"} (${from}).`);
  else if (a.auth === "login") lines.push(`Using e-mail login ${a.email || ""} (${from}).`);
  else lines.push("No credentials: enter an API key (or e-mail and password) and press Save.");
  const vars = (a.env_vars || []).filter((v) => v.startsWith("ALIVEAI_"));
  if (a.env_overrides && vars.length) {
    lines.push(`Environment variable${vars.length > 1 ? "s" : ""} ${vars.join(", ")} win${vars.length > 1 ? "" : "s"} `
      + "over what you save here.");
  }
  if (a.source === "env" && a.saved && a.saved !== "none") {
    lines.push(`A saved ${a.saved === "key" ? "key" : "login"} exists but is not used while the environment sets one.`);
  }
  if (a.base_url) {
    lines.push(`API: ${a.base_url}${a.base_url === a.default_base_url ? " (live)" : ""}`);
  }
  if (a.withheld) lines.push(`Saved credentials not used: ${a.withheld}.`);
  if (a.credentials_cleared) lines.push(a.credentials_cleared);
  if (a.error) lines.push(`Problem: ${a.error}`);
  return lines;
}

/**
 * The Test connection result as one line.
 * @param {{ok?: boolean, email?: unknown, credits?: unknown, premiumExpiration?: unknown, error?: unknown}} r
 * @param {number} [nowMs]
 */
export function describeTest(r, nowMs = Date.now()) {
  if (!r?.ok) return `Test failed: ${String(r?.error || "no answer")}`;
  const parts = [`Connected as ${String(r.email ?? "?")}`, formatCredits(r.credits)];
  const until = formatDate(r.premiumExpiration);
  if (until) {
    const past = new Date(String(r.premiumExpiration)).getTime() < nowMs;
    parts.push(past ? `premium expired ${until}` : `premium until ${until}`);
  } else {
    parts.push("no premium");
  }
  return parts.join(" · ");
}

/**
 * What to show on a node after it ran, from its "ui" dict: the "aliveai" entries
 * ({prompt_id, media_ids}) and any "text" lines. Every ui value is a list (ComfyUI concatenates
 * them across list runs); anything else is ignored.
 * @param {Record<string, unknown> | null | undefined} output
 * @returns {string[]}
 */
export function previewLines(output) {
  const lines = [];
  const entries = Array.isArray(output?.aliveai) ? output.aliveai : [];
  for (const e of entries) {
    if (!e || typeof e !== "object") continue;
    const ids = Array.isArray(e.media_ids) ? e.media_ids.map(String) : [];
    if (e.prompt_id) lines.push(`prompt_id: ${String(e.prompt_id)}`);
    if (ids.length) lines.push(`media_id${ids.length > 1 ? "s" : ""}: ${ids.join(", ")}`);
  }
  const texts = Array.isArray(output?.text) ? output.text : [];
  for (const t of texts) {
    if (typeof t === "string" && t) lines.push(t);
  }
  return lines;
}

/**
 * The node's final status line, from its ui dict's "aliveai_status" (the server's "done in 8.1 s ·
 * 1 image · prompt …"; kept in the ui because frontend 1.58 deletes progress text when a run
 * ends). `cached`: ComfyUI answered the node from its own output cache and re-sent the old ui, so
 * nothing ran and nothing was paid: say so, with the prompt the result came from.
 * @param {Record<string, unknown> | null | undefined} output
 * @param {boolean} [cached]
 * @returns {string} "" when there is nothing to say
 */
export function finalLine(output, cached = false) {
  const lines = Array.isArray(output?.aliveai_status)
    ? output.aliveai_status.filter((t) => typeof t === "string" && t) : [];
  if (!cached) return lines.join("\n");
  const entries = Array.isArray(output?.aliveai) ? output.aliveai : [];
  const ids = entries.map((e) => (e && typeof e === "object" && e.prompt_id ? String(e.prompt_id) : ""))
    .filter(Boolean);
  if (!ids.length && !lines.length) return "";
  return `cached · no new job${ids.length ? ` · prompt ${ids.join(",")}` : ""}`;
}

/**
 * @param {string[]} lines
 * @returns {string} joined, cut to MAX_NODE_TEXT characters
 */
export function nodeText(lines) {
  const text = lines.join("\n");
  return text.length > MAX_NODE_TEXT ? `${text.slice(0, MAX_NODE_TEXT)}\n… (cut)` : text;
}

/**
 * The status tab's line on this ComfyUI session's spending (estimates: AliveAI publishes no prices).
 * @param {{jobs?: number, estimated?: number, budget?: number | null, floor?: number | null} | undefined} s
 * @returns {string} "" when the server sent nothing
 */
export function sessionLine(s) {
  if (!s || typeof s.jobs !== "number") return "";
  const n = (/** @type {number} */ x) => x.toLocaleString("en-US", { maximumFractionDigits: 2 });
  let line = s.jobs === 0 ? "This session: no paid jobs yet"
    : `This session: ${s.jobs} job${s.jobs === 1 ? "" : "s"}, about ${n(s.estimated ?? 0)} `
      + `credit${s.estimated === 1 ? "" : "s"} (estimate)`;
  if (typeof s.budget === "number") line += ` · budget ${n(s.budget)}`;
  if (typeof s.floor === "number") line += ` · keeping ${n(s.floor)} on the account`;
  return line;
}
