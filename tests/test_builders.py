"""Parameter-builder nodes: what they build is what the simulator accepts from the job nodes, bad
values are refused by the node that holds them (node and field named), and the LoRA stacks stop
at the consuming field's max_items."""
from __future__ import annotations

import asyncio
import json

import pytest
import torch

from nodes.api import SHAPES, operation
from nodes.comfy import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS
from nodes.comfy.builder_nodes import (BUILDER_NODES, CharacterNode, ClothesNode, CropAreaNode, EditLoraStackNode,
                                       FaceSwapNode, LoraStackNode, PoseNode, VideoLoraStackNode)
from nodes.comfy.handles import MediaHandle, MediaRef
from nodes.comfy.widgets import SHAPE_SOCKETS, UNSET_FLOAT, VIDEO_LORAS
from nodes.errors import ValidationError

KEYS = {"AliveAIPose": "Pose (AliveAI)", "AliveAIFaceSwap": "Face Swap (AliveAI)",
        "AliveAILoraStack": "LoRA Stack (AliveAI)", "AliveAIEditLoraStack": "Edit LoRA Stack (AliveAI)",
        "AliveAIVideoLoraStack": "Video LoRA Stack (AliveAI)", "AliveAIClothes": "Clothes (AliveAI)",
        "AliveAICropArea": "Crop Area (AliveAI)", "AliveAICharacter": "Character (AliveAI)"}
FACE_DEFAULTS = {"faceSwapModel": "DEFAULT", "isPartialSwap": False, "swapStrength": UNSET_FLOAT,
                 "faceReplaceGender": "(not set)", "face_media_id": ""}


@pytest.fixture(autouse=True)
def no_account(tmp_path, monkeypatch):
    """Pose, Clothes and the LoRA stacks look their ids up in the catalogs at run time. Without
    the simulator (the `comfy` fixture, which sets its own account) there is no account, so the
    lookup is skipped: these tests never reach the live API or a real user directory."""
    for name in ("ALIVEAI_API_KEY", "ALIVEAI_EMAIL", "ALIVEAI_PASSWORD", "ALIVEAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ALIVEAI_USER_DIR", str(tmp_path / "no-account"))


def run(cls, **kwargs):
    out = cls().run(**kwargs)
    return asyncio.run(out) if asyncio.iscoroutine(out) else out


def result(out):
    return out["result"] if isinstance(out, dict) else out


def stack(cls, *entries, upstream=None):
    """A stack node run with `entries` as (id, strength) in its first slots."""
    kwargs = {}
    for i, (ident, strength) in enumerate(entries, 1):
        kwargs[f"lora{i}_id"] = ident
        kwargs[f"lora{i}_strength"] = strength
    if upstream is not None:
        kwargs["loras"] = upstream
    return run(cls, **kwargs)[0]


def last_body(sim, op_key):
    entry = sim.state.requests_for(op_key)[-1]
    assert entry.status == 200, entry
    return entry.body


# -- the node set --------------------------------------------------------------------------------
def test_keys_names_sockets_and_tooltips():
    assert {k: NODE_DISPLAY_NAME_MAPPINGS[k] for k in BUILDER_NODES} == KEYS
    sockets = set(SHAPE_SOCKETS.values()) | {VIDEO_LORAS}
    assert {c.RETURN_TYPES[0] for c in BUILDER_NODES.values()} == sockets
    for key, cls in BUILDER_NODES.items():
        assert NODE_CLASS_MAPPINGS[key] is cls and cls.CATEGORY == "AliveAI/Parameters"
        assert cls.DESCRIPTION and cls.OUTPUT_TOOLTIPS[0]
        spec = cls.INPUT_TYPES()
        for group in ("required", "optional"):
            for name, (_, opts) in spec[group].items():
                assert opts.get("tooltip"), (key, name)


def test_stack_limits_come_from_the_table():
    assert LoraStackNode.limit() == operation("create_prompt").field("modelTemplates").max_items == 10
    assert EditLoraStackNode.limit() == operation("edit_image").field("modelTemplates").max_items == 5
    assert VideoLoraStackNode.limit() == operation("create_image_to_video").field("videoTemplates").max_items == 5


def test_outputs_are_plain_json():
    objs = [run(PoseNode, id="standing001", type="STANDING", poseStrength=40)[0],
            run(ClothesNode, clothesPrompt="a red coat")[0],
            CropAreaNode().run(x=0, y=4, width=64, height=32)[0],
            CharacterNode().run(model="GROK", age="thirty")[0],
            stack(LoraStackNode, ("tpl-selfie", 10.0))]
    assert json.loads(json.dumps(objs)) == objs
    assert objs[0] == {"id": "standing001", "type": "STANDING", "poseStrength": 40}
    assert objs[4] == [{"id": "tpl-selfie", "strength": 10.0}]


# -- accepted by the simulator through the job nodes ----------------------------------------------
def test_portrait_with_face_swap_from_an_image_batch(sim, comfy):
    faces = torch.rand(2, 24, 16, 3)
    (swap,) = run(FaceSwapNode, face=faces, **{**FACE_DEFAULTS, "faceReplaceGender": "FEMALE"})
    assert len(swap["mediaIds"]) == 2 and sim.state.counters.uploads == 2
    assert all(sim.state.media[m].source == "upload" for m in swap["mediaIds"])
    out = run(NODE_CLASS_MAPPINGS["AliveAICreatePortrait"], faceSwap=swap, detailLevel="MEDIUM", gender="FEMALE",
              ethnicity="EUROPEAN", scene="HEADSHOT")
    assert out["result"][0].shape[0] == 1
    body = last_body(sim, "create_portrait")
    assert body["faceSwap"] == {"mediaIds": swap["mediaIds"], "faceSwapModel": "DEFAULT", "faceReplaceGender": "FEMALE"}
    # The same pixels again: no second upload (the upload cache), the same ids.
    assert run(FaceSwapNode, face=faces, **FACE_DEFAULTS)[0]["mediaIds"] == swap["mediaIds"]
    assert sim.state.counters.uploads == 2


def test_face_swap_from_a_handle_or_typed_ids(sim, comfy):
    (swap,) = run(FaceSwapNode, face=torch.rand(1, 8, 8, 3), **FACE_DEFAULTS)
    mid = swap["mediaIds"][0]
    handle = MediaHandle((MediaRef(mid, "IMAGE", None, uploaded=True),))
    assert run(FaceSwapNode, face_media=handle, **FACE_DEFAULTS)[0]["mediaIds"] == [mid]
    typed = run(FaceSwapNode, **{**FACE_DEFAULTS, "face_media_id": f" {mid} , {mid}"})[0]
    assert typed["mediaIds"] == [mid, mid] and sim.state.counters.uploads == 1


def test_create_image_with_two_chained_lora_stacks(sim, comfy):
    first = stack(LoraStackNode, ("tpl-film-grain", 10.0), ("tpl-selfie", UNSET_FLOAT))
    both = stack(LoraStackNode, ("tpl-studio-light", 4.5), upstream=first)
    assert first == [{"id": "tpl-film-grain", "strength": 10.0}, {"id": "tpl-selfie"}]   # upstream untouched
    out = run(NODE_CLASS_MAPPINGS["AliveAICreateImage"], name="Ada Lovelace", appearance="curly hair",
              detailLevel="MEDIUM", modelTemplates=both)
    assert out["result"][3]
    assert last_body(sim, "create_prompt")["modelTemplates"] == [
        {"id": "tpl-film-grain", "strength": 10.0}, {"id": "tpl-selfie"}, {"id": "tpl-studio-light", "strength": 4.5}]


def test_edit_image_with_pose_clothes_and_edit_loras(sim, comfy):
    pose = run(PoseNode, id="standing002", type="STANDING", poseStrength=35, posePrompt="")[0]
    clothes = run(ClothesNode, clothesId="clothes-red-gown", clothesPrompt="")[0]
    loras = stack(EditLoraStackNode, ("edit-creative-neon", 0.8))
    out = run(NODE_CLASS_MAPPINGS["AliveAIEditImage"], editModel="CREATIVE", ignoreFace=False, restoreFace=True,
              prompt="same person in a ballroom", image=torch.rand(1, 16, 16, 3), pose=pose, clothesRequest=clothes,
              modelTemplates=loras)
    assert out["result"][0].shape[0] == 1
    body = last_body(sim, "edit_image")
    assert body["pose"] == {"id": "standing002", "type": "STANDING", "poseStrength": 35}
    assert body["clothesRequest"] == {"clothesId": "clothes-red-gown"}
    assert body["modelTemplates"] == [{"id": "edit-creative-neon", "strength": 0.8}]


def test_inpaint_google_with_a_crop_area(sim, comfy):
    crop = CropAreaNode().run(x=2, y=3, width=8, height=8)[0]
    run(NODE_CLASS_MAPPINGS["AliveAIInpaintGoogle"], image=torch.rand(1, 16, 16, 3), prompt="add a hat",
        googleModel="GEMINI_2_5", cropArea=crop)
    assert last_body(sim, "inpaint_google")["cropArea"] == {"x": 2, "y": 3, "width": 8, "height": 8}


# -- refusals name the node and the field ---------------------------------------------------------
@pytest.mark.parametrize(("cls", "kwargs", "field"), [
    (PoseNode, {"id": "standing001", "poseStrength": 150}, "poseStrength"),
    (PoseNode, {"type": "STANDING", "poseStrength": 20}, "id"),
    (ClothesNode, {"clothesId": "", "clothesPrompt": ""}, "clothesId"),
    (CropAreaNode, {"x": 0, "y": 0, "width": 0, "height": 10}, "width"),
    (CropAreaNode, {"x": -3, "y": 0, "width": 5, "height": 10}, "x"),
    (CharacterNode, {"model": "RAW", "hairColor": "x"}, "hairColor"),
    (CharacterNode, {"model": "GPT5"}, "model"),
    (LoraStackNode, {"lora1_id": "", "lora1_strength": 5.0}, "lora1_id"),
    (LoraStackNode, {"lora1_id": ""}, "lora1_id"),
])
def test_bad_values_are_refused_with_node_and_field(cls, kwargs, field):
    with pytest.raises(ValidationError) as err:
        run(cls, **kwargs)
    assert err.value.field == field and str(err.value).startswith(cls.LABEL + ": ")
    assert f"'{field}'" in str(err.value)


def test_queue_time_checks():
    assert "poseStrength" in PoseNode.VALIDATE_INPUTS(id="a", type="", poseStrength=101, posePrompt="")
    assert PoseNode.VALIDATE_INPUTS(id=None, type="", poseStrength=10, posePrompt="") is True   # id linked
    assert "'id' or 'posePrompt'" in PoseNode.VALIDATE_INPUTS(id="", type="", poseStrength=10, posePrompt="")
    assert FaceSwapNode.VALIDATE_INPUTS(**FACE_DEFAULTS) is True     # the faces arrive at run time
    assert "faceReplaceGender" in FaceSwapNode.VALIDATE_INPUTS(**{**FACE_DEFAULTS, "faceReplaceGender": "OTHER"})
    assert LoraStackNode.VALIDATE_INPUTS(lora1_id="", lora1_strength=2.0).startswith("LoRA Stack (AliveAI)")


def test_face_swap_checks_before_uploading(sim, comfy):
    with pytest.raises(ValidationError, match=r"^Face Swap \(AliveAI\): 'faceReplaceGender'"):
        run(FaceSwapNode, face=torch.rand(1, 8, 8, 3), **{**FACE_DEFAULTS, "faceReplaceGender": "OTHER"})
    with pytest.raises(ValidationError, match=r"^Face Swap \(AliveAI\): connect a face IMAGE"):
        run(FaceSwapNode, **FACE_DEFAULTS)
    assert sim.state.counters.uploads == 0 and sim.state.log == []


def test_lora_stack_refuses_an_eleventh_entry():
    ids = [f"tpl-{n}" for n in range(11)]
    chain = None
    for i in range(0, 9, 3):
        chain = stack(LoraStackNode, *[(x, 1.0) for x in ids[i:i + 3]], upstream=chain)
    assert len(chain) == 9
    assert len(stack(LoraStackNode, (ids[9], 1.0), upstream=chain)) == 10
    assert stack(LoraStackNode, ("", UNSET_FLOAT), upstream=chain) == chain     # a cleared link passes through
    with pytest.raises(ValidationError) as err:
        stack(LoraStackNode, (ids[9], 1.0), (ids[10], 1.0), upstream=chain)
    assert str(err.value).startswith("LoRA Stack (AliveAI): ") and "at most 10" in str(err.value)
    assert err.value.field == "loras" and len(chain) == 9


def test_edit_and_video_stacks_stop_at_five():
    five = stack(EditLoraStackNode, ("a", 1.0), ("b", 1.0), ("c", 1.0))
    five = stack(EditLoraStackNode, ("d", 1.0), ("e", 1.0), upstream=five)
    with pytest.raises(ValidationError, match=r"Edit LoRA Stack \(AliveAI\): .* at most 5"):
        stack(EditLoraStackNode, ("f", 1.0), upstream=five)
    video = stack(VideoLoraStackNode, ("v1", 1.0), ("v2", 1.0), ("v3", 1.0))
    with pytest.raises(ValidationError, match="at most 5"):
        stack(VideoLoraStackNode, ("v4", 1.0), ("v5", 1.0), ("v6", 1.0), upstream=video)
    assert {tuple(x) for x in five} == {tuple(f.name for f in SHAPES["QwenTemplateRequest"].fields)}
