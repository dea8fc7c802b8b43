"""Headless and fleets: the API-format examples of workflows/api/ run the way a worker runs them.

RunPod's worker-comfyui, Salad, ComfyUI-Distributed and Comfy's own deploy all wrap ComfyUI's
`POST /prompt` + `GET /history/<id>`. A real ComfyUI cannot run in CI, so this emulates the
contract the pack must keep for them:
- each file is the API format of a shipped example and ends in core Save nodes;
- every value the request needs is in it (a widget value or a link), valid as queued, and nothing
  secret or machine-specific: the key comes from the worker's environment;
- run as ComfyUI runs it, every output of every node survives a pickle round trip (ComfyUI's
  output cache, a worker's process boundary) before the next node reads it; what /history would
  hold is JSON and holds no key;
- the same request POSTed again (a retry, a second worker with the same disk) pays nothing.
"""
from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch

from conftest import ROOT
from test_workflows import CORE, expected_slots, strings

from nodes.comfy import NODE_CLASS_MAPPINGS, session
from nodes.comfy.job_nodes import JobNode
from tools.workflow_runner import CORE_WIDGETS, run_api_prompt, to_api

API = ROOT / "workflows" / "api"
UI_FILES = sorted((ROOT / "workflows").glob("*.json"))
API_FILES = sorted(API.glob("*.json"))
SAVES = ("SaveImage", "SaveVideo")


def load(path):
    return json.loads(path.read_text("utf-8"))


def is_link(v) -> bool:
    return isinstance(v, list) and len(v) == 2 and isinstance(v[0], str) and isinstance(v[1], int)


def test_every_example_has_an_api_format_twin_in_sync():
    assert [p.name for p in API_FILES] == [p.name for p in UI_FILES]
    for ui in UI_FILES:
        assert load(API / ui.name) == json.loads(json.dumps(to_api(load(ui), NODE_CLASS_MAPPINGS))), \
            f"{ui.name}: run python tools/make_workflows.py"


@pytest.fixture(params=API_FILES, ids=[p.stem for p in API_FILES])
def prompt(request) -> dict:
    return load(request.param)


def test_api_format_and_it_ends_in_core_save_nodes(prompt):
    assert all(set(n) == {"class_type", "inputs", "_meta"} for n in prompt.values())
    kinds = {i: n["class_type"] for i, n in prompt.items()}
    assert "PreviewImage" not in kinds.values(), "a worker reads saved files: Save Image, not Preview"
    downstream: dict[str, set[str]] = {}
    for i, n in prompt.items():
        for v in n["inputs"].values():
            if is_link(v):
                assert v[0] in prompt, f"node {i}: link to a missing node {v[0]}"
                downstream.setdefault(v[0], set()).add(i)
    for i, kind in kinds.items():
        if kind not in NODE_CLASS_MAPPINGS:
            continue
        todo, seen = [i], set()
        while todo:
            j = todo.pop()
            if kinds[j] in SAVES:
                break
            for k in downstream.get(j, ()):
                if k not in seen:
                    seen.add(k)
                    todo.append(k)
        else:
            pytest.fail(f"node {i} ({kind}) reaches no Save node: a worker would get nothing from it")


def test_every_value_the_request_needs_is_in_it_and_valid_as_queued(prompt):
    for i, n in prompt.items():
        kind, inputs = n["class_type"], n["inputs"]
        if kind in NODE_CLASS_MAPPINGS:
            cls = NODE_CLASS_MAPPINGS[kind]
            names = [s[0] for s in expected_slots(kind) if not s[0].startswith("<")]
            required = cls.INPUT_TYPES().get("required", {})
        else:
            names, required = CORE_WIDGETS[kind], CORE[kind]["inputs"]["required"]
        missing = [x for x in list(required) + names if x not in inputs]
        assert not missing, f"node {i} ({kind}) leaves {missing} to a widget the request does not carry"
        if kind in NODE_CLASS_MAPPINGS and hasattr(cls, "VALIDATE_INPUTS"):
            values = {k: (None if is_link(v) else v) for k, v in inputs.items()}
            import inspect

            params = inspect.signature(cls.VALIDATE_INPUTS).parameters
            if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
                values = {k: v for k, v in values.items() if k in params}
            assert cls.VALIDATE_INPUTS(**values) is True, f"node {i} ({kind}) refused when queued"


def test_no_key_no_login_and_no_machine_path_in_the_request(prompt):
    from nodes.simulator import DEFAULT_API_KEY, DEFAULT_EMAIL, DEFAULT_PASSWORD

    for s in strings(prompt):
        for bad in (DEFAULT_API_KEY, DEFAULT_EMAIL, DEFAULT_PASSWORD, "Bearer ", "Key "):
            assert bad not in s
        assert not s.startswith(("/", "~")) and ":\\" not in s, s
    assert not any(k in n["inputs"] for n in prompt.values() for k in ("api_key", "apiKey", "key", "password"))


def pickled(value):
    """ComfyUI's output cache and a worker's process boundary: a full pickle round trip."""
    return pickle.loads(pickle.dumps(value))


@pytest.mark.parametrize("path", API_FILES, ids=[p.stem for p in API_FILES])
def test_runs_like_a_worker_outputs_survive_pickling_and_a_repost_pays_nothing(path, comfy, sim, tmp_path):
    from nodes.simulator import DEFAULT_API_KEY

    prompt = load(path)
    jobs = sum(issubclass(NODE_CLASS_MAPPINGS[n["class_type"]], JobNode)
               for n in prompt.values() if n["class_type"] in NODE_CLASS_MAPPINGS)
    before = sum(sim.state.counters.creates.values())

    ex = run_api_prompt(prompt, tmp_path, through_cache=pickled)

    assert sum(sim.state.counters.creates.values()) - before == jobs
    saves = [(k, v) for _, k, v in ex.saved if k in SAVES]
    assert saves, "nothing reached a Save node"
    for kind, value in saves:
        if kind == "SaveImage":
            assert isinstance(value, torch.Tensor) and value.dim() == 4 and value.shape[-1] == 3
        else:
            assert min(value.get_dimensions()) > 0 and Path(value.get_stream_source()).stat().st_size > 0
    history = json.dumps(ex.history)   # /history sends it as JSON
    assert DEFAULT_API_KEY not in history
    for nid, out in ex.outputs.items():   # every output object, again on its own
        for value in out:
            assert type(pickled(value)) is type(value), f"node {nid}: {type(value).__name__} does not round-trip"

    # The same request again, as a retry or a second worker sharing the disk would send it, after
    # the process started over: the results are reused, no job is created.
    session.reset()
    again = run_api_prompt(prompt, tmp_path, through_cache=pickled)
    assert sum(sim.state.counters.creates.values()) - before == jobs, "a re-POST paid again"
    assert len(again.saved) == len(ex.saved)


def test_the_key_comes_from_the_environment(comfy, sim, tmp_path, monkeypatch):
    """Without ALIVEAI_API_KEY (and no saved key) the run stops before any job, naming the variable."""
    monkeypatch.delenv("ALIVEAI_API_KEY")
    session.reset()
    before = sum(sim.state.counters.creates.values())
    with pytest.raises(Exception) as err:
        run_api_prompt(load(API / "Text to image.json"), tmp_path)
    assert "ALIVEAI_API_KEY" in str(err.value)
    assert sum(sim.state.counters.creates.values()) == before


def test_get_profiles_first_id_feeds_a_profile_id_and_an_empty_page_says_what_to_do(comfy, sim):
    """The character example takes its profileId from Get Profiles For User's first_id: an empty
    page is refused by name when first_id is read, and is no error when nothing reads it."""
    import asyncio

    from nodes.errors import ValidationError

    cls = NODE_CLASS_MAPPINGS["AliveAIGetProfilesForUser"]
    reads = {"1": {"class_type": "AliveAIGetProfilesForUser", "inputs": {}},
             "2": {"class_type": "AliveAICreateCharacterImage", "inputs": {"profileId": ["1", 1]}}}
    out = asyncio.run(cls().run(unique_id="1", prompt=reads, page=0, public="true"))
    listed = json.loads(out["result"][0])["profiles"]
    assert listed and out["result"][1] == listed[0]["id"]
    with pytest.raises(ValidationError) as err:
        asyncio.run(cls().run(unique_id="1", prompt=reads, page=9999, public="true"))
    assert "first_id" in str(err.value) and "public" in str(err.value)
    alone = {"1": reads["1"]}
    out = asyncio.run(cls().run(unique_id="1", prompt=alone, page=9999, public="true"))
    assert out["result"][1] == ""
