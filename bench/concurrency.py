"""Concurrency: 8 independent Edit Image nodes awaited together, as ComfyUI runs the async
nodes of one prompt (asyncio.gather in one asyncio.run), against one node alone.

The simulator gets 16 worker slots and a pending cap of 16 so it is never the bottleneck. A node
that runs its blocking work through `asyncio.to_thread` gets the loop's default executor, which
has min(32, cores + 4) threads: the second row repeats the run with a 32-thread default executor,
which shows whether that limit is what holds the nodes back.
"""
from __future__ import annotations

import asyncio
import itertools
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .env import Row, defaults, median, ms, node, pack_on, photo, verdict

TARGET = 1.2
NODES = 8
_seeds = itertools.count(1000)


async def gather(inputs: list[dict], threads: int | None) -> float:
    if threads:
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(threads, thread_name_prefix="bench"))
    edit = node("AliveAIEditImage")
    t0 = time.perf_counter()
    await asyncio.gather(*(edit().run(unique_id=str(i), **kw) for i, kw in enumerate(inputs)))
    return time.perf_counter() - t0


def inputs(n: int, size: int) -> list[dict]:
    """n different pictures, so no node finds another's upload or result in a cache."""
    edit = node("AliveAIEditImage")
    return [{**defaults(edit), "prompt": "add a hat", "image": photo(size, next(_seeds))} for _ in range(n)]


def measure(workdir: Path, size: int, job_seconds: float, reps: int) -> list[Row]:
    from nodes.simulator import SimulatorThread

    default_threads = min(32, (os.cpu_count() or 1) + 4)
    with SimulatorThread(job_seconds=job_seconds, workers=2 * NODES, max_pending=2 * NODES) as sim, \
            pack_on(sim, workdir):
        asyncio.run(gather(inputs(1, size), None))   # warm-up
        one, many, wide = [], [], []
        for _ in range(reps):
            one.append(asyncio.run(gather(inputs(1, size), None)))
            many.append(asyncio.run(gather(inputs(NODES, size), None)))
            wide.append(asyncio.run(gather(inputs(NODES, size), 32)))
    base = median(one)
    rows = []
    runs = (("as ComfyUI runs them", many, f"; asyncio's default executor: {default_threads} threads"),
            ("with a 32-thread default executor", wide, ""))
    for label, walls, note in runs:
        ratio = median(walls) / base
        rows.append(Row(f"concurrency, {NODES} nodes vs 1, {label}",
                        f"{ratio:.2f}× ({ms(median(walls))} vs {ms(base)}; {size}×{size} images, "
                        f"{job_seconds:g} s jobs{note})", f"≤ {TARGET}× one job", verdict(ratio <= TARGET)))
    return rows
