"""The job engine: a FIFO queue, a fixed number of worker slots, progress, results, and the
fan-out of prompt and user events to websocket subscribers.

Jobs start in creation order (so each user's jobs run in FIFO order) whenever one of
`config.workers` global slots is free; a waiting job's queuePosition is its 1-based place among
its owner's waiting jobs and 0 once running. A running job walks `config.progress_steps` over
`config.job_seconds`, then completes with synthetic media, or fails or hangs when a fault says
so. Results follow the real API's order (API.md §7.1.3): Create Image To Video lists its source
IMAGE (the input media itself) before the VIDEO.

Everything here runs on the server's event loop; only pixel and video synthesis runs in the
loop's default executor, so a slow encode never stalls other requests.
"""
from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from ..api.schema import VIDEO
from . import views
from .state import DELETED, DONE, FAILED, REMOVED, RUNNING, Job, Simulator
from .synth import image_size, make_mp4, make_png, png_header_only

log = logging.getLogger("aliveai.simulator")

GPU_FAILURE = "Simulated failure: GPU out of memory"
REMOVED_MESSAGE = "Removed from queue"
# Quirks the table does not hold. The doc does not say how many images #7 makes (API.md §10.6).
IMAGE_COUNT = {"create_character_training_data": 4}
SCALE = {"upscale_image": 2, "upscale_video": 2}
LEADS_WITH_SOURCE = {"create_image_to_video"}
COST = {"IMAGE": 1, "VIDEO": 5}       # credits per completed job, by result kind
VIDEO_MAX_SIDE = 256


@dataclass(frozen=True)
class Output:
    """One result media: an existing media (`reuse`) or a new synthetic file."""

    media_type: str
    reuse: str | None = None
    ext: str = ""
    content_type: str = ""
    data: bytes = b""
    size: tuple[int, int] | None = None


class Engine:
    def __init__(self, sim: Simulator):
        self.sim = sim
        self.prompt_subs: dict[str, set[asyncio.Queue]] = defaultdict(set)
        self.user_subs: dict[str, set[asyncio.Queue]] = defaultdict(set)
        self._tasks: set[asyncio.Task] = set()

    # subscriptions ---------------------------------------------------------------------------
    def subscribe(self, table: dict[str, set[asyncio.Queue]], key: str) -> asyncio.Queue:
        q: asyncio.Queue = asyncio.Queue()
        table[key].add(q)
        return q

    def unsubscribe(self, table: dict[str, set[asyncio.Queue]], key: str, q: asyncio.Queue) -> None:
        table[key].discard(q)
        if not table[key]:
            table.pop(key, None)

    def publish(self, job: Job) -> None:
        if job.prompt_id in self.prompt_subs:
            ev = views.event(self.sim, job)
            for q in self.prompt_subs[job.prompt_id]:
                q.put_nowait(ev)

    def queue_changed(self, user_id: str, prompt_id: str) -> None:
        """Announce moved queue positions on the prompt sockets and the queue on the user sockets."""
        for job in self.sim.waiting(user_id):
            pos = self.sim.position(job)
            if pos != job.sent_position:
                job.sent_position = pos
                self.publish(job)
        if user_id in self.user_subs:
            ev = views.user_event(self.sim, user_id, prompt_id)
            for q in self.user_subs[user_id]:
                q.put_nowait(ev)

    # lifecycle ------------------------------------------------------------------------------
    def submit(self, job: Job) -> None:
        self.queue_changed(job.owner, job.prompt_id)
        self.kick()

    def remove_queued(self, job: Job) -> None:
        """Delete From Queue: the job disappears; its followers get a final isError event."""
        job.status, job.error, job.finished = REMOVED, REMOVED_MESSAGE, self.sim.now()
        self.publish(job)
        self.queue_changed(job.owner, job.prompt_id)

    def delete_prompt(self, job: Job) -> None:
        """Delete Prompt: the prompt and the media it produced are gone (inputs it reused stay)."""
        job.status = DELETED
        for mid in job.media_ids:
            media = self.sim.media.get(mid)
            if media and media.source == job.prompt_id:
                del self.sim.media[mid]

    def kick(self) -> None:
        while len(self.sim.running()) < max(1, int(self.sim.config.workers)):
            waiting = self.sim.waiting()
            if not waiting:
                return
            job = waiting[0]
            job.status, job.sent_position = RUNNING, 0
            if self.sim.faults.on("auth_expire_mid_job"):
                self.sim.expire_tokens()
            task = asyncio.get_running_loop().create_task(self._run(job), name=f"job-{job.prompt_id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            self.queue_changed(job.owner, job.prompt_id)

    async def shutdown(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run(self, job: Job) -> None:
        sim = self.sim
        try:
            steps = sim.config.progress_steps or (0, 100)
            interval = float(sim.config.job_seconds) / max(1, len(steps) - 1)
            for i, progress in enumerate(steps):
                if i:
                    await asyncio.sleep(interval)
                while i == len(steps) - 1 and sim.faults.on("job_hang"):   # stuck short of the last step
                    await asyncio.sleep(0.05)
                job.progress = int(progress)
                self.publish(job)
            if sim.faults.on("job_error"):
                job.status, job.error = FAILED, GPU_FAILURE
            else:
                outputs = await asyncio.get_running_loop().run_in_executor(None, produce, sim, job)
                self._store(job, outputs)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a synthesis bug must fail the job visibly, never leave it running
            log.exception("simulator job %s failed", job.prompt_id)
            job.status, job.error = FAILED, f"Simulator error: {e}"
        job.finished = sim.now()
        self.publish(job)
        self.queue_changed(job.owner, job.prompt_id)
        self.kick()

    def _store(self, job: Job, outputs: list[Output]) -> None:
        for out in outputs:
            if out.reuse:
                job.media_ids.append(out.reuse)
            else:
                media = self.sim.add_media(job.owner, out.media_type, out.ext, out.content_type, out.data,
                                           out.size, source=job.prompt_id)
                job.media_ids.append(media.id)
        self.sim.users[job.owner].credits -= COST[job.op.returns]
        job.status = DONE


def primary_input(sim: Simulator, job: Job) -> Any:
    """The media an edit works on: the first top-level image or video field that was sent."""
    for f in job.op.fields:
        if f.media in ("image", "video") and job.inputs.get(f.name):
            return sim.media.get(job.inputs[f.name][0])
    return None


def produce(sim: Simulator, job: Job) -> list[Output]:
    """The result files of a job, deterministic from its promptId and seed (runs in a worker thread)."""
    source = primary_input(sim, job)
    label = f"{job.op.name} {job.prompt_id[:6]}"
    scale = SCALE.get(job.op.key, 1)
    outputs: list[Output] = []
    if job.op.returns == VIDEO:
        if job.op.key in LEADS_WITH_SOURCE and source is not None:
            outputs.append(Output(source.media_type, reuse=source.id))
        w, h = video_size(source, scale)
        data = make_mp4(w, h, sim.config.video_frames, sim.config.video_fps, f"{job.prompt_id}:{job.seed}", label)
        if (pad := sim.config.video_bytes - len(data)) >= 8:   # a trailing 'free' box, which MP4 readers skip
            data += pad.to_bytes(4, "big") + b"free" + bytes(pad - 8)
        outputs.append(Output("VIDEO", ext="mp4", content_type="video/mp4", data=data, size=(w, h)))
        return outputs
    if source is not None and source.width and source.media_type == "IMAGE":
        w, h = source.width * scale, source.height * scale
    else:
        w, h = image_size(job.request.get("aspectRatio"), bool(job.request.get("highResolution")))
    for i in range(IMAGE_COUNT.get(job.op.key, 1)):
        if sim.faults.take("result_png_huge"):
            size = (20000, 20000)
        elif sim.faults.take("result_png_large"):
            size = (12000, 12000)
        else:
            data = make_png(w, h, f"{job.prompt_id}:{job.seed}:{i}", label)
            outputs.append(Output("IMAGE", ext="png", content_type="image/png", data=data, size=(w, h)))
            continue
        outputs.append(Output("IMAGE", ext="png", content_type="image/png", data=png_header_only(*size), size=size))
    return outputs


def video_size(source: Any, scale: int) -> tuple[int, int]:
    """A video keeps its source's size (times `scale`), else an image source's size fitted into
    VIDEO_MAX_SIDE; even sides, as yuv420p needs."""
    if source is None or not source.width:
        return 128, 128
    w, h = source.width, source.height
    if source.media_type == "VIDEO":
        w, h = w * scale, h * scale
    limit = VIDEO_MAX_SIDE * (scale if source.media_type == "VIDEO" else 1)
    factor = min(1.0, limit / max(w, h))
    return max(2, int(w * factor) // 2 * 2), max(2, int(h * factor) // 2 * 2)
