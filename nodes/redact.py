"""The one place secrets are scrubbed from text.

Every credential the client learns (API key, password, access token) is registered here the
moment it is read. Error messages and log records pass through `redact`, so a secret that slips
into an API error body or a URL never reaches the user's screen or a log. The `aliveai` logger
carries a filter that applies it to every record. Files (sidecars, the job log) go through
`redact_data`, which knows their structure.

Secrets should never be written in the first place; this is the safety net, and it must not
wreck ordinary text:
- a strong secret (12+ characters, not just letters: an API key, a token) is removed wherever
  it appears, even inside a longer string;
- a weak one (short, or an ordinary word used as a password) only as a whole token, so the
  password "sunshine" does not turn `sunshine_photos/` into `***_photos/`; one of 1-3
  characters only as a whole value (redact_data) or after a credential label (the patterns);
- `redact_data` never rewrites path or id values (`file`, `path`, `prompt_id`, ...): a mangled
  path broke Load Result. A value equal to a secret is masked whatever its name.
"""
from __future__ import annotations

import json
import logging
import re
import threading
from typing import Any

_lock = threading.Lock()
_secrets: set[str] = set()
_compiled: tuple[frozenset, re.Pattern | None, re.Pattern | None] = (frozenset(), None, None)
MASK = "***"
STRONG_LEN = 12     # a secret this long that is not just letters is removed even inside a longer string
TOKEN_LEN = 4       # a shorter secret is masked only as a whole value or after a label
_WORD = r"A-Za-z0-9_\-"
# Header values and URL tokens that look like credentials, even ones we never registered.
_PATTERNS = (
    re.compile(r"(?i)(authorization\s*[:=]\s*[\"']?(?:key|bearer)\s+)[^\s\"',}]+"),
    re.compile(r"(?i)([?&](?:token|access_token|apikey|api_key|key|password)=)[^&\s\"']+"),
    re.compile(r"(?i)(\"(?:apiKey|api_key|accessToken|access_token|password)\"\s*:\s*\")[^\"]*"),
)
# values of these names are paths or ids we wrote ourselves: never rewritten (a path with the
# password "sunshine" in a folder name must still lead to the file)
PATH_KEYS = frozenset({"file", "files", "path", "paths", "folder", "subfolder", "filename", "prompt_id",
                       "promptId", "media_id", "mediaId", "media_ids", "id", "sidecar"})


def strong(secret: str) -> bool:
    return len(secret) >= STRONG_LEN and not secret.isalpha()


def register_secret(value: str | None) -> None:
    """Remember a credential so `redact` can remove it, whatever its length (see the module
    docstring for how short and word-like ones are matched)."""
    if value and isinstance(value, str):
        with _lock:
            _secrets.add(value)


def _patterns() -> tuple[frozenset, re.Pattern | None, re.Pattern | None]:
    """(all secrets, substring pattern of the strong ones, whole-token pattern of the weak ones)."""
    global _compiled
    with _lock:
        if _compiled[0] == frozenset(_secrets):
            return _compiled
        secrets = frozenset(_secrets)
    by_len = sorted(secrets, key=len, reverse=True)
    hard = [re.escape(x) for x in by_len if strong(x)]
    soft = [re.escape(x) for x in by_len if not strong(x) and len(x) >= TOKEN_LEN]
    compiled = (secrets, re.compile("|".join(hard)) if hard else None,
                re.compile(f"(?<![{_WORD}])(?:{'|'.join(soft)})(?![{_WORD}])") if soft else None)
    with _lock:
        _compiled = compiled
    return compiled


def redact(text: object) -> str:
    s = str(text)
    _, hard, soft = _patterns()
    if hard is not None:
        s = hard.sub(MASK, s)
    if soft is not None:
        s = soft.sub(MASK, s)
    for pat in _PATTERNS:
        s = pat.sub(lambda m: m.group(1) + MASK, s)
    return s


def redact_data(data: Any, key: str | None = None) -> Any:
    """A copy of JSON-like `data` with secrets masked in its string values (as `redact` does),
    except values of PATH_KEYS, which are kept as they are unless they equal a secret."""
    if isinstance(data, dict):
        return {k: redact_data(v, k if isinstance(k, str) else None) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [redact_data(v, key) for v in data]
    if isinstance(data, str):
        secrets = _patterns()[0]
        if data in secrets:
            return MASK
        return data if key in PATH_KEYS else redact(data)
    return data


def redact_json(data: Any, **dumps: Any) -> str:
    """`data` as JSON text (unknown objects as their str), through `redact_data`."""
    return json.dumps(redact_data(json.loads(json.dumps(data, default=str))), **dumps)


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
