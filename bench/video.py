"""Video memory: a large video result downloaded to disk by the Image To Video node.

The simulator pads its video results to the wanted size (SimConfig.video_bytes, an MP4 'free'
box). It holds every result in memory, so the node runs in a child process (`python -m
bench.video`): the child's peak RSS growth, sampled every 2 ms by a thread, is the pack's alone.
Modules the node needs anyway (torch, PIL, requests, websocket) are imported before the
baseline, as ComfyUI has them loaded. `av` staying unimported shows no frame was decoded.
"""
from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

from .env import Row, pack_on, verdict

ROOT = Path(__file__).resolve().parents[1]
TARGET = 1.5


def measure(workdir: Path, size: int) -> list[Row]:
    from nodes.simulator import SimulatorThread

    with SimulatorThread(job_seconds=0.3, video_bytes=size) as sim, pack_on(sim, workdir):
        proc = subprocess.run([sys.executable, "-m", "bench.video"], cwd=ROOT, capture_output=True, text=True,
                              timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"the video child failed: {proc.stderr.strip()[-800:]}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    ratio = r["peak_growth"] / r["file_size"]
    return [Row(f"video memory ({r['file_size'] / 1e6:.0f} MB video result to disk)",
                f"{ratio:.2f}× the file (peak RSS +{r['peak_growth'] / 1e6:.1f} MB); "
                f"{'frames decoded (av imported)' if r['av_imported'] else 'no frame decoded'}; "
                f"{r['wall']:.2f} s", f"≤ {TARGET}× file size, no full decode",
                verdict(ratio <= TARGET and not r["av_imported"]))]


def child() -> dict:
    import psutil
    import requests  # noqa: F401 - loaded before the baseline: ComfyUI has it, and it is not the download's cost
    import torch  # noqa: F401 - likewise
    import websocket  # noqa: F401 - likewise
    from PIL import Image, PngImagePlugin  # noqa: F401 - likewise

    from .env import defaults, node, photo, run_node

    i2v = node("AliveAIImageToVideo")
    kwargs = {**defaults(i2v), "text": "she smiles", "image": photo(256, 1)}
    proc = psutil.Process()
    base = proc.memory_info().rss
    peak = [base]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.002):
            peak[0] = max(peak[0], proc.memory_info().rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    wall, out = run_node(i2v, unique_id="1", **kwargs)
    done.set()
    sampler.join()
    peak[0] = max(peak[0], proc.memory_info().rss)
    path = Path(out["result"][0].get_stream_source())
    return {"peak_growth": peak[0] - base, "file_size": path.stat().st_size, "wall": wall,
            "av_imported": "av" in sys.modules}


if __name__ == "__main__":
    print(json.dumps(child()))
