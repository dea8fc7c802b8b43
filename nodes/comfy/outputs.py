"""Results -> native ComfyUI outputs and the node's preview ("ui") dict."""
from __future__ import annotations

from pathlib import Path

from .. import media
from ..store import ResultStore
from . import bridge
from .handles import MediaHandle, MediaRef


def preview_entries(store: ResultStore, files: list[Path]) -> list[dict]:
    return [{"filename": p.name, "subfolder": store.subfolder_of(p), "type": "output"} for p in files]


def image_outputs(store: ResultStore, refs: list[MediaRef], files: list[Path], prompt_ids: str) -> dict:
    pairs = [(r, f) for r, f in zip(refs, files, strict=True) if r.media_type == "IMAGE"]
    image = media.images_from_files([f for _, f in pairs])
    handle = MediaHandle(tuple(r for r, _ in pairs))
    ids = ",".join(r.media_id for r, _ in pairs)
    return {"ui": {"images": preview_entries(store, [f for _, f in pairs])},
            "result": (image, handle, ids, prompt_ids)}


def video_outputs(store: ResultStore, refs: list[MediaRef], files: list[Path], prompt_ids: str) -> dict:
    pairs = [(r, f) for r, f in zip(refs, files, strict=True) if r.media_type == "VIDEO"]
    video = bridge.video_from_file(pairs[0][1])
    handle = MediaHandle(tuple(r for r, _ in pairs))
    ids = ",".join(r.media_id for r, _ in pairs)
    return {"ui": {"images": preview_entries(store, [f for _, f in pairs]), "animated": [True]},
            "result": (video, handle, ids, prompt_ids)}
