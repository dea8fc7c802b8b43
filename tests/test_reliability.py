"""The fault matrix: every failure scenario the simulator can play, run through the nodes as ComfyUI
runs them. Each test asserts what the user sees (the result, or one error naming the node or the
operation, the cause and the prompt_id) and that nothing was paid for twice (the simulator's create
counter and credit balance). The README's "Reliability" table lists these tests.
"""
from __future__ import annotations

import threading
import time

import pytest
import torch
from support import CREATE, EDIT, create_kw, creates, defaults, fast_client, image, later, run, running, wait_for

from nodes.comfy import bridge, spend
from nodes.errors import (ApiError, BudgetError, ConfigError, DownloadError, JobFailedError, JobTimeoutError,
                          NetworkError, RateLimitError)

START_CREDITS = 1000.0


@pytest.fixture
def node(comfy, sim, monkeypatch):
    """The node layer against the simulator with short client timings; returns the status texts."""
    fast_client(monkeypatch)
    for name in ("ALIVEAI_RUNNING_TIMEOUT", "ALIVEAI_CREDIT_BUDGET", "ALIVEAI_MIN_CREDITS"):
        monkeypatch.delenv(name, raising=False)
    spend.reset()
    yield comfy
    spend.reset()


@pytest.fixture
def interrupt(monkeypatch):
    """ComfyUI's interrupt flag (Cancel in the UI), flipped by the test."""
    flag = threading.Event()
    monkeypatch.setattr(bridge, "is_interrupted", flag.is_set)
    return flag


def credits(sim) -> float:
    return sim.state.default_user.credits


def image_result(out) -> tuple[torch.Tensor, str]:
    img, _, _, prompt_id = out["result"]
    return img, prompt_id


def assert_one_image_job(sim, prompt_id: str) -> None:
    """One create, one charge, and the result is that job's file."""
    assert creates(sim) == 1
    assert credits(sim) == START_CREDITS - 1
    assert sim.state.jobs[prompt_id].status == "DONE"


def statuses(sim, path_start: str) -> list[int]:
    return [e.status for e in sim.state.log if e.path.startswith(path_start)]


# websocket ----------------------------------------------------------------------------------------
def test_websocket_refused_falls_back_to_polling(node, sim, monkeypatch):
    from nodes.client import jobs

    monkeypatch.setattr(jobs, "WS_MAX_FAILURES", 1)
    sim.state.faults.set("ws_refuse")
    img, pid = image_result(run(CREATE, unique_id="1", **create_kw()))
    assert img.shape[0] == 1 and img.shape[-1] == 3
    assert sim.state.counters.ws_connections == 0
    assert len(sim.state.requests_for("get_pending")) >= 1
    assert_one_image_job(sim, pid)


def test_websocket_dropped_mid_job_reconnects(node, sim):
    sim.state.faults.set("ws_drop")
    img, pid = image_result(run(CREATE, unique_id="1", **create_kw()))
    assert img.shape[0] == 1
    assert sim.state.counters.ws_connections >= 2          # reconnected after the drop
    assert_one_image_job(sim, pid)


def test_silent_websocket_still_finishes_from_get_prompt(node, sim):
    sim.state.faults.set("ws_silent")
    t0 = time.monotonic()
    img, pid = image_result(run(CREATE, unique_id="1", **create_kw()))
    assert img.shape[0] == 1 and time.monotonic() - t0 < 10
    assert sim.state.counters.ws_connections == 1           # the socket stayed open...
    assert len(sim.state.requests_for("get_pending")) >= 2  # ...so the job was looked at while it was quiet
    assert len(sim.state.requests_for("get_prompt")) >= 1
    assert_one_image_job(sim, pid)


# HTTP errors ---------------------------------------------------------------------------------------
def test_http_5xx_bursts_are_retried_on_safe_requests(node, sim):
    sim.state.faults.update({"http_500": 1, "http_502": 2, "http_503": 2})
    img, pid = image_result(run(CREATE, unique_id="1", **create_kw()))
    assert img.shape[0] == 1
    seen = [e.status for e in sim.state.log]
    assert {500, 502, 503} <= set(seen)                       # the burst happened...
    assert sim.state.faults.as_dict()["http_503"] == 0
    assert_one_image_job(sim, pid)                            # ...and cost nothing extra


def test_http_5xx_that_does_not_end_is_one_clear_error(node, sim, monkeypatch):
    from nodes.client import jobs

    monkeypatch.setattr(jobs, "WS_MAX_FAILURES", 0)
    monkeypatch.setattr(jobs, "OFFLINE_LIMIT", 0.6)
    sim.state.faults.set("ws_refuse")
    sim.state.faults.set("job_hang")
    real_take = sim.state.faults.take

    def outage_after_create(name):       # every non-create request answers 503 once the job exists
        return (name == "http_503" and creates(sim) > 0) or real_take(name)
    monkeypatch.setattr(sim.state.faults, "take", outage_after_create)
    with pytest.raises(NetworkError) as e:
        run(CREATE, unique_id="1", **create_kw())
    msg = str(e.value)
    pid = next(iter(sim.state.jobs))
    assert msg.startswith("Create Image (AliveAI): lost contact with AliveAI")
    assert "503" in msg and "Load Result" in msg and f"[prompt_id {pid}]" in msg
    assert creates(sim) == 1


def test_rate_limit_429_is_waited_out_and_creates_once(node, sim):
    sim.state.faults.set("http_429", 2)
    img, pid = image_result(run(CREATE, unique_id="1", **create_kw()))
    assert img.shape[0] == 1
    assert 429 in statuses(sim, "/")
    assert_one_image_job(sim, pid)


def test_queue_full_is_waited_out_then_created_once(node, sim):
    sim.state.faults.set("queue_full", 2)
    img, pid = image_result(run(CREATE, unique_id="1", **create_kw()))
    assert [e.status for e in sim.state.requests_for("create_prompt")] == [429, 429, 200]
    assert any("queue full" in t for _, t in node)           # the node said why it waits
    assert_one_image_job(sim, pid)


def test_queue_full_that_does_not_clear_is_one_clear_error(node, sim, monkeypatch):
    from nodes.client import client as client_mod

    monkeypatch.setattr(client_mod, "QUEUE_FULL_WAIT", 0.5)
    sim.state.faults.set("queue_full", 100)
    with pytest.raises(RateLimitError) as e:
        run(CREATE, unique_id="1", **create_kw())
    msg = str(e.value)
    assert msg.startswith("Create Image (AliveAI): the AliveAI queue is full (Max pending creations reached)")
    assert "nothing was created" in msg
    assert creates(sim) == 0 and credits(sim) == START_CREDITS


def test_malformed_json_answers_are_retried_or_looked_up(node, sim, client):
    sim.state.faults.set("bad_json", 1)
    assert isinstance(client.pending(), list)                 # a GET is simply asked again
    sim.state.faults.set("bad_json", 1)                       # the create's own answer arrives cut:
    img, pid = image_result(run(CREATE, unique_id="1", **create_kw()))
    assert img.shape[0] == 1
    assert [e.status for e in sim.state.requests_for("create_prompt")] == [200]   # never re-sent
    assert len(sim.state.requests_for("get_pending")) >= 1    # the job was looked up instead
    assert_one_image_job(sim, pid)


def test_slow_answers_still_give_the_result(node, sim):
    sim.state.faults.set("slow_seconds", 0.3)
    img, pid = image_result(run(CREATE, unique_id="1", **create_kw()))
    assert img.shape[0] == 1
    assert_one_image_job(sim, pid)


# lost create answers ---------------------------------------------------------------------------------
def test_lost_create_answer_is_found_in_the_queue_not_resent(node, sim):
    sim.state.faults.set("create_lost", 1)                    # 502 after the job was made
    img, pid = image_result(run(CREATE, unique_id="1", **create_kw()))
    assert img.shape[0] == 1
    assert [e.status for e in sim.state.requests_for("create_prompt")] == [502]
    assert_one_image_job(sim, pid)


def test_lost_create_answer_is_found_in_the_prompt_list_not_resent(node, sim):
    sim.state.faults.set("create_lost_late", 1)               # answer lost after the job already finished
    img, pid = image_result(run(CREATE, unique_id="1", **create_kw()))
    assert img.shape[0] == 1
    assert len(sim.state.requests_for("create_prompt")) == 1
    assert len(sim.state.requests_for("get_prompts")) >= 1    # it was no longer pending
    assert_one_image_job(sim, pid)


# downloads ---------------------------------------------------------------------------------------------
def test_result_url_expired_once_is_refreshed_from_get_prompt(node, sim):
    sim.state.faults.set("url_expire_once")
    img, pid = image_result(run(CREATE, unique_id="1", **create_kw()))
    assert img.shape[0] == 1
    assert 403 in statuses(sim, "/files/") and 200 in statuses(sim, "/files/")
    assert_one_image_job(sim, pid)


def test_result_url_never_fresh_is_one_error_and_a_rerun_does_not_pay_again(node, sim):
    sim.state.faults.set("url_expired")
    with pytest.raises(DownloadError) as e:
        run(CREATE, unique_id="1", **create_kw())
    pid = next(iter(sim.state.jobs))
    msg = str(e.value)
    assert msg.startswith("Create Image (AliveAI): could not download media") and "HTTP 403" in msg
    assert "Load Result" in msg and msg.endswith(f"[prompt_id {pid}]")
    sim.state.faults.set("url_expired", False)
    img, again = image_result(run(CREATE, unique_id="1", **create_kw()))   # same inputs: the same job's files
    assert again == pid and img.shape[0] == 1
    assert_one_image_job(sim, pid)


def test_download_cut_mid_stream_is_retried(node, sim, tmp_path):
    sim.state.faults.set("download_cut", 1)
    img, pid = image_result(run(CREATE, unique_id="1", **create_kw()))
    media_id = sim.state.jobs[pid].media_ids[0]
    saved = next((tmp_path / "output" / "aliveai" / pid).glob("*.png"))
    assert saved.read_bytes() == sim.state.media[media_id].data       # whole, not half
    assert not list((tmp_path / "output").rglob("*.part"))
    assert_one_image_job(sim, pid)


# jobs that fail or never finish ----------------------------------------------------------------------------
def test_job_error_is_one_clear_error_and_not_billed(node, sim):
    sim.state.faults.set("job_error")
    with pytest.raises(JobFailedError) as e:
        run(CREATE, unique_id="1", **create_kw())
    pid = next(iter(sim.state.jobs))
    msg = str(e.value)
    assert msg.startswith("Create Image (AliveAI): AliveAI reported an error: Simulated failure: GPU out of memory")
    assert msg.endswith(f"[prompt_id {pid}]")
    assert creates(sim) == 1 and credits(sim) == START_CREDITS


def test_job_that_never_completes_times_out_on_running_time_and_is_picked_up_later(node, sim, monkeypatch):
    monkeypatch.setenv("ALIVEAI_RUNNING_TIMEOUT", "0.6")      # read at run time
    sim.state.faults.set("job_hang")
    with pytest.raises(JobTimeoutError) as e:
        run(CREATE, unique_id="1", **create_kw())
    pid = next(iter(sim.state.jobs))
    msg = str(e.value)
    assert msg.startswith("Create Image (AliveAI): still running after") and "limit 0.6 s" in msg
    assert "ALIVEAI_RUNNING_TIMEOUT" in msg and msg.endswith(f"[prompt_id {pid}]")
    sim.state.faults.set("job_hang", False)
    monkeypatch.delenv("ALIVEAI_RUNNING_TIMEOUT")
    img, again = image_result(run(CREATE, unique_id="1", **create_kw()))  # queue it again: same job, no new bill
    assert again == pid and img.shape[0] == 1
    assert_one_image_job(sim, pid)


def test_queue_wait_does_not_count_against_the_running_time_limit(node, sim, client, monkeypatch):
    sim.state.config.workers, sim.state.config.job_seconds = 1, 0.5
    blockers = [client.submit("create_prompt", {"name": "A", "appearance": "b", "detailLevel": "MEDIUM",
                                                "seed": str(i)}) for i in range(2)]
    monkeypatch.setenv("ALIVEAI_RUNNING_TIMEOUT", "1.2")       # < queue wait + running time, > running time
    t0 = time.monotonic()
    img, pid = image_result(run(CREATE, unique_id="1", **create_kw()))
    assert time.monotonic() - t0 > 1.2 and img.shape[0] == 1
    assert any("queued #" in t and "waiting" in t for _, t in node)   # the queue wait is shown...
    assert any("done in" in t and "(queued" in t for _, t in node)    # ...and summed up at the end
    assert sim.state.jobs[pid].status == "DONE" and creates(sim) == 3
    assert all(sim.state.jobs[b.prompt_id].status == "DONE" for b in blockers)


def test_running_timeout_setting_must_be_a_number(node, sim, monkeypatch):
    monkeypatch.setenv("ALIVEAI_RUNNING_TIMEOUT", "ten minutes")
    with pytest.raises(ConfigError) as e:
        run(CREATE, unique_id="1", **create_kw())
    assert str(e.value).startswith("Create Image (AliveAI): ALIVEAI_RUNNING_TIMEOUT must be a number")
    assert "API_KEY" not in str(e.value) and creates(sim) == 0


# uploads --------------------------------------------------------------------------------------------------
def test_upload_too_large_413_names_the_upload_and_creates_nothing(node, sim):
    sim.state.config.max_upload_bytes = 200
    with pytest.raises(ApiError) as e:
        run(EDIT, unique_id="1", image=image(), **{**defaults(EDIT), "prompt": "add a hat"})
    msg = str(e.value)
    assert msg.startswith("Edit Image (AliveAI): Upload File failed: the file is too large for AliveAI (HTTP 413")
    assert creates(sim) == 0 and credits(sim) == START_CREDITS


def test_upload_of_a_refused_type_415_is_one_clear_error(node, sim):
    sim.state.faults.set("upload_reject", 1)
    with pytest.raises(ApiError) as e:
        run(EDIT, unique_id="1", image=image(), **{**defaults(EDIT), "prompt": "add a hat"})
    msg = str(e.value)
    assert msg.startswith("Edit Image (AliveAI): Upload File failed: AliveAI does not accept this file type")
    assert "415" in msg and creates(sim) == 0


# auth and restarts ------------------------------------------------------------------------------------------
def test_tokens_expiring_mid_job_log_in_again(node, sim, monkeypatch):
    from nodes.comfy import session
    from nodes.simulator import DEFAULT_EMAIL, DEFAULT_PASSWORD

    monkeypatch.delenv("ALIVEAI_API_KEY")
    monkeypatch.setenv("ALIVEAI_EMAIL", DEFAULT_EMAIL)
    monkeypatch.setenv("ALIVEAI_PASSWORD", DEFAULT_PASSWORD)
    session.reset()
    sim.state.faults.update({"auth_expire_mid_job": True, "ws_drop": True})  # the reconnect meets a 401
    img, pid = image_result(run(CREATE, unique_id="1", **create_kw()))
    assert img.shape[0] == 1
    assert sim.state.counters.logins >= 2
    assert any(e.status == 401 for e in sim.state.log)
    assert_one_image_job(sim, pid)


def test_server_restart_mid_job_keeps_following(node, sim):
    sim.state.config.job_seconds = 1.5
    restarter = later(lambda: running(sim) and sim.state.counters.ws_connections >= 1,
                      lambda: sim.restart(down=0.8))
    img, pid = image_result(run(CREATE, unique_id="1", **create_kw()))
    restarter.join(5)
    assert sim.state.counters.restarts == 1
    assert img.shape[0] == 1
    assert_one_image_job(sim, pid)


# interrupts -----------------------------------------------------------------------------------------------------
def test_interrupt_during_upload_creates_no_job(node, sim, interrupt):
    sim.state.faults.set("slow_seconds", 0.8)
    later(lambda: sim.state.counters.requests.get("upload_file", 0) > 0, interrupt.set)
    with pytest.raises(bridge.Interrupted) as e:
        run(EDIT, unique_id="1", image=image(), **{**defaults(EDIT), "prompt": "add a hat"})
    assert "interrupted before submitting; no job was created" in str(e.value)
    assert sim.state.counters.uploads == 1 and creates(sim) == 0


def test_interrupt_while_queued_removes_the_job_from_the_queue(node, sim, client, interrupt):
    sim.state.config.workers = 1
    sim.state.faults.set("job_hang")
    client.submit("create_prompt", {"name": "A", "appearance": "b", "detailLevel": "MEDIUM", "seed": "9"})
    later(lambda: len(sim.state.jobs) == 2, interrupt.set)
    with pytest.raises(bridge.Interrupted) as e:
        run(CREATE, unique_id="1", **create_kw())
    mine = list(sim.state.jobs)[-1]
    assert "removed from the AliveAI queue" in str(e.value) and mine in str(e.value)
    assert sim.state.jobs[mine].status == "REMOVED"
    assert any("interrupted: removed" in t for _, t in node)


def test_interrupt_while_running_says_so_and_a_rerun_picks_the_job_up(node, sim, interrupt):
    sim.state.faults.set("job_hang")
    later(lambda: running(sim), interrupt.set)
    with pytest.raises(bridge.Interrupted) as e:
        run(CREATE, unique_id="1", **create_kw())
    pid = next(iter(sim.state.jobs))
    assert "already running on AliveAI" in str(e.value) and pid in str(e.value)
    assert sim.state.jobs[pid].status == "RUNNING"
    interrupt.clear()                                          # a new prompt resets ComfyUI's flag
    sim.state.faults.set("job_hang", False)
    img, again = image_result(run(CREATE, unique_id="1", **create_kw()))
    assert again == pid and img.shape[0] == 1
    assert_one_image_job(sim, pid)


def test_identical_nodes_running_together_share_one_job(node, sim):
    """A second identical request while the first is still running follows the first job."""
    import asyncio

    sim.state.config.job_seconds = 0.6

    async def two():
        first = asyncio.create_task(CREATE().run(unique_id="1", **create_kw()))
        await asyncio.sleep(0.3)                                # the first job is submitted by now
        second = asyncio.create_task(CREATE().run(unique_id="2", **create_kw()))
        return await asyncio.gather(first, second)

    a, b = asyncio.run(two())
    assert a["result"][3] == b["result"][3]
    assert torch.equal(a["result"][0], b["result"][0])
    assert_one_image_job(sim, a["result"][3])


# spend guard -------------------------------------------------------------------------------------------------
def test_spend_budget_refuses_before_submitting(node, sim, monkeypatch):
    monkeypatch.setenv("ALIVEAI_CREDIT_BUDGET", "1.5")
    run(CREATE, unique_id="1", **create_kw(seed=1))
    with pytest.raises(BudgetError) as e:
        run(CREATE, unique_id="1", **create_kw(seed=2))
    msg = str(e.value)
    assert msg.startswith("Create Image (AliveAI): refused before submitting")
    assert "ALIVEAI_CREDIT_BUDGET" in msg and "estimate" in msg and "Nothing was sent" in msg
    assert creates(sim) == 1
    run(CREATE, unique_id="1", **create_kw(seed=1))            # a cached result costs nothing: allowed
    assert creates(sim) == 1


def test_spend_floor_uses_the_balance_from_me(node, sim, monkeypatch):
    sim.state.default_user.credits = 3.0
    monkeypatch.setenv("ALIVEAI_MIN_CREDITS", "1.5")
    run(CREATE, unique_id="1", **create_kw(seed=1))            # 3 - 1 = 2 >= 1.5
    with pytest.raises(BudgetError) as e:                      # 2 - 1 = 1 < 1.5
        run(CREATE, unique_id="1", **create_kw(seed=2))
    assert "ALIVEAI_MIN_CREDITS" in str(e.value) and "below the floor of 1.5" in str(e.value)
    assert creates(sim) == 1
    assert len(sim.state.requests_for("me")) == 1              # Me is cached, not read per job
    assert spend.summary()["estimated"] == 1.0


def test_spend_guard_off_reads_nothing(node, sim):
    run(CREATE, unique_id="1", **create_kw())
    assert sim.state.requests_for("me") == []


# the simulator's switches ----------------------------------------------------------------------------------------
def test_fault_matrix_is_switchable_from_the_command_line():
    from nodes.simulator import Faults
    from nodes.simulator.__main__ import parse_args
    from nodes.simulator.runner import make_simulator

    assert len(Faults.names()) >= 15
    args = parse_args(["--fault", "http_502=2", "--fault", "ws_silent", "--fault", "url_expire_once"])
    sim = make_simulator(args.fault)
    assert sim.faults.http_502 == 2 and sim.faults.ws_silent and sim.faults.url_expire_once
    with pytest.raises(ValueError):
        make_simulator(["no_such_fault"])


def test_restart_from_the_admin_route(sim):
    import requests

    assert requests.post(sim.base_url + "/_sim/restart", json={"seconds": 0.5}, timeout=5).json()["restarting"]
    wait_for(lambda: sim.state.counters.restarts == 1, timeout=5)
    with pytest.raises(requests.ConnectionError):
        requests.get(sim.base_url + "/members/me", headers=sim.headers, timeout=2)
    wait_for(lambda: _up(sim), timeout=5)


def _up(sim) -> bool:
    import requests

    try:
        return requests.get(sim.base_url + "/members/me", headers=sim.headers, timeout=2).status_code == 200
    except requests.ConnectionError:
        return False


def test_readme_reliability_table_names_real_tests():
    """The README's table is the user-facing matrix: every test it names exists, and every fault
    scenario tested here is in it."""
    import re

    from conftest import ROOT

    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme.split("## Reliability", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`(test_\w+)`", section))
    here = {name for name in globals() if name.startswith("test_")}
    assert named <= here, named - here
    not_scenarios = {"test_readme_reliability_table_names_real_tests", "test_running_timeout_setting_must_be_a_number",
                     "test_identical_nodes_running_together_share_one_job",
                     "test_spend_guard_off_reads_nothing", "test_fault_matrix_is_switchable_from_the_command_line",
                     "test_restart_from_the_admin_route"}
    scenarios = here - not_scenarios
    assert scenarios <= named, scenarios - named
