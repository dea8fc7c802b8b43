// Issue 13 "Frontend": the helpers that keep the pack right on frontend 1.27 and 1.53+/Nodes 2.0.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { finalLine } from "../../js/lib/format.js";
import {
  BUTTON, ICON_BUTTON, PRIMARY_BUTTON, RECENT_POINTER_MS, STYLE_HREF, STYLE_ID, domWidgetHeight, ensureStyles,
  markChanged, placePopup, popupAnchor,
} from "../../js/lib/ui.js";

const JS = new URL("../../js/", import.meta.url);
const read = (/** @type {string} */ name) => readFileSync(new URL(name, JS), "utf8");

test("captureCanvasState is used where it exists; checkState only as the fallback", () => {
  const calls = [];
  const both = { captureCanvasState: () => calls.push("capture"), checkState: () => calls.push("check") };
  assert.equal(markChanged(both), "captureCanvasState");
  assert.deepEqual(calls, ["capture"]);  // the deprecated call is not made at all on 1.53+
  const old = { checkState: () => calls.push("check") };
  assert.equal(markChanged(old), "checkState");
  assert.deepEqual(calls, ["capture", "check"]);
  assert.equal(markChanged(undefined), null);
  assert.equal(markChanged({}), null);
});

test("no pack file calls checkState() directly", () => {
  for (const f of ["catalogs.js", "previews.js", "settings.js", "status.js", "api.js"]) {
    assert.doesNotMatch(read(f), /checkState\s*\?*\.?\(/, f);
  }
});

test("the picker opens at its button: the event, else the pointerdown that just pressed it", () => {
  const now = 100_000;
  assert.deepEqual(popupAnchor({ clientX: 10, clientY: 20 }, { x: 1, y: 2, t: now }, now), { x: 10, y: 20 });
  // Nodes 2.0: the callback gets no event, the button was pressed a moment ago
  assert.deepEqual(popupAnchor(undefined, { x: 300, y: 400, t: now - 30 }, now), { x: 300, y: 400 });
  // a stale pointerdown is not the button's: the fallback (the node on screen), else none (centred)
  const stale = { x: 300, y: 400, t: now - RECENT_POINTER_MS - 1 };
  assert.deepEqual(popupAnchor(undefined, stale, now, { x: 5, y: 6 }), { x: 5, y: 6 });
  assert.equal(popupAnchor(undefined, stale, now), null);
  assert.equal(popupAnchor(undefined, null, now), null);
});

test("the popup stays inside the window and is centred only without an anchor", () => {
  const size = { width: 360, height: 480 };
  const vp = { width: 1280, height: 800 };
  assert.deepEqual(placePopup({ x: 300, y: 200 }, size, vp), { left: 300, top: 200 });
  assert.deepEqual(placePopup({ x: 1270, y: 790 }, size, vp), { left: 916, top: 316 });
  assert.deepEqual(placePopup(null, size, vp), { left: 460, top: 160 });
  assert.deepEqual(placePopup({ x: -50, y: -50 }, size, { width: 200, height: 200 }), { left: 4, top: 4 });
});

test("a DOM widget asks for its content plus the canvas's margin on both sides", () => {
  assert.equal(domWidgetHeight(40, 10), 60);  // a 36 px row + 4 px padding, default 10 px margin
  assert.equal(domWidgetHeight(40, 2), 44);
  assert.equal(domWidgetHeight(40, undefined), 40);
  assert.equal(domWidgetHeight(0, 10), 0);  // nothing to show: no empty band
});

test("the stylesheet is linked once", () => {
  const added = [];
  const doc = {
    head: { append: (/** @type {any} */ n) => added.push(n) },
    getElementById: (/** @type {string} */ id) => added.find((n) => n.id === id) ?? null,
    createElement: () => ({}),
  };
  assert.equal(ensureStyles(/** @type {any} */ (doc), "x.css"), true);
  assert.equal(ensureStyles(/** @type {any} */ (doc), "x.css"), false);
  assert.equal(added.length, 1);
  assert.deepEqual({ ...added[0] }, { id: STYLE_ID, rel: "stylesheet", href: "x.css" });
  assert.match(STYLE_HREF, /\/js\/aliveai\.css$/);
});

test("buttons use the pack's own classes on theme variables, not PrimeVue's", () => {
  for (const f of ["catalogs.js", "settings.js", "status.js"]) {
    assert.doesNotMatch(read(f), /p-button|p-component/, f);
  }
  const css = read("aliveai.css");
  for (const cls of [BUTTON, PRIMARY_BUTTON, ICON_BUTTON].flatMap((c) => c.split(" "))) {
    assert.match(css, new RegExp(`\\.${cls}\\b`), cls);
  }
  for (const v of ["--comfy-input-bg", "--comfy-menu-bg", "--border-color", "--fg-color", "--input-text"]) {
    assert.match(css, new RegExp(`var\\(${v},`), v);  // each with a fallback
  }
  assert.match(css, /var\(--primary-background, var\(--p-primary-color, #[0-9a-f]{3,6}\)\)/);
  // every theme var() has a fallback (the pack's own --aliveai-* are set on the same element) ...
  assert.doesNotMatch(css.replace(/\/\*[\s\S]*?\*\//g, ""), /var\(--(?!aliveai-)[\w-]+\)/);
  // ... and every rule is scoped to the pack's classes
  for (const sel of css.replace(/\/\*[\s\S]*?\*\//g, "").match(/^[^{}\s][^{}]*(?=\{)/gm) ?? []) {
    assert.match(sel.trim(), /^\.aliveai-/, sel);
  }
});

test("the final status line comes from the ui; a cached re-run says no job was made", () => {
  const ui = { aliveai_status: ["done in 8.1 s · 1 image · prompt p-1"], aliveai: [{ prompt_id: "p-1", media_ids: ["m"] }] };
  assert.equal(finalLine(ui), "done in 8.1 s · 1 image · prompt p-1");
  assert.equal(finalLine(ui, true), "cached · no new job · prompt p-1");
  const two = { aliveai_status: ["a", "b"], aliveai: [{ prompt_id: "p-1" }, { prompt_id: "p-2" }] };
  assert.equal(finalLine(two), "a\nb");
  assert.equal(finalLine(two, true), "cached · no new job · prompt p-1,p-2");
  assert.equal(finalLine({}), "");
  assert.equal(finalLine(null, true), "");
  assert.equal(finalLine({ aliveai_status: "not a list" }), "");
});
