// @ts-check
/**
 * After an AliveAI node runs, show what it made on the node: its prompt_id and media ids (the
 * "aliveai" entries of the node's ui dict) and any text lines ("text", e.g. an LLM helper's
 * answer or a JSON reply), in a read-only box the user can copy from.
 *
 * The box is a DOM widget that is never serialised (widget.serialize = false keeps it out of
 * widgets_values, options.serialize = false keeps it out of the API prompt): saved workflows keep
 * their widget order, and the node does not receive it as an input. It is created on the first
 * execution, after every real widget, and refilled on later ones. Text goes in as a textarea's
 * value, never as HTML, so nothing from the API can inject markup.
 */
import { api } from "../../scripts/api.js";
import { app } from "../../scripts/app.js";
import { finalLine, nodeText, previewLines } from "./lib/format.js";
import { domWidgetHeight } from "./lib/ui.js";

const WIDGET = "aliveai_result";
const BOX_MARGIN = 4;
/** Node ids ComfyUI answered from its output cache in the current prompt (`execution_cached`). */
let cachedNodes = new Set();

/**
 * @param {any} node an LGraphNode
 * @param {string} text
 */
function showOnNode(node, text) {
  let widget = node.widgets?.find((/** @type {any} */ w) => w.name === WIDGET);
  if (!widget) {
    if (typeof node.addDOMWidget !== "function") return;  // very old frontends: the status text still shows
    const box = document.createElement("textarea");
    box.readOnly = true;
    box.spellcheck = false;
    box.style.cssText = "width:100%;box-sizing:border-box;font:11px monospace;resize:none;opacity:.85;"
      + "background:var(--comfy-input-bg, #222);color:var(--input-text, #ddd);border:none;border-radius:4px";
    widget = node.addDOMWidget(WIDGET, "aliveai-result", box, {
      serialize: false,
      hideOnZoom: true,
      getValue: () => box.value,
      setValue: () => {},        // nothing to restore: the text comes from the last run only
      margin: BOX_MARGIN,
      // tall enough for every line of a short text (the status line wraps on a narrow node), at most 220 px
      getMinHeight: () => domWidgetHeight(Math.min(220, Math.max(48, 14 * box.value.split("\n").length + 22)),
        widget?.margin ?? BOX_MARGIN),
      getMaxHeight: () => domWidgetHeight(220, widget?.margin ?? BOX_MARGIN),
    });
    widget.serialize = false;                              // LGraphNode.serialize: widgets_values
    if (widget.options) widget.options.serialize = false;  // graphToPrompt: the API prompt's inputs
    widget.aliveaiBox = box;
  }
  widget.aliveaiBox.value = text;
  // Nodes 2.0 lays the textarea out by its own size (2 rows by default), not the canvas's slot
  // (a line over ~40 characters wraps on a default-width node: count it twice)
  widget.aliveaiBox.rows = Math.min(14, Math.max(3, text.split("\n").reduce((n, l) => n + (l.length > 40 ? 2 : 1), 0)));
  const [w, h] = node.computeSize?.() ?? node.size;
  node.setSize?.([Math.max(node.size[0], w), Math.max(node.size[1], h)]);
  node.setDirtyCanvas?.(true, true);
}

/**
 * @param {any} node
 * @param {Record<string, unknown>} output the node's ui dict
 * @param {boolean} cached ComfyUI answered the node from its output cache
 */
function showResult(node, output, cached) {
  const status = finalLine(output, cached);
  const lines = [...(status ? [status] : []), ...previewLines(output)];
  if (lines.length) showOnNode(node, nodeText(lines));
}

app.registerExtension({
  name: "aliveai.previews",
  /** @param {any} nodeType @param {{name?: string}} nodeData */
  beforeRegisterNodeDef(nodeType, nodeData) {
    // By node name, not python_module: that one depends on the folder the pack was installed in.
    if (!String(nodeData?.name ?? "").startsWith("AliveAI")) return;
    const original = nodeType.prototype.onExecuted;
    nodeType.prototype.onExecuted = function (/** @type {any} */ output) {
      original?.apply(this, arguments);
      // The final status line first: frontend 1.58 deletes the progress text when the run ends.
      this.aliveaiOutput = output;  // kept for a later cached run, which ComfyUI 0.3.64 does not re-send
      showResult(this, output, cachedNodes.has(String(this.id)));
    };
  },
  setup() {
    api.addEventListener("execution_start", () => { cachedNodes = new Set(); });
    api.addEventListener("execution_cached", (/** @type {any} */ e) => {
      const nodes = Array.isArray(e?.detail?.nodes) ? e.detail.nodes : [];
      cachedNodes = new Set(nodes.map(String));
      // ComfyUI answers these from its output cache: nothing runs and nothing is paid. Their last
      // result stays on the node; its line now says so instead of the old "done in …".
      for (const id of cachedNodes) {
        const node = app.graph?.getNodeById?.(Number.isNaN(Number(id)) ? id : Number(id));
        if (node?.aliveaiOutput) showResult(node, node.aliveaiOutput, true);
      }
    });
  },
});
