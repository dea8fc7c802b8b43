"""Every create operation, run as a node on the simulator: the request the simulator received
uses the doc's field names and types (it passes the table's own validation), carries the
required fields, fills mediaId / createdFromPromptId from the inputs, and the node returns the
native output of the operation's result kind."""
from __future__ import annotations

import pytest
import torch
from support import defaults, image, run

from nodes.api import JOBS, SHAPES
from nodes.api.validate import check_fields
from nodes.comfy import NODE_CLASS_MAPPINGS
from nodes.comfy.widgets import media_slots

BY_OP = {cls.OP.key: cls for cls in NODE_CLASS_MAPPINGS.values() if getattr(cls, "OP", None) and cls.OP.is_job}

def widgets_for(cls) -> dict:
    kw = defaults(cls)
    for name in ("prompt", "text"):  # required texts the defaults leave empty
        if name in kw and not kw[name]:
            kw[name] = "a small change"
    if "name" in kw and not kw["name"]:
        kw.update(name="Ada Lovelace", appearance="at her desk")
    if "profileId" in kw and not kw["profileId"]:
        kw["profileId"] = "profile-001"
    return kw


def media_inputs(cls, video_handle) -> dict:
    kw = {}
    for s in media_slots(cls.OP):
        if s.field.media == "video":
            kw[s.handle_input] = video_handle
        elif s.field.media == "mask":
            m = torch.zeros(1, 32, 48)
            m[:, 8:24, 8:40] = 1.0
            kw[s.tensor_input] = m
        elif s.field.required:
            kw[s.tensor_input] = image(seed=hash(cls.OP.key) % 1000)
    return kw


@pytest.fixture
def video_handle(comfy):
    img = run(NODE_CLASS_MAPPINGS["AliveAICreateImage"], unique_id="v0", **widgets_for(NODE_CLASS_MAPPINGS[
        "AliveAICreateImage"]))
    out = run(NODE_CLASS_MAPPINGS["AliveAIImageToVideo"], unique_id="v1", image_media=img["result"][1],
              **widgets_for(NODE_CLASS_MAPPINGS["AliveAIImageToVideo"]))
    return out["result"][1]


@pytest.fixture
def face_swap(comfy):
    face = NODE_CLASS_MAPPINGS["AliveAIFaceSwap"]
    return run(face, face=image(seed=5), **defaults(face))[0]


def test_there_is_a_node_for_each_of_the_21_creates():
    assert sorted(BY_OP) == sorted(op.key for op in JOBS)


@pytest.mark.parametrize("op", JOBS, ids=lambda o: o.key)
def test_job_node_sends_the_documented_request(op, sim, comfy, video_handle, face_swap):
    cls = BY_OP[op.key]
    kw = {**widgets_for(cls), "seed": 1000 + op.number}  # a seed of its own: no cached result from the fixtures
    if op.key == "create_character_image":  # a profile that exists in the simulator's catalog
        from nodes.comfy import session
        kw["profileId"] = session.client().call("get_profiles", page=0)["profiles"][0]["id"]
    for f in op.fields:
        if f.shape == "FaceSwapRequest" and f.required:
            kw[f.name] = face_swap
    kw.update(media_inputs(cls, video_handle))
    before = len(sim.state.requests_for(op.key))
    out = run(cls, unique_id="9", **kw)
    sent = sim.state.requests_for(op.key)
    assert len(sent) == before + 1
    body = sent[-1].body
    body_fields = tuple(f for f in op.fields if f.where == "body")
    assert set(body) <= {f.name for f in body_fields}
    check_fields(op.name, body_fields, body, SHAPES, prefix="")  # names, types, limits, required fields
    assert all(v not in ("", None, []) for v in body.values())  # unset optionals are omitted
    for s in media_slots(op):
        if s.field.required:
            assert body[s.field.name]
    if any(f.from_prompt and f.required for f in op.fields):
        assert body["createdFromPromptId"]
    result = out["result"]
    if op.returns == "VIDEO":
        assert result[1].first.media_type == "VIDEO" and out["ui"]["animated"] == [True]
    else:
        assert result[0].dim() == 4 and result[0].shape[-1] == 3 and result[0].dtype == torch.float32
    assert result[3] and result[3] in {j.prompt_id for j in sim.state.jobs.values()}
