"""Nothing paid for is lost: every submitted job is logged the moment its prompt_id is known,
and every completed result is written under `<output>/aliveai/` with a JSON sidecar
(operation, prompt_id, media ids, request fields, timestamps), before anything else can fail.

The sidecar holds the request as sent: it never contains credentials (they travel in headers)
and passes through `redact` anyway. Files are named by prompt_id, so a result is found again
by prompt_id without a network call.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from .atomic import atomic_file
from .redact import redact_json

SUBFOLDER = "aliveai"
EXT = {"IMAGE": ".png", "VIDEO": ".mp4"}
_lock = threading.Lock()
log = logging.getLogger("aliveai")


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:120] or "x"


class ResultStore:
    def __init__(self, output_dir: str | os.PathLike, state_dir: str | os.PathLike,
                 cache_dir: str | os.PathLike | None = None):
        self.root = Path(output_dir) / SUBFOLDER
        self.state = Path(state_dir)
        self.cache = Path(cache_dir) if cache_dir is not None else self.state   # rebuildable files

    # -- files --------------------------------------------------------------------------------
    def media_path(self, prompt_id: str, media_id: str, media_type: str, index: int) -> Path:
        """`<output>/aliveai/<prompt_id>/<index>_<media_id>.<ext>`; the media id keeps names unique."""
        ext = EXT.get(media_type, ".bin")
        return self.root / _safe(prompt_id) / f"{index:02d}_{_safe(media_id)}{ext}"

    def subfolder_of(self, path: Path) -> str:
        """The `subfolder` ComfyUI's /view wants for a file under the output folder."""
        return path.parent.relative_to(self.root.parent).as_posix()

    @property
    def pixel_dir(self) -> Path:
        """Decoded result pixels kept across restarts (a cache: see `pixel_cache`)."""
        return self.cache / "pixels"

    def sidecar_path(self, prompt_id: str) -> Path:
        return self.root / _safe(prompt_id) / "result.json"

    def save_sidecar(self, prompt_id: str, data: dict[str, Any]) -> Path:
        path = self.sidecar_path(prompt_id)
        data = {"prompt_id": prompt_id, "saved": _now(), **data}
        with atomic_file(path) as f:   # two runs may save one prompt
            f.write(redact_json(data, indent=2).encode("utf-8"))
        return path

    def load_sidecar(self, prompt_id: str) -> dict | None:
        try:
            return json.loads(self.sidecar_path(prompt_id).read_text("utf-8"))
        except (FileNotFoundError, ValueError):
            return None

    def local_files(self, prompt_id: str) -> list[tuple[dict, Path]] | None:
        """The saved medias of a prompt, if every file of its sidecar is still on disk."""
        side = self.load_sidecar(prompt_id)
        if not side:
            return None
        out = []
        for m in side.get("medias", []):
            p = self.root.parent / m.get("file", "")
            if not m.get("file") or not p.is_file():
                return None
            out.append((m, p))
        return out or None

    # -- job log ------------------------------------------------------------------------------
    def log_job(self, event: str, prompt_id: str, **data: Any) -> str | None:
        """Append to `<user dir>/aliveai/jobs.jsonl`: submitted, completed, failed, cancelled.
        Never raises: the log is a record, and a full or read-only user folder must not turn a
        paid job's result (or its real error) into a bare OSError. Returns why it failed, else None."""
        line = redact_json({"t": _now(), "event": event, "prompt_id": prompt_id, **data})
        try:
            self.state.mkdir(parents=True, exist_ok=True)
            with _lock, open(self.state / "jobs.jsonl", "a", encoding="utf-8") as f:
                f.write(line + "\n")
        except OSError as e:
            why = f"{e.strerror or type(e).__name__} ({self.state / 'jobs.jsonl'})"
            log.warning("AliveAI: could not log %s of prompt %s: %s", event, prompt_id, why)
            return why
        return None

    def jobs(self) -> list[dict]:
        try:
            lines = (self.state / "jobs.jsonl").read_text("utf-8").splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
