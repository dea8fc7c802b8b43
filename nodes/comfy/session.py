"""Process-wide pieces the nodes share: the client for the current settings, the result store,
and the upload cache key. Settings are re-read on every run (the settings dialog may have
changed them); a client is reused while they stay the same.

Two clients: the nodes' own, which retries for minutes because a paid job depends on it, and a
quick one (one retry, short timeouts) for anything a person or a run merely waits on: the
settings dialog, the status tab, the catalog pickers and the catalog id checks.
"""
from __future__ import annotations

import functools
import hashlib
import threading

from ..client import AliveAIClient, resolve
from ..errors import AliveAIError
from ..client.config import Settings
from ..store import ResultStore
from . import bridge

QUICK_TIMEOUT = (5.0, 15.0)  # connect, read: someone is waiting

_lock = threading.Lock()
_client: AliveAIClient | None = None
_client_settings: Settings | None = None


def settings() -> Settings:
    return resolve(bridge.config_path())


@functools.lru_cache(maxsize=1)
def start_routes() -> dict[str, tuple[str, str]]:
    """The path overrides when the nodes are built (at import), for their descriptions; none when
    the settings cannot be read now (the error shows when a node runs)."""
    try:
        return settings().routes
    except AliveAIError:
        return {}


def client() -> AliveAIClient:
    global _client, _client_settings
    s = settings()
    with _lock:
        if _client is None or _client_settings != s:
            if _client is not None:
                _client.close()
            _client, _client_settings = AliveAIClient(s), s
        return _client


class QuickClients:
    """One quick client per settings: one retry and short timeouts (the nodes' client retries
    for minutes, which a settings screen must not wait for). Kept, not made per call, so
    e-mail/password users do not log in on every status or catalog refresh."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._client: AliveAIClient | None = None

    def get(self, s: Settings) -> AliveAIClient:
        with self._lock:
            if self._client is None or self._client.settings != s:
                self._close()
                self._client = AliveAIClient(s, retries=1, backoff_factor=0.2)
                self._client.transport.timeout = QUICK_TIMEOUT
            return self._client

    def reset(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client = None


QUICK = QuickClients()


def reset() -> None:
    """Forget the cached clients (tests, or after the settings changed)."""
    global _client, _client_settings
    with _lock:
        if _client is not None:
            _client.close()
        _client, _client_settings = None, None
    QUICK.reset()


def store() -> ResultStore:
    return ResultStore(bridge.output_dir(), bridge.user_dir(), bridge.cache_dir())


def account_scope(s: Settings) -> str:
    """Upload cache keys are per API and account: a media id of the simulator means nothing to
    the live API. The credential is hashed, never kept."""
    who = s.api_key or s.email or ""
    return s.base_url + "|" + hashlib.sha256(who.encode()).hexdigest()[:16]
