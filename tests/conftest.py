"""Shared fixtures: a real simulator on loopback, a client pointed at it, and a ComfyUI-less
environment for the nodes (output and user dirs in tmp, status text recorded)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "aliveai" / "API.md"


@pytest.fixture
def sim():
    from nodes.simulator import SimulatorThread

    with SimulatorThread(job_seconds=0.2) as s:
        yield s


@pytest.fixture
def settings(sim):
    from nodes.client.config import resolve
    from nodes.simulator import DEFAULT_API_KEY

    return resolve(env={"ALIVEAI_BASE_URL": sim.base_url, "ALIVEAI_API_KEY": DEFAULT_API_KEY})


@pytest.fixture
def client(settings):
    from nodes.client import AliveAIClient

    with AliveAIClient(settings, backoff_factor=0.01) as c:
        yield c


@pytest.fixture
def comfy(sim, tmp_path, monkeypatch):
    """The node layer outside ComfyUI, talking to the simulator; returns the recorded status texts."""
    from nodes import media, pixel_cache
    from nodes.comfy import bridge, catalogs, session
    from nodes.simulator import DEFAULT_API_KEY

    from nodes.comfy.prefs import PREFS

    for k in ("ALIVEAI_EMAIL", "ALIVEAI_PASSWORD", *(p.env for p in PREFS.values())):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("ALIVEAI_BASE_URL", sim.base_url)
    monkeypatch.setenv("ALIVEAI_API_KEY", DEFAULT_API_KEY)
    monkeypatch.setenv("ALIVEAI_OUTPUT_DIR", str(tmp_path / "output"))
    monkeypatch.setenv("ALIVEAI_USER_DIR", str(tmp_path / "user"))
    monkeypatch.setenv("ALIVEAI_CACHE_DIR", str(tmp_path / "cache"))
    texts: list[tuple[str, str]] = []
    bridge.set_text_sink(lambda text, node: texts.append((node, text)))
    session.reset()
    media.UPLOADS.clear()
    pixel_cache.DECODED.clear()
    pixel_cache.ON_DISK.forget_totals()
    catalogs.CATALOGS.clear()
    yield texts
    bridge.set_text_sink(None)
    session.reset()
    media.UPLOADS.clear()
    catalogs.CATALOGS.clear()


@pytest.fixture
def user_dir(tmp_path, monkeypatch):
    """A user folder of its own for the routes and the settings file, with no credentials in the
    environment."""
    from nodes.comfy import routes, session

    for name in routes.ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ALIVEAI_USER_DIR", str(tmp_path / "user"))

    def fresh():
        session.reset()
        routes.STATUS.clear()
        routes._CLIENTS.reset()

    fresh()
    yield tmp_path / "user"
    fresh()


def pytest_report_header(config):
    return f"AliveAI reference: {REFERENCE if REFERENCE.exists() else 'not found'}; cwd {os.getcwd()}"


@pytest.fixture
def node(comfy, sim, monkeypatch):
    """The node layer against the simulator with short client timings and a fresh spend count;
    returns the status texts (see `comfy`)."""
    from support import fast_client

    from nodes.comfy import spend

    fast_client(monkeypatch)
    spend.reset()
    yield comfy
    spend.reset()


@pytest.fixture
def interrupt(monkeypatch):
    """ComfyUI's interrupt flag (Cancel in the UI), flipped by the test."""
    import threading

    from nodes.comfy import bridge

    flag = threading.Event()
    monkeypatch.setattr(bridge, "is_interrupted", flag.is_set)
    return flag
