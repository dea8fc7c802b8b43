"""What the frontend shows of a run (issue 13, "Frontend"): the status text is plain text that
renders the same on frontend 1.27 (raw HTML) and 1.58 (escapes it), and the final status line
lives in the node's ui output, which outlives the run (1.58 deletes progress text at the end)."""
from __future__ import annotations

import re

from support import create_kw, run

from nodes.comfy import NODE_CLASS_MAPPINGS, bridge

CREATE = NODE_CLASS_MAPPINGS["AliveAICreateImage"]


class FakeServer:
    client_id = "tab-1"

    def __init__(self):
        self.sent: list[tuple[str, str, str | None]] = []

    def send_progress_text(self, text, node_id, sid=None):
        self.sent.append((text, node_id, sid))


def test_status_text_is_plain_text_that_no_frontend_turns_into_markup(monkeypatch):
    server = FakeServer()
    monkeypatch.setattr(bridge, "IN_COMFY", True)
    monkeypatch.setattr(bridge, "PromptServer", type("PS", (), {"instance": server}), raising=False)
    text = "failed: it's <b>bold</b> & \"quoted\" &amp; more\nsecond line"
    bridge.send_text(text, "7")
    [(sent, node, sid)] = server.sent
    assert (node, sid) == ("7", "tab-1")
    # Nothing pre-escaped (1.58 escapes again: "&#x27;" and "<br>" showed as text) ...
    assert "&#x27;" not in sent and "&quot;" not in sent and "<br>" not in sent and "&lt;" not in sent
    assert "\n" in sent
    # ... and nothing 1.27 (which inserts it as HTML) could read as a tag or an entity.
    assert re.search(r"<[A-Za-z/!?]", sent) is None and re.search(r"&[#A-Za-z0-9]", sent) is None
    # Only invisible word joiners were added: it reads exactly as the original.
    assert sent.replace("\u2060", "") == text


def test_final_status_line_is_in_the_ui_output_and_a_cached_rerun_says_no_new_job(comfy, sim):
    first = run(CREATE, unique_id="3", **create_kw(seed=4242))
    [line] = first["ui"]["aliveai_status"]
    prompt_id = first["result"][3]
    assert line.startswith("done in ") and f"prompt {prompt_id}" in line and "1 image" in line
    assert comfy[-1] == ("3", line)  # the same line as the last progress text
    creates = sim.state.counters.creates["create_prompt"]

    again = run(CREATE, unique_id="3", **create_kw(seed=4242))  # the request cache answers it
    assert sim.state.counters.creates["create_prompt"] == creates
    [line] = again["ui"]["aliveai_status"]
    assert line == f"cached · no new job · 1 image · prompt {prompt_id}"
    assert "done in" not in comfy[-1][1]
