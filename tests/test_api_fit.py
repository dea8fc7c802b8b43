"""Issue 12, part 1: every value the doc allows can be sent from a node, and nothing it forbids
reaches the server; a 404/405 points at the fix (the API check) or says the id is unknown."""
from __future__ import annotations

import pytest
import torch

from nodes.api import OPERATIONS, SHAPES, operation, prepare
from nodes.api.schema import INT32_MAX, INT32_MIN, INTEGER
from nodes.client.errors_map import error_for
from nodes.comfy import NODE_CLASS_MAPPINGS
from nodes.comfy.handles import MediaHandle, MediaRef
from nodes.comfy.widgets import UNSET, widget_defaults
from nodes.errors import NotFoundError, ValidationError

from support import image, run

N = NODE_CLASS_MAPPINGS
GET_PROMPTS, PROFILES, INPAINT, I2V = N["AliveAIGetPrompts"], N["AliveAIGetProfilesForUser"], N["AliveAIInpaint"], \
    N["AliveAIImageToVideo"]
UPSCALE, FACE, CREATE, VIDEO_PROMPT = N["AliveAIUpscaleImage"], N["AliveAICreateFaceImprovePrompt"], \
    N["AliveAICreateImage"], N["AliveAIGenerateVideoPrompt"]


def defaults(cls) -> dict:
    return widget_defaults(cls)


def last(sim, key):
    return sim.state.requests_for(key)[-1]


# -- Get Prompts: promptType ----------------------------------------------------------------------

def test_get_prompts_runs_with_its_default_settings(comfy, sim):
    run(CREATE, unique_id="1", **{**defaults(CREATE), "name": "Ada Lovelace", "appearance": "at her desk"})
    run(GET_PROMPTS, unique_id="2", **defaults(GET_PROMPTS))
    assert not any(k == "promptType" for k, _ in last(sim, "get_prompts").query)


def test_prompt_type_takes_several_values_and_old_saved_combo_values(comfy, sim):
    run(CREATE, unique_id="1", **{**defaults(CREATE), "name": "Ada Lovelace", "appearance": "at her desk"})
    run(GET_PROMPTS, unique_id="2", **{**defaults(GET_PROMPTS), "promptType": "IMAGE_DEFAULT, EDIT_IMAGE"})
    assert [v for k, v in last(sim, "get_prompts").query if k == "promptType"] == ["IMAGE_DEFAULT", "EDIT_IMAGE"]
    # a workflow saved when promptType was a combo: its "(not set)" means no filter, a value means that one
    run(GET_PROMPTS, unique_id="2", **{**defaults(GET_PROMPTS), "promptType": UNSET, "page": 0})
    run(GET_PROMPTS, unique_id="3", **{**defaults(GET_PROMPTS), "promptType": "IMAGE_DEFAULT"})
    assert [v for k, v in last(sim, "get_prompts").query if k == "promptType"] == ["IMAGE_DEFAULT"]
    msg = GET_PROMPTS.VALIDATE_INPUTS(**{**defaults(GET_PROMPTS), "promptType": "IMAGE_DEFAULT,NOPE"})
    assert isinstance(msg, str) and "promptType" in msg and "NOPE" in msg


# -- Inpaint: createdFromPromptId is the image's prompt ---------------------------------------------

def test_every_created_from_names_a_non_mask_media_field():
    for op in OPERATIONS:
        for f in op.fields:
            if f.from_prompt and op.media_fields:
                source = op.field(f.from_media)
                assert source.media in ("image", "video"), (op.key, f.from_media)
    assert operation("inpaint").field("createdFromPromptId").from_media == "originalMediaId"


def test_create_face_takes_created_from_as_text(comfy, sim):
    """Create Face has createdFromPromptId but no media input: it is a text widget there."""
    face = N["AliveAICreateFace"]
    assert "createdFromPromptId" in face.INPUT_TYPES()["optional"]
    run(face, unique_id="1", **{**defaults(face), "prompt": "a calm face", "createdFromPromptId": "p-1"})
    assert last(sim, "create_face").body["createdFromPromptId"] == "p-1"


def test_inpaint_sends_the_prompt_of_the_image_not_of_the_mask(comfy, sim):
    made = run(CREATE, unique_id="1", **{**defaults(CREATE), "name": "Ada Lovelace", "appearance": "at her desk"})
    handle, prompt_id = made["result"][1], made["result"][3]
    mask = torch.zeros(1, 512, 768)
    mask[:, 100:200, 100:200] = 1.0
    run(INPAINT, unique_id="3", image_media=handle, mask=mask, **{**defaults(INPAINT), "prompt": "a flower"})
    body = last(sim, "inpaint").body
    assert body["createdFromPromptId"] == prompt_id and body["originalMediaId"] == handle.media_id


def test_inpaint_with_two_handles_takes_the_image_prompt(comfy, sim):
    img = MediaHandle((MediaRef("img-1", "IMAGE", prompt_id="p-image"),))
    msk = MediaHandle((MediaRef("msk-1", "IMAGE", prompt_id="p-mask"),))
    from nodes.comfy import inputs, runtime

    jobs = inputs.plan(INPAINT.OP, "Inpaint", {**defaults(INPAINT), "prompt": "x", "image_media": img,
                                               "mask_media": msk}, runtime.require_client("Inpaint"))
    assert jobs[0][0]["createdFromPromptId"] == "p-image"


# -- int32 and the doc's bounds ---------------------------------------------------------------------

INT_FIELDS = [(op.key, f.name) for op in OPERATIONS for f in op.fields if f.type == INTEGER] + \
             [(s.name, f.name) for s in SHAPES.values() for f in s.fields if f.type == INTEGER]


@pytest.mark.parametrize("op_key,name", [(o, n) for o, n in INT_FIELDS if o in {op.key for op in OPERATIONS}])
def test_every_integer_is_refused_outside_int32(op_key, name):
    op = operation(op_key)
    f = op.field(name)
    base = {g.name: _minimal(g) for g in op.fields if g.required}
    for bad in (INT32_MAX + 1, INT32_MIN - 1):
        if (f.maximum is not None and bad > f.maximum) or (f.minimum is not None and bad < f.minimum):
            pass  # the field's own limit refuses it as well
        with pytest.raises(ValidationError):
            prepare(op, {**base, name: bad})


def _minimal(f):
    if f.enum:
        return f.enum[0]
    if f.type == INTEGER:
        return int(f.minimum or 1)
    if f.type == "number":
        return float(f.minimum or 1)
    if f.type == "boolean":
        return False
    if f.type == "object":
        return {"model": "RAW"} if f.shape == "LlmBuilderPromptRequest" else {"mediaIds": ["m"]}
    if f.type == "binary":
        return b"x"
    return "x" * max(f.min_length or 1, 5 if f.name in ("inputPrompt", "userInput") else 1)


@pytest.mark.parametrize("cls,field", [(GET_PROMPTS, "page"), (PROFILES, "page"), (FACE, "faceIndex"),
                                       (VIDEO_PROMPT, "frameCount"), (GET_PROMPTS, "pageSize")])
def test_queue_time_refuses_a_value_past_int32(cls, field):
    """ComfyUI skips its own min/max for our nodes (VALIDATE_INPUTS takes **kwargs): ours is the only check."""
    kw = {**defaults(cls), "userInput": "a walk on the beach", "prompt": "x"}
    kw = {k: v for k, v in kw.items() if k in _widget_names(cls)}
    msg = cls.VALIDATE_INPUTS(**{**kw, field: 2**31})
    assert isinstance(msg, str) and field in msg


def _widget_names(cls) -> set[str]:
    spec = cls.INPUT_TYPES()
    return set(spec["required"]) | set(spec["optional"])


def test_int_widgets_never_offer_more_than_int32():
    for key, cls in N.items():
        spec = cls.INPUT_TYPES()
        for section in ("required", "optional"):
            for name, (kind, *rest) in spec.get(section, {}).items():
                if kind == "INT" and name != "seed" and rest and "max" in rest[0]:
                    assert rest[0]["max"] <= INT32_MAX, (key, name)


def test_doc_free_bounds_follow_the_doc():
    body = prepare("create_face_improve_prompt", {"mediaId": "m", "strength": 5, "faceIndex": -1}).json
    assert body["faceIndex"] == -1
    assert ("pageSize", "0") in prepare("get_prompts", {"page": 0, "pageSize": 0}).query
    with pytest.raises(ValidationError):
        prepare("get_prompts", {"page": 0, "pageSize": 21})


# -- Login's \S -------------------------------------------------------------------------------------

def test_login_with_a_blank_email_never_reaches_the_server(sim):
    """The environment strips the e-mail, but a config file's (or a hand-built Settings') does not."""
    from nodes.client import AliveAIClient
    from nodes.client.config import Settings

    settings = Settings(sim.base_url, email="   ", password="secret-pw", source="file")
    with AliveAIClient(settings, backoff_factor=0.01) as c:
        with pytest.raises(ValidationError, match="email"):
            c.me()
    assert sim.state.requests_for("login") == []


# -- three-state booleans ---------------------------------------------------------------------------

def test_optional_booleans_can_be_sent_false_and_old_toggles_keep_their_meaning(comfy, sim):
    spec = PROFILES.INPUT_TYPES()["optional"]["public"]
    assert spec[0] == [UNSET, "true", "false"] and spec[1]["default"] == UNSET
    for value, sent in (("false", "false"), ("true", "true"), (UNSET, None), (True, "true"), (False, None)):
        run(PROFILES, unique_id="1", **{**defaults(PROFILES), "public": value})
        got = [v for k, v in last(sim, "get_profiles").query if k == "public"]
        assert got == ([sent] if sent else []), value
    run(CREATE, unique_id="2", **{**defaults(CREATE), "name": "Ada Lovelace", "appearance": "x",
                                  "blockExplicitContent": "false"})
    assert last(sim, "create_prompt").body["blockExplicitContent"] is False


def test_custom_image_can_be_sent_false_even_for_an_upload(comfy, sim):
    run(I2V, unique_id="1", image=image(), **{**defaults(I2V), "text": "go", "customImage": "false"})
    assert last(sim, "create_image_to_video").body["customImage"] is False
    run(I2V, unique_id="2", image=image(seed=3), **{**defaults(I2V), "text": "go"})
    assert last(sim, "create_image_to_video").body["customImage"] is True   # "(not set)": filled for an upload


def test_is_partial_swap_false_is_sent():
    from nodes.comfy.builder_nodes import BUILDER_NODES

    face = next(c for c in BUILDER_NODES.values() if getattr(c, "SHAPE", None) == "FaceSwapRequest")
    assert face.INPUT_TYPES()["optional"]["isPartialSwap"][0] == [UNSET, "true", "false"]


# -- numbers the doc allows -------------------------------------------------------------------------

def test_negative_and_int32_minimum_frame_count_are_sent(comfy, sim):
    for n in (-5, INT32_MIN):
        run(VIDEO_PROMPT, unique_id="1", **{**defaults(VIDEO_PROMPT), "userInput": "a walk on the beach",
                                            "frameCount": n})
        assert last(sim, "generate_video_prompt").body["frameCount"] == n
    run(VIDEO_PROMPT, unique_id="1", **{**defaults(VIDEO_PROMPT), "userInput": "a walk on the beach"})
    assert "frameCount" not in last(sim, "generate_video_prompt").body   # the widget's unset value


def test_upscale_strength_at_or_below_minus_one_is_sent(comfy, sim):
    for s in (-1.0, -2.5):
        run(UPSCALE, unique_id="1", image=image(), **{**defaults(UPSCALE), "strength": s})
        assert last(sim, "upscale_image").body["strength"] == s


def test_model_specific_fields_are_sent_with_a_warning(comfy, sim, caplog):
    caplog.set_level("WARNING", logger="aliveai")
    assert I2V.VALIDATE_INPUTS(**{**defaults(I2V), "text": "go", "videoModel": "AUDIO", "motionStrength": 3}) is True
    run(I2V, unique_id="1", image=image(), **{**defaults(I2V), "text": "go", "videoModel": "AUDIO",
                                             "motionStrength": 3, "videoQuality": "V_720P"})
    body = last(sim, "create_image_to_video").body
    assert body["motionStrength"] == 3 and body["videoQuality"] == "V_720P"
    assert "motionStrength" in caplog.text and "videoQuality" in caplog.text


# -- errors point at the fix ------------------------------------------------------------------------

def test_404_on_a_create_names_the_operation_the_path_and_the_api_check():
    op = operation("inpaint")
    e = error_for(404, {"message": "No static resource"}, "", operation=op, path="/prompts/inpaint", method="POST")
    text = str(e)
    assert isinstance(e, NotFoundError) and "Inpaint" in text and "POST /prompts/inpaint" in text
    assert "python -m nodes.doctor" in text and "Check API" in text
    e = error_for(405, None, "", operation=operation("delete_from_queue"), path="/prompts/pending", method="DELETE")
    assert "Delete From Queue" in str(e) and "DELETE /prompts/pending" in str(e) and "nodes.doctor" in str(e)


def test_404_on_a_lookup_by_id_says_the_id_is_unknown(client, sim):
    with pytest.raises(NotFoundError) as e:
        client.get_prompt("no-such-prompt")
    text = str(e.value)
    assert "promptId" in text and "check the id" in text and "does not exist on this server" not in text


# -- the user websocket: the sidebar's queue, live ------------------------------------------------

def _login_client(sim, **kw):
    from nodes.client import AliveAIClient
    from nodes.client.config import Settings
    from nodes.simulator import DEFAULT_EMAIL, DEFAULT_PASSWORD

    return AliveAIClient(Settings(sim.base_url, email=DEFAULT_EMAIL, password=DEFAULT_PASSWORD, source="env"),
                         backoff_factor=0.01, **kw)


def _create(client):
    return client.submit("create_prompt", name="Ada Lovelace", appearance="at her desk", detailLevel="MEDIUM").prompt_id


def test_user_websocket_follows_queue_changes_with_the_me_id_and_the_login_token(sim):
    from nodes.client.user_socket import UserQueue
    from support import wait_for

    seen: list[list[dict]] = []
    with _login_client(sim) as c:
        follower = UserQueue(c, seen.append, heartbeat=0.2).start()
        try:
            wait_for(lambda: follower.live)
            pid = _create(c)
            wait_for(lambda: follower.events >= 1 and any(q["promptId"] == pid for items in seen for q in items))
        finally:
            follower.stop()
        user_id = c.me()["id"]
    assert sim.state.counters.user_ws_connections >= 1
    sockets = [e for e in sim.state.log if e.path.startswith("/ws/users/")]
    assert sockets and all(e.path == f"/ws/users/{user_id}" for e in sockets)
    assert all(set(q) <= {"promptId", "queuePosition", "progress", "video"} for items in seen for q in items)


def test_key_only_account_says_why_and_polls(client, sim):
    from nodes.client.user_socket import KEY_ONLY, POLLING, UserQueue
    from support import wait_for

    follower = UserQueue(client, lambda items: None).start()
    wait_for(lambda: follower.state == POLLING)
    assert follower.reason == KEY_ONLY and sim.state.counters.user_ws_connections == 0


def test_a_refused_user_websocket_falls_back_to_polling(sim):
    from nodes.client.user_socket import POLLING, UserQueue
    from support import assert_injected, wait_for

    sim.state.faults.set("ws_refuse", True)
    with _login_client(sim) as c:
        follower = UserQueue(c, lambda items: None, retries=1, backoff=0.01).start()
        wait_for(lambda: follower.state == POLLING)
        follower.stop()
    assert "polled" in follower.reason and "503" in follower.reason
    assert_injected(sim, "ws_refuse")


def test_status_route_serves_the_live_queue_and_pushes_it_without_the_token(comfy, sim, monkeypatch):
    import json

    from nodes.comfy import live_queue, routes
    from nodes.redact import redact
    from nodes.simulator import DEFAULT_EMAIL, DEFAULT_PASSWORD
    from support import wait_for

    monkeypatch.delenv("ALIVEAI_API_KEY")
    monkeypatch.setenv("ALIVEAI_EMAIL", DEFAULT_EMAIL)
    monkeypatch.setenv("ALIVEAI_PASSWORD", DEFAULT_PASSWORD)
    pushed: list[list[dict]] = []
    monkeypatch.setattr(live_queue, "emit", pushed.append)
    try:
        routes.status(0.0)
        wait_for(lambda: routes.status(0.0).get("queue_source") == "websocket")
        with _login_client(sim) as c:
            pid = _create(c)
        wait_for(lambda: any(q["promptId"] == pid for items in pushed for q in items))
        out = routes.status(60.0)
        assert out["queue_source"] == "websocket" and any(q["promptId"] == pid for q in out["queue"])
        token = live_queue.LIVE._client.transport.auth.header().removeprefix("Bearer ")
        assert token and token not in json.dumps([out, pushed]) and redact(token) != token
    finally:
        live_queue.LIVE.stop()


def test_status_route_with_a_key_polls_and_says_why(comfy, sim):
    from nodes.client.user_socket import KEY_ONLY
    from nodes.comfy import live_queue, routes
    from support import wait_for

    try:
        wait_for(lambda: routes.status(0.0).get("queue_note") == KEY_ONLY)
        assert routes.status(0.0)["queue_source"] == "polling" and sim.state.counters.user_ws_connections == 0
    finally:
        live_queue.LIVE.stop()
