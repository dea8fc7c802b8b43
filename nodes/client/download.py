"""Fetching one presigned result URL to a file, with every bound a hostile or broken server needs.

- Where: `url_policy.check` for the URL and for every redirect, which is followed by hand (at most
  MAX_REDIRECTS hops); the connected peer is checked too. Never an Authorization header.
- How much: a cap per media (`max_bytes`), refused up front from Content-Length and enforced on
  the bytes actually written (an endless stream stops at the cap; a gzip bomb too, since the cap
  counts decoded bytes). Content-Length is compared with the raw bytes read from the wire, so a
  `Content-Encoding: gzip` answer is no longer "cut at 74 of 87 bytes".
- How long: an overall deadline (`end`, shared by the attempts of one download) and a
  low-speed rule (fewer than LOW_SPEED_BYTES in LOW_SPEED_SECONDS: a 1-byte-every-2-s trickle
  stops). A watchdog thread checks those and Cancel (`should_stop`) on a clock, and shuts the
  socket down, so a read blocked on a silent server returns at once.
- What is left: the temporary `.part` name carries the writer's pid; `clean_stale_parts` removes
  those of dead writers and any untouched for STALE_PART seconds when a download starts there.
"""
from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urljoin

from ..errors import DownloadError, JobCancelledError
from . import url_policy
from .http import was_sent

log = logging.getLogger("aliveai")

CHUNK = 256 * 1024
MAX_REDIRECTS = 3
DEADLINE = 3600.0            # seconds for one download, all attempts together
LOW_SPEED_BYTES = 1024       # at least this many bytes ...
LOW_SPEED_SECONDS = 30.0     # ... in every window this long, or the transfer is dropped
WATCH_STEP = 0.2             # how often the watchdog looks at Cancel, the deadline and the speed
STALE_PART = 3600.0          # a .part file untouched this long is left over by a dead run
DEAD_WRITER_GRACE = 60.0     # a .part of a dead pid (this machine) untouched this long goes at once
MB = 1024 * 1024
IMAGE_CAP = 200 * MB
VIDEO_CAP = 2048 * MB
REDIRECTS = (301, 302, 303, 307, 308)
LOCAL_ERRNOS = frozenset(getattr(errno, n) for n in ("ENOSPC", "EROFS", "EACCES", "EPERM", "EDQUOT", "EFBIG",
                                                     "ENAMETOOLONG", "EISDIR", "ENOTDIR", "ENOENT")
                         if hasattr(errno, n))
PART = re.compile(r"\.(\d+)-(\d+)\.part$")


def cap_for(media_type: str, video_cap: int | None = None) -> int:
    """The size cap of one result file: `video_cap` (the setting, default 2 GiB) for a video,
    and at most 200 MiB for an image."""
    video = VIDEO_CAP if video_cap is None else max(MB, int(video_cap))
    return video if media_type.upper() == "VIDEO" else min(IMAGE_CAP, video)


def part_name(dest: Path) -> Path:
    """One temporary name per process and thread: two runs fetching one result never share it."""
    return dest.with_name(f"{dest.name}.{os.getpid()}-{threading.get_ident()}.part")


def _pid_dead(pid: int) -> bool:
    if os.name != "posix" or pid == os.getpid():
        return False     # on Windows os.kill(pid, 0) would send CTRL_C_EVENT: rely on age there
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False     # exists, owned by someone else
    return False


def clean_stale_parts(folder: Path, now: float | None = None) -> int:
    """Remove `.part` files a killed run left in `folder`; returns how many went."""
    now = time.time() if now is None else now
    gone = 0
    with contextlib.suppress(OSError):
        for p in folder.glob("*.part"):
            m = PART.search(p.name)
            if not m:
                continue
            try:
                age = now - p.stat().st_mtime
            except OSError:
                continue
            if age > STALE_PART or (age > DEAD_WRITER_GRACE and _pid_dead(int(m.group(1)))):
                with contextlib.suppress(OSError):
                    p.unlink()
                    gone += 1
    if gone:
        log.info("AliveAI: removed %d stale partial download(s) in %s", gone, folder)
    return gone


class _Watchdog:
    """Trips on Cancel, the deadline or a stalled transfer, and shuts the socket down so the
    blocked read in the main thread returns. `why` says which, or is None."""

    def __init__(self, end: float, should_stop: Callable[[], bool] | None):
        self.end = end
        self.should_stop = should_stop
        self.received = 0
        self.why: str | None = None
        self._sock: socket.socket | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="aliveai-download-watchdog", daemon=True)

    def start(self, sock: socket.socket | None) -> None:
        self._sock = sock
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        if self._thread.is_alive():
            self._thread.join(2)

    def check(self) -> None:
        """The same conditions, from the reading thread between chunks."""
        if self.why is None and self.should_stop and self.should_stop():
            self.why = "cancelled"
        if self.why is None and time.monotonic() > self.end:
            self.why = "deadline"

    def _run(self) -> None:
        mark, mark_bytes = time.monotonic(), 0
        while not self._done.wait(WATCH_STEP):
            self.check()
            now = time.monotonic()
            if self.why is None and now - mark >= LOW_SPEED_SECONDS:
                if self.received - mark_bytes < LOW_SPEED_BYTES:
                    self.why = "too slow"
                mark, mark_bytes = now, self.received
            if self.why is not None:
                if self._sock is not None:
                    with contextlib.suppress(OSError):
                        self._sock.shutdown(socket.SHUT_RDWR)
                return


def _socket_of(resp) -> socket.socket | None:  # a requests.Response
    conn = getattr(resp.raw, "connection", None) or getattr(resp.raw, "_connection", None)
    return getattr(conn, "sock", None)


def _read(raw, size: int) -> bytes:
    """Whatever has arrived, up to `size` decoded bytes (read1), so progress shows as it comes."""
    if hasattr(raw, "read1"):
        return raw.read1(size, decode_content=True)
    return raw.read(min(size, 16 * 1024), decode_content=True)   # urllib3 < 2.3: small blocking reads


def fetch(session, timeout, url: str, dest: Path, *, api_base: str, max_bytes: int, end: float,
          should_stop: Callable[[], bool] | None = None) -> tuple[int | None, str]:
    """One attempt: (200, "ok") once `dest` holds the whole file; (status, why) for a failure
    worth another attempt (a cut, a 5xx, an expired URL). Raises DownloadError for one that is
    not (an unsafe URL, a file over the cap, the deadline, a stall) and JobCancelledError on Cancel."""
    import requests  # loaded with the first client anyway (http.Transport); not at pack import
    from urllib3.exceptions import HTTPError as Urllib3Error

    tmp = part_name(dest)
    watchdog = _Watchdog(end, should_stop)
    try:
        for _hop in range(MAX_REDIRECTS + 1):
            # send() skips what request() adds from the environment: proxies (HTTPS_PROXY) and the
            # CA bundle. Merged here, so downloads go through the user's proxy.
            env = session.merge_environment_settings(url, {}, True, None, None)
            proxied = bool(requests.utils.select_proxy(url, env.get("proxies") or {}))
            try:
                url_policy.check(url, api_base, proxied=proxied)
            except url_policy.UnsafeUrl as e:
                raise DownloadError(f"refused to download from {url_policy.where(url)}: {e}",
                                    hint="The result URL points where this computer does not fetch from.") from None
            prep = session.prepare_request(requests.Request("GET", url))
            prep.url = url                      # requests would re-quote the URL: keep the signed query intact
            prep.headers.pop("Authorization", None)
            watchdog.check()
            if watchdog.why:
                break
            resp = session.send(prep, timeout=timeout, allow_redirects=False, **env)   # env: stream=True
            with resp:
                if not proxied:
                    peer = _peer(resp)
                    if peer:
                        try:
                            url_policy.check_peer(peer, url, api_base)
                        except url_policy.UnsafeUrl as e:
                            raise DownloadError(f"refused to download from {url_policy.where(url)}: {e}",
                                                hint="") from None
                if resp.status_code in REDIRECTS and resp.headers.get("Location"):
                    url = urljoin(url, resp.headers["Location"])
                    continue
                if resp.status_code != 200:
                    return resp.status_code, f"HTTP {resp.status_code}"
                expected = resp.headers.get("Content-Length")
                if expected is not None and expected.strip().isdigit() and int(expected) > max_bytes:
                    raise DownloadError(f"the file is {int(expected) // MB} MB, over the {max_bytes // MB} MB cap "
                                        "for one result; not downloaded", hint=_CAP_HINT)
                got = 0
                watchdog.start(_socket_of(resp))
                with open(tmp, "wb") as f:
                    while chunk := _read(resp.raw, CHUNK):
                        f.write(chunk)
                        got += len(chunk)
                        watchdog.received = got
                        watchdog.check()
                        if watchdog.why:
                            break
                        if got > max_bytes:
                            raise DownloadError(f"the file passed the {max_bytes // MB} MB cap for one result; "
                                                f"stopped after {got // MB} MB", hint=_CAP_HINT)
                watchdog.check()
                if watchdog.why:
                    break
                raw_read = resp.raw.tell()
                if expected is not None and expected.strip().isdigit() and int(expected) != raw_read:
                    return None, f"transfer cut at {raw_read} of {expected} bytes"
            os.replace(tmp, dest)
            return 200, "ok"
        else:
            raise DownloadError(f"more than {MAX_REDIRECTS} redirects", hint="")
    except (requests.exceptions.RequestException, Urllib3Error, OSError) as e:
        if watchdog.why is None:
            if isinstance(e, OSError) and e.errno in LOCAL_ERRNOS:
                raise DownloadError(f"could not save the result file {dest.name}: {e.strerror}") from None
            return None, f"{type(e).__name__}{'' if was_sent(e) else ' (could not connect)'}"
    finally:
        watchdog.stop()
        if tmp.exists():
            tmp.unlink(missing_ok=True)
    if watchdog.why == "cancelled":
        raise JobCancelledError("interrupted while downloading the result; the job is done and kept by AliveAI",
                                hint=DownloadError.hint)
    if watchdog.why == "too slow":
        raise DownloadError(f"the download stalled (under {LOW_SPEED_BYTES} bytes in {LOW_SPEED_SECONDS:.0f} s)")
    raise DownloadError("the download did not finish within its deadline")


_CAP_HINT = ("The limit is 'Largest result download' in Settings > AliveAI > Limits (or ALIVEAI_DOWNLOAD_CAP_MB); "
             "the result stays with AliveAI: raise it and run Load Result (AliveAI) with this prompt_id.")


def _peer(resp) -> str | None:
    sock = _socket_of(resp)
    try:
        return sock.getpeername()[0] if sock is not None else None
    except (OSError, IndexError):
        return None
