// Old workflows keep their meaning: a -1 saved before the far "not set" values is migrated once.
import assert from "node:assert/strict";
import { test } from "node:test";

import { MARKER, UNSET_FLOAT, UNSET_INT, farUnsetWidgets, savedByThisVersion, unsetMigrations }
  from "../../js/lib/unset.js";

const faceSwap = { name: "AliveAIFaceSwap", input: {
  required: { faceModel: [["DEFAULT"], {}] },
  optional: { swapStrength: ["FLOAT", { min: UNSET_FLOAT, max: 1e6, default: UNSET_FLOAT }],
    faceIndex: ["INT", { min: UNSET_INT, max: 2147483647 }],
    seed: ["INT", { min: 0, max: 2 ** 53 - 1 }],
    motion: ["INT", { min: -1, max: 6 }],          // a doc minimum of 0: its "not set" is still -1
    image: ["IMAGE", {}] } } };
const far = farUnsetWidgets(faceSwap);

test("only widgets whose not-set is a far value are candidates", () => {
  assert.deepEqual([...far.entries()], [["swapStrength", UNSET_FLOAT], ["faceIndex", UNSET_INT]]);
  assert.equal(farUnsetWidgets(null).size, 0);
  assert.equal(farUnsetWidgets({ input: { optional: { x: "junk" } } }).size, 0);
});

test("a node saved before the marker: exactly -1 becomes not set, other values stay", () => {
  const widgets = [{ name: "swapStrength", value: -1 }, { name: "faceIndex", value: -1 },
    { name: "motion", value: -1 }, { name: "seed", value: -1 }];
  assert.deepEqual(unsetMigrations({ "Node name for S&R": "AliveAIFaceSwap" }, widgets, far), [
    { name: "swapStrength", from: -1, to: UNSET_FLOAT }, { name: "faceIndex", from: -1, to: UNSET_INT }]);
  assert.deepEqual(unsetMigrations(undefined, widgets, far).length, 2);   // no properties saved at all
  const kept = [{ name: "swapStrength", value: 0.5 }, { name: "faceIndex", value: -2 },
    { name: "swapStrength", value: "-1" }];
  assert.deepEqual(unsetMigrations({}, kept, far), []);
});

test("a node saved by this version keeps a -1 the user chose", () => {
  const widgets = [{ name: "swapStrength", value: -1 }];
  assert.ok(savedByThisVersion({ [MARKER]: 2 }));
  assert.deepEqual(unsetMigrations({ [MARKER]: 2 }, widgets, far), []);
  assert.deepEqual(unsetMigrations({ [MARKER]: 3 }, widgets, far), []);
  assert.equal(unsetMigrations({ [MARKER]: 1 }, widgets, far).length, 1);     // an older marker
  assert.equal(unsetMigrations({ [MARKER]: "2" }, widgets, far).length, 1);   // not a number: not ours
});

test("a node type with no far widget is never touched", () => {
  assert.deepEqual(unsetMigrations({}, [{ name: "x", value: -1 }], new Map()), []);
});
