"""Key custody, the route guard and strict settings (issue 11): the key never leaves for a host the
user did not choose, whoever sends the settings routes what; bad URLs, keys and limits are clear
errors before anything is sent; a TLS failure is a network error with a hint; redaction scrubs
short and word-like secrets from text without mangling the paths of sidecars.

Routes are driven over real HTTP on 127.0.0.1 with the Host/Origin headers an attacker would send.
The "attacker's API" is a recorder on 127.0.0.1 that notes every Authorization header it receives.
"""
from __future__ import annotations

import asyncio
import http.server
import json
import shutil
import ssl
import subprocess
import threading

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from support import CREATE, create_kw, run

from nodes import redact as redact_mod
from nodes.client import AliveAIClient
from nodes.client.config import DEFAULT_BASE_URL, Settings, resolve, write_config_file
from nodes.comfy import bridge, prefs, routes, session
from nodes.errors import ConfigError, NetworkError
from nodes.simulator import DEFAULT_API_KEY
from nodes.store import ResultStore

FILE_KEY = "file-key-fedcba9876543210"


# -- helpers ------------------------------------------------------------------------------------
class Recorder:
    """A stand-in for someone else's server on 127.0.0.1: answers 200 {} and keeps every
    Authorization header it was sent."""

    def __init__(self, tls: ssl.SSLContext | None = None):
        seen = self.seen = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def _any(self):
                seen.append((self.command, self.path, self.headers.get("Authorization")))
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                body = b"{}"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_DELETE = _any

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    @property
    def keys(self) -> list[str]:
        return [a for _, _, a in self.seen if a]


def pack_client() -> TestClient:
    """A test client of a fresh app with the pack's routes, on 127.0.0.1."""
    table = web.RouteTableDef()
    routes.setup(table)
    app = web.Application()
    app.add_routes(table)
    return TestClient(TestServer(app, host="127.0.0.1"))


def call(method: str, path: str, body=None, *, host: str | None = None, origin: str | None = None,
         extra: dict | None = None):
    """One request to a fresh app with the pack's routes, with the Host/Origin given:
    (status, parsed JSON)."""
    async def go():
        async with pack_client() as client:
            headers = dict(extra or {})
            if host is not None:
                headers["Host"] = host
            if origin is not None:
                headers["Origin"] = origin
            kw = {"headers": headers}
            if method != "GET":
                kw["json"] = body if body is not None else {}
            resp = await client.request(method, path, **kw)
            return resp.status, await resp.text()

    status, text = asyncio.run(go())
    return status, json.loads(text)


def saved() -> dict:
    return json.loads(bridge.config_path().read_text())


def save(data: dict) -> None:
    write_config_file(bridge.config_path(), data)


GUARDED = [("GET", "/aliveai/account"), ("POST", "/aliveai/account"), ("POST", "/aliveai/account/clear"),
           ("POST", "/aliveai/account/test"), ("GET", "/aliveai/limits"), ("POST", "/aliveai/limits"),
           ("GET", "/aliveai/status"), ("POST", "/aliveai/spend/reset"), ("GET", "/aliveai/catalog/poses")]


# -- key custody --------------------------------------------------------------------------------
def test_changing_the_api_url_alone_removes_the_saved_key_and_the_key_never_reaches_it(user_dir, sim):
    save({"api_key": DEFAULT_API_KEY, "base_url": sim.base_url})
    with Recorder() as evil:
        status, body = call("POST", "/aliveai/account", {"base_url": evil.url})
        call("POST", "/aliveai/account/test")       # Test connection
        call("GET", "/aliveai/status")              # the sidebar's automatic refresh
        assert evil.keys == []
        assert status == 200
        assert "removed" in body["credentials_cleared"] and evil.url in body["credentials_cleared"]
        assert "api_key" not in saved() and saved()["base_url"] == evil.url
        assert body["key_set"] is False and body["saved"] == "none"


def test_a_new_url_with_the_key_given_again_is_saved_and_used(user_dir, sim):
    with Recorder() as other:
        save({"api_key": FILE_KEY, "base_url": other.url})
        status, body = call("POST", "/aliveai/account", {"base_url": sim.base_url, "api_key": DEFAULT_API_KEY})
        assert status == 200 and "credentials_cleared" not in body
        assert call("POST", "/aliveai/account/test")[1]["ok"] is True
        assert other.keys == []


def test_an_environment_key_never_follows_the_files_base_url(user_dir, tmp_path):
    save({"base_url": "http://127.0.0.1:9"})   # written by anyone who reached the settings route
    s = resolve(bridge.config_path(), env={"ALIVEAI_API_KEY": FILE_KEY})
    assert (s.source, s.base_url, s.api_key) == ("env", DEFAULT_BASE_URL, FILE_KEY)
    s = resolve(bridge.config_path(), env={"ALIVEAI_EMAIL": "a@b.c", "ALIVEAI_PASSWORD": "pw-123456",
                                           "ALIVEAI_BASE_URL": "http://127.0.0.1:7"})
    assert s.base_url == "http://127.0.0.1:7"


def test_file_credentials_are_withheld_from_another_host_and_the_error_says_why(user_dir, monkeypatch):
    save({"api_key": FILE_KEY, "base_url": "http://127.0.0.1:9"})
    s = resolve(bridge.config_path(), env={"ALIVEAI_BASE_URL": "http://127.0.0.1:7"})
    assert s.api_key is None and s.source == "none" and "saved for http://127.0.0.1:9" in s.withheld
    with AliveAIClient(s, retries=0) as c, pytest.raises(ConfigError) as e:
        c.me()
    assert "saved for http://127.0.0.1:9" in str(e.value) and FILE_KEY not in str(e.value)
    # saved through the dialog while ALIVEAI_BASE_URL is set: bound to that URL, not to the file's
    monkeypatch.setenv("ALIVEAI_BASE_URL", "http://127.0.0.1:7")
    call("POST", "/aliveai/account", {"api_key": FILE_KEY})
    assert saved()["credentials_for"] == "http://127.0.0.1:7"
    assert resolve(bridge.config_path(), env={"ALIVEAI_BASE_URL": "http://127.0.0.1:7"}).api_key == FILE_KEY
    assert resolve(bridge.config_path(), env={}).api_key is None


# -- the route guard ----------------------------------------------------------------------------
@pytest.mark.parametrize("method,path", GUARDED)
def test_dns_rebinding_is_refused_on_every_route(user_dir, method, path):
    save({"api_key": FILE_KEY})
    before = saved()
    status, body = call(method, path, {"base_url": "http://attacker.example"}, host="attacker.example:8188",
                        origin="http://attacker.example:8188")
    assert status == 403 and "attacker.example" in body["error"]
    assert saved() == before


@pytest.mark.parametrize("method,path", GUARDED)
def test_a_cross_origin_page_is_refused_even_with_cors_wide_open(user_dir, method, path):
    # --enable-cors-header '*': the browser sends the request; Host is ComfyUI's, Origin is not
    status, body = call(method, path, {}, host="127.0.0.1:8188", origin="https://evil.example")
    assert status == 403 and "evil.example" in body["error"]


def test_a_lan_client_naming_another_host_is_refused(user_dir):
    status, _ = call("POST", "/aliveai/account", {"base_url": "http://127.0.0.1:9"}, host="attacker.example")
    assert status == 403
    assert not bridge.config_path().exists()


def test_the_pages_own_same_origin_requests_pass(user_dir):
    async def go():
        async with pack_client() as client:
            port = client.port
            out = []
            for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
                r = await client.post("/aliveai/account", json={"api_key": FILE_KEY},
                                      headers={"Host": host, "Origin": f"http://{host}"})
                out.append(r.status)
                r = await client.get("/aliveai/account", headers={"Host": host, "Origin": f"http://{host}"})
                out.append(r.status)
            return out

    assert asyncio.run(go()) == [200, 200, 200, 200]
    assert saved()["api_key"] == FILE_KEY


def test_listen_on_a_network_own_address_passes_but_the_key_stays_home(user_dir, sim, monkeypatch):
    """--listen 0.0.0.0, reached as http://192.168.1.20:8188 by another machine: that IS ComfyUI's
    own address, so the request passes (what stays open, see routes' docstring); it still
    cannot send the key elsewhere nor read the e-mail or local paths."""
    monkeypatch.setattr(routes, "_peer", lambda request: "192.168.1.30")
    monkeypatch.setattr(bridge, "listen_address", lambda: (("0.0.0.0",), 8188))
    save({"api_key": DEFAULT_API_KEY, "base_url": sim.base_url})
    lan = {"host": "192.168.1.20:8188"}
    status, body = call("POST", "/aliveai/account/test", **lan)
    assert body["ok"] is True and body["email"] == "s***@example.com"
    save({"email": "alice@example.com", "password": "pw-0123456789", "base_url": sim.base_url})
    status, body = call("GET", "/aliveai/account", **lan)
    assert status == 200 and body["email"] == "a***@example.com" and "config_file" not in body
    assert str(user_dir) not in json.dumps(body)
    assert "config_file" not in call("GET", "/aliveai/limits", **lan)[1]
    with Recorder() as evil:
        status, body = call("POST", "/aliveai/account", {"base_url": evil.url}, **lan)
        assert status == 200 and body["credentials_cleared"]
        call("POST", "/aliveai/account/test", **lan)
        call("GET", "/aliveai/status", **lan)
        assert evil.keys == []
    assert "password" not in saved()


def test_comfyuis_listen_host_and_allowed_names_pass(user_dir, monkeypatch):
    monkeypatch.setattr(bridge, "listen_address", lambda: (("mypc.lan",), 8188))
    assert call("GET", "/aliveai/account", host="mypc.lan:8188", origin="http://mypc.lan:8188")[0] == 200
    assert call("GET", "/aliveai/account", host="mypc.lan:9999")[0] == 403
    monkeypatch.setenv(routes.ALLOWED_HOSTS_ENV, "comfy.example.com, other.lan")
    assert call("GET", "/aliveai/account", host="comfy.example.com", origin="https://comfy.example.com")[0] == 200
    assert call("GET", "/aliveai/account", host="comfy.example.com", origin="https://evil.example")[0] == 403


def test_host_and_origin_rules():
    assert routes.host_allowed("[::1]:8188", None) and routes.host_allowed("127.5.6.7", None)
    assert routes.host_allowed("LOCALHOST:1", None) and routes.host_allowed("10.0.0.5:8188", (("0.0.0.0",), 8188))
    assert not routes.host_allowed("localhost.attacker.example", None)
    assert not routes.host_allowed("127.0.0.1.attacker.example", None)
    assert not routes.host_allowed("", None) and not routes.host_allowed("a b", None)
    assert not routes.host_allowed("user@127.0.0.1", None)
    assert routes.origin_matches("http://127.0.0.1:8188", "127.0.0.1:8188")
    assert routes.origin_matches("https://comfy.example.com", "comfy.example.com:443")
    assert not routes.origin_matches("null", "127.0.0.1:8188")
    assert not routes.origin_matches("http://127.0.0.1:8189", "127.0.0.1:8188")
    assert routes.mask_email("alice@example.com") == "a***@example.com"


# -- strict inputs ------------------------------------------------------------------------------
@pytest.mark.parametrize("url", ["http://[::1", "http://a\nb", "http://a b", "http://h:70000", "http://h:0",
                                 "http://user:pw@h", "http://h/?q=1", "http://h/#x", "http://", "http://h:x"])
def test_bad_api_urls_are_a_clear_400(user_dir, url):
    save({"api_key": FILE_KEY})
    status, body = call("POST", "/aliveai/account", {"base_url": url})
    assert status == 400 and body["error"]
    assert saved() == {"api_key": FILE_KEY}


@pytest.mark.parametrize("key", ["abc\u200bdef012345", "abcdef\n012345", "abcdéf012345", "abc def012345"])
def test_keys_must_be_printable_ascii(user_dir, key):
    status, body = call("POST", "/aliveai/account", {"api_key": key})
    assert status == 400 and "API key" in body["error"] and key not in body["error"]
    assert not bridge.config_path().exists()


def test_a_newline_in_the_environment_key_is_a_config_error_before_anything_is_sent(comfy, sim, monkeypatch):
    monkeypatch.setenv("ALIVEAI_API_KEY", DEFAULT_API_KEY[:4] + "\n" + DEFAULT_API_KEY[4:])
    session.reset()
    with pytest.raises(ConfigError) as e:
        run(CREATE, **create_kw(seed=11))
    assert "ALIVEAI_API_KEY" in str(e.value) and "may have reached" not in str(e.value)
    assert sum(sim.state.counters.creates.values()) == 0


def test_a_zero_width_character_in_the_saved_key_is_a_config_error(user_dir):
    bridge.config_path().parent.mkdir(parents=True, exist_ok=True)
    bridge.config_path().write_text(json.dumps({"api_key": "abc\u200bdef0123456"}))
    with pytest.raises(ConfigError) as e:
        session.settings()
    assert "API key" in str(e.value)


@pytest.mark.parametrize("key,value", [("pixel_cache_mb", 1e308), ("pixel_cache_mb", 1_000_001),
                                       ("running_timeout", 1e9), ("credit_budget", 1e12), ("min_credits", "1e300")])
def test_limits_out_of_range_are_refused(user_dir, key, value):
    status, body = call("POST", "/aliveai/limits", {key: value})
    assert status == 400 and "from 0 to" in body["error"]
    assert not bridge.config_path().exists()


def test_a_huge_pixel_cache_from_the_environment_does_not_break_paid_runs(comfy, sim, monkeypatch):
    monkeypatch.setenv("ALIVEAI_PIXEL_CACHE_MB", "1e308")
    out = run(CREATE, **create_kw(seed=12))   # today: OverflowError after payment
    assert out is not None
    with pytest.raises(ConfigError):
        prefs.value("pixel_cache_mb")


# -- TLS ----------------------------------------------------------------------------------------
def test_https_against_the_plain_http_simulator_is_a_network_error_naming_the_scheme(sim):
    s = Settings(sim.base_url.replace("http://", "https://"), api_key=DEFAULT_API_KEY, source="env")
    with AliveAIClient(s, retries=0) as c, pytest.raises(NetworkError) as e:
        c.me()
    assert "http://" in str(e.value) and "HTTPS" in str(e.value) and e.value.sent is False


def test_https_create_against_http_is_not_reported_as_maybe_sent(comfy, sim, monkeypatch):
    monkeypatch.setenv("ALIVEAI_BASE_URL", sim.base_url.replace("http://", "https://"))
    session.reset()
    with pytest.raises(NetworkError) as e:
        run(CREATE, **create_kw(seed=13))
    assert "may have reached" not in str(e.value) and "http://" in str(e.value)


@pytest.fixture
def self_signed(tmp_path):
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed: cannot make a self-signed certificate at test time")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    return ctx


def test_a_self_signed_certificate_is_a_network_error_naming_the_certificate(self_signed, monkeypatch):
    for name in ("HTTPS_PROXY", "https_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    with Recorder(tls=self_signed) as server:
        s = Settings(server.url, api_key=FILE_KEY, source="env")
        with AliveAIClient(s, retries=0) as c, pytest.raises(NetworkError) as e:
            c.me()
        assert "certificate" in str(e.value) and e.value.sent is False and FILE_KEY not in str(e.value)
        assert server.keys == []


# -- redaction ----------------------------------------------------------------------------------
@pytest.fixture
def clean_secrets(monkeypatch):
    monkeypatch.setattr(redact_mod, "_secrets", set())


def test_a_word_password_does_not_break_the_sidecar_paths(clean_secrets, tmp_path):
    redact_mod.register_secret("sunshine")
    store = ResultStore(tmp_path / "out", tmp_path / "user")
    path = store.media_path("sunshine-42", "sunshine", "IMAGE", 0)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"png")
    rel = path.relative_to(store.root.parent).as_posix()
    store.save_sidecar("sunshine-42", {"medias": [{"id": "m-sunshine", "type": "IMAGE", "file": rel}],
                                       "fields": {"note": "my password is sunshine", "password": "sunshine"}})
    side = store.load_sidecar("sunshine-42")
    assert side["medias"][0]["file"] == rel and side["prompt_id"] == "sunshine-42"
    assert "sunshine" not in side["fields"]["note"] and side["fields"]["password"] == redact_mod.MASK
    assert store.local_files("sunshine-42")[0][1] == path
    store.log_job("submitted", "sunshine-42", file=rel)
    assert store.jobs()[-1]["prompt_id"] == "sunshine-42" and store.jobs()[-1]["file"] == rel


def test_short_and_word_secrets_are_scrubbed_as_whole_tokens_only(clean_secrets):
    redact_mod.register_secret("abc12")
    redact_mod.register_secret("sunshine")
    redact_mod.register_secret("sk-live-0123456789abcdef")
    text = redact_mod.redact("key abc12 refused; abc123 kept; sunshine. sunshines kept; xsk-live-0123456789abcdefy")
    assert text == "key *** refused; abc123 kept; ***. sunshines kept; x***y"
    assert redact_mod.redact("/home/me/sunshine_photos/a.png") == "/home/me/sunshine_photos/a.png"


def test_a_remote_client_never_sees_local_paths_even_in_errors(user_dir, monkeypatch):
    monkeypatch.setattr(routes, "_peer", lambda request: "192.168.1.30")
    bridge.config_path().parent.mkdir(parents=True, exist_ok=True)
    bridge.config_path().write_text("{not json")
    for method, path in (("GET", "/aliveai/account"), ("GET", "/aliveai/status"), ("POST", "/aliveai/account/test"),
                         ("GET", "/aliveai/limits"), ("POST", "/aliveai/limits")):
        status, body = call(method, path, {"credit_budget": 5}, host="192.168.1.20:8188")
        assert str(user_dir) not in json.dumps(body), (path, body)
    # the same client on this machine still gets the path, to fix the file
    monkeypatch.setattr(routes, "_peer", lambda request: "127.0.0.1")
    assert str(user_dir) in json.dumps(call("GET", "/aliveai/account")[1])
