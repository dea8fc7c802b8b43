"""The pack's HTTP routes (all under /aliveai/): the account and limits forms of the settings
dialog, a connection test, a credits + queue summary for the status tab, and the catalog lists of the
id pickers (catalogs.py: cached, stale-while-revalidate, the last good list when the API fails).

Why it looks like this:
- ComfyUI has no authentication and may listen on 0.0.0.0, so no answer ever carries a key or
  a password: the key is shown masked (last four characters), the password not at all.
- Handlers run on ComfyUI's server loop; the blocking client runs in `asyncio.to_thread`, with
  short HTTP timeouts, one retry and an overall deadline, so a dead API never stalls the UI.
- Every POST must be `application/json`: a cross-site page cannot send that without a CORS
  preflight, which ComfyUI refuses by default. That matters because the form can change the base
  URL, and a hostile base URL would receive the key on the next run.
- Every route is guarded (`guard`): the `Host` must be a loopback name, an IP address, one of
  ComfyUI's `--listen` host names, or a name in ALIVEAI_ALLOWED_HOSTS; an `Origin`,
  when sent, must name that same host:port. That stops DNS rebinding (Host = Origin =
  attacker.example) and cross-origin pages under `--enable-cors-header '*'` (Origin differs).
  What stays open: with `--listen` on a network, any machine that reaches the port and sends
  Host = ComfyUI's address is "ComfyUI itself"; it can change the settings like a local user.
  It cannot get the key: no answer carries it, changing the API URL without giving the key again
  removes the saved credentials (`custody`), an environment key only goes to ALIVEAI_BASE_URL or
  the default host, and such a client sees the e-mail masked and no local paths.
- `setup(routes)` takes any aiohttp RouteTableDef: ComfyUI's (through bridge.register_routes)
  or a test application's.
"""
from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from ..client import AliveAIClient
from ..client.config import (DEFAULT_BASE_URL, Settings, check_key, check_text, clean_secret, credentials_host,
                             file_base_url, normalize_base_url, read_config_file, same_host, write_config_file)
from ..errors import AliveAIError, ConfigError
from ..redact import mask, redact, register_secret
from . import live_queue, bridge, catalogs, prefs, session, spend

log = logging.getLogger("aliveai")

ENV_VARS = ("ALIVEAI_API_KEY", "ALIVEAI_EMAIL", "ALIVEAI_PASSWORD", "ALIVEAI_BASE_URL")
ALLOWED_HOSTS_ENV = "ALIVEAI_ALLOWED_HOSTS"   # extra names ComfyUI is reached by (a reverse proxy, mypc.lan)
CREDENTIAL_FIELDS = ("api_key", "email", "password")
BOUND_FIELD = "credentials_for"               # the base URL the saved credentials belong to
FORM_FIELDS = (*CREDENTIAL_FIELDS, "base_url")
STATUS_TTL = 5.0            # seconds a credits/queue answer is reused
STATUS_MIN_AGE = 1.0        # `?refresh=1` still reuses an answer younger than this
ROUTE_DEADLINE = 30.0       # the longest a handler waits for the API before answering anyway
QUICK_TIMEOUT = session.QUICK_TIMEOUT

_file_lock = threading.Lock()  # read-merge-write of the config file; handlers may overlap


class BadRequest(Exception):
    """A request we refuse; the message is shown as is."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


# -- who may call ------------------------------------------------------------------------------
def split_host(value: str) -> tuple[str, int | None] | None:
    """("host", port) of a Host header or of an Origin's netloc; None when it is not one."""
    if not value or len(value) > 300 or any(c.isspace() or not c.isprintable() for c in value) or "@" in value:
        return None
    try:
        parts = urlsplit("//" + value)
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not host or parts.path or parts.query or parts.fragment:
        return None
    return host.lower().rstrip("."), port


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    ip = _ip(host)
    if ip is not None and getattr(ip, "ipv4_mapped", None):
        ip = ip.ipv4_mapped
    return bool(ip and ip.is_loopback)


def host_allowed(host_header: str, listen: tuple[tuple[str, ...], int] | None, extra: tuple[str, ...] = ()) -> bool:
    """Is `host_header` a name of this ComfyUI? Loopback names; any IP address (a browser sends
    an IP as Host only when it really connected to that IP, so DNS rebinding, which needs a name
    the attacker controls, cannot produce one; `--listen 0.0.0.0` reached as
    http://192.168.1.20:8188, or through Docker's port mapping, stays usable); ComfyUI's own
    `--listen` host names on its port; names the user allowed (ALIVEAI_ALLOWED_HOSTS)."""
    parsed = split_host(host_header)
    if parsed is None:
        return False
    host, port = parsed
    if is_loopback(host) or _ip(host) is not None:
        return True
    if host in {h.strip().lower().rstrip(".") for h in extra if h.strip()}:
        return True
    if listen:
        hosts, listen_port = listen
        if host in {h.lower().strip("[]").rstrip(".") for h in hosts} and port in (None, listen_port):
            return True
    return False


def origin_matches(origin: str, host_header: str) -> bool:
    """An Origin names the same host:port as Host (the scheme only fills in a default port)."""
    try:
        parts = urlsplit(origin.strip())
        o_host, o_port = parts.hostname, parts.port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not o_host:
        return False   # "null" (sandboxed frames, file://) and anything else odd
    default = 443 if parts.scheme == "https" else 80
    parsed = split_host(host_header)
    if parsed is None:
        return False
    h_host, h_port = parsed
    return (o_host.lower().rstrip("."), o_port or default) == (h_host, h_port or default)


def _allowed_extra() -> tuple[str, ...]:
    return tuple(os.environ.get(ALLOWED_HOSTS_ENV, "").split(","))


def _peer(request: web.Request) -> str | None:
    return request.remote


def client_is_local(request: web.Request) -> bool:
    """The caller is on this machine: a loopback peer, not relayed by a proxy."""
    relayed = any(h in request.headers for h in ("Forwarded", "X-Forwarded-For", "X-Real-IP"))
    return not relayed and is_loopback(_peer(request))


def refusal(request: web.Request) -> str | None:
    """Why `request` is refused, or None. See the module docstring."""
    host = request.headers.get("Host", "")
    if not host_allowed(host, bridge.listen_address(), _allowed_extra()):
        return (f"refused: Host {host[:80]!r} is not this ComfyUI (a web page of another site may be trying to "
                f"reach it). If you open ComfyUI under that name, add it to {ALLOWED_HOSTS_ENV}.")
    origin = request.headers.get("Origin")
    if origin is not None and not origin_matches(origin, host):
        return f"refused: a page of {origin[:80]!r} may not use the AliveAI settings of this ComfyUI"
    return None


Handler = Callable[[web.Request], Awaitable[web.Response]]


def guard(handler: Handler) -> Handler:
    """Answer 403 to a request from anything that is not this ComfyUI's own page or a local tool."""
    @functools.wraps(handler)
    async def route(request: web.Request) -> web.Response:
        why = refusal(request)
        if why:
            log.warning("AliveAI: %s %s %s (from %s)", request.method, request.path, why, _peer(request))
            return _json({"error": why}, status=403)
        return await handler(request)
    return route


def mask_email(email: str) -> str:
    """`a***@example.com`: enough to recognise one's own account, not to learn someone's."""
    if not email:
        return ""
    name, at, domain = email.partition("@")
    return f"{name[:1]}***{at}{domain}" if at else "***"


# -- account ----------------------------------------------------------------------------------
def auth_kind(s: Settings) -> str:
    if s.api_key:
        return "key"
    return "login" if s.email and s.password else "none"


def account_view(local: bool = True) -> dict[str, Any]:
    """What the settings dialog may know: never a key or a password; for a client on another
    machine (`local` False) not the full e-mail nor local paths either."""
    env = [name for name in ENV_VARS if os.environ.get(name)]
    error = None
    try:
        s = session.settings()
    except ConfigError as e:  # a broken base URL or an unreadable file: say so, keep the form usable
        s, error = Settings(DEFAULT_BASE_URL), str(e)
    try:
        saved = read_config_file(bridge.config_path())
    except ConfigError:
        saved = {}
    saved_kind = "key" if clean_secret(saved.get("api_key")) else (
        "login" if saved.get("email") and saved.get("password") else "none")
    try:
        saved_for = credentials_host(saved) if saved_kind != "none" else None
    except ConfigError:
        saved_for = None
    view = {
        "key_set": bool(s.api_key),
        "source": s.source,
        "env_overrides": s.source == "env" or "ALIVEAI_BASE_URL" in env,
        "env_vars": env,                    # names only, so the dialog can say which variable wins
        "auth": auth_kind(s),
        "key_masked": mask(s.api_key),
        "email": (s.email or "") if local else mask_email(s.email or ""),
        "base_url": s.base_url,
        "default_base_url": DEFAULT_BASE_URL,
        "saved": saved_kind,                # what the file holds, even when the environment wins
        "saved_for": saved_for,             # the API URL the saved credentials belong to
        "withheld": s.withheld,             # why the saved credentials are not used with base_url
    }
    if local:
        view["config_file"] = str(bridge.config_path())
    if error:
        view["error"] = error if local else redact_paths(error)
    return view


def redact_paths(text: str) -> str:
    """An error for a remote client, without the config file's local path."""
    return text.replace(str(bridge.config_path()), "the AliveAI config file")


def merge_form(current: dict, form: dict) -> dict:
    """The config file after applying the form: absent fields are kept, "" clears a field."""
    if not isinstance(form, dict):
        raise BadRequest("expected a JSON object")
    out = dict(current)
    for name in FORM_FIELDS:
        if name not in form or form[name] is None:
            continue
        value = form[name]
        if not isinstance(value, str):
            raise BadRequest(f"{name} must be a string")
        try:
            if name == "api_key":
                # "Key abc" / "Bearer abc" pasted whole: the prefix would give 401
                out[name] = check_key(clean_secret(value), "the API key")
            elif name == "base_url":
                out[name] = normalize_base_url(value, "the API URL") if value.strip() else None
            elif name == "email":
                out[name] = check_text(value.strip() or None, "the e-mail")
            else:
                out[name] = check_text(value or None, "the password")  # taken as typed: spaces may belong to it
        except ConfigError as e:
            raise BadRequest(e.message) from None
    for secret in (out.get("api_key"), out.get("password")):
        register_secret(secret)
    return {k: v for k, v in out.items() if v not in (None, "")}


def custody(current: dict, merged: dict, form: dict) -> tuple[dict, str | None]:
    """Bind the saved credentials to the API URL they are used with: the file's own base_url,
    or BOUND_FIELD when ALIVEAI_BASE_URL made them be saved for another one.

    When the form moves the credentials to another API URL without giving them again, the ones
    not given are removed, and the returned note says so (the dialog shows it). Removing rather
    than refusing: the user asked for the new URL and gets it; a key kept for a host it is no
    longer used with is a key someone can later point elsewhere, and the user still has their
    key where they copied it from. Environment credentials are never in the file."""
    env_base = (os.environ.get("ALIVEAI_BASE_URL") or "").strip()
    try:
        new_base = normalize_base_url(env_base, "ALIVEAI_BASE_URL") if env_base else file_base_url(merged)
    except ConfigError as e:
        raise BadRequest(e.message) from None
    out = {k: v for k, v in merged.items() if k != BOUND_FIELD}
    held = [k for k in CREDENTIAL_FIELDS if out.get(k)]
    if not held:
        return out, None
    try:
        old_base = credentials_host(current) if any(current.get(k) for k in CREDENTIAL_FIELDS) else new_base
    except ConfigError:
        old_base = ""
    note = None
    if not same_host(old_base, new_base):
        given = [k for k in held if isinstance(form.get(k), str) and form[k]]
        dropped = [k for k in held if k not in given]
        for k in dropped:
            out.pop(k)
        if dropped:
            what = "API key" if dropped == ["api_key"] else ("login" if "api_key" not in dropped else "credentials")
            note = (f"The saved {what} was removed because the API URL changed from {old_base or 'an unreadable one'} "
                    f"to {new_base}: a key is only sent to the API it was saved for. Enter it again for the new URL.")
    if any(out.get(k) for k in CREDENTIAL_FIELDS) and not same_host(new_base, file_base_url(out)):
        out[BOUND_FIELD] = new_base   # only needed when ALIVEAI_BASE_URL differs from the file's own URL
    return out, note


def save_form(form: dict, clear: bool = False) -> str | None:
    """Merge `form` into the config file (or remove the credentials); returns custody's note."""
    path = bridge.config_path()
    note = None
    with _file_lock:
        try:
            current = read_config_file(path)
        except ConfigError as e:  # unreadable or not JSON: the user is replacing it anyway
            log.warning("AliveAI: replacing the unreadable config file: %s", redact_paths(str(e)))
            current = {}
        if clear:
            data = {k: v for k, v in current.items() if k not in (*CREDENTIAL_FIELDS, BOUND_FIELD)}
        else:
            data, note = custody(current, merge_form(current, form), form)
        write_config_file(path, data)
    session.reset()
    STATUS.clear()
    _CLIENTS.reset()
    if note:
        log.warning("AliveAI: %s", note)
    return note


# -- blocking work, run in a thread -------------------------------------------------------------
_CLIENTS = session.QUICK  # shared with the catalog service: one login for the whole UI


def check_connection() -> dict[str, Any]:
    """Me with the current settings, through a fresh client so a login is really tried."""
    try:
        s = session.settings()
        if not s.has_credentials:
            raise ConfigError(f"{s.withheld}." if s.withheld else "no AliveAI credentials are set.")
        with AliveAIClient(s, retries=1, backoff_factor=0.2) as client:
            client.transport.timeout = QUICK_TIMEOUT
            me = client.me()  # without the apiKey Me echoes
    except AliveAIError as e:
        return {"ok": False, "error": redact(str(e)), "api_message": redact(e.api_message or ""), "status": e.status}
    return {"ok": True, "email": me.get("email"), "credits": me.get("credits"),
            "premiumExpiration": me.get("premiumExpiration"), "source": s.source, "auth": auth_kind(s)}


class StatusCache:
    """The last credits + queue answer per account, reused for `ttl` seconds and served stale
    (marked so) when the API fails. One fetch at a time: concurrent callers wait for it and reuse
    its answer instead of sending their own."""

    def __init__(self) -> None:
        self._fetching = threading.Lock()  # held during a fetch, only by worker threads
        self._lock = threading.Lock()      # held for a few statements: clear() runs on the server loop
        self._key: str | None = None
        self._value: dict | None = None
        self._at = 0.0

    def clear(self) -> None:
        with self._lock:
            self._key, self._value = None, None

    def _cached(self, key: str) -> tuple[dict | None, float]:
        with self._lock:
            return (self._value if self._key == key else None), time.monotonic() - self._at

    def get(self, key: str, fetch: Callable[[], dict], max_age: float) -> dict:
        with self._fetching:
            mine, age = self._cached(key)
            if mine is not None and age < max_age:
                return dict(mine)
            try:
                value = fetch()
            except AliveAIError as e:
                if mine is None:
                    raise
                return {**mine, "stale": True, "error": redact(str(e))}
            with self._lock:
                self._key, self._value, self._at = key, value, time.monotonic()
            return dict(value)


STATUS = StatusCache()
QUEUE_FIELDS = ("promptId", "queuePosition", "progress", "video")


def status(max_age: float) -> dict[str, Any]:
    try:
        s = session.settings()
    except ConfigError as e:
        return {"credits": None, "queue": [], "updated": None, "key_set": False, "error": str(e)}
    if not s.has_credentials:
        return {"credits": None, "queue": [], "updated": None, "key_set": False,
                "error": str(ConfigError(f"{s.withheld}." if s.withheld else "no AliveAI credentials are set."))}

    def fetch() -> dict:
        client = _CLIENTS.get(s)
        credits = client.me().get("credits")
        queue = [{k: q.get(k) for k in QUEUE_FIELDS} for q in client.pending()]
        return {"credits": credits, "queue": queue, "updated": time.time(), "key_set": True}

    try:
        out = STATUS.get(session.account_scope(s), fetch, max_age)
    except AliveAIError as e:
        out = {"credits": None, "queue": [], "updated": None, "key_set": True, "stale": True,
               "error": redact(str(e))}
    live = live_queue.LIVE.view(s)   # the user websocket's queue when it is live (fresher than the cache)
    return {**out, **live, "session": spend.session_view()}   # this process's own count: never cached


# -- handlers ---------------------------------------------------------------------------------
def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, headers={"Cache-Control": "no-store"})


async def _form(request: web.Request) -> dict:
    if request.content_type != "application/json":
        raise BadRequest("send the request as application/json", status=415)
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise BadRequest("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("expected a JSON object")
    return body


async def _blocking(fallback: dict, fn: Callable[..., dict], *args: Any) -> dict:
    """Run blocking client work in a thread; past the deadline, answer `fallback` plus an error
    (the thread ends on its own within its HTTP timeouts)."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(fn, *args), timeout=ROUTE_DEADLINE)
    except asyncio.TimeoutError:
        return {**fallback, "error": f"AliveAI did not answer within {ROUTE_DEADLINE:.0f} s"}


async def get_account(request: web.Request) -> web.Response:
    return _json(account_view(client_is_local(request)))


def json_post(handler: Callable[[dict], Awaitable[web.Response]]) -> Callable[[web.Request], Awaitable[web.Response]]:
    """A POST route fed the request's JSON object (`_form`) and whether the caller is on this
    machine; a BadRequest raised reading it or in the handler is the answer, with its status."""
    @functools.wraps(handler)
    async def route(request: web.Request) -> web.Response:
        try:
            return await handler(await _form(request), local=client_is_local(request))
        except BadRequest as e:
            return _json({"error": str(e)}, status=e.status)
    return route


@json_post
async def post_account(form: dict, local: bool = True) -> web.Response:
    """Save the Account form. Changing the API URL without giving the credentials again removes
    the saved ones (see `custody`); the answer's `credentials_cleared` says so."""
    merge_form({}, form)  # validate before touching the file
    note = save_form(form)  # a few bytes to a local file: fine on the server loop
    view = account_view(local)
    if note:
        view["credentials_cleared"] = note
    return _json(view)


@json_post
async def post_clear(form: dict, local: bool = True) -> web.Response:
    save_form({}, clear=True)
    return _json(account_view(local))


def _for_client(data: dict, local: bool) -> dict:
    """An answer for a client on another machine: no local path in its error text, the e-mail masked."""
    if local:
        return data
    out = dict(data)
    if isinstance(out.get("error"), str):
        out["error"] = redact_paths(out["error"])
    if isinstance(out.get("email"), str):
        out["email"] = mask_email(out["email"])
    return out


@json_post
async def post_test(form: dict, local: bool = True) -> web.Response:
    return _json(_for_client(await _blocking({"ok": False}, check_connection), local))


async def get_limits(request: web.Request) -> web.Response:
    return _json(limits_view(client_is_local(request)))


def limits_view(local: bool) -> dict[str, Any]:
    view = prefs.view()
    if not local:
        view.pop("config_file", None)
    return view


@json_post
async def post_limits(form: dict, local: bool = True) -> web.Response:
    """Save the Limits form into the config file, beside (never touching) the credentials."""
    try:
        prefs.merge({}, form)  # validate before touching the file
    except ConfigError as e:
        raise BadRequest(e.message) from None
    path = bridge.config_path()
    with _file_lock:
        try:
            current = read_config_file(path)
        except ConfigError as e:
            msg = e.message if local else redact_paths(e.message)
            raise BadRequest(f"{msg}; fix or delete it first", status=409) from None
        write_config_file(path, prefs.merge(current, form))
    return _json(limits_view(local))


@json_post
async def post_spend_reset(form: dict, local: bool = True) -> web.Response:
    """Start a new budget session without restarting ComfyUI: the spend count goes back to zero."""
    spend.reset()
    log.info("AliveAI: the session's spend count was reset from the status tab")
    return _json({"session": spend.session_view()})


async def get_status(request: web.Request) -> web.Response:
    max_age = STATUS_MIN_AGE if request.query.get("refresh") else STATUS_TTL
    fallback = {"credits": None, "queue": [], "updated": None, "stale": True}
    return _json(_for_client(await _blocking(fallback, status, max_age), client_is_local(request)))


async def get_catalog(request: web.Request) -> web.Response:
    """`{kind, items: [{id, name, thumb, group}], stale, error, updated}`; `?refresh=1` skips the
    cache. Without it an expired list is answered at once and refreshed in the background."""
    kind = request.match_info["kind"]
    if kind not in catalogs.KINDS:
        return _json({"error": f"unknown catalog '{kind[:40]}'; known: {', '.join(catalogs.KINDS)}"}, status=404)
    refresh = bool(request.query.get("refresh"))
    try:
        listing = await asyncio.wait_for(asyncio.to_thread(catalogs.CATALOGS.get, kind, refresh, not refresh),
                                         timeout=ROUTE_DEADLINE)
    except asyncio.TimeoutError:  # the fetch goes on in its thread and fills the cache for next time
        held = catalogs.CATALOGS.peek(kind).as_json()
        return _json({**held, "stale": True, "error": f"AliveAI did not answer within {ROUTE_DEADLINE:.0f} s"})
    return _json(listing.as_json())


def setup(routes: web.RouteTableDef) -> None:
    """Register every pack route on `routes` (ComfyUI's table, or a test app's), each behind
    `guard`: the catalog lists are private data too, and every one of them sends the key."""
    for method, path, handler in (
            ("get", "/aliveai/account", get_account),
            ("post", "/aliveai/account", post_account),
            ("post", "/aliveai/account/clear", post_clear),
            ("post", "/aliveai/account/test", post_test),
            ("get", "/aliveai/limits", get_limits),
            ("post", "/aliveai/limits", post_limits),
            ("get", "/aliveai/status", get_status),
            ("post", "/aliveai/spend/reset", post_spend_reset),
            ("get", "/aliveai/catalog/{kind}", get_catalog)):
        getattr(routes, method)(path)(guard(handler))
