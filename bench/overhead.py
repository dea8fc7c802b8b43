"""Per-image overhead and cached re-runs of the Edit Image node, plus the PNG settings table.

Per-image overhead = (node wall time - the simulator's own job time) / (bare PNG encode +
decode of the same picture). The job time (create to result stored, on the simulator's clock)
is what AliveAI would spend anyway; the rest is the pack: conversion, hashing, encoding,
upload, create, following, download, decoding. The bare codec is plain Pillow at
compress_level 1 (its fastest real compression), a fixed yardstick that does not move when the
pack changes its own encoder. It is timed beside each node run, so both see the same machine
load; each round's ratio is taken first and the median reported.
"""
from __future__ import annotations

import io
import time
import zlib
from pathlib import Path

from .env import Row, defaults, median, ms, node, pack_on, photo, restart, run_node, verdict

EDIT = "AliveAIEditImage"
OVERHEAD_TARGET = 1.3
CACHED_TARGET = 0.010
UPLINK_MBIT = 20   # a typical home uplink, to weigh bytes against milliseconds in the PNG table
BARE = {"compress_level": 1}


def to_uint8(image):
    """The pack's rounding, outside the timed part: the bare codec starts from uint8 pixels."""
    import torch

    return image[0].mul(255).round_().clamp_(0, 255).to(torch.uint8).numpy()


def bare_codec(pixels, options: dict) -> tuple[float, bytes]:
    """Seconds for PIL to encode uint8 pixels to PNG and decode them back to an array."""
    import numpy as np
    from PIL import Image

    t0 = time.perf_counter()
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG", **options)
    data = buf.getvalue()
    with Image.open(io.BytesIO(data)) as img:
        np.asarray(img)
    return time.perf_counter() - t0, data


def measure(workdir: Path, size: int, rounds: int, repeats: int) -> list[Row]:
    from nodes.simulator import SimulatorThread

    edit = node(EDIT)
    kw = {**defaults(edit), "prompt": "add a hat"}
    with SimulatorThread(job_seconds=0.3, workers=4) as sim, pack_on(sim, workdir):
        run_node(edit, unique_id="1", image=photo(size, 999), **kw)     # warm-up: imports, pools, connection
        bare_codec(to_uint8(photo(size, 998)), BARE)
        ratios, walls, jobs, codecs = [], [], [], []
        for i in range(rounds):
            image = photo(size, i)
            codec, png = bare_codec(to_uint8(image), BARE)
            wall, out = run_node(edit, unique_id="1", image=image, **kw)
            job = sim.state.jobs[out["result"][3]]
            job_time = job.finished - job.created
            ratios.append((wall - job_time) / codec)
            walls.append(wall)
            jobs.append(job_time)
            codecs.append(codec)
        overhead = median(walls) - median(jobs)
        ratio = median(ratios)
        rows = [Row(f"per-image overhead ({size}×{size} IMAGE, Edit Image)",
                    f"{ratio:.2f}× ({ms(overhead)} over the job vs {ms(median(codecs))} bare Pillow PNG "
                    f"encode+decode of a {len(png) / 1e6:.2f} MB PNG; median of {rounds})",
                    f"≤ {OVERHEAD_TARGET}×", verdict(ratio <= OVERHEAD_TARGET))]
        rows += cached(sim, edit, dict(kw, image=image), repeats)
    return rows


def cached(sim, edit, kw: dict, repeats: int) -> list[Row]:
    """The last round's node again: same process, then after a simulated restart each time.
    After a restart the result's pixels come from the disk cache (`nodes/pixel_cache.py`); what
    decoding the PNG instead would cost alone is shown beside."""
    counters = sim.state.counters
    rows = []
    for label in ("same process", "after a restart"):
        uploads, creates = counters.uploads, sum(counters.creates.values())
        times, decodes = [], []
        for _ in range(repeats):
            if label == "after a restart":
                restart()
            wall, out = run_node(edit, unique_id="1", **kw)
            times.append(wall)
            decodes.append(decode_result(out))
        du, dc = counters.uploads - uploads, sum(counters.creates.values()) - creates
        t = median(times)
        note = f" (a bare Pillow decode of the result PNG alone: {ms(median(decodes))})" \
            if label == "after a restart" else ""
        rows.append(Row(f"cached re-run, {label}", f"{ms(t)}{note}, {du} uploads, {dc} creates (median of {repeats})",
                        f"≤ {CACHED_TARGET * 1000:.0f} ms, 0 uploads, 0 creates",
                        verdict(t <= CACHED_TARGET and du == 0 and dc == 0)))
    return rows


def decode_result(out: dict) -> float:
    """Seconds for bare Pillow to decode the node's result file into an array."""
    import os

    import numpy as np
    from PIL import Image

    shown = out["ui"]["images"][0]
    path = Path(os.environ["ALIVEAI_OUTPUT_DIR"]) / shown["subfolder"] / shown["filename"]
    t0 = time.perf_counter()
    with Image.open(path) as img:
        np.asarray(img)
    return time.perf_counter() - t0


SETTINGS = (
    ("Pillow level 0 (stored)", {"compress_level": 0}),
    ("Pillow level 1 (the yardstick)", BARE),
    ("Pillow level 6 (its default)", {"compress_level": 6}),
    ("Pillow level 9", {"compress_level": 9}),
    ("Pillow level 1, Z_HUFFMAN_ONLY", {"compress_level": 1, "compress_type": zlib.Z_HUFFMAN_ONLY}),
    ("Pillow level 1, Z_RLE", {"compress_level": 1, "compress_type": zlib.Z_RLE}),
    ("the pack: Sub filter, Z_RLE, level 1", None),
)


def pack_codec(pixels, _options) -> tuple[float, bytes]:
    """Like `bare_codec`, encoding with the pack's own writer (media.image_to_pngs)."""
    import numpy as np
    from PIL import Image

    from nodes import media

    t0 = time.perf_counter()
    data = media.image_to_pngs(pixels)[0]
    with Image.open(io.BytesIO(data)) as img:
        np.asarray(img)
    return time.perf_counter() - t0, data


def png_table(size: int, tries: int) -> list[str]:
    """Markdown rows: encode + decode time (best of `tries`) and size per PNG setting, for the
    photo-like input and for a flat render (the simulator's synthetic result)."""
    import numpy as np
    from PIL import Image

    from nodes.simulator.synth import make_png

    pictures = [to_uint8(photo(size, 7))]
    with Image.open(io.BytesIO(make_png(size, size, "bench", "render"))) as img:
        pictures.append(np.asarray(img.convert("RGB")))
    lines = [f"| PNG setting ({size}×{size}) | photo: encode+decode | photo: size | photo: upload at "
             f"{UPLINK_MBIT} Mbit/s | render: encode+decode | render: size |", "|---|---|---|---|---|---|"]
    for name, options in SETTINGS:
        codec = bare_codec if options is not None else pack_codec
        cells = [min(codec(pixels, options) for _ in range(tries)) for pixels in pictures]
        (pt, photo_png), (rt, render_png) = cells
        lines.append(f"| {name} | {ms(pt)} | {len(photo_png) / 1e6:.2f} MB | "
                     f"{len(photo_png) * 8 / (UPLINK_MBIT * 1e6):.2f} s | {ms(rt)} | {len(render_png) / 1e6:.3f} MB |")
    return lines
