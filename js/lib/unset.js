// @ts-check
/**
 * Saved workflows keep their meaning across the change of "not set" values (pure; tests/js).
 *
 * Optional numbers without a minimum in the AliveAI doc (the LoRA stack strengths, Face Swap
 * swapStrength, Upscale Image strength, Generate Video Prompt frameCount) used -1 as "not set".
 * They now use a value far outside the doc's range (nodes/comfy/widgets.py), so that -1 itself can
 * be sent. A workflow saved before holds -1 there, which would now be SENT on a paid job: such a
 * node gets the new "not set" value when the workflow loads. A node saved by this version carries
 * MARKER in its saved properties and is never touched: its -1 is a value the user chose.
 */

export const MARKER = "aliveai_unset";
export const MARKER_VERSION = 2;
/** The far "not set" values (widgets.py UNSET_FLOAT, and one below int32 for INT widgets). */
export const UNSET_FLOAT = -1000001;
export const UNSET_INT = -2147483649;
/** What these widgets held for "not set" before MARKER_VERSION. */
export const OLD_UNSET = -1;

/**
 * The widgets of a node definition whose "not set" is a far value: name -> that value.
 * @param {any} nodeData the node definition (object_info entry) as beforeRegisterNodeDef gets it
 * @returns {Map<string, number>}
 */
export function farUnsetWidgets(nodeData) {
  /** @type {Map<string, number>} */
  const out = new Map();
  for (const section of ["required", "optional"]) {
    const inputs = nodeData?.input?.[section];
    if (!inputs || typeof inputs !== "object") continue;
    for (const [name, spec] of Object.entries(inputs)) {
      if (!Array.isArray(spec)) continue;
      const [kind, opts] = spec;
      const min = opts?.min;
      if ((kind === "FLOAT" && min === UNSET_FLOAT) || (kind === "INT" && min === UNSET_INT)) out.set(name, min);
    }
  }
  return out;
}

/**
 * Whether a node's saved properties say it was saved by this version or later.
 * @param {Record<string, unknown> | null | undefined} savedProperties the saved node's `properties`
 */
export function savedByThisVersion(savedProperties) {
  const v = savedProperties?.[MARKER];
  return typeof v === "number" && v >= MARKER_VERSION;
}

/**
 * The widget changes a loaded node needs: for a node saved before MARKER_VERSION, each far-unset
 * widget holding exactly -1 gets its far "not set" value. Nothing for a node saved since.
 * @param {Record<string, unknown> | null | undefined} savedProperties the saved `properties` (info.properties,
 *   not node.properties, which nodeCreated has already marked)
 * @param {{name: string, value: unknown}[]} widgets the node's widgets, values as restored
 * @param {Map<string, number>} far farUnsetWidgets() of its node type
 * @returns {{name: string, from: number, to: number}[]}
 */
export function unsetMigrations(savedProperties, widgets, far) {
  if (savedByThisVersion(savedProperties) || !far.size) return [];
  const out = [];
  for (const w of widgets ?? []) {
    const to = far.get(w?.name);
    if (to !== undefined && w.value === OLD_UNSET) out.push({ name: w.name, from: OLD_UNSET, to });
  }
  return out;
}
