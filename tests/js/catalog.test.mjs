// The pure side of the catalog pickers: the widget table matches the real nodes, lists merge,
// filter and group as shown, values are described without ever being cleared, pictures are
// http(s) only, and the page cache shares requests and never rejects.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import {
  CATALOG_WIDGETS, CatalogCache, KINDS, buttonLabel, cleanEntry, describeValue, filterEntries, findEntry,
  groupEntries, mergeListings, moveIndex, pickersFor, safeThumb, statusLine,
} from "../../js/lib/catalog.js";

const SNAPSHOT = JSON.parse(readFileSync(new URL("../snapshots/nodes.json", import.meta.url), "utf8"));

test("every picker names a STRING widget of a real node and known catalogs", () => {
  for (const [nodeType, pickers] of Object.entries(CATALOG_WIDGETS)) {
    const node = SNAPSHOT[nodeType];
    assert.ok(node, `${nodeType} is not a node of the pack`);
    const inputs = [...node.inputs.required, ...node.inputs.optional];
    for (const p of pickers) {
      assert.ok(inputs.includes(`${p.widget}:STRING`), `${nodeType}.${p.widget} is not a STRING input`);
      assert.ok(node.widgets.includes(p.widget), `${nodeType}.${p.widget} is not a widget`);
      if (p.typeWidget) assert.ok(node.widgets.includes(p.typeWidget));
      assert.ok(p.kinds.length && p.kinds.every((k) => KINDS.includes(k)), `${nodeType}: ${p.kinds}`);
    }
  }
  assert.deepEqual(pickersFor("AliveAIPose").map((p) => p.kinds), [["poses", "custom_poses"]]);
  assert.deepEqual(pickersFor("AliveAIEditLoraStack").map((p) => p.widget), ["lora1_id", "lora2_id", "lora3_id"]);
  assert.deepEqual(pickersFor("AliveAICreateImage"), []);
  assert.deepEqual(pickersFor("toString"), []);   // not an inherited property
  assert.equal(buttonLabel(pickersFor("AliveAIPose")[0]), "choose pose\u2026");
  assert.equal(buttonLabel(pickersFor("AliveAIVideoLoraStack")[1]), "choose video LoRA 2\u2026");
});

test("pictures are http(s) only", () => {
  assert.equal(safeThumb("https://aliveai.app/a b.png"), "https://aliveai.app/a%20b.png");
  assert.equal(safeThumb("http://127.0.0.1:8/thumbs/x.png"), "http://127.0.0.1:8/thumbs/x.png");
  for (const bad of ["javascript:alert(1)", "data:image/png;base64,AA", "/local/x.png", "file:///etc/passwd",
    "https://", null, 5, { url: "https://x" }]) {
    assert.equal(safeThumb(bad), "", String(bad));
  }
});

test("listings merge with each id once, and say whether they are complete", () => {
  const merged = mergeListings([
    { kind: "clothes", items: [{ id: "c1", name: "Red", thumb: "https://x/c1.png", group: "Public clothes" },
      { id: " ", name: "blank" }, null, { name: "no id" }, { id: "c2", thumb: "javascript:x" }],
    stale: false, error: null, updated: 200 },
    { kind: "custom_clothes", items: [{ id: "c1", name: "dup" }, { id: "m1", name: "Mine", group: "Custom clothes" }],
      stale: true, error: "AliveAI: 500", updated: 100 },
  ]);
  assert.deepEqual(merged.entries.map((e) => [e.id, e.name, e.thumb]),
    [["c1", "Red", "https://x/c1.png"], ["c2", "c2", ""], ["m1", "Mine", ""]]);
  assert.equal(merged.stale, true);
  assert.equal(merged.complete, true);
  assert.equal(merged.updated, 100);
  assert.deepEqual(merged.errors, ["AliveAI: 500"]);
  const partial = mergeListings([{ kind: "poses", items: [], updated: null, error: "no credentials" }]);
  assert.equal(partial.complete, false);
  assert.equal(cleanEntry({ id: "p", type: "STANDING" })?.type, "STANDING");
});

test("filter by words in name, id or group; groups keep their order", () => {
  const entries = [
    { id: "standing001", name: "Hands on hips", thumb: "", group: "Standing" },
    { id: "lying002", name: "On the back", thumb: "", group: "Lying" },
    { id: "standing002", name: "Arms crossed", thumb: "", group: "Standing" },
    { id: "x", name: "x", thumb: "", group: "" },
  ];
  assert.deepEqual(filterEntries(entries, "").length, 4);
  assert.deepEqual(filterEntries(entries, "  STANDING arms ").map((e) => e.id), ["standing002"]);
  assert.deepEqual(filterEntries(entries, "lying").map((e) => e.id), ["lying002"]);
  assert.deepEqual(filterEntries(entries, "nothing"), []);
  assert.deepEqual(groupEntries(entries).map((s) => [s.title, s.entries.length]),
    [["Standing", 2], ["Lying", 1], ["Other", 1]]);
});

test("a value is matched, marked missing, or left undecided; never dropped", () => {
  const merged = mergeListings([{ kind: "poses", updated: 1, items: [
    { id: "standing001", name: "Hands on hips", thumb: "https://x/s.png", group: "Standing" },
    { id: "lying002", name: "lying002", thumb: "", group: "Lying" }] }]);
  assert.deepEqual(describeValue("", merged), { state: "empty", entry: null, text: "" });
  const hit = describeValue(" standing001 ", merged);
  assert.equal(hit.state, "match");
  assert.equal(hit.text, "Hands on hips (standing001)");
  assert.equal(hit.entry?.thumb, "https://x/s.png");
  assert.equal(describeValue("lying002", merged).text, "lying002");
  assert.deepEqual(describeValue("standing023", merged), { state: "missing", entry: null,
    text: "'standing023' not in catalog" });
  assert.equal(describeValue("standing023", null).state, "unknown");   // still loading
  const down = mergeListings([{ kind: "poses", items: [], updated: null, error: "down" }]);
  assert.equal(describeValue("standing023", down).text, "'standing023' (catalog unavailable)");
  assert.equal(findEntry(merged.entries, 42), null);
});

test("status line and keyboard moves", () => {
  const merged = mergeListings([{ kind: "t", items: [{ id: "a" }, { id: "b" }], updated: 1000, stale: true,
    error: "AliveAI did not answer" }]);
  assert.equal(statusLine(merged, 2, 1000 * 1000 + 30_000), "2 entries · updated just now · stale · AliveAI did not answer");
  assert.equal(statusLine({ ...merged, stale: false, errors: [], revalidating: true }, 1, 1000 * 1000 + 600_000),
    "1 of 2 · updated 10 min ago · refreshing…");
  assert.equal(moveIndex(-1, 1, 3), 0);
  assert.equal(moveIndex(-1, -1, 3), 2);
  assert.equal(moveIndex(2, 1, 3), 0);
  assert.equal(moveIndex(0, -1, 3), 2);
  assert.equal(moveIndex(0, 1, 0), -1);
});

test("the page cache shares requests per kind, asks again after a stale answer, and never rejects", async () => {
  let t = 0;
  /** @type {string[]} */
  const calls = [];
  let fail = false;
  let stale = false;
  const cache = new CatalogCache(async (kind, refresh) => {
    calls.push(`${kind}${refresh ? "!" : ""}`);
    if (fail) throw new Error("HTTP 502");
    return { kind, items: [{ id: `${kind}-1` }], stale, error: null, updated: 1, revalidating: stale };
  }, 1000, () => t);
  const [a, b] = await Promise.all([cache.get("poses"), cache.get("poses")]);
  assert.equal(a, b);
  await cache.getAll(["poses", "clothes"]);
  assert.deepEqual(calls, ["poses", "clothes"]);
  await cache.get("poses", { force: true });
  assert.deepEqual(calls.at(-1), "poses!");

  t = 5000;
  fail = true;
  const down = await cache.get("poses");
  assert.equal(down.stale, true);
  assert.equal(down.error, "HTTP 502");
  assert.deepEqual(down.items, [{ id: "poses-1" }]);
  const never = await cache.get("profiles");
  assert.deepEqual(never, { kind: "profiles", items: [], stale: false, error: "HTTP 502", updated: null });

  fail = false;
  stale = true;   // the server answered an expired list and is refreshing it
  await cache.get("templates");
  await cache.get("templates");
  assert.equal(calls.filter((c) => c === "templates").length, 2);
});
