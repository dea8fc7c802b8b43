"""Presigned, expiring media URLs in the style of S3 SigV4 query signing.

The real `mediaUrl`s live on files.aliveai.app and are S3 presigned URLs: a client that
re-encodes, reorders or strips the query, or waits past `X-Amz-Expires`, gets 403 (API.md
§7.4). The simulator reproduces exactly that contract: the signature is an HMAC over the
path and the raw query string as issued, so any change to it fails, byte for byte.
"""
from __future__ import annotations

import calendar
import hashlib
import hmac
import time
from urllib.parse import parse_qsl

ALGORITHM = "AWS4-HMAC-SHA256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_SIG = "&X-Amz-Signature="


def _mac(secret: bytes, path: str, unsigned_query: str) -> str:
    return hmac.new(secret, f"{path}\n{unsigned_query}".encode(), hashlib.sha256).hexdigest()


def sign(secret: bytes, path: str, now: float, ttl: int) -> str:
    """The query string (no leading '?') that makes `path` downloadable for `ttl` seconds from `now`."""
    stamp = time.strftime(DATE_FORMAT, time.gmtime(now))
    unsigned = (f"X-Amz-Algorithm={ALGORITHM}"
                f"&X-Amz-Credential=SIMULATOR%2F{stamp[:8]}%2Fus-east-1%2Fs3%2Faws4_request"
                f"&X-Amz-Date={stamp}&X-Amz-Expires={int(ttl)}&X-Amz-SignedHeaders=host")
    return unsigned + _SIG + _mac(secret, path, unsigned)


def check(secret: bytes, path: str, raw_query: str, now: float) -> tuple[str, str] | None:
    """None when the URL is valid; else (S3 error code, message) for the 403 answer."""
    unsigned, sep, signature = raw_query.rpartition(_SIG)
    if not sep or not hmac.compare_digest(signature, _mac(secret, path, unsigned)):
        return "SignatureDoesNotMatch", ("The request signature we calculated does not match the signature "
                                         "you provided.")
    params = dict(parse_qsl(unsigned))
    try:
        issued = calendar.timegm(time.strptime(params["X-Amz-Date"], DATE_FORMAT))
        expires = int(params["X-Amz-Expires"])
    except (KeyError, ValueError):
        return "AuthorizationQueryParametersError", "X-Amz-Date and X-Amz-Expires must be present and valid."
    if now > issued + expires:
        return "AccessDenied", "Request has expired"
    return None
