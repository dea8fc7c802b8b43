"""Retry policy as data and small pure functions (style §5), so it is unit-tested, not guessed.

- GET and DELETE are idempotent: retried by urllib3's `Retry` (mounted on the one Session) on
  connection errors and on 429/500/502/503/504, with exponential backoff, jitter and Retry-After.
- POST (creates are paid, with no idempotency key) is retried only when the connection failed
  before anything was sent; urllib3 counts those as `connect` errors for every method. A create
  whose answer was lost is looked up, never re-sent (see client.submit).
- Every wait a server asks for (Retry-After, in seconds or as an HTTP date) is held between
  WAIT_FLOOR and WAIT_CEILING: `Retry-After: 0` or a date in the past (clock skew) must not
  make a tight loop, and a huge value must not park a node for a day (`server_wait`).
- A create is sent at most CREATES_PER_MINUTE times per minute for one request, whatever the
  server answers (`CreateRate`): a refused create costs nothing, but a loop of them is abuse.
"""
from __future__ import annotations

import inspect
import random
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # urllib3 loads with the first client, not when ComfyUI imports the pack
    from urllib3.util.retry import Retry

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
IDEMPOTENT = frozenset({"GET", "DELETE", "HEAD", "OPTIONS"})
BACKOFF_FACTOR = 0.5
BACKOFF_MAX = 30.0
TOTAL_TRIES = 5
WAIT_FLOOR = 1.0          # seconds: the least wait a server's Retry-After can ask for
WAIT_CEILING = 60.0       # seconds: the longest
CREATES_PER_MINUTE = 4    # sends of one create request in any 60 s window


def server_wait(seconds: float | None, fallback: float | None = None) -> float | None:
    """The wait to honour for a server's Retry-After (`seconds`, None when absent): clamped to
    [WAIT_FLOOR, WAIT_CEILING]. Without one, `fallback` (our own backoff) is used as it is."""
    if seconds is None or seconds != seconds:   # absent, or NaN
        return fallback
    return min(WAIT_CEILING, max(WAIT_FLOOR, float(seconds)))


class CreateRate:
    """At most `limit` creates in any `window` seconds for one request: `wait()` says how long to
    wait before the next may be sent (0 when it may go now); `sent()` records one."""

    def __init__(self, limit: int | None = None, window: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.limit = CREATES_PER_MINUTE if limit is None else limit
        self.window = window
        self.clock = clock
        self._sent: deque[float] = deque()

    def wait(self) -> float:
        now = self.clock()
        while self._sent and now - self._sent[0] >= self.window:
            self._sent.popleft()
        if len(self._sent) < self.limit:
            return 0.0
        return self._sent[0] + self.window - now

    def sent(self) -> None:
        self._sent.append(self.clock())


def make_retry(total: int = TOTAL_TRIES, backoff_factor: float = BACKOFF_FACTOR) -> Retry:
    from urllib3.util.retry import Retry

    class ClampedRetry(Retry):
        """urllib3 sleeps whatever Retry-After says (86400 s included) and treats 0 or a past date
        as "no header" only by luck of a falsy test: hold every such wait in [floor, ceiling]."""

        def get_retry_after(self, response):
            return server_wait(super().get_retry_after(response))

    kwargs = dict(total=total, connect=total, read=total, status=total, redirect=0, other=0,
                  allowed_methods=IDEMPOTENT, status_forcelist=RETRY_STATUSES, backoff_factor=backoff_factor,
                  backoff_max=BACKOFF_MAX, raise_on_status=False, respect_retry_after_header=True)
    if "backoff_jitter" in inspect.signature(Retry.__init__).parameters:  # urllib3 >= 2
        kwargs["backoff_jitter"] = backoff_factor / 2
    return ClampedRetry(**kwargs)


def is_retryable(method: str, status: int | None, sent: bool) -> bool:
    """Whether a failed request may be sent again. `status` None means no answer arrived;
    `sent` says whether the request may have reached the server."""
    if not sent:
        return True
    if method.upper() not in IDEMPOTENT:
        return False
    return status is None or status in RETRY_STATUSES


def backoff(attempt: int, base: float = 0.5, cap: float = BACKOFF_MAX, rng: random.Random | None = None) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(cap, base * 2**attempt)]."""
    r = rng or random
    return r.uniform(0, min(cap, base * (2 ** attempt)))
