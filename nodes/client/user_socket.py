"""The user websocket (API.md §6.2, #28): the account's queue, live.

`<ws base>/ws/users/{userId}?token={bearerToken}` sends a UserEvent `{eventType: "QUEUE_CHANGE",
queue, promptId}` whenever the account's queue changes. `UserQueue` holds that socket in a thread
of its own and hands every new queue to a callback; the sidebar follows it instead of polling.

- The user id comes from Me, the token from Login. With an API key there is no token (the doc
  does not say the server takes a key there), so a key-only account keeps polling Get Pending and
  `reason` says why. Nothing is tried with the key in the URL.
- The URL carries the token, a secret: it is registered for redaction, never logged or shown,
  and the socket goes only to the configured API host, without following redirects (the same
  `open_socket` as the prompt socket, with its frame cap).
- The state on connect is not documented, so every (re)connect reads Get Pending once. A socket
  that cannot be held (refused, dropped `retries` times in a row) ends in "polling"; a refused
  token is renewed once per failure (Login again), as the HTTP client does on a 401.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..api import operation
from ..api.validate import path_segment
from ..errors import AliveAIError
from ..redact import redact, register_secret
from .prompt_socket import Ended, FrameReader, open_socket

if TYPE_CHECKING:
    from .client import AliveAIClient

log = logging.getLogger("aliveai")

QUEUE_FIELDS = ("promptId", "queuePosition", "progress", "video")
KEY_ONLY = ("the live queue needs a login token (Settings > AliveAI: e-mail and password); AliveAI's doc does not "
            "say an API key opens the user websocket, so the queue is polled (Get Pending)")
STARTING, LIVE, POLLING, STOPPED = "starting", "live", "polling", "stopped"


def queue_items(queue: Any) -> list[dict]:
    """The queue as the page shows it: only the known fields of dict items, nothing else."""
    return [{k: q.get(k) for k in QUEUE_FIELDS} for q in queue if isinstance(q, dict)] if isinstance(queue, list) \
        else []


def user_socket_url(ws_base: str, user_id: str, token: str) -> str:
    """The user websocket's URL; the token is quoted as one query value."""
    path = operation("user_events").path.replace("{userId}", path_segment(user_id))
    return f"{ws_base}{path}?token={quote(token, safe='')}"


class UserQueue:
    """Follows the user websocket in a daemon thread; `on_queue(items)` gets every new queue."""

    def __init__(self, client: AliveAIClient, on_queue: Callable[[list[dict]], None], *, retries: int = 3,
                 heartbeat: float = 1.0, backoff: float = 0.5):
        self.client = client
        self.on_queue = on_queue
        self.retries = retries
        self.heartbeat = heartbeat
        self.backoff = backoff
        self.state = STARTING
        self.reason = ""
        self.queue: list[dict] | None = None
        self.updated: float | None = None
        self.events = 0
        self._stop = threading.Event()
        self._reader: FrameReader | None = None
        self._thread = threading.Thread(target=self._run, name="aliveai-user-ws", daemon=True)

    def start(self) -> UserQueue:
        self._thread.start()
        return self

    def stop(self, wait: float = 2.0) -> None:
        self._stop.set()
        reader = self._reader
        if reader is not None:
            reader.close()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=wait)
        self.state = STOPPED if self.state != POLLING else POLLING

    @property
    def live(self) -> bool:
        return self.state == LIVE

    # -- the thread -------------------------------------------------------------------------
    def _poll(self, why: str) -> None:
        self.state, self.reason = POLLING, why
        log.info("AliveAI: %s", redact(why))

    def _token(self) -> str | None:
        header = self.client.transport.auth.header()
        if not header.startswith("Bearer "):
            return None
        token = header.removeprefix("Bearer ")
        register_secret(token)
        return token

    def _publish(self, queue: Any) -> None:
        items = queue_items(queue)
        self.queue, self.updated = items, time.time()
        try:
            self.on_queue(items)
        except Exception:
            log.exception("AliveAI: the live queue's listener failed")

    def _run(self) -> None:
        try:
            token = self._token()
            if token is None:
                return self._poll(KEY_ONLY)
            user_id = str(self.client.me().get("id") or "")
            if not user_id:
                return self._poll("Me answered without a user id: the queue is polled (Get Pending)")
        except AliveAIError as e:
            return self._poll(f"the live queue could not start ({e}); the queue is polled (Get Pending)")
        failures = 0
        while not self._stop.is_set():
            why = self._follow(user_id, token)
            if self._stop.is_set():
                return
            failures += 1
            if failures > self.retries:
                return self._poll(f"the user websocket failed {failures} times ({why}); the queue is polled "
                                  "(Get Pending)")
            if "401" in why or "403" in why:   # an expired token: log in again, as the HTTP client does
                self.client.transport.auth.renew(f"Bearer {token}")
                try:
                    token = self._token() or token
                except AliveAIError as e:
                    return self._poll(f"logging in again failed ({e}); the queue is polled (Get Pending)")
            self._stop.wait(self.backoff * (2 ** (failures - 1)))

    def _follow(self, user_id: str, token: str) -> str:
        """One connection, until it ends; returns why it ended (redacted)."""
        settings = self.client.settings
        url = user_socket_url(settings.ws_url, user_id, token)
        try:
            conn = open_socket(url, f"Bearer {token}", timeout=max(self.heartbeat, 5.0))
        except Exception as e:  # noqa: BLE001 - any failed handshake (refused, 401, a redirect, DNS) is one failure
            return redact(f"{type(e).__name__}: {e}")[:200]
        reader = self._reader = FrameReader(conn, "user")
        try:
            self.state, self.reason = LIVE, ""
            try:
                self._publish(self.client.pending())   # the state on connect is not documented
            except AliveAIError as e:
                log.info("AliveAI: Get Pending after the user websocket connected failed: %s", e)
            while not self._stop.is_set():
                frame = reader.get(self.heartbeat)
                if frame is None:
                    continue
                if isinstance(frame, Ended):
                    return redact(frame.why)
                try:
                    event = json.loads(frame)
                except ValueError:
                    continue
                if isinstance(event, dict) and event.get("eventType") == "QUEUE_CHANGE" and \
                        isinstance(event.get("queue"), list):
                    self.events += 1
                    self._publish(event["queue"])
            return "stopped"
        finally:
            reader.close()
            self._reader = None
            if self.state == LIVE:
                self.state = STARTING
