"""Results on disk: every completed job's media saved under the output folder with a sidecar,
and the persistent request cache's hits turned back into results without a new job."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..client import Completed, Media
from ..client import download as transfer
from ..client.client import AliveAIClient
from ..client.results import medias_of
from ..errors import AliveAIError, ConfigError, NotFoundError
from ..request_cache import RequestCache
from ..store import ResultStore
from . import bridge, prefs
from .handles import MediaRef

log = logging.getLogger("aliveai")


@dataclass
class JobResult:
    prompt_id: str
    refs: list[MediaRef]
    files: list[Any]            # paths, in media order
    seed: str | None = None


def rel_path(store: ResultStore, path: Path) -> str:
    return path.relative_to(store.root.parent).as_posix()


def cached_result(label: str, client: AliveAIClient, store: ResultStore, cache: RequestCache,
                  key: str, should_stop: Callable[[], bool] | None = None) -> JobResult | None:
    """The stored result of an identical earlier request: from disk when its files are there,
    else downloaded again from its prompt (no new job). None when there is none. Only an answer
    that the prompt is unknown drops the entry: an unreachable API is an error, not a reason to pay
    for the same request again."""
    entry = cache.get(key)
    if not entry:
        return None
    prompt_id = entry["prompt_id"]
    refs = [MediaRef(m["id"], m["type"], prompt_id) for m in entry.get("medias", [])]
    # Only files inside this prompt's own result folder count: a cache entry is a file on disk too.
    files = [store.file_of(prompt_id, m.get("file")) for m in entry.get("medias", [])]
    if refs and all(f is not None for f in files):
        return JobResult(prompt_id, refs, files, entry.get("seed"))
    try:
        container = client.get_prompt(prompt_id)
    except NotFoundError as e:
        log.info("AliveAI %s: cached prompt %s is gone (%s); running a new job", label, prompt_id, e)
        cache.forget(key)
        return None
    except AliveAIError as e:
        raise e.with_context(prompt_id=prompt_id) from None
    wanted = {r.media_id for r in refs}
    medias = [(i, m) for i, m in enumerate(medias_of(container)) if m.id in wanted]
    if not medias:
        cache.forget(key)
        return None
    refs, files = download_medias(label, client, store, prompt_id, medias, should_stop=should_stop)
    return JobResult(prompt_id, refs, files, entry.get("seed"))


def save_result(op_key: str, label: str, client: AliveAIClient, store: ResultStore, prompt_id: str, done: Completed,
                request: dict | None = None, seed: str | None = None,
                should_stop: Callable[[], bool] | None = None) -> JobResult:
    refs, files = download_medias(label, client, store, prompt_id, list(enumerate(done.medias)),
                                  should_stop=should_stop)
    recorded = [{"id": r.media_id, "type": r.media_type, "file": rel_path(store, p)}
                for r, p in zip(refs, files, strict=True)]
    store.save_sidecar(prompt_id, {"operation": op_key, "medias": recorded, "request": request or {}, "seed": seed})
    store.log_job("completed", prompt_id, medias=[r.media_id for r in refs])
    return JobResult(prompt_id, refs, files, seed)


def download_cap(media_type: str) -> int:
    """Bytes one result file may have: the "Largest result download" setting for a video (a bad
    value falls back to its default), at most 200 MB for an image."""
    try:
        mb = prefs.value("download_cap_mb")
    except ConfigError as e:
        log.warning("AliveAI: %s; using the default download cap", e)
        mb = None
    mb = prefs.PREFS["download_cap_mb"].default if not mb else mb
    return transfer.cap_for(media_type, int(min(mb, 1 << 40) * transfer.MB))


def download_medias(label: str, client: AliveAIClient, store: ResultStore, prompt_id: str,
                    medias: list[tuple[int, Media]], *,
                    should_stop: Callable[[], bool] | None = None) -> tuple[list[MediaRef], list[Path]]:
    """Download (index, media) pairs of one prompt into the store, skipping files already there.
    No sidecar: only `save_result` writes one, for a prompt's complete result, so Load Result
    never mistakes a partial download (e.g. a listing's thumbnail) for the whole result.
    `should_stop` (default: ComfyUI's Cancel) is checked on a clock while a file downloads."""
    refs, files = [], []
    for i, m in medias:
        path = store.media_path(prompt_id, m.id, m.type, i)
        # Only a regular file of this result's folder counts as downloaded: not a link planted there.
        if store.file_of(prompt_id, rel_path(store, path)) is None:
            try:
                client.download(m.url, path, prompt_id=prompt_id, media_id=m.id, operation=label,
                                max_bytes=download_cap(m.type), should_stop=should_stop or bridge.is_interrupted)
            except AliveAIError as e:
                e.with_context(prompt_id=prompt_id)
                raise
        refs.append(MediaRef(m.id, m.type, prompt_id))
        files.append(path)
    return refs, files


