"""How an AliveAI node runs: plan its inputs (inputs.py), submit the job, follow it with progress
on the node, save the result (results.py).

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

from ..api.schema import Operation
from ..client import Completed, Failed, Notice, Queued, Running
from ..client.client import AliveAIClient
from .. import flight
from ..errors import AliveAIError, ConfigError, JobCancelledError, JobFailedError, LocalStateError
from ..request_cache import RequestCache, request_key
from ..store import ResultStore
from . import bridge, prefs, session, spend
from .handles import MediaRef
from .inputs import materialize, plan
from .results import JobResult, cached_result, rel_path, save_result

log = logging.getLogger("aliveai")

STOP_WAIT = 10.0   # seconds a cancelled node waits for its worker thread to notice
MAX_PARALLEL_JOBS = 4  # one job per batch item; AliveAI caps pending jobs per account
# How long a run waits for an identical one to submit: longer than a create may wait for a free
# slot in a full queue (client.QUEUE_FULL_WAIT, 600 s) plus its uploads. Cancel ends it any time.
FLIGHT_WAIT = 900.0
PROBE_BYTES = 4096     # written to the output and user folders before paying (check_writable)


@dataclass
class RunOutput:
    results: list[JobResult] = field(default_factory=list)
    summary: str = ""   # the final status line; job_nodes puts it in the ui output, which outlives the run

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

    def __init__(self, node_id: str | None, jobs: int, warnings: list[str] | tuple[str, ...] = ()):
        self.node_id = node_id
        self.bar = bridge.progress_bar(100, node_id)
        self.t0 = time.monotonic()
        self.jobs = jobs
        self.progress = [0.0] * jobs
        self.text = [""] * jobs
        self.since: list[float | None] = [None] * jobs        # when each job was submitted
        self.queued: list[int | None] = [None] * jobs         # queue position while waiting, else None
        self.queue_wait: list[float | None] = [None] * jobs   # how long it waited before running
        self.unsaved: list[str] = []                          # records that could not be written
        self.cached = [False] * jobs                          # answered from the request cache: no job paid
        self.warnings = list(warnings)                        # sent anyway, e.g. a field of another model
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

    def keep(self, failure: str | None, prompt_id: str) -> None:
        """Note a record of a paid job that could not be written (None: it was written)."""
        if failure is None:
            return
        text = f"prompt {prompt_id} not recorded on disk: {failure}; this ComfyUI remembers it until restart"
        log.warning("AliveAI: %s", text)
        with self._lock:
            self.unsaved.append(text)
        self.send(f"warning: {text}")

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def queued_for(self) -> str:
        """Text like " (queued 3.2 s)" when a job waited in AliveAI's queue noticeably, else ""."""
        waits = [w for w in self.queue_wait if w is not None]
        return f" (queued {max(waits):.1f} s)" if waits and max(waits) >= 0.5 else ""

    def send(self, text: str) -> None:
        bridge.send_text(text, self.node_id)


def running_timeout(default: float | None, label: str | None = None) -> float | None:
    """The running-time limit of a job: the running_timeout preference (seconds; 0 means none; from
    ALIVEAI_RUNNING_TIMEOUT or Settings > AliveAI > Limits), read at run time, else the node's
    default. The queue wait never counts against it."""
    try:
        value = prefs.value("running_timeout")
    except ConfigError as e:
        raise e.with_context(operation=label) from None
    if value is None:
        return default
    return value if value > 0 else None


def run_one(op: Operation, label: str, client: AliveAIClient, store: ResultStore, vals: dict, sources: dict,
            status: Status, index: int, stop: threading.Event, running_timeout: float | None) -> JobResult:
    """One job of a node, paid for at most once per distinct request: an identical request gives
    the stored result; one whose job is still unfinished (interrupted while running, timed out,
    ComfyUI restarted, or an identical node running right now) follows that job again instead of
    submitting a new one. "Look up -> upload -> create -> record" runs under the request's
    single-flight lock (flight.py), so of two identical runs the second finds the first's job."""
    cache = RequestCache(store.state)
    key = request_key(op.key, session.account_scope(client.settings), vals,
                      {name: src.ident for name, src in sources.items()})
    should_stop = lambda: stop.is_set() or bridge.is_interrupted()  # noqa: E731 - a one-line predicate reads best here
    with flight.single_flight(cache.dir, key, should_stop=should_stop, timeout=FLIGHT_WAIT, label=label,
                              on_wait=lambda: status.update(index, "waiting for an identical run to submit")):
        entry = cache.get(key)
        if entry and entry.get("pending"):
            job = client.attach(op, entry["prompt_id"], tuple(entry.get("inputs") or ()))
            job.seed, vals = entry.get("seed"), entry.get("request") or vals
            status.update(index, f"following unfinished prompt {job.prompt_id}")
        else:
            hit = cached_result(label, client, store, cache, key, should_stop)
            if hit is not None:
                status.cached[index] = True
                status.update(index, f"cached result · prompt {hit.prompt_id}")
                return hit
            check_writable(store, label)
            spend.check(client, op, label)
            vals, input_ids = materialize(op, vals, sources)
            if should_stop():  # an interrupt during the upload: nothing paid for has started yet
                raise JobCancelledError("interrupted before submitting; no job was created", operation=label)
            status.update(index, "submitting")
            job = client.submit(op, vals, notify=lambda t: status.update(index, t), should_stop=should_stop)
            status.keep(store.log_job("submitted", job.prompt_id, operation=op.key, request=vals), job.prompt_id)
            record(cache, key, {"prompt_id": job.prompt_id, "seed": job.seed, "pending": True,
                                "inputs": list(input_ids), "request": vals}, status)
            status.update(index, "queued")
    # From here a job exists: every failure names its prompt_id, and the job stays findable.
    try:
        return follow(op, label, client, store, cache, key, job, vals, status, index, should_stop, running_timeout)
    except AliveAIError as e:
        raise e.with_context(operation=label, prompt_id=job.prompt_id) from None
    except Exception as e:  # broad on purpose: any local failure (disk, permission) after paying names the job
        raise local_failure(label, job.prompt_id, "its result could not be saved", e, store.root) from e


def follow(op: Operation, label: str, client: AliveAIClient, store: ResultStore, cache: RequestCache, key: str,
           job, vals: dict, status: Status, index: int, should_stop, running_timeout: float | None) -> JobResult:
    """Follow a submitted (or re-attached) job to its end and save its result."""
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
    record(cache, key, {"prompt_id": job.prompt_id, "seed": job.seed, "medias": [
        {"id": m.id, "type": m.type, "file": rel_path(store, store.media_path(job.prompt_id, m.id, m.type, i))}
        for i, m in enumerate(done.medias)]}, status)
    return save_result(op.key, label, client, store, job.prompt_id, done, request=vals, seed=job.seed,
                       should_stop=should_stop)


def record(cache: RequestCache, key: str, entry: dict, status: Status) -> None:
    """Write a request cache entry of a job that exists. A failed write is not the run's end: the
    entry is kept in memory (a re-run in this ComfyUI finds the job), the run goes on to deliver
    the paid result, and the node's last line says what could not be written."""
    try:
        cache.put(key, entry)
    except OSError as e:
        status.keep(f"{e.strerror or type(e).__name__} ({cache.dir})", entry["prompt_id"])


def check_writable(store: ResultStore, label: str) -> None:
    """Before paying: the output folder (results) and the user folder (job log, request cache)
    take a small file, else a ConfigError naming the folder, and nothing is sent."""
    for what, folder in (("output", store.root), ("user", store.state)):
        probe = folder / f".aliveai-probe-{os.getpid()}-{threading.get_ident()}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with open(probe, "wb") as f:
                f.write(bytes(PROBE_BYTES))
        except OSError as e:
            raise ConfigError(f"the {what} folder {folder} cannot be written ({e.strerror or type(e).__name__}); "
                              "nothing was sent", operation=label,
                              hint="Free some disk space or fix the folder's permissions, then queue again.") from None
        finally:
            with contextlib.suppress(OSError):
                probe.unlink()


def local_failure(label: str, prompt_id: str, what: str, e: BaseException, folder: Path) -> LocalStateError:
    """One error for any local failure after a job exists: the node, the job, the cause."""
    cause = f"{e.strerror} ({e.filename or folder})" if isinstance(e, OSError) and e.strerror else \
        f"{type(e).__name__}: {e}"
    return LocalStateError(f"{what}: {cause}", operation=label, prompt_id=prompt_id, hint=LocalStateError.KEPT)


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
    warnings: list[str] = []
    jobs = plan(op, label, kwargs, client, warnings)
    store = session.store()
    status = Status(node_id, len(jobs), warnings)
    for w in warnings:   # seen while the job runs, and again in the final line
        status.send(f"warning: {w}")
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
    out.summary = final_line(status, n, noun, out.prompt_ids)
    status.send(out.summary)
    job_event(node_id, "completed", out.prompt_ids, status.elapsed(), out.refs)
    return out


def final_line(status: Status, n: int, noun: str, prompt_ids: str) -> str:
    """"done in 8.1 s · 1 image · prompt …", or "cached · no new job · …" when every result came
    from the request cache (nothing was paid, and "done in 0.0 s" read like a very fast job)."""
    what = f"{n} {noun}{'s' if n != 1 else ''} · prompt {prompt_ids}"
    if all(status.cached):
        head = "cached · no new job"
    elif any(status.cached):
        head = f"done in {status.elapsed():.1f} s{status.queued_for()} · {sum(status.cached)} cached"
    else:
        head = f"done in {status.elapsed():.1f} s{status.queued_for()}"
    return f"{head} · {what}" + "".join(f" · warning: {w}" for w in [*status.warnings, *status.unsaved])


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
