"""Helpers shared by the reliability, secrets and load tests: run a node as ComfyUI does, its
widget defaults, a test image, short timings for the client, and the simulator's bill."""
from __future__ import annotations

import asyncio
import contextlib
import threading
import time

import torch

from nodes.comfy import NODE_CLASS_MAPPINGS
from nodes.comfy.widgets import widget_defaults

CREATE = NODE_CLASS_MAPPINGS["AliveAICreateImage"]
EDIT = NODE_CLASS_MAPPINGS["AliveAIEditImage"]
I2V = NODE_CLASS_MAPPINGS["AliveAIImageToVideo"]


def run(node_cls, **kwargs):
    """Await the node's async FUNCTION in a fresh event loop, as ComfyUI runs a prompt."""
    return asyncio.run(getattr(node_cls(), node_cls.FUNCTION)(**kwargs))


defaults = widget_defaults  # the values a freshly added node sends


def create_kw(seed: int = 0, **over) -> dict:
    return {**defaults(CREATE), "name": "Ada Lovelace", "appearance": "at her desk", "seed": seed, **over}


def image(h: int = 32, w: int = 48, b: int = 1, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (b, h, w, 3), generator=g).float() / 255.0


def fast_client(monkeypatch) -> None:
    """Short waits everywhere a test would otherwise sleep for real-world seconds."""
    from nodes.client import AliveAIClient
    from nodes.client import client as client_mod
    from nodes.client import jobs
    from nodes.comfy import session

    monkeypatch.setattr(jobs, "HEARTBEAT", 0.2)
    monkeypatch.setattr(jobs, "POLL_INTERVAL", 0.2)
    monkeypatch.setattr(jobs, "SILENT_CHECK", 0.5)
    monkeypatch.setattr(jobs, "GONE_RECHECK", 0.2)
    monkeypatch.setattr(client_mod, "QUEUE_FULL_STEP", 0.1)
    monkeypatch.setattr(client_mod, "LOOKUP_DELAY", 0.2)
    monkeypatch.setattr(session, "AliveAIClient", lambda s, **kw: AliveAIClient(s, **{**kw, "backoff_factor": 0.01}))


def assert_injected(sim, *names: str) -> None:
    """Each named fault was really played at least once (counted by the simulator's `take`/`on`).

    Every test that sets a fault calls this for each fault it sets, so a scenario that silently
    stops being played fails its test instead of passing for the wrong reason
    (test_reliability.py's `test_every_fault_test_asserts_its_injections` checks that statically).
    `sim` is a SimulatorThread, a Simulator or a Faults."""
    faults = sim.state.faults if hasattr(sim, "state") else getattr(sim, "faults", sim)
    missing = {name: faults.count(name) for name in names if faults.count(name) < 1}
    assert not missing, f"fault(s) set but never injected: {', '.join(missing)}"


def creates(sim) -> int:
    return sum(sim.state.counters.creates.values())


def wait_for(predicate, timeout: float = 10.0, step: float = 0.02) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("condition not reached in time")
        time.sleep(step)


def running(sim) -> bool:
    return any(j.status == "RUNNING" for j in list(sim.state.jobs.values()))


def later(predicate, action, timeout: float = 10.0) -> threading.Thread:
    """Run `action` in a thread once `predicate` holds (e.g. flip the interrupt flag mid-job)."""
    def go():
        wait_for(predicate, timeout)
        action()
    t = threading.Thread(target=go, daemon=True)
    t.start()
    return t


ENV_NAMES = ("ALIVEAI_API_KEY", "ALIVEAI_EMAIL", "ALIVEAI_PASSWORD", "ALIVEAI_RUNNING_TIMEOUT",
             "ALIVEAI_CREDIT_BUDGET", "ALIVEAI_MIN_CREDITS", "ALIVEAI_PIXEL_CACHE_MB")


@contextlib.contextmanager
def node_env(monkeypatch, tmp_path, base_url: str, **env: str):
    """Like conftest's `comfy`, for a simulator of the test's own: the node layer outside ComfyUI,
    folders in tmp_path, short client timings. Yields the status lines the nodes sent."""
    from nodes import media
    from nodes.comfy import bridge, session, spend

    fast_client(monkeypatch)
    for k in ENV_NAMES:
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("ALIVEAI_BASE_URL", base_url)
    monkeypatch.setenv("ALIVEAI_OUTPUT_DIR", str(tmp_path / "output"))
    monkeypatch.setenv("ALIVEAI_USER_DIR", str(tmp_path / "user"))
    monkeypatch.setenv("ALIVEAI_CACHE_DIR", str(tmp_path / "cache"))
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    texts: list[str] = []
    bridge.set_text_sink(lambda text, node: texts.append(text))
    session.reset()
    spend.reset()
    media.UPLOADS.clear()
    try:
        yield texts
    finally:
        bridge.set_text_sink(None)
        session.reset()
        spend.reset()
        media.UPLOADS.clear()
