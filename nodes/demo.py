"""The README's main job: text -> image -> video with AliveAI, written to an output folder.

    python -m nodes.demo [--out DIR] [--prompt TEXT]

With ALIVEAI_API_KEY (or ALIVEAI_EMAIL/ALIVEAI_PASSWORD) set it uses the live API and spends
credits; without, it starts the built-in simulator in-process and says so. It needs only
requirements.txt (no torch): it drives the client layer the nodes use.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from .client import AliveAIClient, Completed, Failed, Notice, Queued, Running, resolve
from .errors import AliveAIError
from .store import ResultStore


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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m nodes.demo", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.environ.get("ALIVEAI_OUTPUT_DIR", "aliveai-output"), help="output folder")
    ap.add_argument("--prompt", default="a red-haired explorer in a green field, golden hour", help="appearance text")
    ap.add_argument("--simulator", action="store_true", help="use the built-in simulator even when a key is set")
    args = ap.parse_args(argv)
    out = Path(args.out).resolve()

    with ExitStack() as stack:
        settings = resolve()
        if args.simulator or not settings.has_credentials:
            from .simulator import DEFAULT_API_KEY, SimulatorThread

            sim = stack.enter_context(SimulatorThread(job_seconds=1.5))
            settings = resolve(env={"ALIVEAI_BASE_URL": sim.base_url, "ALIVEAI_API_KEY": DEFAULT_API_KEY})
            print(f"No AliveAI credentials set: using the built-in simulator at {sim.base_url} (no credits spent).")
        else:
            print(f"Using the AliveAI API at {settings.base_url} (this spends credits).")
        client = stack.enter_context(AliveAIClient(settings))
        store = ResultStore(out, out / ".state")
        try:
            image_req = {"name": "Mira Solberg", "appearance": args.prompt, "detailLevel": "MEDIUM",
                         "aspectRatio": "PORTRAIT", "seed": "20261125"}
            print("1/2 Create Image (Create Prompt)")
            job = client.submit("create_prompt", image_req)
            done = follow(job, "Create Image")
            image_paths = save(client, store, "create_prompt", job, done, image_req)
            print(f"  saved {image_paths[0]}")

            video_req = {"videoModel": "DEFAULT", "mediaId": done.medias[0].id, "createdFromPromptId": job.prompt_id,
                         "text": "she turns to the camera and smiles", "videoLength": "SHORT", "seed": "20261125"}
            print("2/2 Image To Video (Create Image To Video), chained by media id: no re-upload")
            vjob = client.submit("create_image_to_video", video_req)
            vdone = follow(vjob, "Image To Video")
            video_paths = save(client, store, "create_image_to_video", vjob, vdone, video_req)
            print(f"  saved {video_paths[0]}")
        except AliveAIError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        print(f"Done. The PNG and the MP4 are in {out} (one folder per prompt_id, with a result.json sidecar).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
