// Settings > AliveAI > Limits: the line under each field, and the form sent to the server.
import assert from "node:assert/strict";
import { test } from "node:test";

import { describePref, fieldText, limitsForm } from "../../js/lib/limits.js";

const budget = { key: "credit_budget", env: "ALIVEAI_CREDIT_BUDGET", label: "Credit budget", unit: "credits",
  doc: "", default: null, saved: null, env_value: null, source: "default" };
const cache = { key: "pixel_cache_mb", env: "ALIVEAI_PIXEL_CACHE_MB", label: "Pixel cache", unit: "MB",
  doc: "", default: 1024, saved: 64, env_value: null, source: "file" };

test("the line under a field says what is in force and where from", () => {
  assert.equal(describePref(budget), "Not set: off.");
  assert.equal(describePref({ ...cache, saved: null, source: "default" }), "Not set: 1024 MB.");
  assert.equal(describePref(cache), "In force: 64 MB.");
  assert.equal(describePref({ ...budget, source: "env", env_value: "50" }),
    "ALIVEAI_CREDIT_BUDGET=50 in the environment wins over this field.");
  assert.equal(fieldText(cache), "64");
  assert.equal(fieldText(budget), "");
});

test("only changed fields are sent; emptied ones as null", () => {
  assert.deepEqual(limitsForm([budget, cache], { credit_budget: "", pixel_cache_mb: "64" }), {});
  assert.deepEqual(limitsForm([budget, cache], { credit_budget: " 12.5 ", pixel_cache_mb: "" }),
    { credit_budget: 12.5, pixel_cache_mb: null });
  assert.deepEqual(limitsForm([budget], { credit_budget: "0" }), { credit_budget: 0 });
});

test("a field that is not a number >= 0 is named and nothing is sent", () => {
  for (const bad of ["-1", "ten", "Infinity", "1e999"]) {
    assert.throws(() => limitsForm([budget, cache], { credit_budget: bad, pixel_cache_mb: "1" }),
      /Credit budget: enter a number of credits/);
  }
});

test("a field past the server's maximum is refused before sending", () => {
  const capped = { ...cache, max: 1_000_000 };
  assert.throws(() => limitsForm([capped], { pixel_cache_mb: "1e308" }), /Pixel cache: at most 1,000,000 MB/);
  assert.deepEqual(limitsForm([capped], { pixel_cache_mb: "1000000" }), { pixel_cache_mb: 1_000_000 });
});
