"""Decoded pixels of result files, so a re-run served by the request cache does not decode its
PNG again: in memory for this process, and on disk across restarts.

- Keys are a result file's path and stat (size, mtime, inode, device). Result files are written
  once, atomically, so the key changes whenever the content could, and a moved or replaced file
  is simply decoded again.
- In memory: an LRU of read-only uint8 arrays within 64 MB.
- On disk: the same arrays as `.npy` files in `<cache dir>/pixels/` (the platform's cache folder,
  not the user folder people back up and sync: bridge.cache_dir), within a byte budget
  the caller passes (the pixel_cache_mb preference, 1 GB by default), least recently used dropped
  first. A 1024x1024 result is a 3 MB file read in about 0.3 ms instead of a PNG decode of 7-9 ms.
  These files are only a cache: deleting the folder at any time costs one decode per result.
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from .atomic import atomic_file
from .lru_folder import LruFolders, touch

log = logging.getLogger("aliveai")

_SUFFIX = ".npy"


def file_key(path: str) -> tuple | None:
    """(path, size, mtime_ns, inode, device) of a file, or None when it cannot be read."""
    try:
        st = os.stat(path)
    except OSError:
        return None   # let the decoder report the missing file
    return path, st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev


class DecodedCache:
    """Thread-safe LRU of decoded result files: file key -> read-only pixels, within a byte budget."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple, object] = OrderedDict()
        self._bytes = 0

    def get(self, key: tuple):
        with self._lock:
            pixels = self._items.get(key)
            if pixels is not None:
                self._items.move_to_end(key)
            return pixels

    def put(self, key: tuple, pixels) -> None:
        if pixels.nbytes > self.budget:
            return
        pixels.flags.writeable = False
        with self._lock:
            old = self._items.pop(key, None)
            self._bytes += pixels.nbytes - (old.nbytes if old is not None else 0)
            self._items[key] = pixels
            while self._bytes > self.budget:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= dropped.nbytes

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


class DiskCache:
    """Decoded pixels as `.npy` files in one folder, within a byte budget (`LruFolders`). Every
    failure (full disk, a file removed by another process, a truncated file) is a miss, never an
    error."""

    def __init__(self) -> None:
        self.folders = LruFolders(_SUFFIX, by_bytes=True)

    @staticmethod
    def path(folder: Path, key: tuple) -> Path:
        return folder / (hashlib.sha256(repr(key).encode()).hexdigest()[:32] + _SUFFIX)

    def get(self, folder: Path, key: tuple):
        import numpy as np
        path = self.path(folder, key)
        try:
            pixels = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, EOFError) as e:
            log.debug("AliveAI: dropping unreadable pixel cache file %s: %s", path.name, e)
            self._remove(folder, path)
            return None
        touch(path)
        return pixels

    def put(self, folder: Path, key: tuple, pixels, budget: int) -> None:
        import numpy as np
        if pixels.nbytes > budget:
            return
        path = self.path(folder, key)
        try:
            with atomic_file(path) as f:
                np.save(f, pixels, allow_pickle=False)
                size = f.tell()
        except OSError as e:
            log.debug("AliveAI: could not write the pixel cache file %s: %s", path.name, e)
            return
        self.folders.changed(folder, size, budget)

    def _remove(self, folder: Path, path: Path) -> None:
        try:
            size = path.stat().st_size
            path.unlink()
        except OSError:
            return
        self.folders.changed(folder, -size, None)

    def forget_totals(self) -> None:
        """Count the folders again on the next write (tests; another process may have written)."""
        self.folders.forget()


DECODED = DecodedCache(64 << 20)
ON_DISK = DiskCache()


def pixels(path: str, decode: Callable, folder: Path | None = None, budget: int = 0):
    """The decoded pixels of the file at `path`: from memory, else from `folder` on disk (kept
    within `budget` bytes; 0: no disk cache), else `decode(path)`, stored in both. Read-only:
    callers copy before changing them."""
    key = file_key(path)
    if key is None:
        return decode(path)
    found = DECODED.get(key)
    if found is not None:
        return found
    if folder is None:
        budget = 0
    if budget:
        found = ON_DISK.get(folder, key)
    if found is None:
        found = decode(path)
        if budget:
            ON_DISK.put(folder, key, found, budget)
    DECODED.put(key, found)
    return found
