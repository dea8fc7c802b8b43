"""Turn an HTTP answer into the right typed error, with the API's own words.

The error body format is not documented (API.md §7.2): take the first non-empty of `detail`,
`message`, `error`, `description`, `reason`, else the raw text cut to 300 characters.

A 404 or 405 names the operation and the path tried. On an operation that looks something up by
an id in its path (Get Prompt, Load Result, a delete by id) a 404 most likely means the id is
unknown, and says so; anywhere else it means the path (or method) in the operation table is
wrong for this server, and points at the API check, which finds the right one.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..errors import ApiError, AuthError, NotFoundError, RateLimitError

if TYPE_CHECKING:
    from ..api.schema import Operation

MAX_PENDING_TEXT = "max pending creations"
RUN_CHECK = ("Run the API check (python -m nodes.doctor, or Settings > AliveAI > Check API): it finds the right "
             "path and saves it for you.")


def api_message(body: object, raw: str = "") -> str:
    if isinstance(body, dict):
        for k in ("detail", "message", "error", "description", "reason", "title"):
            v = body.get(k)
            if isinstance(v, str) and v.strip():
                return v.strip()
            if isinstance(v, dict):
                inner = api_message(v)
                if inner:
                    return inner
            if isinstance(v, list) and v:
                return "; ".join(str(x.get("msg", x)) if isinstance(x, dict) else str(x) for x in v[:5])
    raw = (raw or "").strip()
    return raw[:300] + ("…" if len(raw) > 300 else "")


def retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime  # rare (an HTTP date); email.utils costs ~7 ms to import

        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def _path_ids(op: Operation | None) -> list[str]:
    return [f.name for f in op.fields if f.where == "path"] if op is not None else []


def error_for(status: int, body: object, raw: str, *, operation: str | Operation, path: str, method: str,
              retry_after: str | None = None):
    op = None if isinstance(operation, str) else operation
    operation = operation if isinstance(operation, str) else operation.name
    msg = api_message(body, raw) or f"HTTP {status}"
    if MAX_PENDING_TEXT in msg.lower():
        return RateLimitError(f"the AliveAI queue is full ({msg}); nothing was created", operation=operation,
                              status=status, api_message=msg, queue_full=True,
                              retry_after=retry_after_seconds(retry_after))
    if status == 401:
        return AuthError(f"not authorised (HTTP 401: {msg}). Check the API key or e-mail/password.",
                         operation=operation, status=status, api_message=msg)
    if status == 403:
        return AuthError(f"forbidden (HTTP 403: {msg})", operation=operation, status=status, api_message=msg)
    if status == 429:
        return RateLimitError(f"rate limited (HTTP 429: {msg})", operation=operation, status=status, api_message=msg,
                              retry_after=retry_after_seconds(retry_after))
    ids = _path_ids(op)
    if status == 404 and ids:
        return NotFoundError(f"AliveAI knows no {' / '.join(ids)} like that (HTTP 404 on {method} {path}: {msg}): "
                             "check the id (a typo, another account, or deleted).", operation=operation,
                             status=status, api_message=msg,
                             hint="If every id gives this, the path may be wrong: " + RUN_CHECK)
    if status == 404:
        return NotFoundError(f"the path {method} {path} does not exist on this server (HTTP 404: {msg}); the "
                             f"operation table's path for {operation} is wrong here.", operation=operation,
                             status=status, api_message=msg, hint=RUN_CHECK)
    if status == 405:
        return ApiError(f"method not allowed (HTTP 405 on {method} {path}: {msg}): the operation table's method or "
                        f"path for {operation} is wrong here, or the base URL is (use https://api.aliveai.app).",
                        operation=operation, status=status, api_message=msg, hint=RUN_CHECK)
    if status == 413:
        return ApiError(f"the file is too large for AliveAI (HTTP 413: {msg})", operation=operation, status=status,
                        api_message=msg, hint="Send a smaller image or a shorter video.")
    if status == 415:
        return ApiError(f"AliveAI does not accept this file type (HTTP 415: {msg})", operation=operation,
                        status=status, api_message=msg, hint="Send a PNG, JPEG or WebP image, or an MP4 video.")
    return ApiError(f"HTTP {status}: {msg}", operation=operation, status=status, api_message=msg)
