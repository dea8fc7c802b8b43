"""Retry policy as data and small pure functions (style §5), so it is unit-tested, not guessed.

- GET and DELETE are idempotent: retried by urllib3's `Retry` (mounted on the one Session) on
  connection errors and on 429/500/502/503/504, with exponential backoff, jitter and Retry-After.
- POST (creates are paid, with no idempotency key) is retried only when the connection failed
  before anything was sent; urllib3 counts those as `connect` errors for every method. A create
  whose answer was lost is looked up, never re-sent (see client.submit).
"""
from __future__ import annotations

import inspect
import random
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # urllib3 loads with the first client, not when ComfyUI imports the pack
    from urllib3.util.retry import Retry

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
IDEMPOTENT = frozenset({"GET", "DELETE", "HEAD", "OPTIONS"})
BACKOFF_FACTOR = 0.5
BACKOFF_MAX = 30.0
TOTAL_TRIES = 5


def make_retry(total: int = TOTAL_TRIES, backoff_factor: float = BACKOFF_FACTOR) -> Retry:
    from urllib3.util.retry import Retry

    kwargs = dict(total=total, connect=total, read=total, status=total, redirect=0, other=0,
                  allowed_methods=IDEMPOTENT, status_forcelist=RETRY_STATUSES, backoff_factor=backoff_factor,
                  backoff_max=BACKOFF_MAX, raise_on_status=False, respect_retry_after_header=True)
    if "backoff_jitter" in inspect.signature(Retry.__init__).parameters:  # urllib3 >= 2
        kwargs["backoff_jitter"] = backoff_factor / 2
    return Retry(**kwargs)


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
