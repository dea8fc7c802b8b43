"""The fault matrix: every failure scenario the simulator can play, run through the nodes as ComfyUI
runs them. Each test asserts what the user sees (the result, or one error naming the node or the
operation, the cause and the prompt_id) and that nothing was paid for twice (the simulator's create
counter and credit balance). The README's "Reliability" table lists these tests.
"""
from __future__ import annotations

import ast
import time

import pytest
import torch
from support import (CREATE, EDIT, assert_injected, create_kw, creates, defaults, image, later, run,
                     running, wait_for)

from nodes.comfy import bridge, spend
from nodes.errors import (ApiError, BudgetError, ConfigError, DownloadError, JobFailedError, JobTimeoutError,
                          NetworkError, RateLimitError)

START_CREDITS = 1000.0


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
    assert_injected(sim, "ws_refuse")
    assert_one_image_job(sim, pid)


def test_websocket_dropped_mid_job_reconnects(node, sim):
    sim.state.faults.set("ws_drop")
    img, pid = image_result(run(CREATE, unique_id="1", **create_kw()))
    assert img.shape[0] == 1
    assert sim.state.counters.ws_connections >= 2          # reconnected after the drop
    assert_injected(sim, "ws_drop")
    assert_one_image_job(sim, pid)


def test_silent_websocket_still_finishes_from_get_prompt(node, sim):
    sim.state.faults.set("ws_silent")
    t0 = time.monotonic()
    img, pid = image_result(run(CREATE, unique_id="1", **create_kw()))
    assert img.shape[0] == 1 and time.monotonic() - t0 < 10
    assert sim.state.counters.ws_connections == 1           # the socket stayed open...
    assert len(sim.state.requests_for("get_pending")) >= 2  # ...so the job was looked at while it was quiet
    assert len(sim.state.requests_for("get_prompt")) >= 1
    assert_injected(sim, "ws_silent")
    assert_one_image_job(sim, pid)


# HTTP errors ---------------------------------------------------------------------------------------
def test_http_5xx_bursts_are_retried_on_safe_requests(node, sim):
    sim.state.faults.update({"http_500": 1, "http_502": 2, "http_503": 2})
    img, pid = image_result(run(CREATE, unique_id="1", **create_kw()))
    assert img.shape[0] == 1
    seen = [e.status for e in sim.state.log]
    assert {500, 502, 503} <= set(seen)                       # the burst happened...
    assert sim.state.faults.as_dict()["http_503"] == 0
    assert_injected(sim, "http_500", "http_502", "http_503")
    assert_one_image_job(sim, pid)                            # ...and cost nothing extra


def test_http_5xx_that_does_not_end_is_one_clear_error(node, sim, monkeypatch):
    from nodes.client import jobs

    monkeypatch.setattr(jobs, "WS_MAX_FAILURES", 0)
    monkeypatch.setattr(jobs, "OFFLINE_LIMIT", 0.6)
    monkeypatch.setenv("ALIVEAI_RUNNING_TIMEOUT", "20")       # without the outage: a timeout, not a hang
    sim.state.faults.set("ws_refuse")
    sim.state.faults.set("job_hang")
    outage = later(lambda: creates(sim) > 0,                  # every non-create request answers 503 once the job exists
                   lambda: sim.state.faults.set("http_503", 1_000_000))
    with pytest.raises(NetworkError) as e:
        run(CREATE, unique_id="1", **create_kw())
    outage.join(5)
    msg = str(e.value)
    pid = next(iter(sim.state.jobs))
    assert msg.startswith("Create Image (AliveAI): lost contact with AliveAI")
    assert "503" in msg and "Load Result" in msg and f"[prompt_id {pid}]" in msg
    assert creates(sim) == 1
    assert sim.state.counters.ws_connections == 0             # only polling was left, and it met the outage...
    assert sim.state.jobs[pid].status == "RUNNING"            # ...while the job was still running
    assert_injected(sim, "ws_refuse", "job_hang", "http_503")


def test_rate_limit_429_is_waited_out_and_creates_once(node, sim):
    sim.state.faults.set("http_429", 2)
    img, pid = image_result(run(CREATE, unique_id="1", **create_kw()))
    assert img.shape[0] == 1
    assert statuses(sim, "/").count(429) == 2
    assert_injected(sim, "http_429")
    assert_one_image_job(sim, pid)


def test_queue_full_is_waited_out_then_created_once(node, sim):
    sim.state.faults.set("queue_full", 2)
    img, pid = image_result(run(CREATE, unique_id="1", **create_kw()))
    assert [e.status for e in sim.state.requests_for("create_prompt")] == [429, 429, 200]
    assert any("queue full" in t for _, t in node)           # the node said why it waits
    assert_injected(sim, "queue_full")
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
    assert set(statuses(sim, "/prompts")) == {429} and len(statuses(sim, "/prompts")) >= 2   # it did wait
    assert_injected(sim, "queue_full")


def test_malformed_json_answers_are_retried_or_looked_up(node, sim, client, caplog):
    sim.state.faults.set("bad_json", 1)
    assert isinstance(client.pending(), list)                 # a GET is simply asked again
    assert len(sim.state.requests_for("get_pending")) == 2
    assert_injected(sim, "bad_json")
    sim.state.faults.set("bad_json", 1)                       # the create's own answer arrives cut:
    with caplog.at_level("INFO", logger="aliveai"):
        img, pid = image_result(run(CREATE, unique_id="1", **create_kw()))
    assert img.shape[0] == 1
    assert [e.status for e in sim.state.requests_for("create_prompt")] == [200]   # never re-sent
    assert "the create answer was lost" in caplog.text        # the job was looked up instead...
    assert f"found the job of the lost answer: {pid}" in caplog.text
    assert sim.state.faults.count("bad_json") == 2
    assert_one_image_job(sim, pid)


def test_slow_answers_still_give_the_result(node, sim):
    sim.state.faults.set("slow_seconds", 0.3)
    t0 = time.monotonic()
    img, pid = image_result(run(CREATE, unique_id="1", **create_kw()))
    waited = time.monotonic() - t0
    assert img.shape[0] == 1
    # The client waited through the delays (a lower bound, not a speed limit): the create's answer and
    # the download each arrive 0.3 s late, one after the other.
    assert waited >= 0.6 and sim.state.faults.count("slow_seconds") >= 2
    assert_injected(sim, "slow_seconds")
    assert_one_image_job(sim, pid)


# lost create answers ---------------------------------------------------------------------------------
def test_lost_create_answer_is_found_in_the_queue_not_resent(node, sim):
    sim.state.faults.set("create_lost", 1)                    # 502 after the job was made
    img, pid = image_result(run(CREATE, unique_id="1", **create_kw()))
    assert img.shape[0] == 1
    assert [e.status for e in sim.state.requests_for("create_prompt")] == [502]
    assert_injected(sim, "create_lost")
    assert_one_image_job(sim, pid)


def test_lost_create_answer_is_found_in_the_prompt_list_not_resent(node, sim):
    sim.state.faults.set("create_lost_late", 1)               # answer lost after the job already finished
    img, pid = image_result(run(CREATE, unique_id="1", **create_kw()))
    assert img.shape[0] == 1
    assert len(sim.state.requests_for("create_prompt")) == 1
    assert len(sim.state.requests_for("get_prompts")) >= 1    # it was no longer pending
    assert_injected(sim, "create_lost_late")
    assert_one_image_job(sim, pid)


# downloads ---------------------------------------------------------------------------------------------
def test_result_url_expired_once_is_refreshed_from_get_prompt(node, sim):
    sim.state.faults.set("url_expire_once")
    img, pid = image_result(run(CREATE, unique_id="1", **create_kw()))
    assert img.shape[0] == 1
    assert statuses(sim, "/files/") == [403, 200]
    assert_injected(sim, "url_expire_once")
    assert_one_image_job(sim, pid)


def test_result_url_never_fresh_is_one_error_and_a_rerun_does_not_pay_again(node, sim):
    sim.state.faults.set("url_expired")
    with pytest.raises(DownloadError) as e:
        run(CREATE, unique_id="1", **create_kw())
    pid = next(iter(sim.state.jobs))
    msg = str(e.value)
    assert msg.startswith("Create Image (AliveAI): could not download media") and "HTTP 403" in msg
    assert "Load Result" in msg and msg.endswith(f"[prompt_id {pid}]")
    assert set(statuses(sim, "/files/")) == {403}
    assert_injected(sim, "url_expired")
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
    assert len(statuses(sim, "/files/")) == 2                 # the first transfer was cut, the second one whole
    assert sim.state.counters.downloads == 1
    assert_injected(sim, "download_cut")
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
    assert_injected(sim, "job_error")


def test_job_that_never_completes_times_out_on_running_time_and_is_picked_up_later(node, sim, monkeypatch):
    monkeypatch.setenv("ALIVEAI_RUNNING_TIMEOUT", "0.6")      # read at run time
    sim.state.faults.set("job_hang")
    with pytest.raises(JobTimeoutError) as e:
        run(CREATE, unique_id="1", **create_kw())
    pid = next(iter(sim.state.jobs))
    msg = str(e.value)
    assert msg.startswith("Create Image (AliveAI): still running after") and "limit 0.6 s" in msg
    assert "ALIVEAI_RUNNING_TIMEOUT" in msg and msg.endswith(f"[prompt_id {pid}]")
    assert_injected(sim, "job_hang")
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
    assert_injected(sim, "upload_reject")


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
    log = sim.state.log
    refused = next(i for i, e in enumerate(log) if e.status == 401)
    assert log[refused].path.startswith("/ws/")               # the dropped socket's reconnect met the 401...
    assert any(e.op == "login" and e.status == 200 for e in log[refused:])  # ...and a new login followed
    assert sim.state.counters.logins >= 2 and sim.state.counters.ws_connections >= 2
    assert_injected(sim, "auth_expire_mid_job", "ws_drop")
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
    phase: list = []

    def cancel_mid_upload():      # the upload was received and its answer is still held back
        phase.extend(e.status for e in sim.state.requests_for("upload_file"))
        interrupt.set()
    later(lambda: sim.state.counters.uploads == 1, cancel_mid_upload)
    with pytest.raises(bridge.Interrupted) as e:
        run(EDIT, unique_id="1", image=image(), **{**defaults(EDIT), "prompt": "add a hat"})
    assert "interrupted before submitting; no job was created" in str(e.value)
    assert phase == [None]                                     # Cancel came while the upload was in flight
    assert sim.state.counters.uploads == 1 and creates(sim) == 0
    assert_injected(sim, "slow_seconds")


def test_interrupt_while_queued_removes_the_job_from_the_queue(node, sim, client, interrupt):
    sim.state.config.workers = 1
    sim.state.faults.set("job_hang")
    blocker = client.submit("create_prompt", {"name": "A", "appearance": "b", "detailLevel": "MEDIUM", "seed": "9"})
    wait_for(lambda: sim.state.faults.count("job_hang") >= 1)  # the only worker is stuck on the blocker
    phase: list = []

    def cancel_while_queued():
        mine = sim.state.jobs[list(sim.state.jobs)[-1]]
        phase.append((mine.status, sim.state.position(mine)))
        interrupt.set()
    later(lambda: len(sim.state.jobs) == 2, cancel_while_queued)
    with pytest.raises(bridge.Interrupted) as e:
        run(CREATE, unique_id="1", **create_kw())
    mine = list(sim.state.jobs)[-1]
    assert "removed from the AliveAI queue" in str(e.value) and mine in str(e.value)
    assert phase == [("QUEUED", 1)]                            # Cancel came while the job waited in the queue
    assert sim.state.jobs[mine].status == "REMOVED"
    assert sim.state.jobs[blocker.prompt_id].status == "RUNNING"   # the queue was held by the hang throughout
    assert any("interrupted: removed" in t for _, t in node)
    assert_injected(sim, "job_hang")


def test_interrupt_while_running_says_so_and_a_rerun_picks_the_job_up(node, sim, interrupt):
    sim.state.faults.set("job_hang")
    phase: list = []

    def cancel_while_running():
        phase.extend(j.status for j in sim.state.jobs.values())
        interrupt.set()
    later(lambda: sim.state.faults.count("job_hang") >= 1, cancel_while_running)   # running, stuck short of the end
    with pytest.raises(bridge.Interrupted) as e:
        run(CREATE, unique_id="1", **create_kw())
    pid = next(iter(sim.state.jobs))
    assert "already running on AliveAI" in str(e.value) and pid in str(e.value)
    assert phase == ["RUNNING"] and sim.state.jobs[pid].status == "RUNNING"
    assert_injected(sim, "job_hang")
    interrupt.clear()                                          # a new prompt resets ComfyUI's flag
    sim.state.faults.set("job_hang", False)
    img, again = image_result(run(CREATE, unique_id="1", **create_kw()))
    assert again == pid and img.shape[0] == 1
    assert_one_image_job(sim, pid)


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
    # what the command line set is what the simulator plays (through the same gates the server uses)
    assert sim.faults.take("http_502") and sim.faults.on("ws_silent") and sim.faults.on("url_expire_once")
    assert_injected(sim, "http_502", "ws_silent", "url_expire_once")
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


def _fault_names(node: ast.AST, known: set[str]) -> set[str]:
    """Fault names in a piece of a test: string constants that are (or start with `name=`) a known
    fault; a piece that is a plain variable gives `$variable` (a parametrised test sets and asserts
    the same variable)."""
    out = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value.split("=")[0] in known:
            out.add(n.value.split("=")[0])
        elif isinstance(n, ast.Name) and n is node:
            out.add(f"${n.id}")
    return out


def _call_name(call: ast.Call) -> str:
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""


def _on_faults(call: ast.Call) -> bool:
    """`<anything>.faults.<method>(...)`, or `faults.<method>(...)` on a local named faults."""
    f = call.func
    if not isinstance(f, ast.Attribute):
        return False
    owner = f.value
    return (isinstance(owner, ast.Attribute) and owner.attr == "faults") or \
        (isinstance(owner, ast.Name) and owner.id == "faults")


def _counted(compare: ast.Compare, known: set[str]) -> set[str]:
    """`faults.count(x) >= n` (n >= 1), `== n` (n >= 1) or `> n` (n >= 0): an asserted injection."""
    left = compare.left
    if not (isinstance(left, ast.Call) and _call_name(left) == "count" and _on_faults(left) and left.args
            and len(compare.ops) == 1 and isinstance(compare.comparators[0], ast.Constant)):
        return set()
    n, op = compare.comparators[0].value, compare.ops[0]
    if not isinstance(n, int) or not ((isinstance(op, (ast.GtE, ast.Eq)) and n >= 1) or (isinstance(op, ast.Gt)
                                                                                          and n >= 0)):
        return set()
    return _fault_names(left.args[0], known)


def _sim_faults_post(call: ast.Call) -> ast.AST | None:
    """The JSON body of `requests.post(<...>/_sim/faults, json={...})`, when the call is one."""
    if _call_name(call) != "post":
        return None
    if not any(isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value.endswith("/_sim/faults")
               for a in call.args for n in ast.walk(a)):
        return None
    return next((k.value for k in call.keywords if k.arg == "json"), None)


def faults_set_and_asserted(fn: ast.FunctionDef) -> tuple[set[str], set[str]]:
    """The fault names a function switches on (`faults.set("x", ...)`, `faults.update({"x": ...})`,
    `faults.x = ...`, `--fault x` / `make_simulator([...])` / `start(faults=[...])`, a JSON body
    posted to `/_sim/faults`) and the names whose injection it asserts: passed to `assert_injected`,
    or `faults.count("x") >= 1` in an `assert` or in the predicate of `wait_for` (which raises when
    it does not hold). A variable passed to both counts as asserted (`$name`)."""
    from nodes.simulator import Faults

    known = set(Faults.names())
    sets: set[str] = set()
    asserted: set[str] = set()

    checks: list[ast.AST] = []           # the expressions whose truth is asserted
    for node in ast.walk(fn):
        if isinstance(node, ast.Assert):
            checks.append(node.test)
        elif isinstance(node, ast.Call) and _call_name(node) == "wait_for" and node.args \
                and isinstance(node.args[0], ast.Lambda):
            checks.append(node.args[0].body)
        if isinstance(node, ast.Call):
            name = _call_name(node)
            if name == "assert_injected":
                for a in node.args[1:]:
                    asserted |= _fault_names(a, known)
            elif _on_faults(node) and name in ("set", "update", "apply") and node.args:
                off = name == "set" and len(node.args) > 1 and isinstance(node.args[1], ast.Constant) \
                    and not node.args[1].value
                if not off:
                    sets |= _fault_names(node.args[0], known)
            elif name in ("parse_args", "make_simulator", "start"):
                sets |= _fault_names(node, known)
            elif (body := _sim_faults_post(node)) is not None:
                sets |= _fault_names(body, known)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Attribute) \
                        and target.value.attr == "faults" and target.attr in known:
                    if not (isinstance(node.value, ast.Constant) and not node.value.value):
                        sets.add(target.attr)
    for check in checks:
        for node in ast.walk(check):
            if isinstance(node, ast.Compare):
                asserted |= _counted(node, known)
    return sets, asserted


def faults_of_tests(tree: ast.Module) -> dict[str, tuple[set[str], set[str]]]:
    """{test name: (faults it sets, faults it asserts)}, counting what the module's own helper
    functions and fixtures do when the test calls them or takes them as arguments."""
    local = {f.name: f for f in tree.body if isinstance(f, ast.FunctionDef)}
    own = {name: faults_set_and_asserted(fn) for name, fn in local.items()}

    def reached(fn: ast.FunctionDef) -> set[str]:
        seen, todo = set(), [fn.name]
        while todo:
            name = todo.pop()
            if name in seen or name not in local:
                continue
            seen.add(name)
            f = local[name]
            todo += [n.id for n in ast.walk(f) if isinstance(n, ast.Name) and n.id in local]
            todo += [a.arg for a in f.args.args if a.arg in local]      # fixtures it takes
        return seen

    out = {}
    for name, fn in local.items():
        if name.startswith("test_"):
            names = reached(fn)
            out[name] = (set().union(*(own[n][0] for n in names)), set().union(*(own[n][1] for n in names)))
    return out


def _test_files() -> list[str]:
    from conftest import ROOT

    return sorted(p.name for p in (ROOT / "tests").glob("test_*.py"))


@pytest.mark.parametrize("path", _test_files())
def test_every_fault_test_asserts_its_injections(path):
    """Every test in every test file that switches a fault on asserts that the simulator really
    played it: `assert_injected(sim, name)` (or `faults.count(name) >= 1`) for each name it sets,
    itself or through a helper or fixture of its module. A fault test that passes without its
    fault proves nothing (tools/fault_ablation.py measures that by running)."""
    from conftest import ROOT

    tree = ast.parse((ROOT / "tests" / path).read_text("utf-8"))
    found = faults_of_tests(tree)
    unasserted = {name: sorted(sets - asserted) for name, (sets, asserted) in found.items() if sets - asserted}
    assert not unasserted, f"tests that set a fault without asserting its injection: {unasserted}"
    assert path != "test_reliability.py" or sum(bool(sets) for sets, _ in found.values()) >= 20


def test_readme_reliability_table_names_real_tests():
    """The fault table (docs/reliability-and-security.md, linked from the README) is the user-facing
    matrix: every test it names exists, and every fault scenario tested here is in it."""
    import re

    from conftest import ROOT

    readme = (ROOT / "docs" / "reliability-and-security.md").read_text("utf-8")
    assert "docs/reliability-and-security.md" in (ROOT / "README.md").read_text("utf-8")
    section = readme.split("## Reliability", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`(test_\w+)`", section))
    here = {name for name in globals() if name.startswith("test_")}
    assert named <= here, named - here
    not_scenarios = {"test_readme_reliability_table_names_real_tests", "test_running_timeout_setting_must_be_a_number",
                     "test_every_fault_test_asserts_its_injections",
                     "test_spend_guard_off_reads_nothing", "test_fault_matrix_is_switchable_from_the_command_line",
                     "test_restart_from_the_admin_route"}
    scenarios = here - not_scenarios
    assert scenarios <= named, scenarios - named
