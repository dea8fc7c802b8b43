"""The API check (nodes/doctor.py) and path overrides (nodes/api/overrides.py) against the simulator.

The whole flow a user goes through: the live API (a simulator started with three paths moved)
differs from the table; the check finds exactly those three, proposes the right paths, saves them
as overrides, and the three operations then work. No check creates or spends anything.
"""
from __future__ import annotations

import json

import pytest

from nodes import doctor
from nodes.api import BY_KEY, OPERATIONS, overrides
from nodes.client import AliveAIClient
from nodes.client.config import resolve
from nodes.errors import ConfigError, NotFoundError
from nodes.simulator import DEFAULT_API_KEY, DEFAULT_EMAIL, DEFAULT_PASSWORD, SimulatorThread

MOVED = {"delete_from_queue": "/prompts/queue",            # the old path is taken by DELETE /prompts/{promptId}
         "get_public_clothes": "/clothes/public",           # the old path answers 404 like no route
         "generate_prompt": "/llm/generate-prompt"}
CALLABLE = [o.key for o in OPERATIONS if o.callable]


def _env(sim, **extra) -> dict:
    return {"ALIVEAI_BASE_URL": sim.base_url, "ALIVEAI_API_KEY": DEFAULT_API_KEY, **extra}


def _spent_nothing(sim) -> None:
    c = sim.state.counters
    assert sum(c.creates.values()) == 0 and sum(c.deletes.values()) == 0 and c.uploads == 0
    assert sim.state.default_user.credits == sim.state.config.credits


def test_the_normal_simulator_reports_every_operation_found_and_nothing_is_spent():
    with SimulatorThread(job_seconds=0.2) as sim:
        env = {"ALIVEAI_BASE_URL": sim.base_url, "ALIVEAI_EMAIL": DEFAULT_EMAIL, "ALIVEAI_PASSWORD": DEFAULT_PASSWORD}
        with AliveAIClient(resolve(env=env), retries=1) as client:
            report = doctor.run(client)
        _spent_nothing(sim)
        touched = set(sim.state.counters.requests)
    assert [r.key for r in report.results] == CALLABLE
    assert {r.key: r.verdict for r in report.results if r.verdict != doctor.FOUND} == {}
    assert report.auth == "ok" and report.latency_ms is not None and report.clock_skew_s is not None
    assert report.websocket.startswith("ok") and report.user_websocket.startswith("ok")
    assert set(CALLABLE) <= touched and {"prompt_events", "user_events"} <= touched   # all 52 were reached
    assert not report.proposals and "50 found" in report.table()


def test_three_moved_paths_are_found_proposed_saved_and_then_work(tmp_path):
    config = tmp_path / "config.json"
    with SimulatorThread(job_seconds=30, workers=1, moved_paths=MOVED) as sim:
        config.write_text(json.dumps({"base_url": sim.base_url, "api_key": DEFAULT_API_KEY,
                                      "credentials_for": sim.base_url}))
        settings = resolve(config, env={})
        with AliveAIClient(settings, retries=1) as client:
            with pytest.raises(NotFoundError, match="Generate Prompt"):
                client.text("generate_prompt", model="DEFAULT", inputPrompt="a red fox in the snow")
            report = doctor.run(client, sockets=False)
        _spent_nothing(sim)
        assert {r.key for r in report.wrong} == set(MOVED)
        assert report.proposals == {k: (BY_KEY[k].method, p) for k, p in MOVED.items()}
        assert json.loads(config.read_text()).get("paths") is None           # nothing written unless asked
        assert doctor.save(report, config) == MOVED
        assert json.loads(config.read_text())["paths"] == MOVED

        settings = resolve(config, env={})
        assert settings.routes == {k: (BY_KEY[k].method, p) for k, p in MOVED.items()}
        with AliveAIClient(settings, retries=1) as client:
            assert client.text("generate_prompt", model="DEFAULT", inputPrompt="a red fox in the snow")
            assert isinstance(client.call("get_public_clothes"), (list, dict))
            running = client.submit("create_prompt", name="Ada Lovelace", appearance="short hair", detailLevel="MEDIUM")
            queued = client.submit("create_prompt", name="Ada Lovelace", appearance="long hair", detailLevel="MEDIUM")
            assert client.cancel(queued.prompt_id) == "removed"
            assert sim.state.counters.deletes["delete_from_queue"] == 1
            again = doctor.run(client, sockets=False)
            client.cancel(running.prompt_id)
    assert again.wrong == [] and {r.key for r in again.results if r.overridden} == set(MOVED)


def test_a_broken_override_is_reported_and_the_table_path_proposed(tmp_path):
    with SimulatorThread(job_seconds=0.2) as sim:
        env = _env(sim, ALIVEAI_PATHS=json.dumps({"get_poses": "/poses/all"}))
        with AliveAIClient(resolve(env=env), retries=1) as client:
            report = doctor.run(client, sockets=False)
        _spent_nothing(sim)
    [wrong] = report.wrong
    assert (wrong.key, wrong.path, wrong.overridden) == ("get_poses", "/poses/all", True)
    assert wrong.proposed == ("GET", "/poses")


def test_the_command_prints_the_table_and_saves_only_with_save(tmp_path, capsys):
    config = tmp_path / "config.json"
    with SimulatorThread(job_seconds=0.2, moved_paths={"get_public_clothes": "/clothes/public"}) as sim:
        config.write_text(json.dumps({"base_url": sim.base_url, "api_key": DEFAULT_API_KEY,
                                      "credentials_for": sim.base_url}))
        before = config.read_text()
        assert doctor.main(["--config", str(config)]) == 0
        out = capsys.readouterr().out
        assert "get_public_clothes" in out and "found at GET /clothes/public" in out and DEFAULT_API_KEY not in out
        assert config.read_text() == before
        assert doctor.main(["--config", str(config), "--save", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["proposals"] == {"get_public_clothes": "/clothes/public"}
    assert json.loads(config.read_text())["paths"] == {"get_public_clothes": "/clothes/public"}


# -- overrides ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["@evil.example/x", "//evil.example/x", "http://evil.example/x", "/a/../b",
                                  "/prompts/..", "/a?x=1", "/a#f", "/a b", "/a\n/b", "/prompts/{promptId}/{x}",
                                  "/prompts", "POST", "", "BREW /prompts/{promptId}"])
def test_an_override_that_could_leave_the_host_or_lose_a_parameter_is_refused(path):
    with pytest.raises(ConfigError, match="get_prompt"):
        overrides.parse({"get_prompt": path}, "test", BY_KEY)


def test_overrides_come_from_the_file_and_the_environment_wins(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"paths": {"get_poses": "/poses/all", "me": "GET /members"}}))
    s = resolve(config, env={"ALIVEAI_API_KEY": "k", "ALIVEAI_PATHS": json.dumps({"get_poses": "/poses/list"})})
    assert s.routes == {"get_poses": ("GET", "/poses/list"), "me": ("GET", "/members")}
    with pytest.raises(ConfigError, match="not an operation key"):
        resolve(env={"ALIVEAI_API_KEY": "k", "ALIVEAI_PATHS": json.dumps({"nope": "/x"})})
    with pytest.raises(ConfigError, match="documentation only"):
        overrides.parse({"prompt_events": "/ws/x/{promptId}"}, "test", BY_KEY)


def test_the_client_sends_to_the_overridden_path_on_the_same_host(sim):
    env = _env(sim, ALIVEAI_PATHS=json.dumps({"get_prompt": "DELETE /prompts/{promptId}"}))
    with AliveAIClient(resolve(env=env), retries=1) as client, pytest.raises(NotFoundError):
        client.get_prompt("p/1")
    last = sim.state.log[-1]
    assert last.method == "DELETE" and last.path.startswith("/prompts/p")


def test_every_alternative_keeps_its_operations_parameters():
    for key, alternatives in overrides.ALTERNATIVES.items():
        for method, path in alternatives:
            assert overrides.parse({key: f"{method} {path}"}, "ALTERNATIVES", BY_KEY)


def test_a_node_description_names_the_override():
    op = BY_KEY["get_poses"]
    assert "GET /poses/all instead of GET /poses" in overrides.describe(op, {"get_poses": ("GET", "/poses/all")})
    assert overrides.describe(op, {}) == ""


# -- the "Check API" button's routes -------------------------------------------------------------------
def _route(method: str, path: str, body=None, headers=None):
    import asyncio

    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from nodes.comfy import doctor_routes

    async def go():
        table = web.RouteTableDef()
        doctor_routes.setup(table)
        app = web.Application()
        app.add_routes(table)
        async with TestClient(TestServer(app)) as client:
            resp = await client.request(method, path, json=body, headers=headers or {})
            return resp.status, await resp.text()
    status, text = asyncio.run(go())
    return status, json.loads(text)


def test_the_check_button_finds_and_saves_only_verified_paths(user_dir, monkeypatch):
    from nodes.comfy import bridge, doctor_routes

    doctor_routes._last.clear()
    assert _route("POST", "/aliveai/doctor/save", {})[0] == 400                   # nothing checked yet
    with SimulatorThread(job_seconds=0.2, moved_paths={"get_public_clothes": "/clothes/public"}) as sim:
        monkeypatch.setenv("ALIVEAI_BASE_URL", sim.base_url)
        monkeypatch.setenv("ALIVEAI_API_KEY", DEFAULT_API_KEY)
        status, body = _route("POST", "/aliveai/doctor/check", {}, {"Origin": "http://evil.example"})
        assert status == 403 and sim.state.counters.requests == {}                # the guard, before any request
        status, body = _route("POST", "/aliveai/doctor/check", {})
        assert status == 200 and body["proposals"] == {"get_public_clothes": "/clothes/public"}
        assert DEFAULT_API_KEY not in json.dumps(body) and "found at GET /clothes/public" in body["text"]
        assert not bridge.config_path().exists()                                     # nothing written unless asked
        status, body = _route("POST", "/aliveai/doctor/save", {"keys": ["get_public_clothes", "me"]})
        assert status == 200 and body["saved"] == {"get_public_clothes": "/clothes/public"}
        _spent_nothing(sim)
    assert json.loads(bridge.config_path().read_text())["paths"] == {"get_public_clothes": "/clothes/public"}
