"""Process-wide pieces the nodes share: the client for the current settings, the result store,
and the upload cache key. Settings are re-read on every run (the settings dialog may have
changed them); a client is reused while they stay the same.
"""
from __future__ import annotations

import hashlib
import threading

from ..client import AliveAIClient, resolve
from ..client.config import Settings
from ..store import ResultStore
from . import bridge

_lock = threading.Lock()
_client: AliveAIClient | None = None
_client_settings: Settings | None = None


def settings() -> Settings:
    return resolve(bridge.config_path())


def client() -> AliveAIClient:
    global _client, _client_settings
    s = settings()
    with _lock:
        if _client is None or _client_settings != s:
            if _client is not None:
                _client.close()
            _client, _client_settings = AliveAIClient(s), s
        return _client


def reset() -> None:
    """Forget the cached client (tests, or after the settings changed)."""
    global _client, _client_settings
    with _lock:
        if _client is not None:
            _client.close()
        _client, _client_settings = None, None


def store() -> ResultStore:
    return ResultStore(bridge.output_dir(), bridge.user_dir())


def account_scope(s: Settings) -> str:
    """Upload cache keys are per API and account: a media id of the simulator means nothing to
    the live API. The credential is hashed, never kept."""
    who = s.api_key or s.email or ""
    return s.base_url + "|" + hashlib.sha256(who.encode()).hexdigest()[:16]
