// @ts-check
/**
 * Migrate the old "not set" value (-1) of saved workflows when they load (js/lib/unset.js says
 * why). Every AliveAI node gets MARKER in its properties, so a workflow saved from now on is
 * never migrated again. The hook is the node type's onConfigure(info): the frontend (1.27 and
 * 1.58, classic canvas and Nodes 2.0) restores widgets_values before calling it, and `info` is the
 * saved node, whose properties tell its version (node.properties already holds the marker that
 * onNodeCreated put there before configure ran).
 */
import { app } from "../../scripts/app.js";
import { MARKER, MARKER_VERSION, farUnsetWidgets, unsetMigrations } from "./lib/unset.js";

app.registerExtension({
  name: "aliveai.unset",
  /** @param {any} nodeType @param {any} nodeData */
  beforeRegisterNodeDef(nodeType, nodeData) {
    if (!String(nodeData?.name ?? "").startsWith("AliveAI")) return;
    const far = farUnsetWidgets(nodeData);
    const created = nodeType.prototype.onNodeCreated;
    nodeType.prototype.onNodeCreated = function () {
      const r = created?.apply(this, arguments);
      this.properties ??= {};
      this.properties[MARKER] = MARKER_VERSION;
      return r;
    };
    const configure = nodeType.prototype.onConfigure;
    nodeType.prototype.onConfigure = function (/** @type {any} */ info) {
      const r = configure?.apply(this, arguments);
      const changes = unsetMigrations(info?.properties, this.widgets ?? [], far);
      for (const c of changes) {
        const widget = this.widgets.find((/** @type {any} */ w) => w.name === c.name);
        widget.value = c.to;
        widget.callback?.(c.to);
      }
      if (changes.length) {
        console.info(`[AliveAI] ${this.type} #${this.id}: ${changes.map((c) => c.name).join(", ")} `
          + `held -1, the "not set" of an earlier version: now ${changes[0].to} (not set)`);
      }
      this.properties ??= {};
      this.properties[MARKER] = MARKER_VERSION;
      return r;
    };
  },
});
