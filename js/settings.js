// @ts-check
/**
 * Settings › AliveAI › Account: the API key (or e-mail + password) and the API URL.
 * Settings › AliveAI › Limits: the credit budget and floor, the running-time limit, the pixel cache.
 *
 * The setting is a render function (GUIDE §5.2, the recommended secret flow): it draws its own
 * inputs and never calls the setter, so no secret reaches comfy.settings.json (which ComfyUI
 * serves over /api/settings). Save POSTs to the pack's route, which writes an owner-only file in
 * ComfyUI's user directory; the status line only ever shows the key's last four characters.
 * A command, "AliveAI: Set API key…", does the same from the command palette.
 *
 * A saved key belongs to the API URL it was saved for: saving a new URL without the key makes
 * the server remove it (the answer's `credentials_cleared`, shown here). The pack's routes refuse
 * a foreign Host or Origin (nodes/comfy/routes.py `guard`); this page calls them same-origin
 * through api.fetchApi, so it passes; opened under a LAN name, ALIVEAI_ALLOWED_HOSTS must list it,
 * and the route's 403 text says so (shown as the error below the form).
 */
import { app } from "../../scripts/app.js";
import {
  clearAccount, getAccount, getLimits, runApiCheck, saveAccount, saveFoundPaths, saveLimits, testConnection,
} from "./api.js";
import { describeAccount, describeTest, maskSecret } from "./lib/format.js";
import { describePref, fieldText, limitsForm } from "./lib/limits.js";
import { BUTTON, PRIMARY_BUTTON, STYLE_HREF, ensureStyles } from "./lib/ui.js";

/**
 * @param {string} tag
 * @param {Record<string, any>} [props] properties set on the element (never innerHTML)
 * @param {(Node | string)[]} [children]
 */
function el(tag, props = {}, children = []) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

/** @param {string} summary @param {string} detail @param {"success" | "error" | "info"} [severity] */
function toast(summary, detail, severity = "success") {
  const t = /** @type {any} */ (app).extensionManager?.toast;
  if (t?.add) t.add({ severity, summary, detail, life: 5000 });
}

const FIELD_STYLE = "width:100%;box-sizing:border-box;padding:4px 6px;border-radius:4px;"
  + "border:1px solid var(--border-color, #555);background:var(--comfy-input-bg, #222);color:var(--input-text, #ddd)";

/**
 * @param {string} label
 * @param {Record<string, any>} attrs
 */
function field(label, attrs) {
  const input = el("input", { spellcheck: false, style: FIELD_STYLE, ...attrs });
  return { input, row: el("label", { style: "display:flex;flex-direction:column;gap:2px;font-size:12px" },
    [label, input]) };
}

/**
 * Run a form action with its buttons disabled; an error is shown in `result`.
 * @param {HTMLButtonElement[]} buttons
 * @param {HTMLElement} result
 * @param {() => Promise<void>} fn
 */
async function busy(buttons, result, fn) {
  buttons.forEach((b) => { b.disabled = true; });
  try {
    await fn();
  } catch (e) {
    result.textContent = `Error: ${e instanceof Error ? e.message : String(e)}`;
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}

/** The account form; `setValue` is deliberately unused. */
function renderAccount() {
  const key = field("API key", { type: "password", autocomplete: "off", placeholder: "paste your AliveAI API key" });
  const email = field("or e-mail", { type: "email", autocomplete: "off", placeholder: "you@example.com" });
  const password = field("and password", { type: "password", autocomplete: "new-password" });
  const baseUrl = field("API URL", { type: "url", placeholder: "https://api.aliveai.app" });
  const status = el("div", { style: "white-space:pre-wrap;font-size:12px;opacity:.9" });
  const result = el("div", { style: "white-space:pre-wrap;font-size:12px" });
  const buttons = ["Save", "Clear", "Test connection"].map((text) =>
    /** @type {HTMLButtonElement} */ (el("button", { type: "button", textContent: text, className: text === "Save" ? PRIMARY_BUTTON : BUTTON })));
  const [save, clear, test] = buttons;
  let loadedBaseUrl = "";

  /** @param {import("./lib/format.js").Account} account */
  const show = (account) => {
    status.textContent = describeAccount(account).join("\n");
    email.input.value = account.auth === "login" ? account.email || "" : email.input.value;
    loadedBaseUrl = account.base_url || "";
    baseUrl.input.value = loadedBaseUrl;
  };

  save.onclick = () => busy(buttons, result, async () => {
    /** @type {Record<string, string>} */
    const form = {};
    const typedKey = key.input.value.trim();
    if (typedKey) form.api_key = typedKey;
    if (email.input.value.trim() && password.input.value) {
      form.email = email.input.value.trim();
      form.password = password.input.value;
      if (!typedKey) form.api_key = "";  // switching to a login: a saved key would still win
    }
    if (baseUrl.input.value.trim() !== loadedBaseUrl) form.base_url = baseUrl.input.value.trim();
    if (!Object.keys(form).length) {
      result.textContent = "Nothing to save: type a key, or an e-mail and a password, or a new API URL.";
      return;
    }
    const account = await saveAccount(form);
    show(account);
    key.input.value = "";       // secrets do not linger in the page
    password.input.value = "";
    if (account.credentials_cleared) {
      // the API URL changed without the key: the server removed it rather than send it to the new host
      result.textContent = account.credentials_cleared;
      toast("AliveAI", account.credentials_cleared, "info");
      return;
    }
    result.textContent = typedKey ? `Saved key ${maskSecret(typedKey)}.` : "Saved.";
    toast("AliveAI", "Settings saved");
  });
  clear.onclick = () => busy(buttons, result, async () => {
    show(await clearAccount());
    email.input.value = "";
    result.textContent = "Saved credentials removed.";
  });
  test.onclick = () => busy(buttons, result, async () => {
    result.textContent = "Testing…";
    result.textContent = describeTest(await testConnection());
  });
  for (const f of [key, email, password, baseUrl]) {
    f.input.addEventListener("keydown", (e) => { if (e.key === "Enter") save.click(); });
  }

  busy(buttons, result, async () => show(await getAccount()));
  return el("div", { style: "display:flex;flex-direction:column;gap:8px;min-width:280px;max-width:520px" }, [
    key.row, email.row, password.row, baseUrl.row,
    el("div", { style: "display:flex;gap:6px;flex-wrap:wrap" }, buttons),
    status, result,
  ]);
}

/** The limits form; like the account form it saves through the pack's route, not `setValue`. */
function renderLimits() {
  /** @type {import("./lib/limits.js").Pref[]} */
  let prefs = [];
  /** @type {Record<string, HTMLInputElement>} */
  const inputs = {};
  const rows = el("div", { style: "display:flex;flex-direction:column;gap:10px" });
  const result = el("div", { style: "white-space:pre-wrap;font-size:12px" });
  const save = /** @type {HTMLButtonElement} */ (el("button", { type: "button", textContent: "Save",
    className: PRIMARY_BUTTON, style: "align-self:flex-start" }));

  /** @param {{prefs: import("./lib/limits.js").Pref[]}} answer */
  const show = (answer) => {
    prefs = answer.prefs || [];
    rows.replaceChildren();
    for (const p of prefs) {
      const f = field(`${p.label} (${p.unit})`, { type: "number", min: "0", max: p.max ?? "", step: "any", title: p.doc,
        placeholder: p.default === null ? "off" : String(p.default), value: fieldText(p) });
      f.input.addEventListener("keydown", (e) => { if (e.key === "Enter") save.click(); });
      const line = el("div", { style: "font-size:11px;opacity:.8", textContent: describePref(p) });
      const doc = el("div", { style: "font-size:11px;opacity:.6", textContent: p.doc });
      inputs[p.key] = /** @type {HTMLInputElement} */ (f.input);
      rows.append(el("div", { style: "display:flex;flex-direction:column;gap:2px" }, [f.row, line, doc]));
    }
  };

  save.onclick = () => busy([save], result, async () => {
    const texts = Object.fromEntries(Object.entries(inputs).map(([k, input]) => [k, input.value]));
    const form = limitsForm(prefs, texts);
    if (!Object.keys(form).length) {
      result.textContent = "Nothing changed.";
      return;
    }
    show(await saveLimits(form));
    result.textContent = "Saved. Applies to the next run.";
    toast("AliveAI", "Limits saved");
  });

  busy([save], result, async () => show(await getLimits()));
  return el("div", { style: "display:flex;flex-direction:column;gap:8px;min-width:280px;max-width:520px" },
    [rows, save, result]);
}

/** The "Check API" form: run the API check, show its report, save the paths it found. */
function renderCheck() {
  const result = el("pre", { style: "white-space:pre-wrap;font-size:11px;max-height:360px;overflow:auto;margin:0" });
  const check = /** @type {HTMLButtonElement} */ (el("button", { type: "button", textContent: "Check API",
    className: PRIMARY_BUTTON }));
  const use = /** @type {HTMLButtonElement} */ (el("button", { type: "button", textContent: "Use found paths",
    className: BUTTON, disabled: true }));
  check.onclick = () => busy([check, use], result, async () => {
    result.textContent = "Checking every operation (nothing is created or spent)…";
    const report = await runApiCheck();
    result.textContent = report.text || JSON.stringify(report.counts);
    setTimeout(() => { use.disabled = Object.keys(report.proposals || {}).length === 0; });
  });
  use.onclick = () => busy([check, use], result, async () => {
    const answer = await saveFoundPaths();
    toast("AliveAI", `Saved ${Object.keys(answer.saved).length} path override(s). ${answer.note}`);
    setTimeout(() => { use.disabled = true; });
  });
  return el("div", { style: "display:flex;flex-direction:column;gap:6px" }, [
    el("div", { style: "display:flex;gap:6px" }, [check, use]), result]);
}

/** Command palette / menu: paste a key in ComfyUI's prompt dialog (not masked). */
async function setKeyCommand() {
  const dialog = /** @type {any} */ (app).extensionManager?.dialog;
  if (!dialog?.prompt) {
    toast("AliveAI", "Open Settings › AliveAI › Account to set the key.", "info");
    return;
  }
  const value = await dialog.prompt({
    title: "AliveAI API key",
    message: "Paste your AliveAI API key. It is stored in ComfyUI's user directory (owner-only), never in "
      + "workflows or image metadata.",
  });
  if (typeof value !== "string" || !value.trim()) return;
  try {
    const account = await saveAccount({ api_key: value.trim() });
    const note = account.source === "env" ? " (the environment's key is still the one used)" : "";
    toast("AliveAI", `Saved key ${maskSecret(value.trim())}${note}`);
  } catch (e) {
    toast("AliveAI", e instanceof Error ? e.message : String(e), "error");
  }
}

app.registerExtension({
  name: "aliveai.settings",
  setup() {
    ensureStyles(document, STYLE_HREF);  // the dialog's buttons; the other modules link it too (once)
  },
  settings: [
    {
      id: "AliveAI.Account.Credentials",
      category: ["AliveAI", "Account", "Credentials"],
      name: "AliveAI account",
      tooltip: "Stored by the AliveAI pack in ComfyUI's user directory, not in ComfyUI's settings file. "
        + "ALIVEAI_API_KEY (or ALIVEAI_EMAIL + ALIVEAI_PASSWORD) and ALIVEAI_BASE_URL in the environment win.",
      type: renderAccount,
      defaultValue: "",
    },
    {
      id: "AliveAI.Limits.Form",
      category: ["AliveAI", "Limits", "Limits"],
      name: "AliveAI limits",
      tooltip: "Stored by the AliveAI pack in ComfyUI's user directory. ALIVEAI_CREDIT_BUDGET, ALIVEAI_MIN_CREDITS, "
        + "ALIVEAI_RUNNING_TIMEOUT and ALIVEAI_PIXEL_CACHE_MB in the environment win.",
      type: renderLimits,
      defaultValue: "",
    },
    {
      id: "AliveAI.Check.Form",
      category: ["AliveAI", "Check API", "Check"],
      name: "Check API",
      tooltip: "Checks the key, the clock, the websockets and the path of every operation against the live API "
        + "without creating or spending anything; a wrong path found can be fixed with Use found paths.",
      type: renderCheck,
      defaultValue: "",
    },
  ],
  commands: [
    { id: "AliveAI.SetApiKey", label: "AliveAI: Set API key…", icon: "pi pi-key", function: setKeyCommand },
  ],
  menuCommands: [{ path: ["Extensions", "AliveAI"], commands: ["AliveAI.SetApiKey"] }],
});
