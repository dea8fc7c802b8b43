"""Results -> native ComfyUI outputs and the node's preview ("ui") dict."""
from __future__ import annotations

from pathlib import Path

from .. import media
from ..store import ResultStore
from . import bridge
from .handles import MediaHandle, MediaRef


def preview_entries(store: ResultStore, files: list[Path]) -> list[dict]:
    return [{"filename": p.name, "subfolder": store.subfolder_of(p), "type": "output"} for p in files]


def handle_entries(refs: list[MediaRef]) -> list[dict]:
    """The ui dict's "aliveai" list, shown on the node by js/previews.js: one entry per prompt,
    in order. A list, like every ui value: ComfyUI concatenates them across list runs."""
    by_prompt: dict[str | None, list[str]] = {}
    for r in refs:
        by_prompt.setdefault(r.prompt_id, []).append(r.media_id)
    return [{"prompt_id": p, "media_ids": ids} for p, ids in by_prompt.items()]


def image_outputs(store: ResultStore, refs: list[MediaRef], files: list[Path], prompt_ids: str) -> dict:
    pairs = [(r, f) for r, f in zip(refs, files, strict=True) if r.media_type == "IMAGE"]
    image = media.images_from_files([f for _, f in pairs], store.pixel_dir)
    handle = MediaHandle(tuple(r for r, _ in pairs))
    ids = ",".join(r.media_id for r, _ in pairs)
    return {"ui": {"images": preview_entries(store, [f for _, f in pairs]), "aliveai": handle_entries(handle.items)},
            "result": (image, handle, ids, prompt_ids)}


def video_outputs(store: ResultStore, refs: list[MediaRef], files: list[Path], prompt_ids: str) -> dict:
    pairs = [(r, f) for r, f in zip(refs, files, strict=True) if r.media_type == "VIDEO"]
    video = bridge.video_from_file(pairs[0][1])
    handle = MediaHandle(tuple(r for r, _ in pairs))
    ids = ",".join(r.media_id for r, _ in pairs)
    return {"ui": {"images": preview_entries(store, [f for _, f in pairs]), "animated": [True],
                   "aliveai": handle_entries(handle.items)},
            "result": (video, handle, ids, prompt_ids)}
