"""The README's first command: text -> image -> video with AliveAI, written to an output folder.

    python -m nodes.demo [--out DIR] [--prompt TEXT] [--simulator]

With ALIVEAI_API_KEY (or ALIVEAI_EMAIL/ALIVEAI_PASSWORD) set it uses the API at ALIVEAI_BASE_URL
(default: AliveAI's) and spends credits; without, it starts the built-in simulator in-process and
says so. It needs only requirements.txt (no torch): it drives the client layer the nodes use.

What a user meets first is said in one line, never a traceback: a base URL that cannot be used or
reached (named as ALIVEAI_BASE_URL, before anything is sent: a TCP connect, no key, no retries), and
Ctrl-C (the running job's prompt_id, and whether it was removed from the queue or may still be billed).
"""
from __future__ import annotations

import argparse
import ipaddress
import json
import os
import signal
import socket
import sys
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

from .client import AliveAIClient, Completed, Failed, Notice, Queued, Running, resolve
from .errors import AliveAIError, ConfigError
from .store import ResultStore

REACH_TIMEOUT = 5.0      # seconds for the TCP connect that checks the base URL before anything is sent
EXAMPLE_URL = "http://127.0.0.1:8765"


class Stage:
    """What the demo is doing, so Ctrl-C can say what it left behind."""

    def __init__(self) -> None:
        self.label = ""
        self.job = None          # the job being followed, once its create answered
        self.submitting = False  # a create request is on the wire: a job may exist without an id yet
        self.downloading = False


def follow(job, label: str) -> Completed:
    t0 = time.monotonic()
    last = None
    for ev in job.events():
        line = None
        if isinstance(ev, Queued):
            line = f"queued #{ev.position}"
        elif isinstance(ev, Running):
            line = f"running {ev.progress:.0f}%"
        elif isinstance(ev, Notice):
            line = ev.text
        elif isinstance(ev, Failed):
            raise ev.error
        elif isinstance(ev, Completed):
            print(f"  {label}: done in {time.monotonic() - t0:.1f} s · {len(ev.medias)} media · prompt {job.prompt_id}")
            return ev
        if line and line != last:
            print(f"  {label}: {line} · {time.monotonic() - t0:.1f} s", flush=True)
            last = line
    raise AliveAIError("stopped before the job finished", operation=label, prompt_id=job.prompt_id)


def save(client: AliveAIClient, store: ResultStore, op_key: str, job, done: Completed, request: dict) -> list[Path]:
    paths = []
    for i, m in enumerate(done.medias):
        path = store.media_path(job.prompt_id, m.id, m.type, i)
        client.download(m.url, path, prompt_id=job.prompt_id, media_id=m.id)
        paths.append(path)
    store.save_sidecar(job.prompt_id, {"operation": op_key, "request": request, "medias": [
        {"id": m.id, "type": m.type, "file": str(p.relative_to(store.root.parent))} for m, p in zip(done.medias, paths,
                                                                                                    strict=True)]})
    return paths


def where(env: dict) -> str:
    """How the user named the base URL, for messages."""
    return "ALIVEAI_BASE_URL" if env.get("ALIVEAI_BASE_URL") else "the default API URL (ALIVEAI_BASE_URL unset)"


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def reach_problem(base_url: str) -> str | None:
    """None when a TCP connection to the base URL's host and port opens; else why not. Skipped (None)
    when a proxy carries the traffic: then only the proxy is reachable directly."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if urllib.request.getproxies().get(parts.scheme) and not urllib.request.proxy_bypass(host):
        return None
    try:
        with socket.create_connection((host, port), timeout=REACH_TIMEOUT):
            return None
    except socket.gaierror:
        return f"the host name {host!r} is not known"
    except TimeoutError:
        return f"no answer from {host}:{port} within {REACH_TIMEOUT:.0f} s"
    except OSError as e:
        return f"{host}:{port}: {e.strerror or e}"


def is_simulator(base_url: str) -> bool:
    """A loopback server that answers the simulator's own admin route (no key is sent)."""
    if not is_loopback(urlsplit(base_url).hostname or ""):
        return False
    try:
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
                base_url.rstrip("/") + "/_sim/faults", timeout=REACH_TIMEOUT) as r:
            return r.status == 200 and "faults" in json.loads(r.read(1 << 20))
    except (OSError, ValueError):  # not the simulator: anything else on that port is treated as an API
        return False


def interrupted(stage: Stage, client: AliveAIClient | None, simulator: bool) -> str:
    """One line for Ctrl-C: which job, and what happens to it now."""
    job = stage.job
    note = " (the simulator: no credits)" if simulator else ""
    if job is None:
        if stage.submitting:
            return (f"Interrupted while submitting {stage.label}: a job may have been created; see the pending "
                    f"jobs on AliveAI (Get Pending){note}.")
        return "Interrupted before anything was submitted: no job was created."
    pid = job.prompt_id
    if stage.downloading:
        return (f"Interrupted while downloading the result of {stage.label} (prompt_id {pid}): the job is done"
                f"{' and billed' if not simulator else ''}; get it with Load Result (AliveAI) and this prompt_id.")
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)   # a second Ctrl-C must not cut the one request left
    try:
        outcome = job.cancel() if client is not None else "unknown"
    except AliveAIError as e:
        outcome = f"unknown ({e.message})"
    finally:
        signal.signal(signal.SIGINT, old)
    if outcome == "removed":
        return (f"Interrupted: {stage.label} (prompt_id {pid}) was still queued and was removed from the queue: "
                "it will not run.")
    if outcome == "running":
        return (f"Interrupted: {stage.label} (prompt_id {pid}) is already running on AliveAI: it will finish and may "
                f"be billed{note}; get it later with Load Result (AliveAI) and this prompt_id.")
    if outcome == "gone":
        return (f"Interrupted: {stage.label} (prompt_id {pid}) had already left the queue (finished or failed); "
                f"a finished job is billed{note}: get it with Load Result (AliveAI) and this prompt_id.")
    return (f"Interrupted: {stage.label} (prompt_id {pid}) could not be removed from the queue, state {outcome}: "
            f"it may still run and be billed{note}; get it later with Load Result (AliveAI) and this prompt_id.")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m nodes.demo", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.environ.get("ALIVEAI_OUTPUT_DIR", "aliveai-output"), help="output folder")
    ap.add_argument("--prompt", default="a red-haired explorer in a green field, golden hour", help="appearance text")
    ap.add_argument("--simulator", action="store_true", help="use the built-in simulator even when a key is set")
    args = ap.parse_args(argv)
    out = Path(args.out).resolve()
    env = dict(os.environ)
    stage = Stage()
    client = None
    simulator = False

    try:
        with ExitStack() as stack:
            try:
                settings = resolve()
            except ConfigError as e:
                if "ALIVEAI_BASE_URL" in e.message:
                    print(f"error: {e.message}, e.g. ALIVEAI_BASE_URL={EXAMPLE_URL} (or unset it: the AliveAI "
                          "API, or the built-in simulator when no key is set).", file=sys.stderr)
                else:
                    print(f"error: {e}", file=sys.stderr)
                return 2
            if args.simulator or not settings.has_credentials:
                from .simulator import DEFAULT_API_KEY, SimulatorThread

                sim = stack.enter_context(SimulatorThread(job_seconds=1.5))
                settings = resolve(env={"ALIVEAI_BASE_URL": sim.base_url, "ALIVEAI_API_KEY": DEFAULT_API_KEY})
                simulator = True
                print(f"No AliveAI credentials set: using the built-in simulator at {sim.base_url} "
                      "(no credits spent; its pictures are synthetic test images, not AliveAI's).")
            else:
                problem = reach_problem(settings.base_url)
                if problem:
                    print(f"error: cannot reach {settings.base_url}, set by {where(env)}: {problem}. Nothing was "
                          "sent. Check the URL (start the simulator with python -m nodes.simulator, or unset "
                          "ALIVEAI_BASE_URL and ALIVEAI_API_KEY to let the demo start its own).", file=sys.stderr)
                    return 2
                simulator = is_simulator(settings.base_url)
                if simulator:
                    print(f"Using the AliveAI simulator at {settings.base_url} (no credits spent; its pictures "
                          "are synthetic test images, not AliveAI's).")
                else:
                    print(f"Using the AliveAI API at {settings.base_url} (this spends credits).")
            client = stack.enter_context(AliveAIClient(settings))
            store = ResultStore(out, out / ".state")
            try:
                image_req = {"name": "Mira Solberg", "appearance": args.prompt, "detailLevel": "MEDIUM",
                             "aspectRatio": "PORTRAIT", "seed": "20261125"}
                print("1/2 Create Image (Create Prompt)")
                job, done = run(client, stage, "Create Image", "create_prompt", image_req)
                image_paths = fetch(client, store, stage, "create_prompt", job, done, image_req)
                print(f"  saved {image_paths[0]}")

                video_req = {"videoModel": "DEFAULT", "mediaId": done.medias[0].id,
                             "createdFromPromptId": job.prompt_id, "text": "she turns to the camera and smiles",
                             "videoLength": "SHORT", "seed": "20261125"}
                print("2/2 Image To Video (Create Image To Video), chained by media id: no re-upload")
                vjob, vdone = run(client, stage, "Image To Video", "create_image_to_video", video_req)
                video_paths = fetch(client, store, stage, "create_image_to_video", vjob, vdone, video_req)
                print(f"  saved {video_paths[0]}")
            except AliveAIError as e:
                print(f"error: {e}", file=sys.stderr)
                return 1
            except KeyboardInterrupt:  # here, while the client (and the simulator) can still cancel the job
                print(interrupted(stage, client, simulator), file=sys.stderr, flush=True)
                return 130
            synthetic = " They are synthetic: the simulator's test images, not AliveAI's." if simulator else ""
            print(f"Done. The PNG and the MP4 are in {out} (one folder per prompt_id, with a result.json "
                  f"sidecar).{synthetic}")
            return 0
    except KeyboardInterrupt:  # during set-up or shut-down: no job is being followed
        print("Interrupted." if stage.label else "Interrupted before anything was submitted: no job was created.",
              file=sys.stderr, flush=True)
        return 130


def run(client: AliveAIClient, stage: Stage, label: str, op_key: str, request: dict):
    stage.label, stage.job, stage.downloading, stage.submitting = label, None, False, True
    job = client.submit(op_key, request)
    stage.job, stage.submitting = job, False
    print(f"  {label}: submitted, prompt_id {job.prompt_id}", flush=True)
    return job, follow(job, label)


def fetch(client: AliveAIClient, store: ResultStore, stage: Stage, op_key: str, job, done: Completed,
          request: dict) -> list[Path]:
    stage.downloading = True
    paths = save(client, store, op_key, job, done, request)
    stage.downloading = False
    return paths


if __name__ == "__main__":
    sys.exit(main())
