"""Persistent request cache: the same request gives the stored result, after a restart too.

ComfyUI's own cache lives in memory and forgets a node's output when the workflow changes
(GUIDE §2.6), which is how a re-run gets billed twice. This cache maps a canonical request to
the prompt_id and media it produced. The key is built from the operation, the API and account
it was sent to, and the request values with every media input replaced by its *identity*: the
content hash of a local upload (stable across restarts, unlike the media id a new upload gets)
or the media id of an earlier result. A new seed is a new key, so a new job.

Entries are small JSON files under `<user dir>/aliveai/cache/`, one per key, written atomically;
they hold ids and file names, never URLs (they expire) or credentials. An entry is written as soon
as the job is submitted (`pending`: its prompt_id and request), so a run that did not see the job
finish (interrupt, timeout, restart) follows that same job next time instead of paying again; it
becomes the result entry once the job completes, and is dropped when the job failed remotely.

The folder keeps at most MAX_ENTRIES entries (about 4 KB each on disk): past that, the least
recently used go first (a hit touches its file). A dropped entry costs nothing until that exact
request is queued again; its result stays in the output folder and in the job log.

An entry that cannot be written (disk full, read-only user folder) is kept in memory for this
process and `put` raises the OSError: the caller says so, and the next identical run in this
ComfyUI still finds the job instead of paying again. After a restart the job is found by its
prompt_id (Load Result), which the error and the job log name.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

from .atomic import atomic_file
from .errors import LocalStateError
from .lru_folder import LruFolders, touch

VERSION = 1
MAX_ENTRIES = 20_000
ENTRIES = LruFolders(".json", by_bytes=False)   # entries per cache folder, within max_entries
_unsaved: dict[Path, dict] = {}   # entry path -> entry whose write failed (see the module docstring)
_unsaved_lock = threading.Lock()


def request_key(op_key: str, scope: str, values: dict[str, Any], identities: dict[str, str]) -> str:
    """`identities` maps media field names to the identity that replaces their per-upload id."""
    canon = dict(values)
    for name, ident in identities.items():
        canon[name] = ident
    canon.pop("createdFromPromptId", None)  # derived from the media input, already in its identity
    blob = json.dumps({"v": VERSION, "op": op_key, "scope": scope, "values": canon}, sort_keys=True,
                      separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class RequestCache:
    def __init__(self, state_dir: str | os.PathLike, max_entries: int | None = None):
        self.dir = Path(state_dir) / "cache"
        self.max_entries = MAX_ENTRIES if max_entries is None else max_entries

    def _path(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        path = self._path(key)
        with _unsaved_lock:
            kept = _unsaved.get(path)
        if kept is not None:
            return dict(kept) or None   # {}: forgotten, though the file could not be removed
        try:
            entry = json.loads(path.read_text("utf-8"))
        except (FileNotFoundError, ValueError):
            return None
        except OSError as e:   # it may hold a pending job: guessing "none" could pay twice
            raise LocalStateError(f"cannot read the request cache entry {path} ({e.strerror}); nothing was sent. "
                                  "Fix the user folder's permissions, then queue again") from None
        touch(path)   # recently used: kept longest
        return entry

    def put(self, key: str, entry: dict) -> None:
        path = self._path(key)
        new = not path.exists()
        try:
            with atomic_file(path) as f:   # writers may race
                f.write(json.dumps(entry).encode("utf-8"))
        except OSError:
            with _unsaved_lock:
                _unsaved[path] = dict(entry)
            raise
        with _unsaved_lock:
            _unsaved.pop(path, None)
        if new:
            ENTRIES.changed(self.dir, +1, self.max_entries)

    def forget(self, key: str) -> None:
        with _unsaved_lock:
            _unsaved.pop(self._path(key), None)
        try:
            self._path(key).unlink()
        except FileNotFoundError:
            return
        except OSError:   # a read-only folder: forgotten in this process at least
            with _unsaved_lock:
                _unsaved[self._path(key)] = {}
            return
        ENTRIES.changed(self.dir, -1, self.max_entries)
