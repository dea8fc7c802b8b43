"""Nothing paid for is lost: every submitted job is logged the moment its prompt_id is known,
and every completed result is written under `<output>/aliveai/` with a JSON sidecar
(operation, prompt_id, media ids, request fields, timestamps), before anything else can fail.

The sidecar holds the request as sent: it never contains credentials (they travel in headers)
and passes through `redact` anyway. Files are named by prompt_id, so a result is found again
by prompt_id without a network call.

Prompt and media ids come from the API and are untrusted (`_name`): an id that is a plain name
(lowercase ASCII letters, digits, `-`, `_`) is its own folder name, as before; any other id
(`..`, `job:42`, `job/42`, `CON`, upper case, too long) becomes a readable prefix + `@` + a hash
of the exact id. `@` never occurs in a plain name, so two ids never share a folder, not even
on a case-insensitive disk, and no name is `.`, `..`, empty or a Windows device name. Results
saved by earlier versions (folder = `_legacy_safe(prompt_id)`) are still found when their
sidecar names exactly that prompt_id. A sidecar is trusted only as far as it can be checked
(`local_files`): its prompt_id must be the one asked for and every file it lists must lie
inside that result's folder; otherwise it is ignored and Load Result asks the API again.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

from .atomic import atomic_file
from .redact import redact_json

log = logging.getLogger("aliveai")

SUBFOLDER = "aliveai"
EXT = {"IMAGE": ".png", "VIDEO": ".mp4"}
_lock = threading.Lock()
log = logging.getLogger("aliveai")

_PLAIN = re.compile(r"[a-z0-9_-]{1,64}")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
# Names Windows gives to devices, with or without an extension; a plain name has no dot, so only
# the bare names matter.
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


def _name(ident: str) -> str:
    """A file or folder name for an id from the API, one per exact id (see the module docstring).

    Plain ids stay as they are; any other id becomes `<prefix>@<16 hex of sha256(id)>`, the prefix
    being the id with every character but ASCII letters, digits, `-` and `_` replaced by `_`, cut
    to 40 characters. Dots are never kept: ComfyUI's /view refuses any file name containing `..`."""
    ident = str(ident)
    if _PLAIN.fullmatch(ident) and ident not in _RESERVED:
        return ident
    digest = hashlib.sha256(ident.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{_UNSAFE.sub('_', ident)[:40] or 'id'}@{digest}"


def _legacy_safe(name: str) -> str:
    """The folder name earlier versions used (kept only to find their results again: it maps
    `job:42` and `job/42` to one name, and `..` to the output folder itself)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:120] or "x"


class ResultStore:
    def __init__(self, output_dir: str | os.PathLike, state_dir: str | os.PathLike,
                 cache_dir: str | os.PathLike | None = None):
        self.root = Path(output_dir) / SUBFOLDER
        self.state = Path(state_dir)
        self.cache = Path(cache_dir) if cache_dir is not None else self.state   # rebuildable files

    # -- files --------------------------------------------------------------------------------
    def result_dir(self, prompt_id: str) -> Path:
        """`<output>/aliveai/<name of prompt_id>`: one folder per exact prompt_id, always a child of root."""
        return self.root / _name(prompt_id)

    def _legacy_dir(self, prompt_id: str) -> Path | None:
        """Where an earlier version saved this prompt, when that differs from `result_dir` and is
        a child of root (`.` and `..` were never safe to read)."""
        old = _legacy_safe(prompt_id)
        if old in (".", "..") or old == _name(prompt_id):
            return None
        return self.root / old

    def media_path(self, prompt_id: str, media_id: str, media_type: str, index: int) -> Path:
        """`<output>/aliveai/<prompt_id>/<index>_<media_id>.<ext>`; the media id keeps names unique."""
        ext = EXT.get(media_type, ".bin")
        return self.result_dir(prompt_id) / f"{index:02d}_{_name(media_id)}{ext}"

    def subfolder_of(self, path: Path) -> str:
        """The `subfolder` ComfyUI's /view wants for a file under the output folder."""
        return path.parent.relative_to(self.root.parent).as_posix()

    @property
    def pixel_dir(self) -> Path:
        """Decoded result pixels kept across restarts (a cache: see `pixel_cache`)."""
        return self.cache / "pixels"

    def sidecar_path(self, prompt_id: str) -> Path:
        return self.result_dir(prompt_id) / "result.json"

    def save_sidecar(self, prompt_id: str, data: dict[str, Any]) -> Path:
        path = self.sidecar_path(prompt_id)
        data = {"prompt_id": prompt_id, "saved": _now(), **data}
        with atomic_file(path) as f:   # two runs may save one prompt
            f.write(redact_json(data, indent=2).encode("utf-8"))
        return path

    def load_sidecar(self, prompt_id: str) -> dict | None:
        """The sidecar of this exact prompt_id (in its folder, or where an earlier version saved
        it), or None. A sidecar naming another prompt_id is not this prompt's, whatever its folder."""
        for folder in (self.result_dir(prompt_id), self._legacy_dir(prompt_id)):
            if folder is None:
                continue
            try:
                side = json.loads((folder / "result.json").read_text("utf-8"))
            except FileNotFoundError:
                continue
            except (OSError, ValueError) as e:
                log.warning("AliveAI: ignoring the unreadable sidecar of prompt %s: %s", prompt_id, e)
                continue
            if not isinstance(side, dict) or side.get("prompt_id") != prompt_id:
                log.warning("AliveAI: ignoring %s: it is not the sidecar of prompt %s", folder / "result.json",
                            prompt_id)
                continue
            return side
        return None

    def file_of(self, prompt_id: str, rel: Any) -> Path | None:
        """The file `rel` (relative to the output folder, as sidecars and cache entries record
        it) when it is a regular file inside this prompt's result folder (or its earlier-version
        folder), symlinks resolved; else None. Absolute paths, `..` and links out are refused."""
        if not isinstance(rel, str) or not rel or "\x00" in rel:
            return None
        if Path(rel).is_absolute() or os.path.isabs(rel) or Path(rel).drive:
            return None
        try:
            path = (self.root.parent / rel).resolve(strict=True)
        except (OSError, RuntimeError, ValueError):
            return None
        for folder in (self.result_dir(prompt_id), self._legacy_dir(prompt_id)):
            if folder is None:
                continue
            try:
                home = folder.resolve(strict=True)
            except (OSError, RuntimeError):
                continue
            if home.parent == self.root.resolve() and path.parent == home and path.is_file():
                return folder / path.name   # not the resolved path: subfolder_of works under root
        return None

    def local_files(self, prompt_id: str) -> list[tuple[dict, Path]] | None:
        """The saved medias of a prompt, if its sidecar is this prompt's and every file it lists
        is on disk inside the result's folder. Anything else (a sidecar naming another prompt, a
        file `../…` or absolute or linked out, a malformed entry) is logged and gives None, so
        Load Result asks the API instead: a file outside the folder is never read."""
        side = self.load_sidecar(prompt_id)
        if not side:
            return None
        medias = side.get("medias")
        if not isinstance(medias, list):
            return None
        out = []
        for m in medias:
            rel = m.get("file") if isinstance(m, dict) else None
            if not (isinstance(m, dict) and isinstance(m.get("id"), str) and isinstance(m.get("type"), str)):
                log.warning("AliveAI: ignoring the sidecar of prompt %s: malformed media entry", prompt_id)
                return None
            p = self.file_of(prompt_id, rel)
            if p is None:
                if isinstance(rel, str) and (self.root.parent / rel).is_file():
                    log.warning("AliveAI: ignoring the sidecar of prompt %s: it lists %r, outside the result's "
                                "folder", prompt_id, rel)
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
