"""One `requests.Session` per client, the Authorization header, and errors with the API's words.

Auth is either `Key <apiKey>` or `Bearer <accessToken>` from Login. A Bearer call that gets 401
logs in again once and is sent once more (tokens expire; there is no refresh endpoint, API.md
§1.2). The header is added per request, never stored on the session, so presigned downloads
through the same session never carry it.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import AliveAIError, AuthError, ConfigError, NetworkError
from ..redact import register_secret
from .config import Settings, check_key
from .errors_map import error_for
from .retry import IDEMPOTENT, backoff, make_retry

if TYPE_CHECKING:  # requests and urllib3 load with the first client, not when ComfyUI imports the pack
    import requests

    from ..api.schema import Operation

log = logging.getLogger("aliveai")

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0
BODY_TRIES = 3        # sends of an idempotent request whose answer arrived cut or malformed
USER_AGENT = "ComfyUI-AliveAI/0.1"
MAX_ANSWER = 16 * 1024 * 1024   # bytes of one JSON answer (decoded); Get Prompts pages are a few hundred KB


def _chain(exc: BaseException, depth: int = 8) -> list[BaseException]:
    """`exc` and the exceptions it wraps (urllib3's `reason`, an exception passed as first arg,
    __cause__/__context__). Only exceptions are followed: ssl.SSLError's `reason` is a str."""
    out: list[BaseException] = []
    todo: list[object] = [exc]
    while todo and len(out) < depth:
        seen = todo.pop(0)
        if not isinstance(seen, BaseException) or any(seen is o for o in out):
            continue
        out.append(seen)
        args = getattr(seen, "args", ()) or ()
        todo += [getattr(seen, "reason", None), args[0] if args else None, seen.__cause__, seen.__context__]
    return out


# OpenSSL reasons of a handshake that failed before any request byte was written
_HANDSHAKE = ("CERTIFICATE_VERIFY_FAILED", "WRONG_VERSION_NUMBER", "UNKNOWN_PROTOCOL", "HANDSHAKE_FAILURE",
              "RECORD_LAYER_FAILURE", "HTTP_REQUEST", "UNSUPPORTED_PROTOCOL", "TLSV1_ALERT", "SSLV3_ALERT",
              "PACKET_LENGTH_TOO_LONG", "NO_PROTOCOLS_AVAILABLE", "TLSV1_UNRECOGNIZED_NAME")


def _tls_failure(exc: BaseException) -> str | None:
    """"certificate", "scheme" or "tls" when `exc` is a TLS failure, else None."""
    import ssl

    chain = _chain(exc)
    if any(isinstance(e, ssl.SSLCertVerificationError) for e in chain):
        return "certificate"
    text = " ".join(f"{type(e).__name__} {e}" for e in chain)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return "certificate"
    if "WRONG_VERSION_NUMBER" in text or "wrong version number" in text or "HTTP_REQUEST" in text \
            or "record layer failure" in text.lower() or "packet length too long" in text.lower():
        return "scheme"
    if any(isinstance(e, ssl.SSLError) for e in chain) or "SSLError" in text:
        return "tls"
    return None


def was_sent(exc: BaseException) -> bool:
    """False only when the request certainly never left: the connection (TCP or the TLS
    handshake) was not established."""
    import ssl

    import requests
    from urllib3 import exceptions as urllib3_exc

    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return False
    not_connected = (urllib3_exc.NewConnectionError, urllib3_exc.ConnectTimeoutError,
                     getattr(urllib3_exc, "NameResolutionError", urllib3_exc.NewConnectionError))
    chain = _chain(exc)
    if any(isinstance(e, not_connected) for e in chain):
        return False
    if any(isinstance(e, ssl.SSLError) and any(r in f"{getattr(e, 'reason', '')} {e}".upper() for r in _HANDSHAKE)
           for e in chain) or _tls_failure(exc) in ("certificate", "scheme"):
        return False
    return True


def _cut_answer(e: BaseException) -> bool:
    """The answer began but its body broke off: a GET may simply be asked again."""
    import requests

    return isinstance(e, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError))


def _malformed(resp: requests.Response) -> bool:
    """A success answer whose body is not JSON (cut short, or garbage from a proxy)."""
    if resp.status_code >= 400 or not resp.content:
        return False
    try:
        resp.json()
    except ValueError:
        return True
    return False


def _read_capped(resp: requests.Response, cap: int) -> str | None:
    """Read the body into `resp` (as requests would), refusing one over `cap` bytes, announced or
    decoded: a JSON answer is read whole, so an endless or padded one must stop somewhere.
    Returns None when read, or what was over the cap (the connection is then dropped)."""
    announced = (resp.headers.get("Content-Length") or "").strip()
    if announced.isdigit() and int(announced) > cap:
        resp.close()
        return f"Content-Length {announced}"
    body = bytearray()
    for chunk in resp.iter_content(64 * 1024):
        body += chunk
        if len(body) > cap:
            resp.close()
            return f"over {len(body)} bytes read"
    resp._content = bytes(body)   # what requests' own .content would hold: .text and .json() read it
    resp._content_consumed = True
    return None


_TLS_HINTS = {
    "certificate": "TLS: the server's certificate is not trusted (self-signed, expired, or a TLS-intercepting "
                   "proxy or antivirus); use the real API URL, or point REQUESTS_CA_BUNDLE at your proxy's CA",
    "scheme": "TLS: the server does not speak HTTPS on that port; if it is a plain-HTTP server (like the "
              "simulator) the API URL must start with http://",
    "tls": "TLS: the secure connection failed (a proxy or firewall in the way, or a wrong port)",
}


def _reason(exc: BaseException) -> str:
    tls = _tls_failure(exc)
    if tls:
        return f"SSLError: {_TLS_HINTS[tls]}"
    text = str(exc)
    for marker in ("Connection refused", "timed out", "Name or service not known", "Connection reset",
                   "RemoteDisconnected", "Connection aborted", "Max retries exceeded"):
        if marker in text:
            return f"{type(exc).__name__}: {marker}"
    return type(exc).__name__


class Auth:
    """Produces the Authorization header; knows whether a 401 can be cured by logging in again."""

    def __init__(self, settings: Settings, login: Callable[[str, str], str]):
        self._settings = settings
        self._login = login
        self._token: str | None = None
        self._lock = threading.Lock()

    @property
    def renewable(self) -> bool:
        return not self._settings.api_key and bool(self._settings.email and self._settings.password)

    def header(self) -> str:
        s = self._settings
        if s.api_key:  # resolve() checked it; a Settings built by hand is checked here, before any byte leaves
            return f"Key {check_key(s.api_key, 'the API key')}"
        if not (s.email and s.password):
            raise ConfigError(f"{s.withheld}." if s.withheld else "no AliveAI credentials are set.")
        with self._lock:
            if self._token is None:
                token = self._login(s.email, s.password)
                register_secret(token)
                if not all("!" <= c <= "~" for c in token):
                    raise AuthError("the login answer's accessToken is not a printable ASCII token", operation="Login")
                self._token = token
            return f"Bearer {self._token}"

    def renew(self, stale_header: str) -> bool:
        """Forget the token behind `stale_header` so the next header() logs in again.
        Returns False when renewing cannot help (API keys)."""
        if not self.renewable:
            return False
        with self._lock:
            if self._token and stale_header == f"Bearer {self._token}":
                self._token = None
        return True


class Transport:
    def __init__(self, settings: Settings, *, retries: int = 5, backoff_factor: float = 0.5,
                 timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT)):
        self.settings = settings
        self.timeout = timeout
        import requests
        from requests.adapters import HTTPAdapter

        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        adapter = HTTPAdapter(max_retries=make_retry(retries, backoff_factor), pool_maxsize=32)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.auth = Auth(settings, self._login)

    def close(self) -> None:
        self.session.close()

    def url(self, path: str) -> str:
        return self.settings.base_url + path

    def _login(self, email: str, password: str) -> str:
        from .. import api  # the table checks the doc's \S (not blank) on both: spaces never reach the server
        from ..api import overrides

        login = overrides.apply(api.operation("login"), self.settings.routes)   # a path override, if any
        prep = api.prepare(login, {"email": email, "password": password})
        body = self.request(prep.method, prep.path, json=prep.json, operation=login, auth=False)
        token = body.get("accessToken") if isinstance(body, dict) else None
        if not token:
            raise AuthError("the login answer has no accessToken", operation="Login")
        register_secret(token)
        return token

    def request(self, method: str, path: str, *, params: Any = None, json: Any = None, files: Any = None,
                data: Any = None, operation: str | Operation, auth: bool = True, timeout: Any = None,
                prompt_id: str | None = None) -> Any:
        """Send one API request and return its parsed JSON (or None for an empty body).
        Raises a typed AliveAIError; `requests` exceptions never escape.

        urllib3 retries connection errors and retryable statuses; an idempotent request whose
        answer arrived but was cut or malformed is sent again here (up to BODY_TRIES), which
        urllib3 cannot do: it has already handed the response over."""
        import requests

        op = None if isinstance(operation, str) else operation  # the table entry, for the error's hint
        operation = operation if isinstance(operation, str) else operation.name
        renewed = False
        bad_answers = 0
        idempotent = method.upper() in IDEMPOTENT
        while True:
            headers = {"Accept": "application/json"}
            if auth:
                headers["Authorization"] = self.auth.header()
            try:
                resp = self.session.request(method, self.url(path), params=params, json=json, files=files,
                                            data=data, headers=headers, timeout=timeout or self.timeout, stream=True)
                over = _read_capped(resp, MAX_ANSWER)
            except requests.exceptions.RequestException as e:
                if idempotent and bad_answers < BODY_TRIES - 1 and _cut_answer(e):
                    bad_answers += 1
                    log.info("AliveAI: %s got a cut answer, asking again", operation)
                    time.sleep(backoff(bad_answers, base=0.25, cap=4.0))
                    continue
                sent = was_sent(e)
                what = "could not connect to" if not sent else "got no answer from"
                raise NetworkError(f"{what} {self.settings.base_url} for {method} {path} ({_reason(e)})",
                                   operation=operation, prompt_id=prompt_id, sent=sent) from None
            if over is not None:
                # The request was answered (a create was made): submit looks such a job up.
                raise NetworkError(f"{method} {path} answered with more than {MAX_ANSWER // (1024 * 1024)} MiB "
                                   f"({over}); refused, not read", operation=operation, prompt_id=prompt_id,
                                   status=resp.status_code, sent=True)
            if resp.status_code == 401 and auth and not renewed and self.auth.renew(headers["Authorization"]):
                renewed = True
                log.info("AliveAI: %s got 401, logging in again", operation)
                continue
            if idempotent and bad_answers < BODY_TRIES - 1 and _malformed(resp):
                bad_answers += 1
                log.info("AliveAI: %s answered with malformed JSON, asking again", operation)
                time.sleep(backoff(bad_answers, base=0.25, cap=4.0))
                continue
            return self._parse(resp, method, path, op or operation, prompt_id)

    def _parse(self, resp: requests.Response, method: str, path: str, operation: str | Operation,
               prompt_id: str | None) -> Any:
        text = resp.text
        body: Any = None
        if text:
            try:
                body = resp.json()
            except ValueError:
                body = None
        if resp.status_code >= 400:
            err: AliveAIError = error_for(resp.status_code, body, text, operation=operation, path=path, method=method,
                                          retry_after=resp.headers.get("Retry-After"))
            raise err.with_context(prompt_id=prompt_id)
        operation = operation if isinstance(operation, str) else operation.name
        if text and body is None:
            raise NetworkError(f"{method} {path} answered with malformed JSON ({len(text)} bytes)",
                               operation=operation, prompt_id=prompt_id, status=resp.status_code)
        return body
