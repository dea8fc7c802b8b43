// @ts-check
/**
 * Pure helpers of Settings › AliveAI › Limits: the line under each field and the form to POST.
 * No DOM, no app: Node's test runner imports this file as is (tests/js/).
 */

/**
 * One preference as GET /aliveai/limits sends it (nodes/comfy/prefs.py).
 * @typedef {{key: string, env: string, label: string, unit: string, doc: string, default: number | null,
 *   saved: number | null | undefined, env_value: string | null | undefined, source: string, max?: number}} Pref
 */

/**
 * The line under a field: what is in force and where it comes from.
 * @param {Pref} p
 * @returns {string}
 */
export function describePref(p) {
  if (p.source === "env") return `${p.env}=${p.env_value} in the environment wins over this field.`;
  if (p.source === "file") return `In force: ${p.saved} ${p.unit}.`;
  return p.default === null || p.default === undefined ? "Not set: off." : `Not set: ${p.default} ${p.unit}.`;
}

/**
 * The text a field starts with: the saved value, or "" when nothing is saved.
 * @param {Pref} p
 */
export function fieldText(p) {
  return p.saved === null || p.saved === undefined ? "" : String(p.saved);
}

/**
 * The POST body: each changed field as a number, or null when emptied (back to its default).
 * Unchanged fields are left out, so a value set elsewhere meanwhile is not overwritten.
 * @param {Pref[]} prefs
 * @param {Record<string, string>} texts the fields' texts by key
 * @returns {Record<string, number | null>}
 * @throws {Error} naming the first field that is not a number from 0 to its max
 */
export function limitsForm(prefs, texts) {
  /** @type {Record<string, number | null>} */
  const out = {};
  for (const p of prefs) {
    const text = (texts[p.key] ?? "").trim();
    if (text === fieldText(p)) continue;
    if (text === "") {
      out[p.key] = null;
      continue;
    }
    const n = Number(text);
    if (!Number.isFinite(n) || n < 0) {
      throw new Error(`${p.label}: enter a number of ${p.unit} (0 or more), or leave it empty.`);
    }
    if (typeof p.max === "number" && n > p.max) {
      throw new Error(`${p.label}: at most ${p.max.toLocaleString("en-US")} ${p.unit}.`);
    }
    out[p.key] = n;
  }
  return out;
}
