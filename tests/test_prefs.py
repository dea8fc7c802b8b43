"""Limits set in Settings > AliveAI > Limits (the pack's config file) or in the environment: the
environment wins, bad values are refused before saving, and each limit acts on the nodes."""
from __future__ import annotations

import json
import stat

import pytest
from support import CREATE, EDIT, create_kw, defaults, fast_client, image, run
from test_routes import http, saved, write_file

from nodes import media, pixel_cache
from nodes.comfy import prefs, spend
from nodes.comfy.outputs import pixel_budget
from nodes.comfy.runtime import running_timeout
from nodes.errors import BudgetError, ConfigError


@pytest.fixture
def limits(user_dir, monkeypatch):
    for p in prefs.PREFS.values():
        monkeypatch.delenv(p.env, raising=False)
    return user_dir


def test_the_environment_wins_over_the_dialog(limits, monkeypatch):
    write_file({"credit_budget": 12})
    assert prefs.value("credit_budget") == 12.0
    assert prefs.raw("credit_budget")[1] == "Credit budget per ComfyUI session (Settings > AliveAI > Limits)"
    monkeypatch.setenv("ALIVEAI_CREDIT_BUDGET", "3")
    assert prefs.value("credit_budget") == 3.0 and prefs.raw("credit_budget")[1] == "ALIVEAI_CREDIT_BUDGET"
    assert prefs.value("min_credits") is None


@pytest.mark.parametrize("bad", ["ten", "-1", "nan", "inf", True, [], {}])
def test_bad_values_name_where_they_came_from(limits, monkeypatch, bad):
    with pytest.raises(ConfigError) as e:
        prefs.merge({}, {"min_credits": bad})
    assert "Credits to keep" in str(e.value) and "number of credits" in str(e.value)
    if isinstance(bad, str):
        monkeypatch.setenv("ALIVEAI_MIN_CREDITS", bad)
        with pytest.raises(ConfigError, match="ALIVEAI_MIN_CREDITS must be a number"):
            prefs.value("min_credits")


def test_merge_sets_clears_and_keeps(limits):
    current = {"api_key": "k", "credit_budget": 5, "pixel_cache_mb": 10}
    out = prefs.merge(current, {"credit_budget": "7.5", "pixel_cache_mb": None, "running_timeout": 0})
    assert out == {"api_key": "k", "credit_budget": 7.5, "running_timeout": 0}
    assert prefs.merge(current, {"credit_budget": ""}) == {"api_key": "k", "pixel_cache_mb": 10}
    with pytest.raises(ConfigError, match="unknown setting"):
        prefs.merge(current, {"api_key": "x"})   # the credentials have their own form


def test_limits_route_saves_beside_the_credentials(limits):
    write_file({"api_key": "file-key-0123456789", "email": "me@example.com"})
    status, text, body = http("POST", "/aliveai/limits", {"credit_budget": 20, "running_timeout": "600"})
    assert status == 200 and "file-key" not in text
    assert saved() == {"api_key": "file-key-0123456789", "email": "me@example.com", "credit_budget": 20,
                       "running_timeout": 600}
    assert stat.S_IMODE(bridge_config().stat().st_mode) == 0o600
    got = {p["key"]: p for p in body["prefs"]}
    assert got["credit_budget"]["saved"] == 20 and got["credit_budget"]["source"] == "file"
    assert got["pixel_cache_mb"]["source"] == "default" and got["pixel_cache_mb"]["default"] == 1024
    assert set(got) == set(prefs.PREFS) and all(p["env"].startswith("ALIVEAI_") for p in body["prefs"])
    # the account form's Clear removes the credentials only
    assert http("POST", "/aliveai/account/clear", {})[0] == 200
    assert saved() == {"credit_budget": 20, "running_timeout": 600}


def test_limits_route_refuses_bad_values_and_non_json(limits, monkeypatch):
    status, _, body = http("POST", "/aliveai/limits", {"credit_budget": "lots"})
    assert status == 400 and "Credit budget" in body["error"] and not bridge_config().exists()
    status, _, body = http("POST", "/aliveai/limits", data="credit_budget=5",
                           content_type="application/x-www-form-urlencoded")
    assert status == 415 and not bridge_config().exists()
    monkeypatch.setenv("ALIVEAI_RUNNING_TIMEOUT", "90")
    _, _, body = http("GET", "/aliveai/limits")
    timeout = next(p for p in body["prefs"] if p["key"] == "running_timeout")
    assert timeout["source"] == "env" and timeout["env_value"] == "90"


def test_an_unreadable_config_file_is_not_overwritten_by_the_limits_form(limits):
    bridge_config().parent.mkdir(parents=True, exist_ok=True)
    bridge_config().write_text("{not json")
    status, _, body = http("POST", "/aliveai/limits", {"credit_budget": 1})
    assert status == 409 and bridge_config().read_text() == "{not json"


def test_running_timeout_from_the_dialog(limits):
    assert running_timeout(1800.0) == 1800.0
    write_file({"running_timeout": 45})
    assert running_timeout(1800.0) == 45.0
    write_file({"running_timeout": 0})
    assert running_timeout(1800.0) is None
    write_file({"running_timeout": "soon"})   # edited by hand
    with pytest.raises(ConfigError) as e:
        running_timeout(1800.0, "Create Image (AliveAI)")
    assert str(e.value).startswith("Create Image (AliveAI): Running-time limit (Settings > AliveAI > Limits)")


def test_pixel_cache_size_from_the_dialog_and_a_bad_one_falls_back(limits, monkeypatch, caplog):
    assert pixel_budget() == 1024 << 20
    write_file({"pixel_cache_mb": 2.5})
    assert pixel_budget() == int(2.5 * (1 << 20))
    monkeypatch.setenv("ALIVEAI_PIXEL_CACHE_MB", "lots")
    assert pixel_budget() == 1024 << 20 and "ALIVEAI_PIXEL_CACHE_MB" in caplog.text


def test_a_zero_pixel_cache_writes_no_file(comfy, tmp_path):
    write_file({"pixel_cache_mb": 0})
    run(EDIT, unique_id="1", image=image(seed=31), **{**defaults(EDIT), "prompt": "no cache"})
    assert not (tmp_path / "cache" / "pixels").exists()
    pixel_cache.DECODED.clear()
    write_file({"pixel_cache_mb": 64})
    run(EDIT, unique_id="1", image=image(seed=32), **{**defaults(EDIT), "prompt": "cached"})
    assert len(list((tmp_path / "cache" / "pixels").glob("*.npy"))) == 1
    media.UPLOADS.clear()


def test_a_budget_set_in_the_dialog_refuses_a_job_and_names_the_dialog(comfy, sim, monkeypatch):
    fast_client(monkeypatch)
    spend.reset()
    write_file({"credit_budget": 1.5})
    run(CREATE, unique_id="1", **create_kw(seed=1))
    creates = sum(sim.state.counters.creates.values())
    with pytest.raises(BudgetError) as e:
        run(CREATE, unique_id="1", **create_kw(seed=2))
    assert "Settings > AliveAI > Limits" in str(e.value) and "Nothing was sent" in str(e.value)
    assert sum(sim.state.counters.creates.values()) == creates
    spend.reset()


def bridge_config():
    from nodes.comfy import bridge

    return bridge.config_path()


def test_view_lists_every_preference_once(limits):
    body = prefs.view()
    assert [p["key"] for p in body["prefs"]] == list(prefs.PREFS)
    assert json.dumps(body)  # plain JSON for the route


def test_the_status_tab_shows_this_sessions_spend_against_the_limits(comfy, sim, monkeypatch):
    fast_client(monkeypatch)
    spend.reset()
    run(CREATE, unique_id="1", **create_kw(seed=41))      # no limit set: counted all the same, Me not read
    assert sim.state.requests_for("me") == []
    write_file({"credit_budget": 20, "min_credits": 5})
    run(CREATE, unique_id="1", **create_kw(seed=42))
    _, _, body = http("GET", "/aliveai/status")
    assert body["session"] == {"jobs": 2, "estimated": 2.0, "measured": body["session"]["measured"],
                               "budget": 20.0, "floor": 5.0}
    write_file({"credit_budget": "twenty"})                # edited by hand: shown, not raised
    _, _, body = http("GET", "/aliveai/status")
    assert body["session"]["budget"] is None and "Credit budget" in body["session"]["error"]
    spend.reset()


def test_reset_in_the_status_tab_starts_a_new_budget_session(comfy, sim, monkeypatch):
    fast_client(monkeypatch)
    spend.reset()
    write_file({"credit_budget": 1})
    run(CREATE, unique_id="1", **create_kw(seed=51))
    with pytest.raises(BudgetError, match="Reset in the AliveAI sidebar tab"):
        run(CREATE, unique_id="1", **create_kw(seed=52))
    status, _, body = http("POST", "/aliveai/spend/reset", {})
    assert status == 200 and body["session"]["jobs"] == 0 and body["session"]["budget"] == 1.0
    run(CREATE, unique_id="1", **create_kw(seed=52))        # the budget applies afresh
    assert http("POST", "/aliveai/spend/reset", data="x", content_type="text/plain")[0] == 415
    spend.reset()
