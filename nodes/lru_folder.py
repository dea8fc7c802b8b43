"""Folders of cache files kept within a budget, least recently used first: the request cache
(a number of entries) and the decoded-pixel cache (bytes) both keep theirs this way.

- A file's mtime is its last use: writers write it, readers `touch` it.
- A folder's total is counted once per process, on its first change, then kept up to date;
  past the budget the oldest files go until it fits, and the total is counted afresh then
  (another process may have written meanwhile).
- Files of the folder and of its direct subfolders count, when their name ends with `suffix`.
  Every OS error is skipped: a file another process removed is simply gone.
"""
from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path


def touch(path: str | os.PathLike) -> None:
    """Mark a cache file used now; a read-only folder still serves its files."""
    with contextlib.suppress(OSError):
        os.utime(path)


class LruFolders:
    def __init__(self, suffix: str, by_bytes: bool) -> None:
        self.suffix = suffix
        self.by_bytes = by_bytes           # weigh a file by its size, else count it as 1
        self._lock = threading.Lock()
        self._totals: dict[Path, int] = {}

    def changed(self, folder: Path, delta: int, budget: int | None) -> None:
        """`delta` was added to (or, negative, removed from) `folder`; past `budget` (None: no
        eviction) the least recently used files go."""
        with self._lock:
            total = self._totals.get(folder)
            if total is None:
                total = sum(weight for _, weight, _ in self._entries(folder))
            else:
                total += delta
            if budget is not None and total > budget:
                total = self._evict(folder, budget)
            self._totals[folder] = total

    def total(self, folder: Path) -> int | None:
        with self._lock:
            return self._totals.get(folder)

    def forget(self) -> None:
        """Count every folder again on its next change (tests, or another process wrote)."""
        with self._lock:
            self._totals.clear()

    def _entries(self, folder: Path) -> list[tuple[int, int, str]]:
        """(mtime_ns, weight, path) of the folder's cache files."""
        out = []
        try:
            top = list(os.scandir(folder))
        except OSError:
            return out
        for entry in top:
            with contextlib.suppress(OSError):
                inner = list(os.scandir(entry.path)) if entry.is_dir() else [entry]
                for e in inner:
                    if e.name.endswith(self.suffix) and e.is_file():
                        st = e.stat()
                        out.append((st.st_mtime_ns, st.st_size if self.by_bytes else 1, e.path))
        return out

    def _evict(self, folder: Path, budget: int) -> int:
        """Remove the oldest files until the folder fits `budget`; its new total (lock held)."""
        entries = sorted(self._entries(folder))
        total = sum(weight for _, weight, _ in entries)
        for _, weight, path in entries:
            if total <= budget:
                break
            try:
                os.unlink(path)
            except OSError:
                continue
            total -= weight
        return total
