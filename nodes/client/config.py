"""Where the base URL and the credentials come from.

Order: environment first (ALIVEAI_API_KEY, or ALIVEAI_EMAIL + ALIVEAI_PASSWORD; ALIVEAI_BASE_URL),
then the pack's config file in ComfyUI's user directory (written by the settings dialog, owner-only
permissions, git-ignored by living outside the pack). A value the user pasted with its scheme
("Key abc", "Bearer eyJ...") is stripped: the wrong prefix gives 401 (API.md §1.2).
Nothing here knows about ComfyUI; the caller passes the config file path.
"""
from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ..atomic import atomic_file
from ..errors import ConfigError
from ..redact import register_secret

DEFAULT_BASE_URL = "https://api.aliveai.app"
CONFIG_NAME = "config.json"


@dataclass(frozen=True)
class Settings:
    base_url: str
    api_key: str | None = None
    email: str | None = None
    password: str | None = None
    source: str = "none"           # "env", "file" or "none": shown by the settings dialog

    @property
    def has_credentials(self) -> bool:
        return bool(self.api_key or (self.email and self.password))

    @property
    def ws_url(self) -> str:
        return websocket_base(self.base_url)

    def __repr__(self) -> str:  # never show secrets, even in a debugger or a traceback
        return (f"Settings(base_url={self.base_url!r}, api_key={'set' if self.api_key else None}, "
                f"email={self.email!r}, password={'set' if self.password else None}, source={self.source!r})")


def clean_secret(value: str | None) -> str | None:
    if value is None:
        return None
    v = value.strip().strip('"').strip("'").strip()
    for prefix in ("Key ", "Bearer ", "key ", "bearer "):
        if v.startswith(prefix):
            v = v[len(prefix):].strip()
    return v or None


def normalize_base_url(url: str) -> str:
    url = (url or "").strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"base URL {url!r} must start with http:// or https://")
    return url


def websocket_base(base_url: str) -> str:
    """wss for https, ws for http: `wss://api.aliveai.app` from `https://api.aliveai.app`."""
    parts = urlsplit(base_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def read_config_file(path: str | os.PathLike | None) -> dict:
    if not path:
        return {}
    p = Path(path)
    try:
        data = json.loads(p.read_text("utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot read the AliveAI config file {p}: {e}") from None
    return data if isinstance(data, dict) else {}


def write_config_file(path: str | os.PathLike, data: dict) -> None:
    """Write atomically with owner-only permissions (0600) from the first byte."""
    p = Path(path)
    with atomic_file(p, stat.S_IRUSR | stat.S_IWUSR) as f:
        f.write(json.dumps({k: v for k, v in data.items() if v not in (None, "")}, indent=2).encode("utf-8"))
    os.chmod(p, stat.S_IRUSR | stat.S_IWUSR)


def resolve(config_path: str | os.PathLike | None = None, env: dict | None = None) -> Settings:
    env = os.environ if env is None else env
    file = read_config_file(config_path)
    base = env.get("ALIVEAI_BASE_URL") or file.get("base_url") or DEFAULT_BASE_URL
    key = clean_secret(env.get("ALIVEAI_API_KEY"))
    email, password = env.get("ALIVEAI_EMAIL"), env.get("ALIVEAI_PASSWORD")
    source = "env" if key or (email and password) else "none"
    if source == "none":
        key = clean_secret(file.get("api_key"))
        email, password = file.get("email"), file.get("password")
        if key or (email and password):
            source = "file"
    for secret in (key, password):
        register_secret(secret)
    return Settings(normalize_base_url(base), key, (email or None), (password or None), source)
