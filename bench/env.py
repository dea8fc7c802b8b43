"""What every figure shares: a row of the result table, a simulator with the nodes pointed at
it, synthetic inputs, and timing helpers.

- Nodes run exactly as in tests/test_nodes.py: environment variables name the simulator and
  the output / user folders, and `await node.run(...)` is timed inside the event loop, because
  ComfyUI runs a whole prompt under one loop and never pays a loop start-up per node.
- The input picture is photo-like (smooth shapes plus sensor-like grain), not noise and not a
  flat render: PNG cost depends on the content, and a photo is the usual edit input.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PASS, FAIL, INFO, ERROR = "pass", "FAIL", "—", "error"


@dataclass
class Row:
    figure: str
    measured: str
    target: str
    verdict: str   # PASS, FAIL, INFO (no target) or ERROR


def verdict(ok: bool) -> str:
    return PASS if ok else FAIL


@contextlib.contextmanager
def pack_on(sim: Any, workdir: Path) -> Iterator[None]:
    """Point the nodes at `sim` with fresh output and user folders; undo it afterwards."""
    from nodes.simulator import DEFAULT_API_KEY

    names = ("ALIVEAI_BASE_URL", "ALIVEAI_API_KEY", "ALIVEAI_EMAIL", "ALIVEAI_PASSWORD", "ALIVEAI_OUTPUT_DIR",
             "ALIVEAI_USER_DIR", "ALIVEAI_CACHE_DIR")
    saved = {k: os.environ.get(k) for k in names}
    for k in ("ALIVEAI_EMAIL", "ALIVEAI_PASSWORD"):
        os.environ.pop(k, None)
    os.environ.update(ALIVEAI_BASE_URL=sim.base_url, ALIVEAI_API_KEY=DEFAULT_API_KEY,
                      ALIVEAI_OUTPUT_DIR=str(workdir / "output"), ALIVEAI_USER_DIR=str(workdir / "user"),
                      ALIVEAI_CACHE_DIR=str(workdir / "cache"))
    restart()
    try:
        yield
    finally:
        restart()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def restart() -> None:
    """What a ComfyUI restart forgets: the client, the upload cache and the decoded pixels in
    memory. The request cache and the decoded pixels on disk stay."""
    from nodes import media, pixel_cache
    from nodes.comfy import session

    session.reset()
    media.UPLOADS.clear()
    pixel_cache.DECODED.clear()
    pixel_cache.ON_DISK.forget_totals()


def node(key: str) -> type:
    from nodes.comfy import NODE_CLASS_MAPPINGS

    return NODE_CLASS_MAPPINGS[key]


def defaults(node_cls: type) -> dict:
    """The values a freshly added node sends (imported late: the bench times imports)."""
    from nodes.comfy.widgets import widget_defaults

    return widget_defaults(node_cls)


async def timed_run(node_cls: type, **kwargs: Any) -> tuple[float, Any]:
    """(seconds, output) of one awaited node run."""
    t0 = time.perf_counter()
    out = await node_cls().run(**kwargs)
    return time.perf_counter() - t0, out


def run_node(node_cls: type, **kwargs: Any) -> tuple[float, Any]:
    return asyncio.run(timed_run(node_cls, **kwargs))


def photo(size: int, seed: int):
    """IMAGE [1,size,size,3] float32: smooth shapes plus grain of about 2 % (a photo's noise)."""
    import numpy as np
    import torch

    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / np.float32(size)
    base = np.stack([0.5 + 0.4 * np.sin(6 * x + 2 * y), 0.5 + 0.4 * np.cos(5 * y - 3 * x * y), (x + y) / 2], -1)
    grain = np.random.default_rng(seed).normal(0, 0.02, base.shape).astype(np.float32)
    return torch.from_numpy(np.clip(base + grain, 0, 1))[None]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"
