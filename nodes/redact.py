"""The one place secrets are scrubbed from text.

Every credential the client learns (API key, password, access token) is registered here the
moment it is read. Error messages, log records and sidecar files pass through `redact`, so a
secret that slips into an API error body or a URL never reaches the user's screen, a log or a
shared file. The `aliveai` logger carries a filter that applies it to every record.
"""
from __future__ import annotations

import logging
import re
import threading

_lock = threading.Lock()
_secrets: set[str] = set()
MASK = "***"
# Header values and URL tokens that look like credentials, even ones we never registered.
_PATTERNS = (
    re.compile(r"(?i)(authorization\s*[:=]\s*[\"']?(?:key|bearer)\s+)[^\s\"',}]+"),
    re.compile(r"(?i)([?&](?:token|access_token|apikey|api_key|key)=)[^&\s\"']+"),
    re.compile(r"(?i)(\"(?:apiKey|accessToken|password)\"\s*:\s*\")[^\"]*"),
)


def register_secret(value: str | None) -> None:
    """Remember a credential so `redact` can remove it. Short values are ignored: masking
    every occurrence of a 3-letter string would wreck ordinary text."""
    if value and len(value) >= 6:
        with _lock:
            _secrets.add(value)


def redact(text: object) -> str:
    s = str(text)
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in s:
            s = s.replace(secret, MASK)
    for pat in _PATTERNS:
        s = pat.sub(lambda m: m.group(1) + MASK, s)
    return s


def mask(value: str | None) -> str:
    """Show a secret as its last four characters, for settings screens: `••••abcd`."""
    if not value:
        return ""
    return "\u2022" * 4 + value[-4:] if len(value) > 8 else "\u2022" * 4


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        clean = redact(msg)
        if clean != msg:
            record.msg, record.args = clean, None
        return True


log = logging.getLogger("aliveai")
if not any(isinstance(f, RedactingFilter) for f in log.filters):
    log.addFilter(RedactingFilter())
