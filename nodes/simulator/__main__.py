"""`python -m nodes.simulator [--port 8765] [--job-seconds 2] [--fault ws_drop] ...` (from the
repository root): serve the simulator in the foreground until Ctrl-C, printing the base URL
and the credentials to use.

Settings of the server (`--max-upload-bytes`, `--max-pending`, ...) are options; faults are
`--fault NAME[=VALUE]`. A setting given as a fault, or a port in use, is one line naming what to
type instead, never a traceback."""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import signal
import sys

from ..api import BY_KEY, overrides
from ..errors import AliveAIError
from .faults import Faults
from .runner import make_simulator, serve
from .state import DEFAULT_API_KEY, DEFAULT_EMAIL, DEFAULT_PASSWORD, SimConfig

# A port someone else listens on: EADDRINUSE on POSIX, WSAEADDRINUSE on Windows.
PORT_IN_USE = {errno.EADDRINUSE, 10048}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    faults = "\n".join(f"  {name}: {text}" for name, text in Faults.describe().items())
    p = argparse.ArgumentParser(prog="python -m nodes.simulator", description="Local AliveAI API simulator.",
                                epilog="faults (--fault NAME or NAME=VALUE):\n" + faults +
                                "\n\nA server restart mid-job: POST /_sim/restart {\"seconds\": 1}.",
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0: any free port)")
    p.add_argument("--job-seconds", type=float, default=0.3, help="running time of one job")
    p.add_argument("--workers", type=int, default=2, help="jobs running at once, across users")
    p.add_argument("--max-pending", type=int, default=8, help="per-user cap on queued + running jobs")
    p.add_argument("--url-ttl", type=int, default=3600, help="seconds a media URL stays valid")
    p.add_argument("--max-upload-bytes", type=int, default=SimConfig.max_upload_bytes, metavar="N",
                   help="largest upload accepted; a larger one is HTTP 413 (default 50 MiB)")
    p.add_argument("--api-key", action="append", dest="api_keys", metavar="KEY",
                   help=f"a valid API key, one user per key (default {DEFAULT_API_KEY})")
    p.add_argument("--replay-on-connect", action="store_true", help="send the current state when a prompt socket opens")
    p.add_argument("--move-path", action="append", default=[], metavar="OP_KEY=[METHOD ]/PATH",
                   help="serve an operation at another path (e.g. delete_from_queue=/prompts/queue), as a live "
                        "API whose path differs from the table would")
    p.add_argument("--fault", action="append", default=[], metavar="NAME[=VALUE]", help="switch a fault on")
    return p.parse_args(argv)


def moved_paths(specs: list[str]) -> dict[str, str]:
    out = {}
    for spec in specs:
        key, eq, path = spec.partition("=")
        if not eq:
            raise ValueError(f"--move-path {spec!r}: expected OP_KEY=/path")
        out[key.strip()] = path.strip()
    overrides.parse(out, "--move-path", BY_KEY)   # a typo is an error now, not a silent normal route
    return out


def setting_given_as_fault(specs: list[str]) -> str | None:
    """The first --fault that names a server setting (e.g. max_upload_bytes=200), as the option to use."""
    settings = set(SimConfig.__dataclass_fields__)
    for spec in specs:
        name, _, value = spec.partition("=")
        if name.strip() in settings and name.strip() not in Faults.names():
            return f"--{name.strip().replace('_', '-')}" + (f" {value}" if value else " N")
    return None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    option = setting_given_as_fault(args.fault)
    if option:
        print(f"error: {option.split()[0][2:].replace('-', '_')} is a setting of the simulator, not a fault: "
              f"use {option}", file=sys.stderr)
        return 2
    try:
        sim = make_simulator(args.fault, job_seconds=args.job_seconds, workers=args.workers,
                             max_pending=args.max_pending, url_ttl=args.url_ttl,
                             max_upload_bytes=args.max_upload_bytes,
                             api_keys=tuple(args.api_keys or (DEFAULT_API_KEY,)),
                             replay_on_connect=args.replay_on_connect, moved_paths=moved_paths(args.move_path))
    except (TypeError, ValueError, AliveAIError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    def ready(base_url: str) -> None:
        print(f"AliveAI simulator at {base_url}", flush=True)
        print(f"  API key: {sim.default_user.api_key}   login: {DEFAULT_EMAIL} / {DEFAULT_PASSWORD}", flush=True)
        active = {k: v for k, v in sim.faults.as_dict().items() if v}
        if active:
            print(f"  faults: {active}", flush=True)
        print("  Ctrl-C to stop", flush=True)

    async def run() -> None:
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            # Also when SIGINT is ignored (started in the background); Windows has no loop signal handlers.
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        await serve(sim, args.port, ready, stop)

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run())
    except OSError as e:
        if e.errno in PORT_IN_USE:
            print(f"error: port {args.port} on 127.0.0.1 is already in use (another simulator or ComfyUI?): "
                  "stop that program, or pick another port with --port N (--port 0: any free port)", file=sys.stderr)
        else:
            print(f"error: cannot listen on 127.0.0.1:{args.port}: {e.strerror or e}", file=sys.stderr)
        return 2
    print("AliveAI simulator stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
