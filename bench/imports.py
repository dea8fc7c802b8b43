"""Import time: the pack loaded as ComfyUI loads a custom node folder, in a fresh interpreter
each time, timed around `exec_module` only (interpreter start-up is not the pack's).

The child runs outside the repository with no PYTHONPATH, as ComfyUI would: the pack must load
through its own relative imports. It reports which heavy modules the import pulled in. A second
row loads the standard-library modules ComfyUI has always imported before its custom nodes
(asyncio, logging, json, ...) first, which leaves the pack's own share.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from .env import INFO, Row, median, ms, verdict

ROOT = Path(__file__).resolve().parents[1]
TARGET = 0.100
HEAVY = ("torch", "PIL", "numpy", "av", "aiohttp", "requests", "websocket")
# Loaded by ComfyUI's own start-up (server, execution, logging) long before custom nodes.
COMFY_STDLIB = ("asyncio", "concurrent.futures", "dataclasses", "email.utils", "hashlib", "html", "inspect", "json",
                "logging", "pathlib", "shutil", "socket", "ssl", "subprocess", "tempfile", "threading", "typing",
                "urllib.parse", "uuid")
SCRIPT = """
import importlib, importlib.util, sys, time
for name in {preload!r}:
    importlib.import_module(name)
t0 = time.perf_counter()
spec = importlib.util.spec_from_file_location("custom_nodes_x_ComfyUI-AliveAI", {init!r},
                                              submodule_search_locations=[{root!r}])
module = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = module
spec.loader.exec_module(module)
seconds = time.perf_counter() - t0
import json
print(json.dumps({{"seconds": seconds, "nodes": len(module.NODE_CLASS_MAPPINGS),
                  "heavy": [m for m in {heavy!r} if m in sys.modules]}}))
"""


def measure(runs: int) -> list[Row]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    fresh, warm = [], []
    with tempfile.TemporaryDirectory(prefix="aliveai-bench-") as cwd:
        for _ in range(runs):   # alternated, so both see the same machine load
            fresh.append(child(cwd, env, ()))
            warm.append(child(cwd, env, COMFY_STDLIB))
    t = median([r["seconds"] for r in fresh])
    heavy = sorted({m for r in fresh for m in r["heavy"]})
    return [Row("import time (as ComfyUI imports the pack, fresh interpreter)",
                f"{ms(t)} median of {runs}, {fresh[0]['nodes']} nodes; heavy modules imported: "
                f"{', '.join(heavy) or 'none'}", f"≤ {TARGET * 1000:.0f} ms, heavy imports deferred",
                verdict(t <= TARGET and not heavy)),
            Row("import time, the pack's own modules (stdlib ComfyUI already loaded)",
                f"{ms(median([r['seconds'] for r in warm]))} median of {runs}", "—", INFO)]


def child(cwd: str, env: dict, preload: tuple[str, ...]) -> dict:
    code = SCRIPT.format(init=str(ROOT / "__init__.py"), root=str(ROOT), heavy=HEAVY, preload=preload)
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"importing the pack failed: {proc.stderr.strip()[-800:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])
