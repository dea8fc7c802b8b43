"""A job is a handle: follow it live, get its result, cancel it, or re-attach by prompt_id.

`Job.events()` yields small typed statuses: Queued(position), Running(progress), Notice(text),
Waiting (a heartbeat at least once a second, so a caller can check for an interrupt even when
the API says nothing for minutes), then Completed(medias) or Failed(error).

It listens on the prompt websocket and, because a job that finishes before we connect may never
send an event (API.md §6.1), reads the job's state (Get Pending, then Get Prompt once it is no
longer pending) after every (re)connect, and again whenever the socket has brought no news for
SILENT_CHECK seconds (an open socket that stopped delivering events, or only repeats itself, looks
exactly like a long queue). Following runs on a clock, not on frames: frames are read in a thread
of their own (prompt_socket.FrameReader) and the follower waits at most one heartbeat for one, so
Job.stop(), the silence check and the running-time limit are checked, and something is yielded,
at least once a heartbeat whatever the socket sends. A dropped socket is reopened with backoff
(a 401 on the handshake logs in again once; a redirect is never followed); after repeated
failures it polls Get Pending + Get Prompt instead. A job is never abandoned while
queued: only running time counts against `running_timeout`, and while polling, network errors and
5xx answers are ridden out for up to OFFLINE_LIMIT seconds (a server restart).
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..api.schema import Operation
from ..api.validate import path_segment
from ..errors import (AliveAIError, ApiError, JobCancelledError, JobFailedError, JobTimeoutError, NetworkError,
                      NotFoundError, RateLimitError)
from .events import Completed, Event, Failed, Notice, Running, Waiting, status_of
from .prompt_socket import Ended, FrameReader, close_socket, open_socket
from .results import medias_of, pick_results
from .retry import RETRY_STATUSES, backoff

if TYPE_CHECKING:  # websocket-client loads when a job is first followed, not when ComfyUI imports the pack
    import websocket

    from .client import AliveAIClient

log = logging.getLogger("aliveai")

HEARTBEAT = 1.0
POLL_INTERVAL = 2.5
WS_MAX_FAILURES = 4
COMPLETE_RETRIES = 5       # Get Prompt tries when a completion event lacks the expected media
GONE_GRACE_POLLS = 4       # polls a job may be absent from the queue without medias before we call it failed
GONE_RECHECK = 1.0         # seconds between the two looks of _check_gone
PING_EVERY = 25.0
SILENT_CHECK = 10.0        # seconds without a websocket frame before Get Pending / Get Prompt are read
API_MESSAGE_MAX = 500      # characters of an API error message kept in our error text
OFFLINE_LIMIT = 300.0      # seconds of network errors while polling before giving up (the job goes on remotely)


def transient(e: BaseException) -> bool:
    """An error worth waiting out while following a job: no answer, or a 5xx/429 that outlived
    urllib3's own retries. Auth and not-found errors are not."""
    return isinstance(e, NetworkError) or (isinstance(e, (ApiError, RateLimitError)) and e.status in RETRY_STATUSES)


class Job:
    def __init__(self, client: AliveAIClient, op: Operation, prompt_id: str, *, seed: str | None = None,
                 input_ids: tuple[str, ...] = ()):
        self.client = client
        self.op = op
        self.prompt_id = prompt_id
        self.seed = seed
        self.input_ids = input_ids
        self.mode = "websocket"
        self._stop = threading.Event()

    def __repr__(self) -> str:
        return f"Job({self.op.key}, prompt_id={self.prompt_id!r})"

    # -- public ------------------------------------------------------------------------------
    def stop(self) -> None:
        """Make a running `events()` loop return at its next heartbeat (used on cancel)."""
        self._stop.set()

    def result(self, running_timeout: float | None = None) -> Completed:
        for ev in self.events(running_timeout=running_timeout):
            if isinstance(ev, Completed):
                return ev
            if isinstance(ev, Failed):
                raise ev.error
        raise JobCancelledError("stopped before the job finished", operation=self.op.name, prompt_id=self.prompt_id)

    def cancel(self) -> str:
        """Ask AliveAI to drop the job. Returns "removed" (it was still queued), "running" (too
        late: it keeps running and may be billed) or "gone" (not in the queue any more)."""
        self.stop()
        return self.client.cancel(self.prompt_id)

    def events(self, running_timeout: float | None = None, heartbeat: float | None = None,
               use_websocket: bool = True) -> Iterator[Event]:
        follow = _Follow(self, running_timeout, heartbeat or HEARTBEAT)
        yield from follow.run(use_websocket)

    # -- helpers used by _Follow -------------------------------------------------------------
    def completed_from(self, container: Any) -> Completed | None:
        all_m = medias_of(container)
        picked = pick_results(all_m, self.op.expected_media, self.input_ids)
        if not picked:
            return None
        return Completed(tuple(picked), tuple(all_m), container if isinstance(container, dict) else {})


class _Follow:
    """The state of one `events()` run; kept out of Job so a handle can be followed again."""

    def __init__(self, job: Job, running_timeout: float | None, heartbeat: float):
        self.job = job
        self.client = job.client
        self.running_timeout = running_timeout
        self.heartbeat = heartbeat
        self.t0 = time.monotonic()
        self.run_started: float | None = None
        self.last_status: Event | None = None
        self.last_notice: Notice | None = None

    # Running time only: the queue wait is shown, never counted (API.md §7.1.7).
    def _check_timeout(self) -> None:
        if self.running_timeout and self.run_started is not None:
            ran = time.monotonic() - self.run_started
            if ran > self.running_timeout:
                raise JobTimeoutError(f"still running after {ran:.1f} s of running time (limit "
                                      f"{self.running_timeout:g} s; the queue wait is not counted)",
                                      operation=self.job.op.name, prompt_id=self.job.prompt_id)

    def _status(self, ev: Event) -> Event | None:
        if isinstance(ev, Running) and self.run_started is None:
            self.run_started = time.monotonic()
        if ev == self.last_status:
            return None
        self.last_status = ev
        return ev

    def _waiting(self) -> Waiting:
        self._check_timeout()
        return Waiting(self.job.mode, time.monotonic() - self.t0)

    def run(self, use_websocket: bool) -> Iterator[Event]:
        self.job.mode = "websocket" if use_websocket else "polling"
        try:
            if use_websocket:
                done = yield from self._websocket()
                if done:
                    return
            self.job.mode = "polling"
            yield from self._poll()
        except AliveAIError as e:
            yield Failed(e.with_context(operation=self.job.op.name, prompt_id=self.job.prompt_id))

    # -- websocket ------------------------------------------------------------------------------
    def _connect(self) -> websocket.WebSocket:
        import websocket

        url = f"{self.client.settings.ws_url}/ws/prompts/{path_segment(self.job.prompt_id)}"
        auth = self.client.transport.auth
        for attempt in (0, 1):
            header = auth.header()
            try:
                return open_socket(url, header, timeout=self.heartbeat)
            except websocket.WebSocketBadStatusException as e:
                # An access token that expired mid-job: log in again once, as HTTP calls do.
                if getattr(e, "status_code", None) == 401 and attempt == 0 and auth.renew(header):
                    log.info("AliveAI %s: websocket got 401, logging in again", self.job.prompt_id)
                    continue
                raise
        raise AssertionError("unreachable")

    def _websocket(self) -> Iterator[Event]:
        """Returns True when the job ended (an event was yielded), False to fall back to polling."""
        import websocket

        failures = 0
        while failures <= WS_MAX_FAILURES:
            if self.job._stop.is_set():
                return True
            try:
                conn = self._connect()
            except (websocket.WebSocketException, OSError, NetworkError) as e:
                # A refused or redirected handshake (a redirect is never followed), or no answer.
                failures += 1
                log.info("AliveAI %s: websocket not available (%s), attempt %d", self.job.prompt_id,
                         type(e).__name__, failures)
                yield from self._sleep(backoff(failures, base=0.5, cap=8.0) if failures <= WS_MAX_FAILURES else 0)
                continue
            try:
                try:
                    # The job may have finished (or failed) before we connected, and events sent while
                    # we were away are lost: read its state once.
                    ended = yield from self._probe()
                    if ended:
                        return True
                    ended = yield from self._read(conn)
                except AliveAIError as e:
                    if not transient(e):
                        raise
                    log.info("AliveAI %s: %s; reconnecting", self.job.prompt_id, e.message)
                    ended = False
                if ended:
                    return True
                failures += 1
                yield from self._sleep(backoff(failures, base=0.5, cap=8.0))
            finally:
                close_socket(conn)
        log.warning("AliveAI %s: websocket kept failing, polling instead", self.job.prompt_id)
        return False

    def _read(self, conn: websocket.WebSocket) -> Iterator[Event]:
        """Follow the socket on a clock: at least once a heartbeat, whatever the socket sends (a
        flood, `{}` keep-alives, one frame a byte at a time, nothing), check Job.stop(), the
        running-time limit and the silence timer, and yield (a Waiting when nothing else went
        out), so the caller can check its own interrupt. Only news resets the silence timer:
        frames that change nothing (the same queue position again, `{}`) do not."""
        reader = FrameReader(conn, self.job.prompt_id)
        try:
            now = time.monotonic()
            last_ping = last_news = last_yield = now
            while not self.job._stop.is_set():
                item = reader.get(timeout=min(self.heartbeat, last_yield + self.heartbeat - now))
                if isinstance(item, Ended):
                    log.info("AliveAI %s: websocket ended (%s)", self.job.prompt_id, item.why)
                    return False
                if item is not None:
                    for ev in self._from_frame(item):
                        yield ev
                        last_news = last_yield = time.monotonic()
                        if isinstance(ev, (Completed, Failed)):
                            return True
                now = time.monotonic()
                if now - last_ping > PING_EVERY:
                    conn.ping()
                    last_ping = now
                if now - last_news > SILENT_CHECK:
                    # Quiet (or only noise) for a while: an open socket that stopped delivering
                    # events looks exactly like a long queue, so read the job's state.
                    ended = yield from self._probe()
                    if ended:
                        return True
                    now = last_news = time.monotonic()
                self._check_timeout()
                if now - last_yield >= self.heartbeat:
                    yield self._waiting()
                    now = last_yield = time.monotonic()
            return True
        finally:
            reader.close()

    def _from_frame(self, frame: str | bytes) -> Iterator[Event]:
        try:
            data = json.loads(frame)
        except ValueError:
            log.warning("AliveAI %s: ignoring a malformed websocket frame", self.job.prompt_id)
            return
        yield from self._from_event(data)

    def _from_event(self, data: Any) -> Iterator[Event]:
        if not isinstance(data, dict):
            return
        if data.get("isError"):
            msg = str(data.get("message") or "the job failed")
            if len(msg) > API_MESSAGE_MAX:   # the API's text goes into our error: never a megabyte of it
                msg = msg[:API_MESSAGE_MAX] + f"… ({len(msg)} characters)"
            etype = data.get("errorType")
            yield Failed(JobFailedError(f"AliveAI reported an error: {msg}" + (f" ({etype})" if etype else ""),
                                        error_type=etype, operation=self.job.op.name, prompt_id=self.job.prompt_id,
                                        api_message=msg))
            return
        if data.get("isComplete"):
            done = self.job.completed_from(data) or self._check_prompt(final=True)
            yield done
            return
        if data.get("isSystem"):
            if data.get("message"):
                notice = Notice(str(data["message"]))
                if notice != self.last_notice:    # the same notice again is no news
                    self.last_notice = notice
                    yield notice
            return
        ev = status_of(data.get("queuePosition"), data.get("progress"))
        if ev is not None:
            out = self._status(ev)
            if out is not None:
                yield out
        self._check_timeout()

    def _probe(self) -> Iterator[Event]:
        """Where is the job? Get Pending, and Get Prompt when it is no longer pending; used on every
        (re)connect and when the socket has been silent. Returns True when the job ended (its last
        event was yielded)."""
        item = self.client.pending_item(self.job.prompt_id)
        if item is not None:
            ev = status_of(item.get("queuePosition"), item.get("progress"))
            out = self._status(ev) if ev is not None else None
            if out is not None:
                yield out
            self._check_timeout()
            return False
        end = self._check_prompt(final=False) or self._check_gone()
        if end is None:
            return False
        yield end
        return True

    # -- polling --------------------------------------------------------------------------------
    def _poll(self) -> Iterator[Event]:
        gone = 0
        offline_since: float | None = None
        while not self.job._stop.is_set():
            try:
                item = self.client.pending_item(self.job.prompt_id)
                end = None if item is not None else self._check_prompt(final=False)
            except AliveAIError as e:
                if not transient(e):
                    raise
                now = time.monotonic()
                if offline_since is None:
                    offline_since = now
                    yield Notice(f"AliveAI unreachable ({e.message}); still following the job")
                if now - offline_since > OFFLINE_LIMIT:
                    raise NetworkError(f"lost contact with AliveAI for {now - offline_since:.0f} s while following "
                                       f"the job ({e.message}); it may still finish: run Load Result (AliveAI) "
                                       "with this prompt_id later.", operation=self.job.op.name,
                                       prompt_id=self.job.prompt_id) from None
                yield from self._sleep(POLL_INTERVAL)
                continue
            offline_since = None
            if item is not None:
                gone = 0
                ev = status_of(item.get("queuePosition"), item.get("progress"))
                if ev is not None:
                    out = self._status(ev)
                    if out is not None:
                        yield out
            else:
                if end is not None:
                    yield end
                    return
                gone += 1
                if gone >= GONE_GRACE_POLLS:
                    yield Failed(JobFailedError("the job left the queue without a result (no "
                                                f"{self.job.op.expected_media} media)", operation=self.job.op.name,
                                                prompt_id=self.job.prompt_id))
                    return
            self._check_timeout()
            yield from self._sleep(POLL_INTERVAL)

    def _sleep(self, seconds: float) -> Iterator[Event]:
        end = time.monotonic() + seconds
        while not self.job._stop.is_set():
            left = end - time.monotonic()
            if left <= 0:
                return
            if self.job._stop.wait(min(self.heartbeat, left)):
                return
            yield self._waiting()

    def _check_gone(self) -> Completed | Failed | None:
        """A job with no result that is not in the queue either has ended without one (failed or
        removed); events for it may never come. Checked twice, a second apart, so a job that is
        just being listed or just finishing is not misread."""
        for attempt in (0, 1):
            if self.client.pending_item(self.job.prompt_id) is not None:
                return None
            if attempt == 0:
                time.sleep(GONE_RECHECK)
                done = self._check_prompt(final=False)
                if done is not None:
                    return done
        return Failed(JobFailedError("the job is no longer queued and has no result: it failed or was removed",
                                     operation=self.job.op.name, prompt_id=self.job.prompt_id))

    def _check_prompt(self, final: bool) -> Completed | Failed | None:
        """Read Get Prompt; with `final` (a completion event without the media) retry a few
        times, then fail: the job says it is done but its result is missing."""
        tries = COMPLETE_RETRIES if final else 1
        for i in range(tries):
            try:
                container = self.client.get_prompt(self.job.prompt_id)
            except NotFoundError:
                container = None
            done = self.job.completed_from(container)
            if done is not None:
                return done
            if final and i < tries - 1:
                time.sleep(min(0.25 * (2 ** i), 2.0))
        if final:
            return Failed(JobFailedError(f"the job completed but no {self.job.op.expected_media} media arrived",
                                         operation=self.job.op.name, prompt_id=self.job.prompt_id))
        return None
