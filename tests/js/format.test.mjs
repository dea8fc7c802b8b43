// The pure helpers behind the settings status line, the status tab and the node previews.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  MAX_NODE_TEXT, describeAccount, describeTest, formatAge, formatCredits, formatDate, formatDuration, maskSecret,
  nodeText, previewLines, queueLine, sessionLine,
} from "../../js/lib/format.js";

test("credits", () => {
  assert.equal(formatCredits(1234.5), "1,234.5 credits");
  assert.equal(formatCredits("12"), "12 credits");
  assert.equal(formatCredits(0), "0 credits");
  for (const bad of [null, undefined, "", "abc", NaN, {}]) assert.equal(formatCredits(bad), "—");
});

test("durations and ages", () => {
  assert.equal(formatDuration(0.42), "0.4 s");
  assert.equal(formatDuration(12.4), "12 s");
  assert.equal(formatDuration(185), "3 min 5 s");
  assert.equal(formatDuration(120), "2 min");
  assert.equal(formatDuration(3720), "1 h 2 min");
  assert.equal(formatDuration(-1), "—");
  assert.equal(formatAge(1000, 1000_500), "just now");
  assert.equal(formatAge(1000, 1030_000), "30 s ago");
  assert.equal(formatAge(null, 0), "never");
});

test("dates", () => {
  assert.equal(formatDate("2030-01-01T00:00:00Z"), "2030-01-01");
  assert.equal(formatDate("not a date"), "");
  assert.equal(formatDate(undefined), "");
});

test("queue lines", () => {
  assert.equal(queueLine({ promptId: "p1", queuePosition: 0, progress: 45.4, video: true }), "running 45% · video · p1");
  assert.equal(queueLine({ promptId: "p2", queuePosition: 3, progress: 0, video: false }), "#3 in queue · image · p2");
  assert.equal(queueLine({}), "running · image · ?");
});

test("masking keeps the last four characters of long secrets only", () => {
  assert.equal(maskSecret("abcdefghijkl"), "••••ijkl");
  assert.equal(maskSecret("short"), "••••");
  assert.equal(maskSecret(""), "");
  assert.equal(maskSecret(undefined), "");
  assert.equal(maskSecret("Key sim-key"), "••••");  // the prefix is not part of the key
  assert.equal(maskSecret(" Bearer abcdefghijkl "), "••••ijkl");
});

test("account status line says where the key comes from and that env wins", () => {
  const env = describeAccount({ auth: "key", key_masked: "••••cdef", source: "env", env_overrides: true,
    env_vars: ["ALIVEAI_API_KEY"], saved: "key", base_url: "https://api.aliveai.app",
    default_base_url: "https://api.aliveai.app" });
  assert.match(env[0], /••••cdef \(from the environment\)/);
  assert.match(env[1], /ALIVEAI_API_KEY wins over what you save here/);
  assert.match(env[2], /saved key exists but is not used/);
  assert.equal(env[3], "API: https://api.aliveai.app (live)");

  const file = describeAccount({ auth: "login", email: "me@example.com", source: "file", env_vars: [],
    base_url: "http://127.0.0.1:8787", default_base_url: "https://api.aliveai.app" });
  assert.deepEqual(file, ["Using e-mail login me@example.com (saved in ComfyUI's user directory).",
    "API: http://127.0.0.1:8787"]);

  const none = describeAccount({ auth: "none", source: "none", error: "bad URL" });
  assert.match(none[0], /No credentials/);
  assert.equal(none.at(-1), "Problem: bad URL");
});

test("account status line says the saved key was removed or is withheld for another host", () => {
  const cleared = describeAccount({ auth: "none", source: "none", base_url: "http://127.0.0.1:9",
    credentials_cleared: "The saved API key was removed because the API URL changed." });
  assert.equal(cleared.at(-1), "The saved API key was removed because the API URL changed.");
  const held = describeAccount({ auth: "none", source: "none", withheld: "the saved credentials were saved for A" });
  assert.ok(held.includes("Saved credentials not used: the saved credentials were saved for A."));
});

test("test connection result", () => {
  const now = Date.parse("2025-01-01T00:00:00Z");
  assert.equal(describeTest({ ok: true, email: "a@b.c", credits: 1000, premiumExpiration: "2030-01-01T00:00:00Z" }, now),
    "Connected as a@b.c · 1,000 credits · premium until 2030-01-01");
  assert.match(describeTest({ ok: true, email: "a@b.c", credits: 5, premiumExpiration: "2020-05-01T00:00:00Z" }, now),
    /premium expired 2020-05-01/);
  assert.match(describeTest({ ok: true, email: "a@b.c", credits: 5, premiumExpiration: null }, now), /no premium/);
  assert.equal(describeTest({ ok: false, error: "Me: not authorised (HTTP 401: Invalid API key)." }),
    "Test failed: Me: not authorised (HTTP 401: Invalid API key).");
  assert.equal(describeTest(undefined), "Test failed: no answer");
});

test("preview lines from a node's ui dict", () => {
  const ui = {
    images: [{ filename: "x.png" }],
    aliveai: [{ prompt_id: "p1", media_ids: ["m1", "m2"] }, { prompt_id: null, media_ids: ["u1"] }, "junk"],
    text: ["<b>not html</b>"],
  };
  assert.deepEqual(previewLines(ui), ["prompt_id: p1", "media_ids: m1, m2", "media_id: u1", "<b>not html</b>"]);
  assert.deepEqual(previewLines({ aliveai: "not a list", text: "nor this" }), []);
  assert.deepEqual(previewLines(null), []);
});

test("node text is cut when huge", () => {
  assert.equal(nodeText(["a", "b"]), "a\nb");
  const long = nodeText(["x".repeat(MAX_NODE_TEXT + 10)]);
  assert.ok(long.length < MAX_NODE_TEXT + 20 && long.endsWith("… (cut)"));
});

test("the session's spending line", () => {
  assert.equal(sessionLine(undefined), "");
  assert.equal(sessionLine({ jobs: 0, estimated: 0, budget: null, floor: null }), "This session: no paid jobs yet");
  assert.equal(sessionLine({ jobs: 1, estimated: 5, budget: null, floor: null }),
    "This session: 1 job, about 5 credits (estimate)");
  assert.equal(sessionLine({ jobs: 1, estimated: 1, budget: null, floor: null }),
    "This session: 1 job, about 1 credit (estimate)");
  assert.equal(sessionLine({ jobs: 3, estimated: 7, budget: 20, floor: 100.5 }),
    "This session: 3 jobs, about 7 credits (estimate) · budget 20 · keeping 100.5 on the account");
});
