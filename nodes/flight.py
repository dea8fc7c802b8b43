"""One create per request: a single-flight lock per request key, within this process (threads)
and across processes sharing one user folder (two ComfyUI instances, a ComfyUI and a script).

The request cache alone cannot stop two identical runs from both paying: each looks the key up,
finds nothing, uploads and creates, and only then writes the pending entry. Held around
"look up -> upload -> create -> write the pending entry", the lock makes the second run wait
for the first's entry and follow that same job.

- In-process: one `threading.Lock` per key, dropped when nobody holds or waits for it.
- Across processes: `<cache folder>/locks/<key>.lock`, `fcntl.flock` on POSIX, `msvcrt.locking`
  on Windows. The OS releases it when its process dies, so a crash never leaves a stale lock.
  On POSIX the holder unlinks the file before unlocking, and a new holder checks that the file
  it locked is still the one at the path, so lock files do not pile up (one per request ever
  made) and an unlinked file is never mistaken for the lock. Windows cannot unlink an open
  file: there the file is removed when possible, else left (it is empty).
- Waits are bounded and poll: Cancel (`should_stop`) is checked every POLL seconds, and past
  `timeout` a LocalStateError says an identical run still holds the request (nothing was sent).
- A lock file that cannot be made (read-only user folder) leaves only the in-process lock: a
  cached result can still be served, and a submit is refused before anything is sent by the
  writability check that runs before it (runtime.check_writable).
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import JobCancelledError, LocalStateError

log = logging.getLogger("aliveai")

POLL = 0.1   # seconds between tries while another run holds the key; Cancel is checked as often

_guard = threading.Lock()
_locks: dict[str, list] = {}   # key -> [threading.Lock, number of holders and waiters]


@contextlib.contextmanager
def single_flight(folder: str | os.PathLike, key: str, *, should_stop: Callable[[], bool] = lambda: False,
                  on_wait: Callable[[], None] | None = None, timeout: float = 900.0,
                  label: str | None = None) -> Iterator[None]:
    """Hold request `key` in this process and in `folder` (shared by processes) for the block.
    Raises JobCancelledError when `should_stop()` turns true while waiting, LocalStateError past
    `timeout`; in both cases nothing was sent."""
    deadline = time.monotonic() + timeout
    waiter = _Waiter(key, should_stop, on_wait, deadline, label)
    with _thread_lock(key, waiter):
        fd = _file_lock(Path(folder) / "locks" / f"{key}.lock", waiter)
        try:
            yield
        finally:
            if fd is not None:
                _file_unlock(Path(folder) / "locks" / f"{key}.lock", fd)


class _Waiter:
    """The shared part of both waits: Cancel, the deadline, and telling the node once."""

    def __init__(self, key, should_stop, on_wait, deadline, label):
        self.key, self.should_stop, self.on_wait, self.deadline, self.label = key, should_stop, on_wait, deadline, label
        self.told = False

    def pause(self) -> None:
        if not self.told:
            self.told = True
            if self.on_wait:
                self.on_wait()
        if self.should_stop():
            raise JobCancelledError("interrupted while an identical run was submitting; this run sent nothing",
                                    operation=self.label)
        if time.monotonic() > self.deadline:
            raise LocalStateError("an identical run has held this request too long (still uploading or waiting "
                                  "for a free slot in AliveAI's queue); this run sent nothing: queue it again "
                                  "when that run has submitted", operation=self.label)


@contextlib.contextmanager
def _thread_lock(key: str, waiter: _Waiter) -> Iterator[None]:
    with _guard:
        slot = _locks.setdefault(key, [threading.Lock(), 0])
        slot[1] += 1
    try:
        while not slot[0].acquire(timeout=POLL):
            waiter.pause()
        try:
            yield
        finally:
            slot[0].release()
    finally:
        with _guard:
            slot[1] -= 1
            if slot[1] == 0:
                _locks.pop(key, None)


def _file_lock(path: Path, waiter: _Waiter) -> int | None:
    """The fd holding `path` locked, or None when the lock file cannot be made."""
    while True:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as e:
            log.debug("AliveAI: no lock file %s (%s); in-process lock only", path, e)
            return None
        try:
            locked = _try_lock(fd)
        except OSError as e:   # a file system without locks (some network shares)
            os.close(fd)
            log.debug("AliveAI: cannot lock %s (%s); in-process lock only", path, e)
            return None
        if locked:
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(path))
            except OSError:   # the previous holder unlinked it between our open and our lock
                same = False
            if same:
                return fd
            _release(fd)
        os.close(fd)
        waiter.pause()
        time.sleep(POLL)


def _file_unlock(path: Path, fd: int) -> None:
    if sys.platform != "win32":   # unlinked while held: see the module docstring
        with contextlib.suppress(OSError):
            path.unlink()
    _release(fd)
    os.close(fd)
    if sys.platform == "win32":
        with contextlib.suppress(OSError):
            path.unlink()


if sys.platform == "win32":
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _release(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        with contextlib.suppress(OSError):
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _release(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
