"""`python -m bench --quick` runs end to end and prints a row for every figure. Timings are
never asserted: CI machines are too noisy, and the table is for people to read."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import ROOT

ROWS = ("per-image overhead", "cached re-run, same process", "cached re-run, after a restart",
        "progress latency, websocket, Job.events()", "progress latency, websocket, node status text",
        "progress latency, polling", "concurrency, 8 nodes vs 1", "video memory", "import time")


@pytest.mark.timeout(180)
def test_quick_bench_runs_and_prints_every_figure(tmp_path):
    out = tmp_path / "bench.md"
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--out", str(out)], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    for row in ROWS:
        assert f"| {row}" in proc.stdout, f"no row for {row!r}"
    assert "| error |" not in proc.stdout
    assert out.read_text("utf-8") in proc.stdout


def test_importing_the_pack_as_comfyui_does_loads_no_heavy_module(tmp_path):
    """ComfyUI imports every pack at start-up: torch, PIL, numpy, av, aiohttp, requests and
    websocket-client must wait until a node runs. (bench/imports.py also times the import.)"""
    from bench.imports import child

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = child(str(tmp_path), env, ())
    assert result["nodes"] > 0 and result["heavy"] == []
