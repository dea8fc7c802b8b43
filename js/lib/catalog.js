// @ts-check
/**
 * Pure helpers of the catalog pickers (js/catalogs.js): which id widgets get a picker and from
 * which catalogs, merging, filtering and grouping the lists, what to show for a widget's value,
 * and a per-catalog page cache over TtlCache. No DOM and no app imports: Node's test runner
 * imports this file as is (tests/js/).
 *
 * The widgets stay plain STRING widgets (saved workflows keep their layout); the picker only
 * writes into them. So a value may be anything, and a value missing from its catalog is kept
 * and described, never cleared: the run then fails with the server's clear message.
 */
import { TtlCache } from "./cache.js";

/** @typedef {{id: string, name: string, thumb: string, group: string, type?: string}} Entry */
/**
 * One catalog as GET /aliveai/catalog/{kind} answers it.
 * @typedef {{kind: string, items: Entry[], stale?: boolean, error?: string | null, updated?: number | null,
 *   revalidating?: boolean}} Listing
 */
/**
 * An id widget with a picker: its catalogs (first wins on a duplicate id), the word for one
 * item, and (Pose) a widget that takes the chosen entry's type.
 * @typedef {{widget: string, kinds: string[], noun: string, typeWidget?: string}} Picker
 */
/**
 * Several catalogs merged for one picker.
 * @typedef {{entries: Entry[], stale: boolean, revalidating: boolean, complete: boolean, errors: string[],
 *   updated: number | null}} Merged
 */

/** How long the page reuses a list (the server keeps its own for 10 min). */
export const PAGE_TTL_MS = 5 * 60 * 1000;

/** The catalogs the server knows (nodes/comfy/catalog_items.py KINDS). */
export const KINDS = ["poses", "custom_poses", "clothes", "custom_clothes", "templates", "edit_templates",
  "edit_templates_realism", "video_templates", "ltx_video_templates", "profiles"];

/**
 * @param {string} noun
 * @param {string[]} kinds
 * @returns {Picker[]} the three id slots of a LoRA stack node (builder_nodes.LoraStackNode.SLOTS)
 */
function loraSlots(noun, kinds) {
  return [1, 2, 3].map((i) => ({ widget: `lora${i}_id`, kinds, noun: `${noun} ${i}` }));
}

const PROFILE = [{ widget: "profileId", kinds: ["profiles"], noun: "profile" }];

/**
 * Node type -> its id widgets with a picker. Widget names are the Python inputs' (checked against
 * tests/snapshots/nodes.json by tests/js/catalog.test.mjs).
 * @type {Readonly<Record<string, Picker[]>>}
 */
export const CATALOG_WIDGETS = Object.freeze({
  AliveAIPose: [{ widget: "id", kinds: ["poses", "custom_poses"], noun: "pose", typeWidget: "type" }],
  AliveAIClothes: [{ widget: "clothesId", kinds: ["clothes", "custom_clothes"], noun: "clothes" }],
  AliveAILoraStack: loraSlots("LoRA", ["templates"]),
  AliveAIEditLoraStack: loraSlots("edit LoRA", ["edit_templates", "edit_templates_realism"]),
  AliveAIVideoLoraStack: loraSlots("video LoRA", ["video_templates", "ltx_video_templates"]),
  AliveAICreateCharacterImage: PROFILE,
  AliveAIGenerateCharacterPrompt: PROFILE,
});

/**
 * @param {unknown} nodeType
 * @returns {Picker[]}
 */
export function pickersFor(nodeType) {
  return Object.prototype.hasOwnProperty.call(CATALOG_WIDGETS, String(nodeType))
    ? CATALOG_WIDGETS[String(nodeType)] : [];
}

/** @param {Picker} picker */
export function buttonLabel(picker) {
  return `choose ${picker.noun}\u2026`;
}

/**
 * A picture URL safe for <img src>: http(s) only, so a catalog answer cannot point the page at
 * javascript:, data: or a local file. "" otherwise.
 * @param {unknown} url
 */
export function safeThumb(url) {
  if (typeof url !== "string" || !/^https?:\/\//i.test(url.trim())) return "";
  try {
    const u = new URL(url.trim());
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : "";
  } catch {
    return "";
  }
}

/**
 * One entry from an item of the route's answer, or null when it has no usable id.
 * @param {any} item
 * @returns {Entry | null}
 */
export function cleanEntry(item) {
  if (!item || typeof item !== "object") return null;
  const id = typeof item.id === "string" ? item.id.trim() : "";
  if (!id) return null;
  /** @type {Entry} */
  const e = {
    id,
    name: typeof item.name === "string" && item.name.trim() ? item.name.trim() : id,
    thumb: safeThumb(item.thumb),
    group: typeof item.group === "string" ? item.group : "",
  };
  if (typeof item.type === "string" && item.type) e.type = item.type;
  return e;
}

/**
 * The listings of one picker as one list: each id once (the first catalog wins), stale when any
 * listing is, complete when every catalog gave a list (else a missing id proves nothing).
 * @param {Listing[]} listings
 * @returns {Merged}
 */
export function mergeListings(listings) {
  const seen = new Set();
  /** @type {Entry[]} */
  const entries = [];
  /** @type {string[]} */
  const errors = [];
  let stale = false;
  let revalidating = false;
  let complete = true;
  /** @type {number | null} */
  let updated = null;
  for (const l of listings) {
    if (l?.stale) stale = true;
    if (l?.revalidating) revalidating = true;
    if (l?.error) errors.push(String(l.error));
    if (typeof l?.updated === "number") updated = updated === null ? l.updated : Math.min(updated, l.updated);
    else complete = false;
    for (const item of Array.isArray(l?.items) ? l.items : []) {
      const e = cleanEntry(item);
      if (e && !seen.has(e.id)) {
        seen.add(e.id);
        entries.push(e);
      }
    }
  }
  return { entries, stale, revalidating, complete, errors: [...new Set(errors)], updated };
}

/**
 * Every word of `query` appears in the entry's name, id or group (case-insensitive).
 * @param {Entry} entry
 * @param {string} query
 */
export function matchesQuery(entry, query) {
  const words = String(query || "").toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return true;
  const hay = `${entry.name} ${entry.id} ${entry.group}`.toLowerCase();
  return words.every((w) => hay.includes(w));
}

/**
 * @param {Entry[]} entries
 * @param {string} query
 */
export function filterEntries(entries, query) {
  return entries.filter((e) => matchesQuery(e, query));
}

/**
 * Sections for the group headers, in the order the groups first appear.
 * @param {Entry[]} entries
 * @returns {{title: string, entries: Entry[]}[]}
 */
export function groupEntries(entries) {
  /** @type {Map<string, Entry[]>} */
  const groups = new Map();
  for (const e of entries) {
    const title = e.group || "Other";
    const list = groups.get(title);
    if (list) list.push(e);
    else groups.set(title, [e]);
  }
  return [...groups].map(([title, list]) => ({ title, entries: list }));
}

/**
 * @param {Entry[]} entries
 * @param {unknown} value a widget value
 * @returns {Entry | null}
 */
export function findEntry(entries, value) {
  const v = typeof value === "string" ? value.trim() : "";
  return v ? entries.find((e) => e.id === v) ?? null : null;
}

/**
 * What to show on the node for a widget value: "empty" (nothing), "match" (the entry's
 * thumbnail and name), "missing" (kept, marked not in catalog), "unknown" (no complete list).
 * @param {unknown} value
 * @param {Merged | null} merged null while loading
 * @returns {{state: "empty" | "match" | "missing" | "unknown", entry: Entry | null, text: string}}
 */
export function describeValue(value, merged) {
  const v = typeof value === "string" ? value.trim() : "";
  if (!v) return { state: "empty", entry: null, text: "" };
  const entry = merged ? findEntry(merged.entries, v) : null;
  if (entry) return { state: "match", entry, text: entry.name === entry.id ? entry.id : `${entry.name} (${entry.id})` };
  if (merged && merged.complete) return { state: "missing", entry: null, text: `'${v}' not in catalog` };
  return { state: "unknown", entry: null, text: merged ? `'${v}' (catalog unavailable)` : `'${v}'` };
}

/**
 * The picker's status line.
 * @param {Merged} merged
 * @param {number} shown entries after the filter
 * @param {number} nowMs
 */
export function statusLine(merged, shown, nowMs) {
  const parts = [shown === merged.entries.length ? `${shown} entries` : `${shown} of ${merged.entries.length}`];
  if (merged.updated !== null) {
    const age = Math.max(0, nowMs / 1000 - merged.updated);
    parts.push(age < 60 ? "updated just now" : `updated ${Math.round(age / 60)} min ago`);
  }
  if (merged.revalidating) parts.push("refreshing\u2026");
  else if (merged.stale) parts.push("stale");
  parts.push(...merged.errors);
  return parts.join(" \u00b7 ");
}

/**
 * The next highlighted row for the arrow keys (-1: none), wrapping around.
 * @param {number} index
 * @param {number} delta
 * @param {number} count
 */
export function moveIndex(index, delta, count) {
  if (count <= 0) return -1;
  if (index < 0) return delta > 0 ? 0 : count - 1;
  return (((index + delta) % count) + count) % count;
}

/**
 * One TtlCache per catalog for the page: every node and picker of a kind shares one request.
 * A stale answer (the server is refreshing, or the API failed) is kept as the fallback but not
 * reused as fresh, so the next opening asks again.
 */
export class CatalogCache {
  /**
   * @param {(kind: string, refresh: boolean) => Promise<Listing>} load
   * @param {number} [ttlMs]
   * @param {() => number} [now]
   */
  constructor(load, ttlMs = PAGE_TTL_MS, now = Date.now) {
    this.load = load;
    this.ttlMs = ttlMs;
    this.now = now;
    /** @type {Map<string, TtlCache<Listing>>} */
    this.caches = new Map();
  }

  /** @param {string} kind */
  cacheOf(kind) {
    let c = this.caches.get(kind);
    if (!c) {
      c = new TtlCache(this.ttlMs, this.now);
      this.caches.set(kind, c);
    }
    return c;
  }

  /**
   * A listing, never a rejection: a failed request gives the last one marked stale, or an
   * empty one with the error.
   * @param {string} kind
   * @param {{force?: boolean}} [options] force: skip both the page's and the server's cache
   * @returns {Promise<Listing>}
   */
  async get(kind, { force = false } = {}) {
    const cache = this.cacheOf(kind);
    try {
      const r = await cache.get(() => this.load(kind, force), { force });
      const value = r.value ?? { kind, items: [] };
      if (value.stale || value.revalidating) cache.invalidate();
      if (!r.stale) return value;
      return { ...value, stale: true, error: errorText(r.error) || value.error || null };
    } catch (error) {
      return { kind, items: [], stale: false, error: errorText(error) || "could not load", updated: null };
    }
  }

  /**
   * @param {string[]} kinds
   * @param {{force?: boolean}} [options]
   */
  getAll(kinds, options) {
    return Promise.all(kinds.map((k) => this.get(k, options)));
  }
}

/** @param {unknown} error */
function errorText(error) {
  if (!error) return "";
  return error instanceof Error ? error.message : String(error);
}
