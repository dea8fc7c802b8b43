"""A node's inputs, resolved and checked before anything is billed.

Each media field of an operation takes a local tensor (hashed now, uploaded once when needed), a
media handle from an earlier node, or a plain media id. `plan` turns widgets, builder objects and
media into one request per job (one job per batch item) and checks every limit of the doc on it;
`materialize` does the deferred uploads right before submitting.
"""
from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass
from typing import Any

from .. import api, media
from ..api.schema import Operation
from ..client.client import AliveAIClient
from ..errors import ValidationError
from . import catalogs, session
from .handles import MediaHandle
from .widgets import MediaSlot, media_slots, widget_values

log = logging.getLogger("aliveai")


@dataclass
class Source:
    """One resolved media input: a media id, where it came from, and its content for uploads."""

    media_id: str | None
    prompt_id: str | None = None
    uploaded: bool = False
    upload: Any = None          # callable returning (media_id, media_type) when not yet uploaded
    identity: str | None = None  # stable across restarts: content hash of an upload, else the media id

    @property
    def ident(self) -> str:
        return self.identity or f"media:{self.media_id}"


def upload_source(client: AliveAIClient, kind: str, tensor_item: Any, label: str) -> Source:
    """A deferred upload of one IMAGE/MASK batch item (hash now, upload when needed, once)."""
    scope = session.account_scope(client.settings)
    pixels = media.as_uint8(tensor_item)  # converted once: hashed now, encoded only if it must be uploaded
    key = f"{scope}|{media.pixel_hash(pixels, kind='mask' if kind == 'mask' else 'image')}"

    def do_upload() -> tuple[str, str]:
        png = (media.mask_to_pngs if kind == "mask" else media.image_to_pngs)(pixels)[0]
        return client.upload(png, f"comfyui-{kind}.png")

    cached = media.UPLOADS.get(key)
    if cached:
        return Source(cached[0], uploaded=True, identity=key)
    return Source(None, uploaded=True, upload=lambda: media.UPLOADS.get_or_upload(key, do_upload), identity=key)


def video_source(client: AliveAIClient, video: Any) -> Source:
    """A video made ready once (a non-MP4 is re-encoded to a temporary MP4 only once), hashed
    now, uploaded when needed. The temporary file goes when the Source does."""
    scope = session.account_scope(client.settings)
    src, _ = media.video_source_bytes(video)
    key = f"{scope}|video|{media.file_sha256(src)}"
    source = Source(None, uploaded=True, identity=key,
                    upload=lambda: media.UPLOADS.get_or_upload(key, lambda: client.upload(src, "comfyui-video.mp4")))
    weakref.finalize(source, media.release_video_source, src)
    return source


def resolve_slot(client: AliveAIClient, slot: MediaSlot, kwargs: dict, label: str) -> list[Source]:
    """The sources connected to one media slot, one per batch item. Priority: handle, id, tensor."""
    handle: MediaHandle | None = kwargs.get(slot.handle_input)
    media_id = (kwargs.get(slot.id_input) or "").strip()
    tensor = kwargs.get(slot.tensor_input)
    want = "VIDEO" if slot.field.media == "video" else "IMAGE"
    if handle is not None:
        refs = handle.of_type(want)
        if not refs:
            types = ", ".join(sorted({r.media_type for r in handle.items}))
            raise ValidationError(f"'{slot.handle_input}' carries {types} media, but {slot.field.name} needs {want}",
                                  operation=label, field=slot.handle_input, limit=want)
        return [Source(r.media_id, r.prompt_id, r.uploaded) for r in refs]
    if media_id:
        return [Source(m.strip()) for m in media_id.split(",") if m.strip()]
    if tensor is None:
        return []
    if slot.field.media == "video":
        return [video_source(client, tensor)]
    if slot.field.media == "mask":
        if media.mask_is_empty(tensor):
            return []  # LoadImage's 64x64 zero mask for images without alpha means "no mask"
        if tensor.dim() == 2:
            tensor = tensor.unsqueeze(0)
        return [upload_source(client, "mask", tensor[i:i + 1], label) for i in range(tensor.shape[0])]
    if tensor.dim() == 3:
        tensor = tensor.unsqueeze(0)
    return [upload_source(client, "image", tensor[i:i + 1], label) for i in range(tensor.shape[0])]


def _fit_masks(kwargs: dict, slots: tuple[MediaSlot, ...]) -> dict:
    """Masks are resized to the image they go with (LoadImage masks may differ in size)."""
    image = kwargs.get("image")
    out = dict(kwargs)
    for s in slots:
        m = kwargs.get(s.tensor_input)
        if s.field.media == "mask" and m is not None and image is not None and not media.mask_is_empty(m):
            h, w = int(image.shape[-3]), int(image.shape[-2])
            if tuple(m.shape[-2:]) != (h, w):
                out[s.tensor_input] = media.fit_mask(m, h, w)
    return out


def missing_media(s: MediaSlot, kwargs: dict) -> str:
    if s.field.media == "mask" and kwargs.get(s.tensor_input) is not None:
        return (f"the '{s.tensor_input}' is empty ({s.field.name} is required): paint the area to change in "
                "Load Image's mask editor, or connect another mask")
    return (f"{s.field.name} is required: connect '{s.tensor_input}' (a local {s.field.media}), "
            f"'{s.handle_input}' (from an earlier AliveAI node) or '{s.id_input}' (a media id)")


def plan(op: Operation, label: str, kwargs: dict, client: AliveAIClient,
         warnings: list[str] | None = None) -> list[tuple[dict, dict]]:
    """Validate everything locally and return, per job, (values with media placeholders, sources).
    Raises ValidationError before any upload or create. What is sent anyway but deserves a word
    (e.g. videoQuality with another videoModel) is logged and added, once each, to `warnings`:
    the node shows it (status text and final line), where a log alone goes unseen."""
    values = widget_values(op, kwargs)
    for f in op.fields:  # nested objects from the parameter-builder nodes
        if f.shape and kwargs.get(f.name) is not None:
            values[f.name] = kwargs[f.name]
    slots = media_slots(op)
    kwargs = _fit_masks(kwargs, slots)
    per_slot = {s.slot: resolve_slot(client, s, kwargs, label) for s in slots}
    for s in slots:
        if s.field.required and not per_slot[s.slot]:
            raise ValidationError(missing_media(s, kwargs), operation=label, field=s.field.name, limit="required")
    n = max((len(v) for v in per_slot.values()), default=1) or 1
    jobs = []
    for i in range(n):
        vals = dict(values)
        sources = {}
        for s in slots:
            items = per_slot[s.slot]
            if not items:
                continue
            src = items[i] if len(items) > 1 else items[0]  # a single mask or last frame serves every item
            sources[s.field.name] = src
            vals[s.field.name] = src.media_id or "pending-upload"
        created = next((f for f in op.fields if f.from_prompt), None)
        origin = sources.get(created.from_media) if created is not None else None
        if created is not None and origin is not None:
            # An upload has no prompt; AliveAI's doc does not say what to send then (API.md §10.2).
            # We send the upload's media id, the closest thing to an origin it has.
            vals[created.name] = origin.prompt_id or origin.media_id or "pending-upload"
        for f in op.fields:
            if f.upload_flag and f.name not in vals:
                main = next((sources[s.field.name] for s in slots if s.field.name in sources), None)
                if main is not None and main.uploaded:
                    vals[f.name] = True
        prepared = api.prepare(op, vals)  # every limit of the doc, before anything is sent
        for warning in prepared.warnings:
            if warnings is None or warning not in warnings:
                log.warning("AliveAI: %s", warning)
            if warnings is not None and warning not in warnings:
                warnings.append(warning)
        jobs.append((vals, sources))
    catalogs.check_values(op.key, label, values)  # ids still in their catalogs (network; after the local checks)
    return jobs


def materialize(op: Operation, vals: dict, sources: dict) -> tuple[dict, tuple[str, ...]]:
    vals = dict(vals)
    created = next((f for f in op.fields if f.from_prompt), None)
    for name, src in sources.items():
        if src.media_id is None:
            src.media_id, _ = src.upload()
        vals[name] = src.media_id
        if created and name == created.from_media and vals.get(created.name) == "pending-upload":
            vals[created.name] = src.prompt_id or src.media_id
    return vals, tuple(s.media_id for s in sources.values() if s.media_id)


