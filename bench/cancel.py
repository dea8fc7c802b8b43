"""Cancel latency under a websocket frame flood: from ComfyUI's interrupt flag to the cancel
request (Delete From Queue) and to the node's error.

The simulator's `ws_flood` fault repeats a running job's state every 0.05 s and never sends news,
the worst case for a follower that waits on frames: it must still check the interrupt on its own
clock (one heartbeat, 1 s by default). The flag is set at a random moment of the heartbeat cycle
once the flood has run for a while; the client's default timings are used.
"""
from __future__ import annotations

import random
import threading
import time
from pathlib import Path

from .env import Row, defaults, median, ms, node, pack_on, run_node, verdict

TARGET = 1.5


def measure(workdir: Path, runs: int) -> list[Row]:
    from nodes.client import AliveAIClient
    from nodes.comfy import bridge
    from nodes.simulator import SimulatorThread

    create = node("AliveAICreateImage")
    flag = threading.Event()
    cancel_at: list[float] = []
    real_cancel, real_interrupted = AliveAIClient.cancel, bridge.is_interrupted

    def timed_cancel(self, prompt_id):
        cancel_at.append(time.perf_counter())
        return real_cancel(self, prompt_id)

    to_request, to_error = [], []
    rng = random.Random(11)
    with SimulatorThread(job_seconds=2.0) as sim, pack_on(sim, workdir):
        AliveAIClient.cancel, bridge.is_interrupted = timed_cancel, flag.is_set
        try:
            sim.state.faults.update({"ws_flood": True, "job_hang": True})
            for i in range(runs):
                flag.clear()
                cancel_at.clear()
                start = sim.state.faults.count("ws_flood")
                kwargs = {**defaults(create), "name": "Ada Lovelace", "appearance": "at her desk", "seed": 1000 + i}
                err: list[BaseException] = []
                done = threading.Event()
                threading.Thread(target=run_until_error, args=(create, kwargs, err, done), daemon=True).start()
                while sim.state.faults.count("ws_flood") < start + 20:   # the flood has run ~1 s
                    time.sleep(0.01)
                time.sleep(rng.uniform(0, 1.0))                          # anywhere in a heartbeat cycle
                t0 = time.perf_counter()
                flag.set()
                if not done.wait(30):
                    raise RuntimeError("the node did not return within 30 s of the interrupt")
                t1 = time.perf_counter()
                if not (err and isinstance(err[0], bridge.Interrupted)):
                    raise RuntimeError(f"expected an interrupt, got {err[:1]!r}")
                to_request.append(cancel_at[0] - t0)
                to_error.append(t1 - t0)
                # The cancelled job was running: let it finish, or the account's pending limit fills up.
                sim.state.faults.set("job_hang", False)
                while any(j.status in ("RUNNING", "QUEUED") for j in list(sim.state.jobs.values())):
                    time.sleep(0.05)
                sim.state.faults.set("job_hang", True)
        finally:
            AliveAIClient.cancel, bridge.is_interrupted = real_cancel, real_interrupted
            sim.state.faults.reset()
    return [Row("cancel latency under a frame flood, to the cancel request", spread(to_request),
                f"≤ {TARGET} s max", verdict(max(to_request) <= TARGET)),
            Row("cancel latency under a frame flood, to the node's error", spread(to_error),
                f"≤ {TARGET} s max", verdict(max(to_error) <= TARGET))]


def run_until_error(create: type, kwargs: dict, err: list, done: threading.Event) -> None:
    try:
        run_node(create, unique_id="1", **kwargs)
    except BaseException as e:  # noqa: BLE001 - the interrupt is the expected outcome; measure() checks it
        err.append(e)
    finally:
        done.set()


def spread(values: list[float]) -> str:
    return f"median {ms(median(values))}, max {ms(max(values))} ({len(values)} runs)"
