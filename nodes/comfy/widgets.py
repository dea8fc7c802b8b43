"""Table fields -> ComfyUI inputs, and widget values -> request values. One place for both
directions, so INPUT_TYPES, VALIDATE_INPUTS and the run share the same rules:

- required fields are widgets in "required"; optional ones in "optional";
- an optional enum gets a leading "(not set)" choice, an optional number without a doc default
  gets a sentinel one below its minimum (below int32 when the doc gives none, so every value the
  doc allows stays sendable), an optional boolean without a default is a three-state combo
  (not set / true / false; a workflow saved when it was a toggle keeps its meaning: off was "not
  set"), an optional string is sent only when not empty: unset fields are omitted;
- a scalar array (promptType) is comma-separated text, each item checked against its enum;
- media-id fields become sockets (IMAGE / MASK / VIDEO, a media handle, or a media-id string);
- nested objects become sockets of their own type, filled by the parameter-builder nodes;
- `createdFromPromptId` comes from the upstream media handle; it is a widget only where the
  operation has no media input (Create Face).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..api import SHAPES
import math

from ..api.schema import ARRAY, BOOLEAN, INT32_MAX, INT32_MIN, INTEGER, NUMBER, OBJECT, STRING, Field, Operation
from ..api.validate import check_fields
from ..errors import AliveAIError
from .handles import MEDIA

UNSET = "(not set)"
PROSE = frozenset({"prompt", "text", "appearance", "userInput"})  # text areas; other strings are one line
SOCKET_ONLY = frozenset({"serverId"})  # rarely used, undocumented values: a socket, not a widget on every node
SEED_MAX = 2**53 - 1          # the frontend's numbers are exact up to 2^53; the API takes up to 18 digits
FLOAT_MAX = 1_000_000.0
UNSET_FLOAT = -FLOAT_MAX - 1  # "not set" of an optional FLOAT widget whose field has no minimum in the doc
TRUE, FALSE = "true", "false"

SHAPE_SOCKETS = {
    "PoseRequest": "ALIVEAI_POSE",
    "FaceSwapRequest": "ALIVEAI_FACE_SWAP",
    "TemplateRequest": "ALIVEAI_LORAS",
    "QwenTemplateRequest": "ALIVEAI_EDIT_LORAS",
    "ClothesRequest": "ALIVEAI_CLOTHES",
    "CropArea": "ALIVEAI_CROP_AREA",
    "LlmBuilderPromptRequest": "ALIVEAI_CHARACTER",
}
VIDEO_LORAS = "ALIVEAI_VIDEO_LORAS"  # TemplateRequest lists for videos come from the video template catalogs
MEDIA_SOCKET = {"image": "IMAGE", "mask": "MASK", "video": "VIDEO"}


@dataclass(frozen=True)
class MediaSlot:
    field: Field
    slot: str            # "image", "mask", "last_frame", "video"

    @property
    def tensor_input(self) -> str:
        return self.slot

    @property
    def handle_input(self) -> str:
        return f"{self.slot}_media"

    @property
    def id_input(self) -> str:
        return f"{self.slot}_media_id"


def media_slots(op: Operation) -> tuple[MediaSlot, ...]:
    out = []
    for f in op.fields:
        if not f.media or f.type != STRING:
            continue
        if f.name in ("mediaId", "originalMediaId"):
            slot = "video" if f.media == "video" else "image"
        elif f.name == "maskMediaId":
            slot = "mask"
        elif f.name == "lastFrameMediaId":
            slot = "last_frame"
        else:
            slot = f.name.removesuffix("MediaId").removesuffix("Id").lower() or "image"
        out.append(MediaSlot(f, slot))
    return tuple(out)


def socket_type(op: Operation, f: Field) -> str | None:
    if f.type in (OBJECT, ARRAY) and f.shape:
        if f.shape == "TemplateRequest" and op.returns == "VIDEO":
            return VIDEO_LORAS
        return SHAPE_SOCKETS.get(f.shape, "ALIVEAI_" + f.shape.upper())
    return None


def is_widget(f: Field) -> bool:
    return not (f.media or (f.from_prompt and f.from_media) or f.shape)


def tooltip(f: Field, extra: str = "") -> str:
    parts = []
    if f.deprecated:
        parts.append("DEPRECATED in the AliveAI doc.")
    parts.append(f.doc or f.name)
    limits = [x for x in f.limits() if not x.startswith("one of")]
    if limits:
        parts.append("Limits: " + ", ".join(limits) + ".")
    if f.default is not None:
        parts.append(f"API default: {f.default}.")
    if f.only_with:
        parts.append(f"Only with {f.only_with[0]} = {' or '.join(f.only_with[1])}.")
    if extra:
        parts.append(extra)
    if f.note:
        parts.append(f"Note: {f.note}.")
    return " ".join(parts)


def is_id(f: Field) -> bool:
    return f.name == "id" or f.name.endswith("Id")


def _int_bounds(f: Field, sentinel: bool) -> tuple[int, int]:
    """The INT widget's range; with `sentinel`, its minimum is the "not set" value, one below the
    doc's minimum (or below int32, so that every int32 stays sendable)."""
    lo = max(int(f.minimum), INT32_MIN) if f.minimum is not None else INT32_MIN
    hi = min(int(f.maximum), INT32_MAX) if f.maximum is not None else INT32_MAX
    return (lo - 1 if sentinel else lo), hi


def _float_sentinel(f: Field) -> float:
    return float(f.minimum) - 1 if f.minimum is not None else UNSET_FLOAT


def _is_sentinel(f: Field, v: Any) -> bool:
    """Only the sentinel itself means "not set": a lower value is checked (and refused) as given."""
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return False
    if f.type == INTEGER:
        return v == _int_bounds(f, True)[0]
    return math.isclose(v, _float_sentinel(f), rel_tol=1e-9, abs_tol=1e-6)


def _three_state(f: Field) -> bool:
    return f.type == BOOLEAN and not f.required and _initial(f) is None


def _initial(f: Field) -> Any:
    return f.default if f.default is not None else f.suggest


def unset_note(sentinel: float) -> str:
    """The tooltip's word on the "not set" value, written out in full: "-1e+06" (Python's :g)
    read like a sendable number near -1000000, not like the one value that leaves a field out."""
    shown = str(int(sentinel)) if float(sentinel).is_integer() else repr(float(sentinel))
    return f"{shown} means not set: it leaves the field out of the request."


def widget_spec(f: Field) -> tuple:
    """The ComfyUI input spec of a widget field."""
    start = _initial(f)
    if f.name == "seed":
        return ("INT", {"default": 0, "min": 0, "max": SEED_MAX, "control_after_generate": True,
                        "tooltip": tooltip(f, "Sent as a digit string. Same seed and inputs as an earlier run: "
                                              "its saved result comes back with no new job (after a restart too). "
                                              "A new seed is a new paid job, and ComfyUI's control starts on "
                                              "'randomize': set it to 'fixed' to re-use results.")})
    if f.type == ARRAY:  # scalar arrays (promptType): comma-separated text; survives save/load as text
        allowed = f" Allowed: {', '.join(f.enum)}." if f.enum else ""
        return ("STRING", {"default": "", "multiline": False,
                           "tooltip": tooltip(f, "One or several, comma-separated; empty leaves it out." + allowed)})
    if f.enum:
        if f.required:
            return (list(f.enum), {"default": start if start in f.enum else f.enum[0], "tooltip": tooltip(f)})
        return ([UNSET, *f.enum], {"default": start if start in f.enum else UNSET,
                                   "tooltip": tooltip(f, f"{UNSET} leaves it out of the request.")})
    if f.type == STRING:
        # Ids are pasted, never written: a one-line box (a text area would hide a stray newline).
        # Text areas only for long prose: a node with five text areas is a metre tall.
        multiline = (f.max_length is None or f.max_length > 1000 or f.name in PROSE) and not is_id(f)
        opts: dict[str, Any] = {"default": start or "", "multiline": multiline,
                                "tooltip": tooltip(f, "" if f.required else "Empty leaves it out of the request.")}
        if f.name in SOCKET_ONLY:
            opts = {"forceInput": True, "tooltip": tooltip(f, "Advanced: connect a text to set it; unconnected "
                                                              "leaves it out of the request.")}
        return ("STRING", opts)
    if f.type == INTEGER:
        sentinel = not f.required and start is None
        lo, hi = _int_bounds(f, sentinel)
        extra = unset_note(lo) if sentinel else ""
        return ("INT", {"default": lo if sentinel else int(start if start is not None else max(lo, 0)),
                        "min": lo, "max": hi, "step": 1, "tooltip": tooltip(f, extra)})
    if f.type == NUMBER:
        sentinel = not f.required and start is None
        lo = _float_sentinel(f) if sentinel else (float(f.minimum) if f.minimum is not None else -FLOAT_MAX)
        hi = float(f.maximum) if f.maximum is not None else FLOAT_MAX
        extra = unset_note(lo) if sentinel else ""
        return ("FLOAT", {"default": lo if sentinel else float(start if start is not None else max(lo, 0.0)),
                          "min": lo, "max": hi, "step": 0.01, "round": 0.001, "tooltip": tooltip(f, extra)})
    if _three_state(f):
        extra = (f"{UNSET}: filled by the node (true when it uploads the image, else left out)." if f.upload_flag
                 else f"{UNSET} leaves it out of the request.")
        return ([UNSET, TRUE, FALSE], {"default": UNSET, "tooltip": tooltip(f, extra)})
    if f.type == BOOLEAN:
        return ("BOOLEAN", {"default": bool(start) if start is not None else False, "tooltip": tooltip(f)})
    raise AssertionError(f"no widget for {f.name} ({f.type})")


def input_types(op: Operation) -> dict:
    required: dict[str, tuple] = {}
    optional: dict[str, tuple] = {}
    late: dict[str, tuple] = {}
    for f in op.fields:
        if is_widget(f) and f.upload_flag:
            late[f.name] = widget_spec(f)   # a widget added later goes last: saved workflows keep their order
        elif is_widget(f):
            (required if f.required else optional)[f.name] = widget_spec(f)
        elif f.shape:
            spec = (socket_type(op, f), {"tooltip": tooltip(f)})
            (required if f.required else optional)[f.name] = spec
    for s in sorted(media_slots(op), key=lambda s: s.slot not in ("image", "video")):  # the main input first
        need = "Required: connect one of these three." if s.field.required else "Optional."
        kind = MEDIA_SOCKET[s.field.media]
        optional[s.tensor_input] = (kind, {"tooltip": tooltip(s.field, f"{need} A local {kind} is uploaded once "
                                                                      "(deduplicated by content).")})
        optional[s.handle_input] = (MEDIA, {"tooltip": f"{s.field.name} from an earlier AliveAI node "
                                                      "(no re-upload; fills createdFromPromptId)."})
        optional[s.id_input] = ("STRING", {"forceInput": True, "tooltip": f"{s.field.name} as a plain media id."})
    optional.update(late)
    return {"required": required, "optional": optional, "hidden": {"unique_id": "UNIQUE_ID"}}


def request_value(f: Field, v: Any) -> Any:
    """A widget value as the request takes it, or None when it means "not set"."""
    if v is None:
        return None
    if f.name == "seed":
        return str(int(v))
    if f.type == ARRAY:
        if v == UNSET:  # a workflow saved when promptType was a combo
            return None
        items = [x.strip() for x in str(v).split(",") if x.strip()]
        return items or None
    if f.enum and f.type == STRING:
        return None if v == UNSET else v
    if f.type == STRING:
        return v if v != "" or f.required else None
    if f.type in (INTEGER, NUMBER):
        if not f.required and _initial(f) is None and _is_sentinel(f, v):
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return v  # the table's check names the wrong type
        if f.type == INTEGER:
            return int(v) if not isinstance(v, float) or v.is_integer() else v
        return float(v)
    if _three_state(f):
        # The combo's texts; a bool is a workflow saved when this was a toggle, whose "off" meant "not set".
        if v is True or v == TRUE:
            return True
        if v == FALSE:
            return False
        return None if v is False or v == UNSET else v  # anything else: the table's check refuses it
    if f.type == BOOLEAN:
        return v if isinstance(v, str) else bool(v)
    return v


def widget_values(op: Operation, kwargs: dict) -> dict[str, Any]:
    """Request values of the widget fields present in `kwargs` (linked inputs arrive as None)."""
    out = {}
    for f in op.fields:
        if is_widget(f) and f.name in kwargs:
            v = request_value(f, kwargs[f.name])
            if v is not None:
                out[f.name] = v
    return out


def runtime_check(op: Operation, values: dict, label: str) -> None:
    """Check the present values against the table; required fields that are linked (absent
    here) are checked at run time."""
    check_fields(label, op.fields, values, SHAPES, prefix="", partial=True)


def queue_check(op: Operation, label: str, kwargs: dict) -> bool | str:
    """VALIDATE_INPUTS of a table node: the doc's limits on its widget values when the prompt is
    queued, before anything is billed. Linked inputs arrive as None and are checked at run time."""
    try:
        runtime_check(op, widget_values(op, kwargs), label)
    except AliveAIError as e:
        return str(e)
    return True


def widget_defaults(node_cls: type) -> dict[str, Any]:
    """The widget values a freshly added node sends: each widget's default (a combo's first choice
    when it has none). Sockets and socket-only inputs are left out. Used by the demo-free paths
    that run nodes outside ComfyUI (tests, benchmarks, the workflow generator)."""
    spec = node_cls.INPUT_TYPES()
    out: dict[str, Any] = {}
    for section in ("required", "optional"):
        for name, (kind, *rest) in spec.get(section, {}).items():
            opts = rest[0] if rest else {}
            if opts.get("forceInput") or kind in MEDIA_SOCKET.values() or str(kind).startswith("ALIVEAI_"):
                continue
            out[name] = opts.get("default", kind[0] if isinstance(kind, list) else None)
    return out
