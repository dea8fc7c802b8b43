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
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

VERSION = 1


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
    def __init__(self, state_dir: str | os.PathLike):
        self.dir = Path(state_dir) / "cache"

    def _path(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        try:
            return json.loads(self._path(key).read_text("utf-8"))
        except (FileNotFoundError, ValueError):
            return None

    def put(self, key: str, entry: dict) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")  # writers may race
        tmp.write_text(json.dumps(entry), "utf-8")
        os.replace(tmp, path)

    def forget(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
