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
- `setup(routes)` takes any aiohttp RouteTableDef: ComfyUI's (through bridge.register_routes)
  or a test application's.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ..client import AliveAIClient
from ..client.config import (DEFAULT_BASE_URL, Settings, clean_secret, normalize_base_url, read_config_file,
                             write_config_file)
from ..errors import AliveAIError, ConfigError
from ..redact import mask, redact, register_secret
from . import bridge, catalogs, prefs, session, spend

log = logging.getLogger("aliveai")

ENV_VARS = ("ALIVEAI_API_KEY", "ALIVEAI_EMAIL", "ALIVEAI_PASSWORD", "ALIVEAI_BASE_URL")
CREDENTIAL_FIELDS = ("api_key", "email", "password")
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


# -- account ----------------------------------------------------------------------------------
def auth_kind(s: Settings) -> str:
    if s.api_key:
        return "key"
    return "login" if s.email and s.password else "none"


def account_view() -> dict[str, Any]:
    """What the settings dialog may know: never a key or a password."""
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
    view = {
        "key_set": bool(s.api_key),
        "source": s.source,
        "env_overrides": s.source == "env" or "ALIVEAI_BASE_URL" in env,
        "env_vars": env,                    # names only, so the dialog can say which variable wins
        "auth": auth_kind(s),
        "key_masked": mask(s.api_key),
        "email": s.email or "",
        "base_url": s.base_url,
        "default_base_url": DEFAULT_BASE_URL,
        "saved": saved_kind,                # what the file holds, even when the environment wins
        "config_file": str(bridge.config_path()),
    }
    if error:
        view["error"] = error
    return view


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
        if name == "api_key":
            key = clean_secret(value)  # "Key abc" / "Bearer abc" pasted whole: the prefix would give 401
            if key and any(c.isspace() for c in key):
                raise BadRequest("the API key must not contain spaces")
            out[name] = key
        elif name == "base_url":
            try:
                out[name] = normalize_base_url(value) if value.strip() else None
            except ConfigError as e:
                raise BadRequest(e.message) from None
        elif name == "email":
            out[name] = value.strip() or None
        else:
            out[name] = value or None  # a password is taken as typed: spaces may belong to it
    for secret in (out.get("api_key"), out.get("password")):
        register_secret(secret)
    return {k: v for k, v in out.items() if v not in (None, "")}


def save_form(form: dict, clear: bool = False) -> None:
    path = bridge.config_path()
    with _file_lock:
        try:
            current = read_config_file(path)
        except ConfigError as e:  # unreadable or not JSON: the user is replacing it anyway
            log.warning("AliveAI: replacing the unreadable config file: %s", e)
            current = {}
        data = {k: v for k, v in current.items() if k not in CREDENTIAL_FIELDS} if clear else merge_form(current, form)
        write_config_file(path, data)
    session.reset()
    STATUS.clear()
    _CLIENTS.reset()


# -- blocking work, run in a thread -------------------------------------------------------------
_CLIENTS = session.QUICK  # shared with the catalog service: one login for the whole UI


def check_connection() -> dict[str, Any]:
    """Me with the current settings, through a fresh client so a login is really tried."""
    try:
        s = session.settings()
        if not s.has_credentials:
            raise ConfigError("no AliveAI credentials are set.")
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
                "error": str(ConfigError("no AliveAI credentials are set."))}

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
    return {**out, "session": spend.session_view()}   # this process's own count: never cached


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
    return _json(account_view())


def json_post(handler: Callable[[dict], Awaitable[web.Response]]) -> Callable[[web.Request], Awaitable[web.Response]]:
    """A POST route fed the request's JSON object (`_form`); a BadRequest raised reading it or
    in the handler is the answer, with its status."""
    @functools.wraps(handler)
    async def route(request: web.Request) -> web.Response:
        try:
            return await handler(await _form(request))
        except BadRequest as e:
            return _json({"error": str(e)}, status=e.status)
    return route


@json_post
async def post_account(form: dict) -> web.Response:
    merge_form({}, form)  # validate before touching the file
    save_form(form)  # a few bytes to a local file: fine on the server loop
    return _json(account_view())


@json_post
async def post_clear(form: dict) -> web.Response:
    save_form({}, clear=True)
    return _json(account_view())


@json_post
async def post_test(form: dict) -> web.Response:
    return _json(await _blocking({"ok": False}, check_connection))


async def get_limits(request: web.Request) -> web.Response:
    return _json(prefs.view())


@json_post
async def post_limits(form: dict) -> web.Response:
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
            raise BadRequest(f"{e.message}; fix or delete it first", status=409) from None
        write_config_file(path, prefs.merge(current, form))
    return _json(prefs.view())


@json_post
async def post_spend_reset(form: dict) -> web.Response:
    """Start a new budget session without restarting ComfyUI: the spend count goes back to zero."""
    spend.reset()
    log.info("AliveAI: the session's spend count was reset from the status tab")
    return _json({"session": spend.session_view()})


async def get_status(request: web.Request) -> web.Response:
    max_age = STATUS_MIN_AGE if request.query.get("refresh") else STATUS_TTL
    fallback = {"credits": None, "queue": [], "updated": None, "stale": True}
    return _json(await _blocking(fallback, status, max_age))


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
    """Register every pack route on `routes` (ComfyUI's table, or a test app's)."""
    routes.get("/aliveai/account")(get_account)
    routes.post("/aliveai/account")(post_account)
    routes.post("/aliveai/account/clear")(post_clear)
    routes.post("/aliveai/account/test")(post_test)
    routes.get("/aliveai/limits")(get_limits)
    routes.post("/aliveai/limits")(post_limits)
    routes.get("/aliveai/status")(get_status)
    routes.post("/aliveai/spend/reset")(post_spend_reset)
    routes.get("/aliveai/catalog/{kind}")(get_catalog)
