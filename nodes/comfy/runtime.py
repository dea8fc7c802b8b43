"""How an AliveAI node runs: resolve its media inputs (upload once, or take the upstream
handle), submit the job, follow it with progress on the node, save and decode the result.

All of it is blocking code run in a worker thread by the node's async FUNCTION, so independent
remote nodes of one graph run concurrently. An interrupt (ComfyUI's flag, or the task being
cancelled) stops following within a second and removes the job from AliveAI's queue.
"""
from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import api, media
from ..api.schema import Operation
from ..client import Completed, Failed, Media, Notice, Queued, Running
from ..client.results import medias_of
from ..client.client import AliveAIClient
from ..errors import AliveAIError, ConfigError, JobCancelledError, JobFailedError, ValidationError
from ..request_cache import RequestCache, request_key
from ..store import ResultStore
from . import bridge, catalogs, session, spend
from .handles import MediaHandle, MediaRef
from .widgets import MediaSlot, media_slots, widget_values

log = logging.getLogger("aliveai")

STOP_WAIT = 10.0   # seconds a cancelled node waits for its worker thread to notice
MAX_PARALLEL_JOBS = 4  # one job per batch item; AliveAI caps pending jobs per account


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


@dataclass
class JobResult:
    prompt_id: str
    refs: list[MediaRef]
    files: list[Any]            # paths, in media order
    seed: str | None = None


@dataclass
class RunOutput:
    results: list[JobResult] = field(default_factory=list)

    @property
    def refs(self) -> list[MediaRef]:
        return [r for j in self.results for r in j.refs]

    @property
    def files(self) -> list:
        return [f for j in self.results for f in j.files]

    @property
    def prompt_ids(self) -> str:
        return ",".join(j.prompt_id for j in self.results)


class Status:
    """Progress for one node: the bar from websocket %, and a text line (queue, %, elapsed)."""

    def __init__(self, node_id: str | None, jobs: int):
        self.node_id = node_id
        self.bar = bridge.progress_bar(100, node_id)
        self.t0 = time.monotonic()
        self.jobs = jobs
        self.progress = [0.0] * jobs
        self.text = [""] * jobs
        self.since: list[float | None] = [None] * jobs        # when each job was submitted
        self.queued: list[int | None] = [None] * jobs         # queue position while waiting, else None
        self.queue_wait: list[float | None] = [None] * jobs   # how long it waited before running
        self._last_sent = 0.0
        self._lock = threading.Lock()

    def submitted(self, index: int) -> None:
        self.since[index] = time.monotonic()

    def update(self, index: int, ev: Any) -> None:
        with self._lock:
            since = self.since[index]
            if isinstance(ev, Queued):
                self.queued[index] = ev.position or 0
            elif isinstance(ev, (Running, Notice, str)):
                self.queued[index] = None
            if isinstance(ev, Running):
                if self.queue_wait[index] is None and since is not None:
                    self.queue_wait[index] = time.monotonic() - since
                self.progress[index] = ev.progress
                self.text[index] = f"running {ev.progress:.0f}%"
            elif isinstance(ev, Notice):
                self.text[index] = ev.text[:120]
            elif isinstance(ev, str):
                self.text[index] = ev
            now = time.monotonic()
            if now - self._last_sent < 0.2 and not isinstance(ev, (Running, str)):
                return
            self._last_sent = now
            value = sum(self.progress) / self.jobs
            for i, pos in enumerate(self.queued):   # the queue wait keeps counting between queue events
                if pos is not None:
                    waited = f" · waiting {now - self.since[i]:.0f} s" if self.since[i] is not None else ""
                    self.text[i] = (f"queued #{pos}" if pos else "queued") + waited
            line = " · ".join(t for t in self.text if t) or "waiting"
        self.bar.update_absolute(value, 100)
        self.send(f"{line} · {self.elapsed():.0f} s")

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def queued_for(self) -> str:
        """Text like " (queued 3.2 s)" when a job waited in AliveAI's queue noticeably, else ""."""
        waits = [w for w in self.queue_wait if w is not None]
        return f" (queued {max(waits):.1f} s)" if waits and max(waits) >= 0.5 else ""

    def send(self, text: str) -> None:
        bridge.send_text(text, self.node_id)


def running_timeout(default: float | None, label: str | None = None) -> float | None:
    """The running-time limit of a job: ALIVEAI_RUNNING_TIMEOUT (seconds; 0 means none), read at
    run time, else the node's default. The queue wait never counts against it."""
    raw = (os.environ.get("ALIVEAI_RUNNING_TIMEOUT") or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"ALIVEAI_RUNNING_TIMEOUT must be a number of seconds (0: no limit), got {raw!r}",
                          operation=label, hint="") from None
    return value if value > 0 else None


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
    scope = session.account_scope(client.settings)

    def do_upload() -> tuple[str, str]:
        src, _ = media.video_source_bytes(video)
        try:
            return client.upload(src, "comfyui-video.mp4")
        finally:
            media.release_video_source(src)

    src, _ = media.video_source_bytes(video)
    try:
        key = f"{scope}|video|{media.file_sha256(src)}"
    finally:
        media.release_video_source(src)
    return Source(None, uploaded=True, upload=lambda: media.UPLOADS.get_or_upload(key, do_upload), identity=key)


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


def plan(op: Operation, label: str, kwargs: dict, client: AliveAIClient) -> list[tuple[dict, dict]]:
    """Validate everything locally and return, per job, (values with media placeholders, sources).
    Raises ValidationError before any upload or create."""
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
        primary = next((sources[s.field.name] for s in slots if s.field.name in sources), None)
        created = next((f for f in op.fields if f.from_prompt), None)
        if created is not None and primary is not None:
            # An upload has no prompt; AliveAI's doc does not say what to send then (API.md §10.2).
            # We send the upload's media id, the closest thing to an origin it has.
            vals[created.name] = primary.prompt_id or primary.media_id or "pending-upload"
        if any(f.name == "customImage" for f in op.fields) and primary is not None and primary.uploaded:
            vals["customImage"] = True
        api.prepare(op, vals)  # every limit of the doc, before anything is sent
        jobs.append((vals, sources))
    catalogs.check_values(op.key, label, values)  # ids still in their catalogs (network; after the local checks)
    return jobs


def materialize(op: Operation, vals: dict, sources: dict) -> tuple[dict, tuple[str, ...]]:
    vals = dict(vals)
    created = next((f.name for f in op.fields if f.from_prompt), None)
    for name, src in sources.items():
        if src.media_id is None:
            src.media_id, _ = src.upload()
        vals[name] = src.media_id
        if created and vals.get(created) == "pending-upload":
            vals[created] = src.prompt_id or src.media_id
    return vals, tuple(s.media_id for s in sources.values() if s.media_id)


def run_one(op: Operation, label: str, client: AliveAIClient, store: ResultStore, vals: dict, sources: dict,
            status: Status, index: int, stop: threading.Event, running_timeout: float | None) -> JobResult:
    """One job of a node, paid for at most once per distinct request: an identical request gives
    the stored result; one whose job is still unfinished (interrupted while running, timed out,
    ComfyUI restarted) follows that job again instead of submitting a new one."""
    cache = RequestCache(store.state)
    key = request_key(op.key, session.account_scope(client.settings), vals,
                      {name: src.ident for name, src in sources.items()})
    should_stop = lambda: stop.is_set() or bridge.is_interrupted()  # noqa: E731 - a one-line predicate reads best here
    entry = cache.get(key)
    if entry and entry.get("pending"):
        job = client.attach(op, entry["prompt_id"], tuple(entry.get("inputs") or ()))
        job.seed, vals = entry.get("seed"), entry.get("request") or vals
        status.update(index, f"following unfinished prompt {job.prompt_id}")
    else:
        hit = cached_result(label, client, store, cache, key)
        if hit is not None:
            status.update(index, f"cached result · prompt {hit.prompt_id}")
            return hit
        spend.check(client, op, label)
        vals, input_ids = materialize(op, vals, sources)
        if should_stop():  # an interrupt during the upload: nothing paid for has started yet
            raise JobCancelledError("interrupted before submitting; no job was created", operation=label)
        status.update(index, "submitting")
        job = client.submit(op, vals, notify=lambda t: status.update(index, t), should_stop=should_stop)
        store.log_job("submitted", job.prompt_id, operation=op.key, request=vals)
        cache.put(key, {"prompt_id": job.prompt_id, "seed": job.seed, "pending": True, "inputs": list(input_ids),
                        "request": vals})
        status.update(index, "queued")
    status.submitted(index)
    done: Completed | None = None
    for ev in job.events(running_timeout=running_timeout):
        if should_stop():
            outcome = job.cancel()
            store.log_job("cancelled", job.prompt_id, outcome=outcome)
            if outcome == "removed":
                cache.forget(key)
            what = {"removed": "removed from the AliveAI queue",
                    "running": "already running on AliveAI: it will finish (and may be billed); "
                               "load it later with Load Result, or queue the same inputs again",
                    "gone": "no longer queued on AliveAI"}.get(outcome, outcome)
            status.send(f"interrupted: {what} · prompt {job.prompt_id}")
            raise JobCancelledError(f"interrupted; the job was {what}", operation=label, prompt_id=job.prompt_id)
        if isinstance(ev, Failed):
            store.log_job("failed", job.prompt_id, error=str(ev.error))
            if isinstance(ev.error, JobFailedError):  # it ended remotely: the next run is a new job
                cache.forget(key)
            raise ev.error.with_context(operation=label, prompt_id=job.prompt_id)
        if isinstance(ev, Completed):
            done = ev
            break
        status.update(index, ev)
    if done is None:
        raise JobCancelledError("stopped before the job finished", operation=label, prompt_id=job.prompt_id)
    status.update(index, "downloading")
    # Recorded before downloading: if a download fails, the next run fetches this job's files again
    # (cached_result) instead of paying for a new job.
    cache.put(key, {"prompt_id": job.prompt_id, "seed": job.seed, "medias": [
        {"id": m.id, "type": m.type, "file": _rel(store, store.media_path(job.prompt_id, m.id, m.type, i))}
        for i, m in enumerate(done.medias)]})
    return save_result(op.key, label, client, store, job.prompt_id, done, request=vals, seed=job.seed)


def _rel(store: ResultStore, path: Path) -> str:
    return path.relative_to(store.root.parent).as_posix()


def cached_result(label: str, client: AliveAIClient, store: ResultStore, cache: RequestCache,
                  key: str) -> JobResult | None:
    """The stored result of an identical earlier request: from disk when its files are there,
    else downloaded again from its prompt (no new job). None when there is none."""
    entry = cache.get(key)
    if not entry:
        return None
    prompt_id = entry["prompt_id"]
    refs = [MediaRef(m["id"], m["type"], prompt_id) for m in entry.get("medias", [])]
    files = [store.root.parent / m["file"] for m in entry.get("medias", [])]
    if refs and all(f.is_file() for f in files):
        return JobResult(prompt_id, refs, files, entry.get("seed"))
    try:
        container = client.get_prompt(prompt_id)
    except AliveAIError as e:
        log.info("AliveAI %s: cached prompt %s is gone (%s); running a new job", label, prompt_id, e)
        cache.forget(key)
        return None
    wanted = {r.media_id for r in refs}
    medias = [(i, m) for i, m in enumerate(medias_of(container)) if m.id in wanted]
    if not medias:
        cache.forget(key)
        return None
    refs, files = download_medias(label, client, store, prompt_id, medias)
    return JobResult(prompt_id, refs, files, entry.get("seed"))


def save_result(op_key: str, label: str, client: AliveAIClient, store: ResultStore, prompt_id: str, done: Completed,
                request: dict | None = None, seed: str | None = None) -> JobResult:
    refs, files = download_medias(label, client, store, prompt_id, list(enumerate(done.medias)))
    recorded = [{"id": r.media_id, "type": r.media_type, "file": _rel(store, p)}
                for r, p in zip(refs, files, strict=True)]
    store.save_sidecar(prompt_id, {"operation": op_key, "medias": recorded, "request": request or {}, "seed": seed})
    store.log_job("completed", prompt_id, medias=[r.media_id for r in refs])
    return JobResult(prompt_id, refs, files, seed)


def download_medias(label: str, client: AliveAIClient, store: ResultStore, prompt_id: str,
                    medias: list[tuple[int, Media]]) -> tuple[list[MediaRef], list[Path]]:
    """Download (index, media) pairs of one prompt into the store, skipping files already there.
    No sidecar: only `save_result` writes one, for a prompt's complete result, so Load Result
    never mistakes a partial download (e.g. a listing's thumbnail) for the whole result."""
    refs, files = [], []
    for i, m in medias:
        path = store.media_path(prompt_id, m.id, m.type, i)
        if not path.is_file():
            try:
                client.download(m.url, path, prompt_id=prompt_id, media_id=m.id, operation=label)
            except AliveAIError as e:
                e.with_context(prompt_id=prompt_id)
                raise
        refs.append(MediaRef(m.id, m.type, prompt_id))
        files.append(path)
    return refs, files


def require_client(label: str) -> AliveAIClient:
    """The client for the current settings, or a ConfigError naming the node before any work."""
    client = session.client()
    if not client.settings.has_credentials:
        raise ConfigError("no AliveAI credentials.", operation=label)
    return client


def execute(op: Operation, label: str, kwargs: dict, node_id: str | None, stop: threading.Event,
            running_timeout: float | None = None) -> RunOutput:
    """The whole blocking run of a job node; every error names the node."""
    try:
        return _execute(op, label, kwargs, node_id, stop, running_timeout)
    except AliveAIError as e:
        raise e.for_node(label, own=op.name) from None


def _execute(op: Operation, label: str, kwargs: dict, node_id: str | None, stop: threading.Event,
             running_timeout: float | None) -> RunOutput:
    client = require_client(label)
    jobs = plan(op, label, kwargs, client)
    store = session.store()
    status = Status(node_id, len(jobs))
    out = RunOutput()
    try:
        if len(jobs) == 1:
            out.results.append(run_one(op, label, client, store, *jobs[0], status, 0, stop, running_timeout))
        else:
            with ThreadPoolExecutor(min(MAX_PARALLEL_JOBS, len(jobs)), thread_name_prefix="aliveai-job") as pool:
                futs = [pool.submit(run_one, op, label, client, store, vals, srcs, status, i, stop, running_timeout)
                        for i, (vals, srcs) in enumerate(jobs)]
                try:
                    out.results.extend(f.result() for f in futs)
                except BaseException:
                    stop.set()
                    raise
    except BaseException as e:  # re-raised: the event only tells the UI to refresh credits and the queue
        interrupted = isinstance(e, (JobCancelledError, bridge.interrupt_exception()))
        job_event(node_id, "interrupted" if interrupted else "failed", getattr(e, "prompt_id", None) or out.prompt_ids,
                  status.elapsed(), out.refs)
        raise
    kinds = {r.media_type for r in out.refs}
    noun = "video" if kinds == {"VIDEO"} else "image"
    n = len(out.refs)
    status.bar.update_absolute(100, 100)
    status.send(f"done in {status.elapsed():.1f} s{status.queued_for()} · {n} {noun}{'s' if n != 1 else ''} · "
                f"prompt {out.prompt_ids}")
    job_event(node_id, "completed", out.prompt_ids, status.elapsed(), out.refs)
    return out


def job_event(node_id: str | None, state: str, prompt_id: str | None, seconds: float, refs: list[MediaRef]) -> None:
    """`aliveai.job` for the frontend: a job node finished (or failed), so credits and the queue changed."""
    try:
        bridge.send_event("aliveai.job", {"node": node_id, "prompt_id": prompt_id or None, "status": state,
                                          "seconds": round(seconds, 1), "medias": [r.media_id for r in refs]})
    except Exception as e:  # noqa: BLE001 - a UI refresh hint must never hide the node's own result or error
        log.debug("AliveAI: could not send aliveai.job: %s", e)


async def run_in_thread(fn, *args, **kwargs):
    """Run blocking node work in a thread; if the task is cancelled (another node failed, or
    the prompt was interrupted) tell the work to stop so the thread ends within a second."""
    stop = threading.Event()
    # One thread per node run, not asyncio's default executor: that has min(32, cores + 4) threads
    # (6 on 2 cores), so the 7th concurrent remote node would wait for a whole job to end.
    pool = ThreadPoolExecutor(1, thread_name_prefix="aliveai-node")
    work = pool.submit(contextvars.copy_context().run, fn, *args, stop=stop, **kwargs)
    pool.shutdown(wait=False)  # the thread ends with its one task
    try:
        return await asyncio.wrap_future(work)
    except asyncio.CancelledError:
        stop.set()
        with contextlib.suppress(Exception, asyncio.CancelledError):  # the work's own error is moot: we were cancelled
            await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(work)), STOP_WAIT)
        raise
    except JobCancelledError as e:
        if bridge.is_interrupted():
            bridge.raise_interrupted(str(e))  # ComfyUI shows "interrupted", not an error dialog
        raise
