"""The pack's HTTP routes, mounted on a throwaway aiohttp app as ComfyUI would mount them, and
driven over real HTTP. What a user would notice: the key never comes back, the file is private,
env wins and says so, Test connection shows the account or the API's own complaint."""
from __future__ import annotations

import asyncio
import json
import stat

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from support import assert_injected, wait_for

from nodes.comfy import bridge, routes
from nodes.simulator import DEFAULT_API_KEY, DEFAULT_EMAIL, DEFAULT_PASSWORD

ENV_KEY = "env-key-0123456789abcdef"
FILE_KEY = "file-key-fedcba9876543210"
PASSWORD = "pass-word-not-to-be-seen"


def http(method: str, path: str, body=None, *, data: str | None = None, content_type: str | None = None):
    """One request against a fresh app with the pack's routes: (status, raw text, parsed JSON)."""
    async def go():
        table = web.RouteTableDef()
        routes.setup(table)
        app = web.Application()
        app.add_routes(table)
        async with TestClient(TestServer(app)) as client:
            kw = {"json": body} if data is None else {"data": data, "headers": {"Content-Type": content_type or ""}}
            if method == "GET":
                kw = {}
            resp = await client.request(method, path, **kw)
            return resp.status, await resp.text()

    status, text = asyncio.run(go())
    return status, text, json.loads(text)


def write_file(data: dict) -> None:
    from nodes.client.config import write_config_file

    write_config_file(bridge.config_path(), data)


def saved() -> dict:
    return json.loads(bridge.config_path().read_text())


def test_get_account_never_returns_key_or_password_from_env(user_dir, monkeypatch):
    write_file({"api_key": FILE_KEY, "email": "f@example.com", "password": PASSWORD})
    monkeypatch.setenv("ALIVEAI_API_KEY", ENV_KEY)
    monkeypatch.setenv("ALIVEAI_PASSWORD", PASSWORD + "-env")
    status, text, body = http("GET", "/aliveai/account")
    assert status == 200
    for secret in (ENV_KEY, FILE_KEY, PASSWORD, PASSWORD + "-env"):
        assert secret not in text
    assert body["key_set"] is True and body["source"] == "env" and body["env_overrides"] is True
    assert body["auth"] == "key" and body["key_masked"].endswith(ENV_KEY[-4:])
    assert "ALIVEAI_API_KEY" in body["env_vars"] and body["saved"] == "key"


def test_get_account_never_returns_key_or_password_from_the_file(user_dir):
    write_file({"api_key": FILE_KEY, "password": PASSWORD, "email": "me@example.com"})
    _, text, body = http("GET", "/aliveai/account")
    assert FILE_KEY not in text and PASSWORD not in text
    assert (body["source"], body["auth"], body["env_overrides"]) == ("file", "key", False)
    assert body["key_masked"] == "\u2022" * 4 + FILE_KEY[-4:]

    write_file({"email": "me@example.com", "password": PASSWORD})
    _, text, body = http("GET", "/aliveai/account")
    assert PASSWORD not in text
    assert (body["auth"], body["key_set"], body["email"], body["key_masked"]) == ("login", False, "me@example.com", "")


def test_post_writes_a_private_file_and_strips_a_pasted_prefix(user_dir):
    status, text, body = http("POST", "/aliveai/account", {"api_key": f"  Key {FILE_KEY} ",
                                                           "base_url": "http://127.0.0.1:9/"})
    assert status == 200 and FILE_KEY not in text
    path = user_dir / "config.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert saved() == {"api_key": FILE_KEY, "base_url": "http://127.0.0.1:9"}
    assert (body["source"], body["auth"], body["base_url"]) == ("file", "key", "http://127.0.0.1:9")

    http("POST", "/aliveai/account", {"api_key": f"Bearer {FILE_KEY}x"})
    assert saved()["api_key"] == FILE_KEY + "x"
    http("POST", "/aliveai/account", {"email": " me@example.com ", "password": PASSWORD})  # merged, not replaced
    assert saved() == {"api_key": FILE_KEY + "x", "base_url": "http://127.0.0.1:9", "email": "me@example.com",
                       "password": PASSWORD}
    # "" clears a field; the login is given again because the API URL changes (issue 11: credentials are
    # bound to their host, a URL change without them removes them: test_custody.py)
    _, text, body = http("POST", "/aliveai/account", {"api_key": "", "base_url": "", "email": "me@example.com",
                                                      "password": PASSWORD})
    assert saved() == {"email": "me@example.com", "password": PASSWORD}
    assert body["auth"] == "login" and body["base_url"] == body["default_base_url"] and PASSWORD not in text


def test_post_refuses_bad_input_and_leaves_the_file_alone(user_dir):
    write_file({"api_key": FILE_KEY})
    status, _, body = http("POST", "/aliveai/account", {"base_url": "ftp://example.com"})
    assert status == 400 and "http://" in body["error"]
    status, _, body = http("POST", "/aliveai/account", {"api_key": 123})
    assert status == 400
    # a cross-site form can send text/plain without a preflight: refused, so it cannot swap the base URL
    status, _, body = http("POST", "/aliveai/account", data=json.dumps({"base_url": "https://evil.example"}),
                           content_type="text/plain")
    assert status == 415
    assert saved() == {"api_key": FILE_KEY}


def test_env_wins_over_the_file_and_the_answer_says_so(user_dir, monkeypatch):
    monkeypatch.setenv("ALIVEAI_API_KEY", ENV_KEY)
    status, text, body = http("POST", "/aliveai/account", {"api_key": FILE_KEY})
    assert status == 200 and FILE_KEY not in text and ENV_KEY not in text
    assert saved()["api_key"] == FILE_KEY
    assert body["source"] == "env" and body["env_overrides"] is True and body["saved"] == "key"
    assert body["key_masked"].endswith(ENV_KEY[-4:])


def test_connection_against_the_simulator(user_dir, sim):
    http("POST", "/aliveai/account", {"api_key": DEFAULT_API_KEY, "base_url": sim.base_url})
    status, text, body = http("POST", "/aliveai/account/test", {})
    assert status == 200 and body["ok"] is True
    assert body["email"] == DEFAULT_EMAIL and body["credits"] == 1000 and body["premiumExpiration"]
    assert DEFAULT_API_KEY not in text


def test_connection_with_email_and_password(user_dir, sim):
    http("POST", "/aliveai/account", {"email": DEFAULT_EMAIL, "password": DEFAULT_PASSWORD, "base_url": sim.base_url})
    _, text, body = http("POST", "/aliveai/account/test", {})
    assert body["ok"] is True and body["auth"] == "login" and DEFAULT_PASSWORD not in text


def test_connection_with_a_wrong_key_gives_the_api_message_not_the_key(user_dir, sim):
    wrong = "wrong-key-5555555555"
    http("POST", "/aliveai/account", {"api_key": wrong, "base_url": sim.base_url})
    status, text, body = http("POST", "/aliveai/account/test", {})
    assert status == 200 and body["ok"] is False
    assert "Invalid API key" in body["error"] and body["status"] == 401
    assert wrong not in text


def test_connection_without_credentials_says_what_to_do(user_dir):
    _, _, body = http("POST", "/aliveai/account/test", {})
    assert body["ok"] is False and "ALIVEAI_API_KEY" in body["error"]


def test_status_gives_credits_and_queue_cached_then_stale(user_dir, sim, client, monkeypatch):
    sim.state.faults.set("job_hang", True)
    job = client.submit("create_prompt", {"name": "A", "appearance": "b", "detailLevel": "HIGH", "seed": "1"})
    wait_for(lambda: sim.state.faults.count("job_hang") > 1)   # held short of its end, not merely slow
    assert_injected(sim, "job_hang")
    http("POST", "/aliveai/account", {"api_key": DEFAULT_API_KEY, "base_url": sim.base_url})
    _, text, body = http("GET", "/aliveai/status")
    assert body["credits"] is not None and body["updated"] and not body.get("stale")
    assert [q["promptId"] for q in body["queue"]] == [job.prompt_id]
    assert set(body["queue"][0]) == {"promptId", "queuePosition", "progress", "video"}
    assert DEFAULT_API_KEY not in text

    mes = len(sim.state.requests_for("me"))
    http("GET", "/aliveai/status")  # within the TTL: no new API call
    assert len(sim.state.requests_for("me")) == mes

    monkeypatch.setattr(routes, "STATUS_MIN_AGE", 0.0)
    sim.state.faults.set("http_500", 10)
    _, _, stale = http("GET", "/aliveai/status?refresh=1")
    assert stale["stale"] is True and stale["credits"] == body["credits"] and stale["queue"] == body["queue"]
    assert "500" in stale["error"]
    assert_injected(sim, "http_500")
    assert sim.state.jobs[job.prompt_id].status == "RUNNING"   # the queue the status showed was real


def test_status_without_credentials(user_dir):
    _, _, body = http("GET", "/aliveai/status")
    assert body["key_set"] is False and body["queue"] == [] and "ALIVEAI_API_KEY" in body["error"]


def test_clear_removes_the_credentials_and_keeps_the_base_url(user_dir):
    http("POST", "/aliveai/account", {"api_key": FILE_KEY, "email": "a@example.com", "password": PASSWORD,
                                      "base_url": "http://127.0.0.1:9"})
    status, _, body = http("POST", "/aliveai/account/clear", {})
    assert status == 200 and saved() == {"base_url": "http://127.0.0.1:9"}
    assert (body["key_set"], body["source"], body["auth"], body["saved"]) == (False, "none", "none", "none")


def test_a_job_node_run_sends_aliveai_job_and_shows_its_handle(comfy, sim, monkeypatch):
    from test_nodes import CREATE, defaults, run

    from nodes.errors import JobFailedError

    events = []
    monkeypatch.setattr(bridge, "send_event", lambda name, data: events.append((name, data)))
    out = run(CREATE, unique_id="7", **{**defaults(CREATE), "name": "A B", "appearance": "c"})
    _, _, media_id, prompt_id = out["result"]
    assert out["ui"]["aliveai"] == [{"prompt_id": prompt_id, "media_ids": [media_id]}]
    name, data = events[-1]
    assert name == "aliveai.job" and data["status"] == "completed" and data["node"] == "7"
    assert data["prompt_id"] == prompt_id and data["medias"] == [media_id] and data["seconds"] >= 0

    sim.state.faults.set("job_error", True)
    with pytest.raises(JobFailedError) as e:
        run(CREATE, unique_id="8", **{**defaults(CREATE), "name": "A B", "appearance": "fails"})
    assert events[-1][1]["status"] == "failed" and events[-1][1]["prompt_id"] == e.value.prompt_id
    assert_injected(sim, "job_error")
