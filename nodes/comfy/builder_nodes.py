"""Parameter-builder nodes: the nested request objects of API.md §4 (pose, face swap, LoRA
stacks, clothes, crop area, character), each output on its own socket type so it can only be
connected where the table takes that object.

Widgets and tooltips come from the shapes in `nodes/api/shapes.py` through the same
`widget_spec` / `request_value` as the operation nodes, and every object is checked with the
table's own `check_fields` before it leaves the node, so a bad value is reported by the node
that holds it. Outputs are plain dicts and lists, new on every run: they go into the request as
they are, and ComfyUI's output cache can hold them safely.

Rules the table cannot state get one small named check each: a pose or clothes needs an id or a
prompt, a LoRA slot with settings needs an id, and a stack may not grow past the consuming
field's `max_items`. Face Swap uploads its face images, and that happens at run time in a worker
thread like every other upload, never while the graph is validated.

Pose, Clothes and the LoRA stacks also check their ids against the catalogs (catalogs.check) at
run time, in a worker thread, after the local checks: a saved workflow whose pose or LoRA was
removed fails in the node that names it, before any paid job is created. Queue time
(VALIDATE_INPUTS) stays offline.
"""
from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

from ..api import OPERATIONS, SHAPES
from ..api.schema import Field
from ..api.validate import check_fields, check_value
from ..errors import AliveAIError, ValidationError
from . import bridge, catalogs, inputs, runtime
from .handles import MEDIA
from .job_nodes import display_name
from .widgets import SHAPE_SOCKETS, VIDEO_LORAS, MediaSlot, is_widget, request_value, socket_type, tooltip, widget_spec

CATEGORY = "AliveAI/Parameters"
PENDING = "pending-upload"


def consumers(socket: str) -> list[tuple[str, Field]]:
    """(node display name, field) of every table field that takes `socket`."""
    return [(display_name(op), f) for op in OPERATIONS for f in op.fields if f.shape and socket_type(op, f) == socket]


def consumer_names(socket: str) -> str:
    return ", ".join(sorted({name for name, _ in consumers(socket)}))


def used_by(socket: str) -> str:
    names = consumer_names(socket)
    return f"Connect it to: {names}." if names else ""


def shape_values(fields: tuple[Field, ...], kwargs: dict, prefix: str = "") -> dict[str, Any]:
    """Request values of the widgets present in kwargs (`prefix` + wire name), unset ones left out."""
    out = {}
    for f in fields:
        if is_widget(f) and kwargs.get(prefix + f.name) is not None:
            v = request_value(f, kwargs[prefix + f.name])
            if v is not None:
                out[f.name] = v
    return out


def any_linked(fields: tuple[Field, ...], kwargs: dict, prefix: str = "") -> bool:
    """At queue time a widget turned into a linked input arrives as None: whole-object rules wait."""
    return any(is_widget(f) and kwargs.get(prefix + f.name) is None for f in fields)


def builder_widget(f: Field) -> tuple:
    """widget_spec, with text areas only for prompts: ids, types and model names are one line."""
    kind, opts = widget_spec(f)
    if kind == "STRING" and not f.name.endswith("Prompt") and (f.max_length or 0) <= 250:
        opts = {**opts, "multiline": False}
    return kind, opts


def check_present(label: str, fields: tuple[Field, ...], values: dict, prefix: str = "") -> None:
    for f in fields:
        if f.name in values:
            check_value(label, f, values[f.name], SHAPES, prefix + f.name)


class ShapeBuilder:
    """One object from widgets. Subclasses set SHAPE, SOCKET, LABEL (and OVERRIDES, rules())."""

    SHAPE: str
    SOCKET: str
    LABEL: str
    OVERRIDES: dict[str, dict] = {}   # field -> Field attributes replaced for the widget (suggestions)
    partial_at_queue = False          # True when part of the object only exists at run time
    CATEGORY = CATEGORY
    FUNCTION = "run"

    @classmethod
    def fields(cls) -> tuple[Field, ...]:
        return tuple(replace(f, **cls.OVERRIDES.get(f.name, {})) for f in SHAPES[cls.SHAPE].fields)

    @classmethod
    def INPUT_TYPES(cls):
        required, optional = {}, {}
        for f in cls.fields():
            if is_widget(f):
                (required if f.required else optional)[f.name] = builder_widget(f)
        return {"required": required, "optional": optional}

    @classmethod
    def VALIDATE_INPUTS(cls, **kwargs):
        try:
            values = shape_values(cls.fields(), kwargs)
            if cls.partial_at_queue or any_linked(cls.fields(), kwargs):
                check_present(cls.LABEL, cls.fields(), values)
            else:
                cls.build(values)
        except AliveAIError as e:
            return str(e)
        return True

    @classmethod
    def build(cls, values: dict) -> dict:
        obj = check_fields(cls.LABEL, cls.fields(), values, SHAPES, prefix="")
        cls.rules(obj)
        return obj

    @classmethod
    def rules(cls, obj: dict) -> None:
        """Whole-object rules the table cannot state; none by default."""

    def run(self, **kwargs):
        return (self.build(shape_values(self.fields(), kwargs)),)


CatalogRef = tuple[tuple[str, ...], str, str]   # (catalog kinds, id, field)


def check_catalog_refs(label: str, refs: list[CatalogRef], stop: threading.Event) -> None:
    """Blocking (network): run through runtime.run_in_thread."""
    for kinds, ident, field in refs:
        if stop.is_set():
            return
        catalogs.check(kinds, ident, label, field)


class CatalogChecked:
    """A builder whose ids come from catalogs: built and checked locally, then its ids looked
    up in their catalogs in a worker thread. Subclasses list them in catalog_refs()."""

    LABEL: str

    def make(self, kwargs: dict) -> tuple:
        raise NotImplementedError

    @classmethod
    def catalog_refs(cls, out: tuple, kwargs: dict) -> list[CatalogRef]:
        raise NotImplementedError

    async def run(self, **kwargs):
        out = self.make(kwargs)
        refs = self.catalog_refs(out, kwargs)
        if refs:
            await runtime.run_in_thread(check_catalog_refs, self.LABEL, refs)
        return out


def one_of(label: str, obj: dict, names: tuple[str, str]) -> None:
    if not any(n in obj for n in names):
        raise ValidationError(f"set '{names[0]}' or '{names[1]}'", operation=label, field=names[0],
                              limit="one of " + ", ".join(names))


class PoseNode(CatalogChecked, ShapeBuilder):
    SHAPE, SOCKET, LABEL = "PoseRequest", SHAPE_SOCKETS["PoseRequest"], "Pose (AliveAI)"

    @classmethod
    def rules(cls, obj: dict) -> None:
        one_of(cls.LABEL, obj, ("id", "posePrompt"))   # a pose from the catalog, or a custom one

    def make(self, kwargs: dict) -> tuple:
        return ShapeBuilder.run(self, **kwargs)

    @classmethod
    def catalog_refs(cls, out: tuple, kwargs: dict) -> list[CatalogRef]:
        obj = out[0]
        if not obj.get("id"):
            return []
        kind = str(obj.get("type") or "").strip().upper()
        # CUSTOM is the type public code sends with a custom pose; no type could be either list.
        kinds = ("custom_poses",) if kind == "CUSTOM" else ("poses",) if kind else ("poses", "custom_poses")
        return [(kinds, obj["id"], "id")]


class ClothesNode(CatalogChecked, ShapeBuilder):
    SHAPE, SOCKET, LABEL = "ClothesRequest", SHAPE_SOCKETS["ClothesRequest"], "Clothes (AliveAI)"

    @classmethod
    def rules(cls, obj: dict) -> None:
        one_of(cls.LABEL, obj, ("clothesId", "clothesPrompt"))

    def make(self, kwargs: dict) -> tuple:
        return ShapeBuilder.run(self, **kwargs)

    @classmethod
    def catalog_refs(cls, out: tuple, kwargs: dict) -> list[CatalogRef]:
        ident = out[0].get("clothesId")
        return [(("clothes", "custom_clothes"), ident, "clothesId")] if ident else []


class CropAreaNode(ShapeBuilder):
    SHAPE, SOCKET, LABEL = "CropArea", SHAPE_SOCKETS["CropArea"], "Crop Area (AliveAI)"
    OVERRIDES = {"width": {"suggest": 512}, "height": {"suggest": 512}}   # a 1-pixel default helps nobody


class CharacterNode(ShapeBuilder):
    SHAPE, SOCKET, LABEL = "LlmBuilderPromptRequest", SHAPE_SOCKETS["LlmBuilderPromptRequest"], "Character (AliveAI)"


# -- face swap: media ids from an IMAGE batch, a media handle or typed ids --------------------------
class FaceSwapNode(ShapeBuilder):
    SHAPE, SOCKET, LABEL = "FaceSwapRequest", SHAPE_SOCKETS["FaceSwapRequest"], "Face Swap (AliveAI)"
    partial_at_queue = True   # mediaIds come from the face inputs, resolved (and uploaded) at run time

    @classmethod
    def slot(cls) -> MediaSlot:
        return MediaSlot(SHAPES[cls.SHAPE].field("mediaIds"), "face")

    @classmethod
    def INPUT_TYPES(cls):
        spec = super().INPUT_TYPES()
        s = cls.slot()
        spec["optional"].update({
            s.tensor_input: ("IMAGE", {"tooltip": tooltip(s.field, "Each image of the batch is uploaded once "
                                                                   "(deduplicated by content) and is one face.")}),
            s.handle_input: (MEDIA, {"tooltip": "Face images from an earlier AliveAI node or the Upload node "
                                                "(all IMAGE media of the handle, no re-upload)."}),
            s.id_input: ("STRING", {"default": "", "tooltip": "Face media ids, comma-separated (e.g. a stored face's "
                                                              "mediaIds). Used when no face_media is connected."}),
        })
        spec["hidden"] = {"unique_id": "UNIQUE_ID"}
        return spec

    async def run(self, unique_id=None, **kwargs):
        return await runtime.run_in_thread(self.build_with_faces, kwargs, unique_id)

    @classmethod
    def build_with_faces(cls, kwargs: dict, node_id: str | None, stop: threading.Event) -> tuple[dict]:
        values = shape_values(cls.fields(), kwargs)
        s = cls.slot()
        client = runtime.require_client(cls.LABEL)
        sources = inputs.resolve_slot(client, s, kwargs, cls.LABEL)
        if not sources:
            raise ValidationError(f"connect a {s.tensor_input} IMAGE, a {s.handle_input} or set {s.id_input}",
                                  operation=cls.LABEL, field=s.tensor_input, limit="required")
        cls.build({**values, "mediaIds": [x.media_id or PENDING for x in sources]})  # check before uploading
        ids = [x.media_id if x.media_id else x.upload()[0] for x in sources]
        bridge.send_text(f"{len(ids)} face{'s' if len(ids) != 1 else ''}", node_id)
        return (cls.build({**values, "mediaIds": ids}),)


# -- LoRA stacks ----------------------------------------------------------------------------------
class LoraStackNode(CatalogChecked):
    """Up to SLOTS LoRAs per node (an empty id skips a slot), appended to an optional upstream
    stack of the same kind, never past the consuming field's max_items. A node with every slot
    empty passes its upstream stack through, so a chain link can be switched off by clearing it.
    Only this node's own ids are looked up in the catalogs: the upstream node checked its own."""

    SHAPE = "TemplateRequest"
    SOCKET = SHAPE_SOCKETS["TemplateRequest"]
    LABEL = "LoRA Stack (AliveAI)"
    CATALOG = "Get Templates (AliveAI)"
    KINDS: tuple[str, ...] = ("templates",)
    SLOTS = 3
    CHAIN = "loras"
    CATEGORY = CATEGORY
    FUNCTION = "run"

    @classmethod
    def limit(cls) -> int:
        caps = [f.max_items for _, f in consumers(cls.SOCKET) if f.max_items is not None]
        return min(caps) if caps else 1_000

    @staticmethod
    def prefix(i: int) -> str:
        return f"lora{i}_"

    @classmethod
    def INPUT_TYPES(cls):
        required: dict[str, tuple] = {}
        for i in range(1, cls.SLOTS + 1):
            for f in SHAPES[cls.SHAPE].fields:
                kind, opts = widget_spec(f)
                if kind == "STRING":
                    opts["multiline"] = False   # three slots of text areas would bury the node
                extra = (f"From {cls.CATALOG}; leave empty to skip slot {i}." if f.name == "id" else f"LoRA {i}.")
                required[cls.prefix(i) + f.name] = (kind, {**opts, "tooltip": tooltip(f, extra)})
        chain = (cls.SOCKET, {"tooltip": f"A stack from another {cls.LABEL}: this node appends its LoRAs to it "
                                         f"(at most {cls.limit()} in all)."})
        return {"required": required, "optional": {cls.CHAIN: chain}}

    @classmethod
    def VALIDATE_INPUTS(cls, **kwargs):
        try:
            cls.entries(kwargs, queue_time=True)
        except AliveAIError as e:
            return str(e)
        return True

    @classmethod
    def entries(cls, kwargs: dict, queue_time: bool = False) -> list[dict]:
        fields = SHAPES[cls.SHAPE].fields
        out = []
        for i in range(1, cls.SLOTS + 1):
            p = cls.prefix(i)
            values = shape_values(fields, kwargs, p)
            if queue_time and kwargs.get(p + "id") is None:   # a linked id: the slot is judged at run time
                check_present(cls.LABEL, fields, values, p)
                continue
            ident = str(values.pop("id", "") or "").strip()
            if not ident:
                if values:   # settings without an id: a forgotten id, not an unused slot
                    raise ValidationError(f"'{p}id' is empty but {', '.join(p + k for k in values)} is set",
                                          operation=cls.LABEL, field=p + "id", limit="required")
                continue
            out.append(check_fields(cls.LABEL, fields, {"id": ident, **values}, SHAPES, prefix=p))
        return out

    def make(self, kwargs: dict) -> tuple:
        kwargs = dict(kwargs)
        upstream = [dict(x) for x in kwargs.pop(self.CHAIN, None) or []]
        own = self.entries(kwargs)
        if not upstream and not own:   # an empty stack would silently drop the field from the request
            raise ValidationError(f"set at least one id ('{self.prefix(1)}id')", operation=self.LABEL,
                                  field=self.prefix(1) + "id", limit="required")
        stack, cap = upstream + own, self.limit()
        if len(stack) > cap:
            raise ValidationError(f"the stack would hold {len(stack)} LoRAs ({len(upstream)} from '{self.CHAIN}' + "
                                  f"{len(own)} here); {consumer_names(self.SOCKET)} take at most {cap}",
                                  operation=self.LABEL, field=self.CHAIN, limit=f"max items {cap}")
        return (stack,)

    @classmethod
    def catalog_refs(cls, out: tuple, kwargs: dict) -> list[CatalogRef]:
        refs = []
        for i in range(1, cls.SLOTS + 1):
            ident = str(kwargs.get(cls.prefix(i) + "id") or "").strip()
            if ident:
                refs.append((cls.KINDS, ident, cls.prefix(i) + "id"))
        return refs


class EditLoraStackNode(LoraStackNode):
    SHAPE = "QwenTemplateRequest"
    SOCKET = SHAPE_SOCKETS["QwenTemplateRequest"]
    LABEL = "Edit LoRA Stack (AliveAI)"
    CATALOG = "Get Edit Templates or Get Edit Templates Realism (AliveAI)"
    KINDS = ("edit_templates", "edit_templates_realism")   # which one depends on editModel, unknown here


class VideoLoraStackNode(LoraStackNode):
    SOCKET = VIDEO_LORAS
    LABEL = "Video LoRA Stack (AliveAI)"
    CATALOG = "Get Video Templates or Get Ltx Video Templates (AliveAI)"
    KINDS = ("video_templates", "ltx_video_templates")     # which one depends on videoModel, unknown here


def _finish(cls: type, key: str) -> tuple[str, type]:
    """Node key, plus the attributes every builder shares: outputs and a description naming
    the nodes that take its object (from the table)."""
    shape = SHAPES[cls.SHAPE]
    cls.RETURN_TYPES = (cls.SOCKET,)
    cls.RETURN_NAMES = (cls.SOCKET.removeprefix("ALIVEAI_").lower(),)
    cls.OUTPUT_TOOLTIPS = (f"A {shape.name}, checked against the table. {used_by(cls.SOCKET)}",)
    cls.DESCRIPTION = f"{shape.doc} Builds a {shape.name} ({shape.evidence} field names). {used_by(cls.SOCKET)}"
    return key, cls


BUILDER_NODES: dict[str, type] = dict(_finish(c, k) for c, k in (
    (PoseNode, "AliveAIPose"), (FaceSwapNode, "AliveAIFaceSwap"), (LoraStackNode, "AliveAILoraStack"),
    (EditLoraStackNode, "AliveAIEditLoraStack"), (VideoLoraStackNode, "AliveAIVideoLoraStack"),
    (ClothesNode, "AliveAIClothes"), (CropAreaNode, "AliveAICropArea"), (CharacterNode, "AliveAICharacter"),
))
BUILDER_DISPLAY: dict[str, str] = {k: c.LABEL for k, c in BUILDER_NODES.items()}
