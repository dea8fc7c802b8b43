"""Progress latency: from the simulator sending a prompt event to the client yielding it.

The simulator calls `on_event_sent(event)` just before it writes an event to a prompt websocket
(nodes/simulator/server.py); `Stamps` notes the first such moment per event. Simulator and
client share this process, so perf_counter times compare directly.

Three clients: `Job.events()` over the websocket, the node's status text (what a ComfyUI user
sees), and a polling client as the baseline. A poller receives no events, so an idle websocket
observer keeps the simulator sending (and stamping) them; each polled status is matched to the
stamp of the change it reports. Polling is chosen with `use_websocket=False` rather than the
ws_refuse fault, which would also refuse the observer and spend ~15 s on reconnect backoff.
"""
from __future__ import annotations

import re
import threading
import time
from pathlib import Path

from .env import INFO, Row, defaults, median, ms, node, pack_on, run_node, verdict

TARGET = 0.050
REQUEST = {"name": "Ada Lovelace", "appearance": "at her desk", "detailLevel": "MEDIUM", "aspectRatio": "SQUARE"}


class Stamps:
    """First send time per (promptId, what): ("progress", 25), ("done",) or ("queued", 2)."""

    def __init__(self) -> None:
        self.first: dict[tuple, float] = {}
        self._lock = threading.Lock()

    def __call__(self, event: dict) -> None:
        now = time.perf_counter()
        if event.get("isComplete"):
            what: tuple = ("done",)
        elif event.get("isError"):
            what = ("error",)
        elif event.get("queuePosition"):
            what = ("queued", int(event["queuePosition"]))
        else:
            what = ("progress", int(event.get("progress") or 0))
        with self._lock:
            self.first.setdefault((event.get("promptId"), *what), now)

    def latencies(self, prompt_id: str, seen: list[tuple[tuple, float]]) -> list[float]:
        return [t - self.first[(prompt_id, *what)] for what, t in seen if (prompt_id, *what) in self.first]


def status_key(ev) -> tuple | None:
    from nodes.client import Completed, Queued, Running

    if isinstance(ev, Running):
        return ("progress", round(ev.progress))
    if isinstance(ev, Completed):
        return ("done",)
    if isinstance(ev, Queued) and ev.position:
        return ("queued", ev.position)
    return None


def follow(client, stamps: Stamps, use_websocket: bool, observe: bool) -> list[float]:
    """Submit one job and return the latency of every status `Job.events()` yielded."""
    job = client.submit("create_prompt", {**REQUEST, "seed": str(time.monotonic_ns() % 10**9)})
    watcher = observer(client, job.prompt_id) if observe else None
    seen = []
    for ev in job.events(use_websocket=use_websocket):
        if (what := status_key(ev)) is not None:
            seen.append((what, time.perf_counter()))
    if watcher:
        watcher.join(5)
    return stamps.latencies(job.prompt_id, seen)


def observer(client, prompt_id: str) -> threading.Thread:
    """A bare websocket on the prompt that only reads, so the simulator sends its events."""
    import websocket

    url = f"{client.settings.ws_url}/ws/prompts/{prompt_id}"
    conn = websocket.create_connection(url, header=[f"Authorization: {client.transport.auth.header()}"], timeout=30)

    def drain() -> None:
        try:
            while frame := conn.recv():
                if '"isComplete": true' in frame or '"isComplete":true' in frame:
                    break
        except (websocket.WebSocketException, OSError):
            pass
        finally:
            conn.close()

    thread = threading.Thread(target=drain, name="bench-observer", daemon=True)
    thread.start()
    return thread


def node_status(stamps: Stamps) -> list[float]:
    """Latency of the Create Image node's status text: "running N%" and then "downloading"."""
    from nodes.comfy import bridge

    texts: list[tuple[float, str]] = []
    bridge.set_text_sink(lambda text, node_id: texts.append((time.perf_counter(), text)))
    try:
        create = node("AliveAICreateImage")
        _, out = run_node(create, unique_id="1", **{**defaults(create), "name": "Ada Lovelace",
                                                     "appearance": "at her desk"})
    finally:
        bridge.set_text_sink(None)
    seen, keys = [], set()
    for t, text in texts:
        m = re.search(r"running (\d+)%", text)
        what = ("progress", int(m.group(1))) if m else ("done",) if text.startswith("downloading") else None
        if what and what not in keys:   # heartbeats repeat the last text: only its first showing counts
            keys.add(what)
            seen.append((what, t))
    return stamps.latencies(out["result"][3], seen)


def measure(workdir: Path, quick: bool) -> list[Row]:
    from nodes.client import AliveAIClient
    from nodes.client.config import resolve
    from nodes.client.jobs import POLL_INTERVAL
    from nodes.simulator import DEFAULT_API_KEY, SimulatorThread

    steps = tuple(range(0, 101, 5))
    job_seconds, jobs = (1.0, 1) if quick else (2.0, 3)
    poll_job = 3.0 if quick else 9.0
    stamps = Stamps()
    with SimulatorThread(job_seconds=job_seconds, progress_steps=steps, workers=2) as sim, pack_on(sim, workdir):
        sim.state.on_event_sent = stamps
        settings = resolve(env={"ALIVEAI_BASE_URL": sim.base_url, "ALIVEAI_API_KEY": DEFAULT_API_KEY})
        with AliveAIClient(settings) as client:
            ws = [x for _ in range(jobs) for x in follow(client, stamps, use_websocket=True, observe=False)]
            shown = node_status(stamps)
            sim.state.config.job_seconds, sim.state.config.progress_steps = poll_job, tuple(range(0, 101, 10))
            polled = follow(client, stamps, use_websocket=False, observe=True)
    rows = []
    for name, values in (("websocket, Job.events()", ws), ("websocket, node status text", shown)):
        rows.append(Row(f"progress latency, {name}", spread(values), f"≤ {TARGET * 1000:.0f} ms median",
                        verdict(median(values) <= TARGET)))
    rows.append(Row(f"progress latency, polling every {POLL_INTERVAL:g} s (baseline)", spread(polled),
                    "baseline", INFO))
    return rows


def spread(values: list[float]) -> str:
    if not values:
        raise RuntimeError("no client status could be matched to a simulator event")
    return f"{ms(median(values))} median, {ms(max(values))} max, {len(values)} events"
