"""Stand-ins for the LLM prompt helpers (#34..#40): deterministic text built from the inputs.

The point is not prose but traceability: every answer visibly contains what was sent, so a
test (or a person looking at a workflow) can tell that the right inputs reached the right
operation. Operations without a builder here get a generic sentence, so a new TEXT operation
in the table works before anyone writes one.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..api import Operation
from . import catalog
from .inputs import Reply
from .state import Simulator, User

NEG_PROMPT = "blurry, distorted anatomy, flickering, watermark, low quality, static camera"
Builder = Callable[[Simulator, User, Mapping[str, Any]], str]


def _builder_text(v: Mapping[str, Any]) -> str:
    parts = []
    if v.get("age") or v.get("ethnicity"):
        parts.append(" ".join(x for x in (v.get("age"), v.get("ethnicity")) if x) + " person")
    if v.get("hairStyle") or v.get("hairColor"):
        parts.append("with " + " ".join(x for x in (v.get("hairColor"), v.get("hairStyle")) if x) + " hair")
    if v.get("body"):
        parts.append(f"{v['body']} build")
    if v.get("outfit"):
        parts.append(f"wearing {v['outfit']}")
    if v.get("pose"):
        parts.append(f"posing {v['pose']}")
    scene = ", ".join(f"{k} {v[k]}" for k in ("theme", "style") if v.get(k))
    text = "A " + ", ".join(parts or ["character"])
    return text + (f"; {scene}" if scene else "") + ", photorealistic, detailed skin, soft natural light."


def _character(sim: Simulator, user: User, v: Mapping[str, Any]) -> str:
    public, own = catalog.profile_records(user.id)
    name = next((p["name"] for p in public + own if p["id"] == v["profileId"]), v["profileId"])
    extra = f" {v['additionalDetails']}." if v.get("additionalDetails") else ""
    return f"{name} in a {v['theme']} scene, wearing {v['outfit']}.{extra} Candid photo, natural light."


def _clothes(sim: Simulator, user: User, v: Mapping[str, Any]) -> str:
    known = dict(catalog.PUBLIC_CLOTHES) | user.custom_clothes
    if v["clothesId"] not in known:
        raise Reply(404, "Clothes not found")
    return f"Wearing {known[v['clothesId']]}, fitted, detailed fabric texture and natural folds."


def _vision(sim: Simulator, user: User, v: Mapping[str, Any]) -> str:
    m = sim.media[v["mediaId"]]
    size = f"{m.width}x{m.height} " if m.width else ""
    return f"A {size}{m.media_type.lower()} of a person facing the camera in soft daylight (media {m.id})."


BUILDERS: dict[str, Builder] = {
    "generate_character_builder_prompt": lambda s, u, v: _builder_text(v),
    "generate_character_prompt": _character,
    "get_clothes_description": _clothes,
    "generate_prompt": lambda s, u, v: f"{v['inputPrompt'].strip()}, highly detailed, natural lighting, "
                                       f"sharp focus, {v['model'].lower()} style.",
    "generate_update_prompt": lambda s, u, v: f"{v['oldRequest'].strip()} Updated: {_builder_text(v['newRequest'])}",
    "generate_video_prompt": lambda s, u, v: (
        f"{v['userInput'].strip()}." + (f" {v['sceneContext'].strip()}" if v.get("sceneContext") else "")
        + " Smooth camera motion" + (f" over {v['frameCount']} frames." if v.get("frameCount") else ".")),
    "generate_vision_prompt": _vision,
}


def answer(sim: Simulator, user: User, op: Operation, values: Mapping[str, Any]) -> dict[str, Any]:
    """{promptText} (TEXT) or {promptText, negPrompt} (TEXT_PAIR), per the op's result kind."""
    build = BUILDERS.get(op.key)
    text = build(sim, user, values) if build else f"{op.name}: " + "; ".join(f"{k} {v}" for k, v in values.items())
    return {"promptText": text, "negPrompt": NEG_PROMPT} if op.returns == "TEXT_PAIR" else {"promptText": text}
