"""The nodes for the operations that are not jobs, run against the simulator: every operation of
the table has exactly one place, each call node sends the doc's field names with the doc's types,
Me never shows the apiKey, deletes do nothing without `confirm`, Get Prompts outputs its images."""
from __future__ import annotations

import asyncio
import json
import re

import pytest
import torch
from support import assert_injected, wait_for

from nodes.api import OPERATIONS, SHAPES
from nodes.api.schema import (ARRAY, BODY, BOOLEAN, EVENTS, INTEGER, JSON, NOTHING, NUMBER, OBJECT, QUERY, STRING,
                              TEXT, TEXT_PAIR)
from nodes.comfy import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS
from nodes.comfy.builder_nodes import CharacterNode
from nodes.comfy.call_nodes import CALL_NODES, NO_NODE
from nodes.comfy.job_nodes import JOB_NODES
from nodes.comfy.widgets import is_widget
from nodes.errors import ValidationError
from nodes.simulator import DEFAULT_API_KEY

DELETES = sorted(k for k, c in CALL_NODES.items() if c.OP.method == "DELETE")
PY_TYPES = {STRING: str, INTEGER: int, NUMBER: (int, float), BOOLEAN: bool, OBJECT: dict, ARRAY: list}
# Values the simulator knows (its catalogs), for fields that name something.
SAMPLES = {"clothesId": "custom-clothes-1", "poseId": "custom-pose-1", "profileId": "profile-001",
           "query": "sample", "oldRequest": "A woman on a beach.", "inputPrompt": "a cat on a warm roof",
           "userInput": "She turns and smiles at the camera"}


def run(cls, **kwargs):
    return asyncio.run(cls().run(**kwargs))


def result(out):
    return out["result"] if isinstance(out, dict) else out


def sample(f):
    """A valid widget value for a table field, optional fields included (so they are sent too)."""
    if f.name in SAMPLES:
        return SAMPLES[f.name]
    if f.type == ARRAY:
        return ",".join(f.enum[:2])
    if f.enum:
        return f.suggest if f.suggest in f.enum else f.enum[0]
    if f.type == INTEGER:
        return int(f.suggest) if f.suggest is not None else int(f.minimum or 0) + 1
    if f.type == NUMBER:
        return 1.0
    if f.type == BOOLEAN:
        return True
    return "sample text"


def done_prompt(client) -> str:
    job = client.submit("create_prompt", name="Sample Person", appearance="short dark hair", detailLevel="MEDIUM")
    job.result(running_timeout=30)
    return job.prompt_id


def queued_prompt(sim, client) -> str:
    """A job that stays queued: one worker, held by a hanging first job. Returns once the hang
    really holds (read more often than two jobs passing their last step once each would)."""
    sim.state.config.workers = 1
    sim.state.faults.job_hang = True
    client.submit("create_prompt", name="First Person", appearance="a", detailLevel="MEDIUM")
    pid = client.submit("create_prompt", name="Second Person", appearance="b", detailLevel="MEDIUM").prompt_id
    wait_for(lambda: sim.state.faults.count("job_hang") > 2)
    assert_injected(sim, "job_hang")
    return pid


def inputs_for(key: str, sim, client) -> dict:
    """Widget values for every widget of the node, plus what its operation needs to exist first."""
    cls = CALL_NODES[key]
    op = cls.OP
    kwargs = {f.name: sample(f) for f in op.fields if is_widget(f)}
    if op.key in ("get_prompt", "delete_prompt", "get_prompts"):
        pid = done_prompt(client)
        if "promptId" in kwargs:
            kwargs["promptId"] = pid
    if op.key == "delete_from_queue":
        kwargs["promptId"] = queued_prompt(sim, client)
    if op.key == "generate_vision_prompt":
        kwargs["image"] = torch.rand(1, 24, 16, 3)
    if op.key == "generate_update_prompt":
        kwargs["newRequest"] = CharacterNode().run(model="QWEN3_8B", hairColor="auburn", outfit="a green coat")[0]
    if op.method == "DELETE":
        kwargs["confirm"] = True
    return kwargs


def path_pattern(path: str) -> re.Pattern:
    return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path)) + "$")


def query_ok(f, raw: str) -> bool:
    kind = f.items if f.type == ARRAY else f.type
    if kind == INTEGER:
        return re.fullmatch(r"-?\d+", raw) is not None
    if kind == BOOLEAN:
        return raw in ("true", "false")
    return not f.enum or raw in f.enum


def check_request(entry, op, kwargs):
    """The logged request against the table: method, path, query and body names and types."""
    assert entry.status == 200, (op.name, entry.status)
    assert entry.method == op.method
    m = path_pattern(op.path).match(entry.path)
    assert m, (entry.path, op.path)
    for name, value in m.groupdict().items():
        assert value == kwargs[name]
    query_fields = {f.name: f for f in op.fields_in(QUERY)}
    for name, raw in entry.query:
        assert name in query_fields, f"{op.name}: unknown query parameter {name}"
        assert query_ok(query_fields[name], raw), (op.name, name, raw)
    sent = {n for n, _ in entry.query} | set(m.groupdict()) | set(entry.body or {})
    body_fields = {f.name: f for f in op.fields_in(BODY)}
    if body_fields:
        assert isinstance(entry.body, dict), op.name
        for name, value in entry.body.items():
            f = body_fields[name]
            assert isinstance(value, PY_TYPES[f.type]) and not (f.type != BOOLEAN and isinstance(value, bool)), \
                (op.name, name, value)
    else:
        assert not entry.body
    for f in op.fields:
        assert not f.required or f.name in sent, f"{op.name}: required {f.name} not sent"
        assert f.name not in kwargs or not is_widget(f) or f.name in sent, f"{op.name}: {f.name} was set, not sent"


# -- the node set --------------------------------------------------------------------------------
def test_every_operation_has_exactly_one_place():
    jobs = {c.OP.key for c in JOB_NODES.values()}
    calls = {c.OP.key for c in CALL_NODES.values()}
    by_design = {"upload_file", "login"}            # the Upload node; credentials never come from widgets
    sockets = {o.key for o in OPERATIONS if o.returns == EVENTS}
    parts = (jobs, calls, by_design, sockets)
    assert sum(len(p) for p in parts) == len(OPERATIONS) == 52
    assert set().union(*parts) == {o.key for o in OPERATIONS}
    assert set(NO_NODE) == by_design and len(sockets) == 2
    assert "AliveAIUpload" in NODE_CLASS_MAPPINGS


def test_node_keys_names_and_categories():
    for key in ("AliveAIGetCustomClothes", "AliveAIGetCustomClothesById", "AliveAIGetTemplates",
                "AliveAIGetVideoTemplates", "AliveAIMe", "AliveAIGetPending", "AliveAIDeleteFromQueue"):
        assert key in CALL_NODES
    assert CALL_NODES["AliveAIGetTemplates"].OP.number == 48
    assert CALL_NODES["AliveAIGetVideoTemplates"].OP.number == 51
    assert CALL_NODES["AliveAIGetCustomClothesById"].OP.number == 33
    assert NODE_DISPLAY_NAME_MAPPINGS["AliveAIGetPoses"] == "Get Poses (AliveAI)"
    for key, cls in CALL_NODES.items():
        assert NODE_CLASS_MAPPINGS[key] is cls
        assert NODE_DISPLAY_NAME_MAPPINGS[key].endswith(" (AliveAI)")
        assert cls.CATEGORY in ("AliveAI/Library", "AliveAI/Catalog", "AliveAI/Prompt"), key
        assert len(cls.RETURN_TYPES) == len(cls.RETURN_NAMES) == len(cls.OUTPUT_TOOLTIPS)
        assert cls.OUTPUT_NODE == (cls.OP.returns in (JSON, NOTHING)), key


def test_outputs_follow_the_result_kind():
    for cls in CALL_NODES.values():
        want = {TEXT: ("prompt",), TEXT_PAIR: ("prompt", "negative_prompt"), JSON: ("json",),
                NOTHING: ("status",)}[cls.OP.returns]
        assert cls.RETURN_NAMES[:len(want)] == want
        assert set(cls.RETURN_TYPES[:len(want)]) == {"STRING"}
    assert CALL_NODES["AliveAIGetPrompts"].RETURN_TYPES == ("STRING", "IMAGE")


@pytest.mark.parametrize("key", sorted(CALL_NODES))
def test_every_input_has_a_tooltip(key):
    spec = CALL_NODES[key].INPUT_TYPES()
    for group in ("required", "optional"):
        for name, (_, opts) in spec[group].items():
            assert opts.get("tooltip"), (key, name)


# -- each node on the simulator ------------------------------------------------------------------
@pytest.mark.parametrize("key", sorted(CALL_NODES))
def test_node_sends_the_documented_request(key, sim, comfy, client):
    cls = CALL_NODES[key]
    kwargs = inputs_for(key, sim, client)
    before = len(sim.state.requests_for(cls.OP.key))   # setup may have read it already (Get Prompt)
    out = result(run(cls, **kwargs))
    assert len(out) == len(cls.RETURN_TYPES)
    assert all(isinstance(x, str) and x for x in out[:len(cls.RETURN_TYPES) - (key == "AliveAIGetPrompts")])
    entries = sim.state.requests_for(cls.OP.key)[before:]
    assert len(entries) == 1, [e.path for e in entries]
    check_request(entries[0], cls.OP, kwargs)
    if cls.OP.key == "delete_from_queue":          # it was still queued, so it was removed (not finished)
        assert sim.state.jobs[kwargs["promptId"]].status == "REMOVED"
    if cls.OP.returns == JSON:
        json.loads(out[0])
    assert comfy, "no status text was shown"


def test_me_never_shows_the_api_key(sim, comfy):
    out = run(NODE_CLASS_MAPPINGS["AliveAIMe"])
    shown = json.dumps(out["ui"]) + "".join(out["result"]) + "".join(t for _, t in comfy)
    assert DEFAULT_API_KEY not in shown and "apiKey" not in shown
    assert json.loads(out["result"][0])["credits"] == sim.state.default_user.credits
    assert [e.status for e in sim.state.requests_for("me")] == [200]


@pytest.mark.parametrize("key", DELETES)
def test_deletes_refuse_without_confirm_and_send_nothing(key, sim, comfy):
    cls = CALL_NODES[key]
    kwargs = {f.name: sample(f) for f in cls.OP.fields if is_widget(f)}
    for confirm in ({}, {"confirm": False}):
        with pytest.raises(ValidationError) as err:
            run(cls, **kwargs, **confirm)
        assert str(err.value).startswith(NODE_DISPLAY_NAME_MAPPINGS[key]) and "'confirm'" in str(err.value)
    assert sim.state.log == []
    refused = cls.VALIDATE_INPUTS(**kwargs, confirm=False)
    assert isinstance(refused, str) and "confirm" in refused
    assert cls.VALIDATE_INPUTS(**kwargs, confirm=True) is True
    assert cls.INPUT_TYPES()["required"]["confirm"][1]["default"] is False


def test_delete_with_confirm_deletes(sim, comfy, client):
    pid = done_prompt(client)
    out = run(CALL_NODES["AliveAIDeletePrompt"], promptId=pid, confirm=True)
    assert pid in out["result"][0]
    assert sim.state.counters.deletes["delete_prompt"] == 1
    assert sim.state.jobs[pid].status == "DELETED"


def test_get_prompts_outputs_the_page_images(sim, comfy, client):
    ids = [done_prompt(client) for _ in range(2)]
    text, images = run(CALL_NODES["AliveAIGetPrompts"], page=0, pageSize=20)["result"]
    assert images.shape[0] == 2 and images.shape[-1] == 3
    assert [p["promptId"] for p in json.loads(text)["prompts"]] == ids[::-1]


def test_get_prompts_without_images_says_so(sim, comfy):
    node = CALL_NODES["AliveAIGetPrompts"]
    with pytest.raises(ValidationError, match=r"^Get Prompts \(AliveAI\): .*none has an image"):
        run(node, page=0, pageSize=20)
    # When the workflow does not read the images, an empty page is just an empty list.
    prompt = {"5": {"class_type": "AliveAIGetPrompts", "inputs": {"page": 0}},
              "6": {"class_type": "ShowText", "inputs": {"text": ["5", 0]}}}
    text, images = run(node, page=0, pageSize=20, unique_id="5", prompt=prompt)["result"]
    assert json.loads(text)["prompts"] == [] and images is None


def test_vision_prompt_takes_one_image_and_uploads_nothing_else(sim, comfy):
    node = CALL_NODES["AliveAIGenerateVisionPrompt"]
    with pytest.raises(ValidationError, match="batch of 2"):
        run(node, image=torch.rand(2, 8, 8, 3))
    with pytest.raises(ValidationError, match="mediaId is required"):
        run(node)
    assert sim.state.counters.uploads == 0 and sim.state.log == []


def test_text_nodes_feed_text_inputs(sim, comfy):
    (prompt, negative) = run(CALL_NODES["AliveAIGenerateVideoPrompt"], model="DEFAULT",
                             userInput="She waves at the camera")["result"]
    assert prompt.startswith("She waves at the camera") and negative


def test_queue_time_checks_name_node_and_field():
    node = CALL_NODES["AliveAIGeneratePrompt"]
    msg = node.VALIDATE_INPUTS(model="DEFAULT", inputPrompt="abc")
    assert isinstance(msg, str) and msg.startswith("Generate Prompt (AliveAI)") and "inputPrompt" in msg
    assert node.VALIDATE_INPUTS(model="DEFAULT", inputPrompt=None) is True   # linked: checked at run time
    assert CALL_NODES["AliveAIGetPrompts"].VALIDATE_INPUTS(page=0, pageSize=21).count("pageSize") == 1


def test_character_builder_shape_matches_the_table():
    obj = CharacterNode().run(model="RAW", hairStyle="short bob")[0]
    assert set(obj) <= {f.name for f in SHAPES["LlmBuilderPromptRequest"].fields}
    assert obj == {"model": "RAW", "hairStyle": "short bob"}
