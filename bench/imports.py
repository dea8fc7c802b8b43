"""Import time: the pack loaded as ComfyUI loads a custom node folder, in a fresh interpreter
each time, timed around `exec_module` only (interpreter start-up is not the pack's).

The child runs outside the repository with no PYTHONPATH, as ComfyUI would: the pack must load
through its own relative imports. It reports which heavy modules the import pulled in.

Python caches compiled modules (`__pycache__`), so only the first start after an install or an
update compiles the pack; every later start reads bytecode. Both are measured, each on its own copy
of the pack's Python files in a temporary folder, so the repository gets no `__pycache__` and a
PYTHONDONTWRITEBYTECODE in the environment cannot turn one case into the other. A third row loads
the standard-library modules ComfyUI has always imported before its custom nodes (asyncio,
logging, json, ...) first, which leaves the pack's own share.
"""
from __future__ import annotations

import json
import os
import shutil
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


def copy_pack(dest: Path) -> Path:
    """The pack's Python files (the root `__init__.py` and `nodes/`) under `dest`, without caches."""
    shutil.copy2(ROOT / "__init__.py", dest / "__init__.py")
    shutil.copytree(ROOT / "nodes", dest / "nodes", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


def measure(runs: int) -> list[Row]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE",
                                                              "PYTHONPYCACHEPREFIX")}
    cold_env = {**env, "PYTHONDONTWRITEBYTECODE": "1"}
    cached, own, cold = [], [], []
    with tempfile.TemporaryDirectory(prefix="aliveai-bench-") as tmp:
        cwd, warm_pack, cold_pack = Path(tmp), Path(tmp, "warm"), Path(tmp, "cold")
        for d in (warm_pack, cold_pack):
            d.mkdir()
            copy_pack(d)
        child(cwd, env, (), warm_pack)   # the first start writes the bytecode cache, as ComfyUI's does
        for _ in range(runs):   # alternated, so all see the same machine load
            cached.append(child(cwd, env, (), warm_pack))
            own.append(child(cwd, env, COMFY_STDLIB, warm_pack))
            cold.append(child(cwd, cold_env, (), cold_pack))
    t, t_cold = median([r["seconds"] for r in cached]), median([r["seconds"] for r in cold])
    heavy = sorted({m for r in cached + cold for m in r["heavy"]})
    return [Row("import time (as ComfyUI imports the pack, fresh interpreter, bytecode cached: every start "
                "but the first)",
                f"{ms(t)} median of {runs}, {cached[0]['nodes']} nodes; heavy modules imported: "
                f"{', '.join(heavy) or 'none'}", f"≤ {TARGET * 1000:.0f} ms, heavy imports deferred",
                verdict(t <= TARGET and not heavy)),
            Row("import time, first start after an install or update (the pack compiled from source)",
                f"{ms(t_cold)} median of {runs}", "—", INFO),
            Row("import time, the pack's own modules (bytecode cached; stdlib ComfyUI already loaded)",
                f"{ms(median([r['seconds'] for r in own]))} median of {runs}", "—", INFO)]


def child(cwd: str | Path, env: dict, preload: tuple[str, ...], pack: Path = ROOT) -> dict:
    code = SCRIPT.format(init=str(pack / "__init__.py"), root=str(pack), heavy=HEAVY, preload=preload)
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"importing the pack failed: {proc.stderr.strip()[-800:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])
