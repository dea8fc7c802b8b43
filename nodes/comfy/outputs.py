"""Results -> native ComfyUI outputs and the node's preview ("ui") dict."""
from __future__ import annotations

import logging
from pathlib import Path

from .. import media
from ..errors import ConfigError
from ..store import ResultStore
from . import bridge, prefs
from .handles import MediaHandle, MediaRef

log = logging.getLogger("aliveai")


def pixel_budget() -> int:
    """Bytes for decoded results on disk (the pixel_cache_mb preference). A bad value is logged and
    the default used: a cache setting must never fail a node whose job is paid for."""
    try:
        mb = prefs.value("pixel_cache_mb")
    except ConfigError as e:
        log.warning("AliveAI: %s; using %g MB", e, prefs.PREFS["pixel_cache_mb"].default)
        mb = None
    return int((prefs.PREFS["pixel_cache_mb"].default if mb is None else mb) * (1 << 20))


def result_images(store: ResultStore, files: list[Path]):
    """IMAGE of result files, their decoded pixels kept in memory and on disk (`pixel_cache`)."""
    return media.images_from_files(files, store.pixel_dir, pixel_budget())


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
    image = result_images(store, [f for _, f in pairs])
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
