"""The prompt websocket as a source of frames that can never hold the follower up.

`open_socket` opens it without following redirects: websocket-client follows up to three by
default and sends our `Authorization` header to whatever host `Location` names (plain HTTP
redirects strip it; the handshake must not be laxer). A 3xx is a failed connect, handled like a
503: reconnect with backoff, then polling. It also caps frames at WS_MAX_FRAME: a frame header
announcing more is refused before its payload is read (a PromptEvent is a few KB; the cap hooks
websocket-client's frame reader, and `FrameReader` checks the size again in case that hook is
missing in some version), and an oversized frame is a broken socket, never parsed.

`FrameReader` reads in a thread of its own and hands frames over through a small bounded queue.
The follower waits on that queue for at most one heartbeat, so its clock (interrupt, silence
check, running-time limit) runs whatever the socket does: a flood of frames, a frame trickled a
byte at a time and a socket that never speaks all look alike to it.
"""
from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import websocket

log = logging.getLogger("aliveai")

WS_MAX_FRAME = 1024 * 1024   # bytes of one websocket message (a PromptEvent is a few KB)
QUEUE_FRAMES = 64            # frames read ahead of the follower; the reader waits when it is full


@dataclass(frozen=True)
class Ended:
    """The socket is over: closed by the server, broken, or a frame over the cap."""
    why: str


def open_socket(url: str, authorization: str, timeout: float) -> websocket.WebSocket:
    import websocket

    conn = websocket.create_connection(url, header=[f"Authorization: {authorization}"], timeout=timeout,
                                       enable_multithread=True, redirect_limit=0)
    _cap_frames(conn, WS_MAX_FRAME)
    return conn


def _cap_frames(conn: Any, cap: int) -> None:
    """Refuse a frame (or a fragmented message) longer than `cap` from its header, before its
    payload is read. Uses websocket-client's frame reader, which has no public limit."""
    import websocket

    frames, parts = getattr(conn, "frame_buffer", None), getattr(conn, "cont_frame", None)
    if frames is not None and hasattr(frames, "recv_length"):
        read_length = frames.recv_length

        def recv_length() -> None:
            read_length()
            if (frames.length or 0) > cap:
                raise websocket.WebSocketPayloadException(f"frame of {frames.length} bytes (the cap is {cap})")

        frames.recv_length = recv_length
    if parts is not None and hasattr(parts, "add"):
        add = parts.add

        def add_part(frame: Any) -> None:
            add(frame)
            if parts.cont_data and len(parts.cont_data[1]) > cap:
                parts.cont_data = None
                raise websocket.WebSocketPayloadException(f"message over {cap} bytes")

        parts.add = add_part


class FrameReader:
    """Reads `conn` in a daemon thread; `get(timeout)` returns a frame, an `Ended`, or None when
    nothing arrived in time. `close()` wakes and ends the thread and drops the connection."""

    def __init__(self, conn: websocket.WebSocket, name: str, cap: int = WS_MAX_FRAME):
        self.conn = conn
        self.cap = cap
        self.frames: queue.Queue = queue.Queue(maxsize=QUEUE_FRAMES)
        self.closing = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"aliveai-ws-{name}", daemon=True)
        self.thread.start()

    def get(self, timeout: float) -> str | bytes | Ended | None:
        try:
            return self.frames.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None

    def _run(self) -> None:
        import websocket

        while not self.closing.is_set():
            try:
                frame = self.conn.recv()
            except websocket.WebSocketTimeoutException:
                continue   # quiet for one socket timeout: keep reading (state of a half-read frame is kept)
            except Exception as e:  # noqa: BLE001 - whatever ends the read (a broken or closed socket, a frame
                # over the cap, a malformed frame) ends this socket; the follower reconnects or polls
                if self.closing.is_set():
                    return
                self._put(Ended(f"{type(e).__name__}: {e}"[:200]))
                return
            if not frame:
                self._put(Ended("closed by the server"))
                return
            if len(frame) > self.cap:
                self._put(Ended(f"frame of {len(frame)} bytes (the cap is {self.cap})"))
                return
            self._put(frame)

    def _put(self, item: Any) -> None:
        while not self.closing.is_set():
            try:
                self.frames.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def close(self) -> None:
        self.closing.set()
        close_socket(self.conn, then=lambda: self.thread.join(timeout=2.0))


def close_socket(conn: Any, then: Any = None) -> None:
    """Drop the connection now: a polite close frame when it can go out at once, then shut the
    socket down, which wakes a reader blocked in recv (`then` waits for it before the socket is
    freed). Never waits for the server's close reply: websocket-client's close() would, for up to
    3 s, reading whatever a flooding server sends meanwhile."""
    for step in ("send_close", "abort"):
        try:
            getattr(conn, step)()
        except Exception:  # noqa: BLE001 - a broken socket may raise anything here; it is being dropped anyway
            pass
    if then is not None:
        then()
    try:
        conn.shutdown()
    except Exception:  # noqa: BLE001 - as above
        pass
