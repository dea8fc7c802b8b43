"""Where the base URL and the credentials come from.

Order: environment first (ALIVEAI_API_KEY, or ALIVEAI_EMAIL + ALIVEAI_PASSWORD; ALIVEAI_BASE_URL),
then the pack's config file in ComfyUI's user directory (written by the settings dialog, owner-only
permissions, git-ignored by living outside the pack). A value the user pasted with its scheme
("Key abc", "Bearer eyJ...") is stripped: the wrong prefix gives 401 (API.md §1.2).
Nothing here knows about ComfyUI; the caller passes the config file path.

Key custody: credentials are bound to the API host they were given for, because whoever can
change the base URL could otherwise receive the key on the next call.
- Environment credentials go only to ALIVEAI_BASE_URL, or to the default host: never to the
  file's base_url, which the settings route (reachable by anything that reaches ComfyUI) writes.
- File credentials carry `credentials_for`, the base URL they were saved for; they are used only
  while the effective base URL is that one (a file from before this field: its own base_url).
  Otherwise they are withheld and `Settings.withheld` says why.
- Base URLs are parsed strictly and keys must be printable ASCII without spaces, so a newline
  or a zero-width character is a ConfigError naming its origin before anything is sent.
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
    withheld: str = ""             # why saved credentials are not used with this base URL ("" when they are)
    paths: tuple[tuple[str, str, str], ...] = ()   # (op_key, METHOD, path) overrides: api/overrides.py

    @property
    def routes(self) -> dict[str, tuple[str, str]]:
        """The path overrides as {op_key: (METHOD, path)}."""
        return {k: (m, p) for k, m, p in self.paths}

    @property
    def has_credentials(self) -> bool:
        return bool(self.api_key or (self.email and self.password))

    @property
    def ws_url(self) -> str:
        return websocket_base(self.base_url)

    def __repr__(self) -> str:  # never show secrets, even in a debugger or a traceback
        return (f"Settings(base_url={self.base_url!r}, api_key={'set' if self.api_key else None}, "
                f"email={self.email!r}, password={'set' if self.password else None}, source={self.source!r}, "
                f"withheld={bool(self.withheld)}, paths={len(self.paths)})")


def clean_secret(value: str | None) -> str | None:
    if value is None:
        return None
    v = value.strip().strip('"').strip("'").strip()
    for prefix in ("Key ", "Bearer ", "key ", "bearer "):
        if v.startswith(prefix):
            v = v[len(prefix):].strip()
    return v or None


URL_HINT = ("(the API's address is scheme://host[:port], e.g. https://api.aliveai.app, or the simulator's "
            "http://127.0.0.1:8765; set it in ALIVEAI_BASE_URL or Settings > AliveAI > Account)")


def normalize_base_url(url: str, origin: str = "base URL") -> str:
    """`scheme://host[:port][/path]` with no trailing slash, or ConfigError. Strict, because the
    key follows this URL: http/https only, a host, a port 1-65535, no user:password@, no query or
    fragment, no whitespace or control characters anywhere (a newline would split a header)."""
    raw = url if isinstance(url, str) else ""
    shown = repr(raw[:80])
    url = raw.strip().rstrip("/")
    if any(not c.isprintable() or c.isspace() for c in url):
        raise ConfigError(f"{origin} {shown} contains whitespace or control characters", hint=URL_HINT)
    try:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname
    except ValueError as e:  # "http://[::1", "http://h:99999", "http://h:x"
        raise ConfigError(f"{origin} {shown} is not a valid URL ({e})", hint=URL_HINT) from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{origin} {shown} must start with http:// or https://", hint=URL_HINT)
    if not host:
        raise ConfigError(f"{origin} {shown} has no host", hint=URL_HINT)
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ConfigError(f"{origin} must not contain a user name or password (user:pw@host)", hint=URL_HINT)
    if port is not None and not 1 <= port <= 65535 or parts.netloc.endswith(":"):
        raise ConfigError(f"{origin} {shown} has an invalid port (1-65535)", hint=URL_HINT)
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise ConfigError(f"{origin} {shown} must not have a query or a fragment", hint=URL_HINT)
    return url


def check_key(value: str | None, origin: str) -> str | None:
    """A key goes into a header: printable ASCII without spaces, or ConfigError naming `origin`.
    The value is never shown (it may be a real key with one bad character)."""
    if value and not all("!" <= c <= "~" for c in value):
        raise ConfigError(f"{origin} contains spaces, line breaks or non-ASCII characters (an API key is "
                          "printable ASCII only); paste it again")
    return value


def check_text(value: str | None, origin: str) -> str | None:
    """An e-mail or a password travels in a JSON body: any text but control characters."""
    if value and any(not c.isprintable() and c not in " " for c in value):
        raise ConfigError(f"{origin} contains control or invisible characters; type it again")
    return value


def same_host(a: str, b: str) -> bool:
    """Two base URLs name the same API (case-insensitive scheme and host, default port spelled or not)."""
    def key(url: str) -> tuple:
        p = urlsplit(url.strip().rstrip("/"))
        port = p.port or (443 if p.scheme == "https" else 80)
        return p.scheme.lower(), (p.hostname or "").lower(), port, p.path.rstrip("/")
    try:
        return key(a) == key(b)
    except ValueError:
        return False


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


def file_base_url(file: dict) -> str:
    """The base URL the config file itself names (the default when it names none)."""
    return normalize_base_url(file.get("base_url") or DEFAULT_BASE_URL, "the API URL in the config file")


def credentials_host(file: dict) -> str:
    """The base URL the file's credentials were saved for; a file from before the binding was
    recorded: its own base_url, which is where they were sent until then."""
    bound = file.get("credentials_for")
    return bound if isinstance(bound, str) and bound else file_base_url(file)


def resolve(config_path: str | os.PathLike | None = None, env: dict | None = None) -> Settings:
    env = os.environ if env is None else env
    file = read_config_file(config_path)
    env_base = (env.get("ALIVEAI_BASE_URL") or "").strip()
    key = check_key(clean_secret(env.get("ALIVEAI_API_KEY")), "ALIVEAI_API_KEY")
    email = check_text((env.get("ALIVEAI_EMAIL") or "").strip() or None, "ALIVEAI_EMAIL")
    password = check_text(env.get("ALIVEAI_PASSWORD") or None, "ALIVEAI_PASSWORD")
    withheld = ""
    if key or (email and password):
        # the environment's credentials never follow the file's base_url (the settings route writes it)
        source = "env"
        base = normalize_base_url(env_base, "ALIVEAI_BASE_URL") if env_base else DEFAULT_BASE_URL
    else:
        base = (normalize_base_url(env_base, "ALIVEAI_BASE_URL") if env_base else file_base_url(file))
        where = "in the config file (Settings > AliveAI > Account)"
        key = check_key(clean_secret(file.get("api_key")), f"the API key {where}")
        email = check_text(file.get("email") or None, f"the e-mail {where}")
        password = check_text(file.get("password") or None, f"the password {where}")
        source = "file" if key or (email and password) else "none"
        if source == "file":
            bound = credentials_host(file)
            if not same_host(bound, base):
                withheld = (f"the saved credentials were saved for {bound} and are not sent to {base}; "
                            "enter them again for this API URL in Settings > AliveAI > Account")
                key, email, password, source = None, None, None, "none"
    for secret in (key, password):
        register_secret(secret)
    from ..api import BY_KEY, overrides   # the table loads with the first client, not at import

    paths = tuple((k, m, p) for k, (m, p) in sorted(overrides.load(file, env, BY_KEY).items()))
    return Settings(base, key, (email or None), (password or None), source, withheld, paths)
