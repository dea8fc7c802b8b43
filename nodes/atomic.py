"""Files written whole or not at all: a unique temporary file beside the target, renamed over it.

Several threads or processes may write one file at once (two runs saving one prompt, two ComfyUI
windows refreshing a catalog), so the temporary name carries the process and thread. A reader
never sees half a file; a failed write leaves the old file and no temporary behind.
"""
from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, mode: int = 0o666) -> Iterator[BinaryIO]:
    """`with atomic_file(p) as f: f.write(...)` replaces `p` when the block ends without an error.
    `mode` applies from the first byte (e.g. 0o600 for a file holding a key); the umask still applies."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f"{p.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
