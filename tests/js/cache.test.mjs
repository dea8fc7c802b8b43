// The status tab's cache: fresh within the TTL, one load for concurrent callers, stale on failure.
import assert from "node:assert/strict";
import { test } from "node:test";

import { TtlCache } from "../../js/lib/cache.js";

function clock(start = 0) {
  const c = { t: start, now: () => c.t };
  return c;
}

test("a fresh value is reused; an old one is reloaded", async () => {
  const c = clock();
  const cache = new TtlCache(5000, c.now);
  let loads = 0;
  const load = async () => ++loads;
  assert.deepEqual(await cache.get(load), { value: 1, stale: false, at: 0 });
  c.t = 4999;
  assert.equal((await cache.get(load)).value, 1);
  c.t = 5000;
  assert.equal((await cache.get(load)).value, 2);
  assert.equal((await cache.get(load, { force: true })).value, 3);
  cache.invalidate();
  assert.equal((await cache.get(load)).value, 4);
  assert.equal(cache.peek(), 4);
});

test("concurrent callers share one load", async () => {
  const cache = new TtlCache(5000);
  let loads = 0;
  let release = () => {};
  const gate = new Promise((r) => { release = r; });
  const load = async () => { loads += 1; await gate; return "v"; };
  const all = Promise.all([cache.get(load), cache.get(load), cache.get(load, { force: true })]);
  release();
  const results = await all;
  assert.equal(loads, 1);
  assert.deepEqual(results.map((r) => r.value), ["v", "v", "v"]);
});

test("a failed load serves the last value as stale, or throws when there is none", async () => {
  const c = clock();
  const cache = new TtlCache(1000, c.now);
  const boom = async () => { throw new Error("API down"); };
  await assert.rejects(cache.get(boom), /API down/);
  await cache.get(async () => ({ credits: 10 }));
  c.t = 2000;
  const r = await cache.get(boom);
  assert.equal(r.stale, true);
  assert.deepEqual(r.value, { credits: 10 });
  assert.match(String(r.error), /API down/);
});

test("a load that throws synchronously does not wedge the cache", async () => {
  const cache = new TtlCache(1000);
  const sync = () => { throw new Error("sync"); };
  await assert.rejects(cache.get(/** @type {any} */ (sync)), /sync/);
  await Promise.resolve();
  assert.equal((await cache.get(async () => "ok")).value, "ok");
});
