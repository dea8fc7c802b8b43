"""`python -m bench [--quick] [--out FILE]` from the repository root: every figure of the pack's
own overhead, measured side by side in one run against the simulator on 127.0.0.1, printed as
a markdown table (figure | measured | target | pass/fail) and written to
bench/results/latest.md (git-ignored).

A missed target is reported, never fatal: the exit code is 1 only when a figure could not be
measured at all. `--quick` uses small sizes and few repetitions, for CI; its timings are not
meant to meet the targets.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from . import cancel, concurrency, imports, overhead, progress, video
from .env import ERROR, Row

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "latest.md"


def figures(quick: bool) -> list[tuple[str, Callable[[Path], list[Row]]]]:
    """(name, measure) per figure; the name labels the row when the figure fails."""
    size = 256 if quick else 1024
    return [
        ("per-image overhead and cached re-run",
         lambda d: overhead.measure(d, size, rounds=2 if quick else 7, repeats=3 if quick else 9)),
        ("progress latency", lambda d: progress.measure(d, quick)),
        ("concurrency", lambda d: concurrency.measure(d, 128 if quick else 512, 0.5 if quick else 2.0,
                                                      reps=1 if quick else 2)),
        ("video memory", lambda d: video.measure(d, (5 if quick else 50) * 10**6)),
        ("import time", lambda d: imports.measure(3 if quick else 7)),
        ("cancel latency under a frame flood", lambda d: cancel.measure(d, 3 if quick else 10)),
    ]


def environment() -> str:
    import PIL
    import torch

    return (f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"torch {torch.__version__}, Pillow {PIL.__version__}; the simulator runs on 127.0.0.1 in this process "
            "(the video figure's node in a child process)")


def render(rows: list[Row], png: list[str], quick: bool) -> str:
    lines = [f"# ComfyUI-AliveAI overhead benchmark ({'quick' if quick else 'full'} run)", "", environment(), "",
             "| figure | measured | target | pass/fail |", "|---|---|---|---|"]
    lines += [f"| {r.figure} | {r.measured} | {r.target} | {r.verdict} |" for r in rows]
    if png:
        lines += ["", "Upload PNG settings, bare Pillow encode + decode (best of several runs):", "", *png]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes and few repetitions (CI)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"markdown file to write (default {DEFAULT_OUT})")
    args = p.parse_args(argv)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="aliveai-bench-") as tmp:
        for i, (name, measure) in enumerate(figures(args.quick)):
            print(f"… {name}", file=sys.stderr, flush=True)
            try:
                rows += measure(Path(tmp) / str(i))
            except Exception as e:  # noqa: BLE001 - one broken figure must not hide the others; it fails the run
                traceback.print_exc()
                rows.append(Row(name, f"error: {type(e).__name__}: {e}".replace("|", "/")[:300], "", ERROR))
        try:
            png = overhead.png_table(256 if args.quick else 1024, tries=1 if args.quick else 3)
        except Exception as e:  # noqa: BLE001 - as above
            traceback.print_exc()
            rows.append(Row("PNG settings table", f"error: {type(e).__name__}: {e}", "", ERROR))
            png = []
    text = render(rows, png, args.quick)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, "utf-8")
    return 1 if any(r.verdict == ERROR for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
