"""The sidebar's live queue: the server holds the user websocket, the page only hears about it.

The first status request (the AliveAI sidebar tab opened) starts a `UserQueue` for the current
settings; every QUEUE_CHANGE is pushed to the page as the `aliveai.queue` event through ComfyUI's
own event channel, and the status route answers with the websocket's queue while it is live. The
page never sees the token or the socket's URL, only the queue items (`QUEUE_FIELDS`). When the
socket cannot be had (an API key, a refused or dropping socket) the status route polls Get
Pending as before and says why in `queue_note`. New settings (another account, another host)
stop the old socket and start a new one on the next status request.
"""
from __future__ import annotations

import threading
import time
from typing import Any

from ..client import AliveAIClient
from ..client.config import Settings
from ..client.user_socket import UserQueue
from . import bridge

QUEUE_EVENT = "aliveai.queue"
QUICK_TIMEOUT = (5.0, 10.0)


def emit(items: list[dict]) -> None:
    """Push a new queue to the page (a test replaces this)."""
    bridge.send_event(QUEUE_EVENT, {"queue": items, "updated": time.time(), "queue_source": "websocket"})


class LiveQueue:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._settings: Settings | None = None
        self._follower: UserQueue | None = None
        self._client: AliveAIClient | None = None

    def follower(self, s: Settings) -> UserQueue:
        """The follower for `s`, started on first use; another account's is stopped first."""
        with self._lock:
            if self._follower is None or self._settings != s:
                self._stop_locked()
                self._client = AliveAIClient(s, retries=1, backoff_factor=0.2)
                self._client.transport.timeout = QUICK_TIMEOUT
                self._settings = s
                self._follower = UserQueue(self._client, lambda items: emit(items)).start()
            return self._follower

    def view(self, s: Settings) -> dict[str, Any]:
        """What the status route adds: the live queue, or why the queue is polled."""
        f = self.follower(s)
        if f.live and f.queue is not None:
            return {"queue": f.queue, "queue_updated": f.updated, "queue_source": "websocket"}
        note = f.reason or ("connecting to the live queue" if f.state == "starting" else "")
        return {"queue_source": "polling", **({"queue_note": note} if note else {})}

    def stop(self) -> None:
        with self._lock:
            self._stop_locked()

    def _stop_locked(self) -> None:
        if self._follower is not None:
            self._follower.stop()
        if self._client is not None:
            self._client.close()
        self._follower, self._client, self._settings = None, None, None


LIVE = LiveQueue()
