"""One job per request, across threads and processes, and nothing paid lost on a local failure
(issue 11, items 2 and 3).

The races are ordered with events, never sleeps: each identical run is held at its first look at
the request cache until every run has either looked too (today's code then pays once per run) or
is seen waiting for the single-flight lock (the "waiting for an identical run" line on its node).
Processes start each run together through a barrier of files.
"""
from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from nodes import flight, request_cache, store
from nodes.comfy import bridge, runtime
from nodes.errors import AliveAIError, ConfigError, JobCancelledError, LocalStateError
from support import CREATE, create_kw, creates, later, run, running

ROOT = Path(__file__).resolve().parents[1]
LABEL = "Create Image (AliveAI)"
WAITING = "waiting for an identical run"


class Gate:
    """Hold each run at its first request-cache lookup until all `n` runs have reached the lookup
    or are waiting for the lock, so the runs overlap in the worst way the code allows."""

    def __init__(self, n: int, monkeypatch):
        self.n, self.ready, self.lock, self.open = n, set(), threading.Lock(), threading.Event()
        real_get = request_cache.RequestCache.get
        real_sink = bridge._text_sink

        def get(cache, key):
            self.arrive()
            assert self.open.wait(60), "the runs never all reached the lookup or the lock"
            return real_get(cache, key)

        def sink(text, node_id):
            if WAITING in text:
                self.arrive()
            real_sink(text, node_id)

        monkeypatch.setattr(request_cache.RequestCache, "get", get)
        bridge.set_text_sink(sink)

    def arrive(self) -> None:
        with self.lock:
            self.ready.add(threading.get_ident())
            if len(self.ready) >= self.n:
                self.open.set()


def run_together(n: int, **kw) -> list:
    results: list = [None] * n
    errors: list = []

    def one(i):
        try:
            results[i] = run(CREATE, unique_id=str(i), **kw)
        except BaseException as e:  # noqa: BLE001 - reported by the test below
            errors.append(e)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    return results


@pytest.mark.parametrize("n", [2, 8])
def test_identical_nodes_started_together_make_one_create(node, sim, monkeypatch, n):
    """Two (eight) identical nodes of one graph started at once: one create, one result for all."""
    Gate(n, monkeypatch)
    results = run_together(n, **create_kw(seed=5))
    assert creates(sim) == 1
    prompt_ids = {r["result"][3] for r in results}
    assert len(prompt_ids) == 1
    assert all(torch.equal(r["result"][0], results[0]["result"][0]) for r in results)
    assert any(WAITING in text for _, text in node)
    assert not list((Path(os.environ["ALIVEAI_USER_DIR"]) / "cache" / "locks").iterdir())  # no lock files left


def test_different_requests_do_not_wait_for_each_other(node, sim, monkeypatch):
    """The lock is per request: two different seeds run side by side, two creates."""
    Gate(2, monkeypatch)
    texts = node
    errors: list = []

    def one(seed):
        try:
            run(CREATE, unique_id=str(seed), **create_kw(seed=seed))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=one, args=(s,)) for s in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors and creates(sim) == 2
    assert not any(WAITING in text for _, text in texts)


# -- the lock itself ----------------------------------------------------------------------------------------
def test_cancel_while_waiting_for_the_lock_ends_the_wait(tmp_path):
    held, stop = threading.Event(), threading.Event()
    release = threading.Event()
    got: list = []

    def holder():
        with flight.single_flight(tmp_path, "k" * 64):
            held.set()
            release.wait(30)

    def waiter():
        try:
            with flight.single_flight(tmp_path, "k" * 64, should_stop=stop.is_set, on_wait=stop.set):
                got.append("entered")
        except JobCancelledError as e:
            got.append(e)

    h = threading.Thread(target=holder)
    h.start()
    assert held.wait(10)
    w = threading.Thread(target=waiter)
    w.start()
    w.join(10)               # liveness bound: the holder still holds, the waiter must give up on Cancel
    release.set()
    h.join(10)
    assert len(got) == 1 and isinstance(got[0], JobCancelledError), got
    assert "sent nothing" in str(got[0])


def test_the_file_lock_excludes_another_holder_and_leaves_no_file(tmp_path):
    """Two opens of one lock file exclude each other as two processes would (flock is per open
    file, so this holds within one process too); the lock file is gone after release."""
    path = tmp_path / "locks" / ("a" * 64 + ".lock")
    stop = threading.Event()
    waiter = flight._Waiter("a", stop.is_set, stop.set, float("inf"), None)
    fd = flight._file_lock(path, waiter)
    assert fd is not None
    with pytest.raises(JobCancelledError):      # busy: the second try waits, sees Cancel, gives up
        flight._file_lock(path, waiter)
    flight._file_unlock(path, fd)
    assert not path.exists()
    fd = flight._file_lock(path, flight._Waiter("a", lambda: False, None, float("inf"), None))
    assert fd is not None
    flight._file_unlock(path, fd)


def test_a_lock_held_too_long_is_a_clear_error(tmp_path):
    release = threading.Event()
    held = threading.Event()

    def holder():
        with flight.single_flight(tmp_path, "b" * 64):
            held.set()
            release.wait(30)

    h = threading.Thread(target=holder)
    h.start()
    assert held.wait(10)
    try:
        with pytest.raises(LocalStateError) as e, flight.single_flight(tmp_path, "b" * 64, timeout=0.3, label=LABEL):
            pass
    finally:
        release.set()
        h.join(10)
    assert str(e.value).startswith(LABEL) and "sent nothing" in str(e.value)


# -- two processes, one user folder ----------------------------------------------------------------------
WORKER = r"""
import os, sys, time
sys.path.insert(0, sys.argv[1])
from tests.support import CREATE, create_kw, run
barrier, me, seeds = sys.argv[2], sys.argv[3], [int(s) for s in sys.argv[4].split(",")]
for i, seed in enumerate(seeds):
    open(os.path.join(barrier, f"{i}.{me}"), "w").close()
    end = time.monotonic() + 120
    while sum(name.startswith(f"{i}.") for name in os.listdir(barrier)) < 2:
        if time.monotonic() > end:
            sys.exit("barrier timeout")
        time.sleep(0.002)
    run(CREATE, unique_id="1", **create_kw(seed=seed))
"""


def two_processes(sim, tmp_path, runs: int, distinct: int) -> int:
    """Two Python processes sharing one user folder each run `runs` requests over `distinct` seeds,
    every run started together; returns the creates the simulator saw."""
    from nodes.simulator import DEFAULT_API_KEY

    env = {k: v for k, v in os.environ.items() if not k.startswith("ALIVEAI_")}
    env.update(ALIVEAI_BASE_URL=sim.base_url, ALIVEAI_API_KEY=DEFAULT_API_KEY,
               ALIVEAI_OUTPUT_DIR=str(tmp_path / "output"), ALIVEAI_USER_DIR=str(tmp_path / "user"))
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    seeds = ",".join(str(i % distinct) for i in range(runs))
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(ROOT), str(barrier), me, seeds],
                              env={**env, "ALIVEAI_CACHE_DIR": str(tmp_path / f"cache{me}")},
                              stderr=subprocess.PIPE, text=True)
             for me in ("a", "b")]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-3000:]
    return creates(sim)


def test_two_processes_sharing_a_user_folder_create_once_per_request(sim, tmp_path):
    sim.state.config.job_seconds = 0.05
    assert two_processes(sim, tmp_path, runs=12, distinct=6) == 6


# -- nothing paid is lost on a local failure -----------------------------------------------------------------
def enospc(*a, **kw):
    raise OSError(errno.ENOSPC, "No space left on device")


class ReadOnly:
    def __init__(self, *a, **kw):
        pass

    def __enter__(self):
        raise OSError(errno.EROFS, "Read-only file system")

    def __exit__(self, *a):
        return False


def test_a_full_user_folder_after_the_create_loses_nothing_and_pays_once(node, sim, monkeypatch):
    """The job log and the request cache entry cannot be written once the job exists: the run still
    delivers the paid result, its last line names the prompt_id and what was not written, and an
    identical run in this ComfyUI finds the job (no second create)."""
    real_submit = runtime.AliveAIClient.submit

    def submit_then_disk_full(self, *a, **kw):
        job = real_submit(self, *a, **kw)
        monkeypatch.setattr(store, "open", enospc, raising=False)           # jobs.jsonl
        monkeypatch.setattr(request_cache, "atomic_file", ReadOnly)          # cache entries
        return job

    monkeypatch.setattr(runtime.AliveAIClient, "submit", submit_then_disk_full)
    out = run(CREATE, unique_id="7", **create_kw(seed=3))
    prompt_id = out["result"][3]
    last = node[-1][1]
    assert last.startswith("done") and f"prompt {prompt_id} not recorded on disk" in last
    assert "No space left on device" in last or "Read-only file system" in last
    again = run(CREATE, unique_id="7", **create_kw(seed=3))
    assert again["result"][3] == prompt_id and creates(sim) == 1


def test_a_pending_job_whose_entry_was_not_written_is_followed_again(node, sim, monkeypatch):
    """Cancelled while running after its entry could not be written: queuing again follows the
    same job instead of paying for a new one."""
    sim.state.config.job_seconds = 1.0
    stop_now = threading.Event()
    monkeypatch.setattr(bridge, "is_interrupted", stop_now.is_set)
    monkeypatch.setattr(request_cache, "atomic_file", ReadOnly)
    monkeypatch.setattr(store, "open", enospc, raising=False)
    t = later(lambda: running(sim), stop_now.set)
    with pytest.raises(Exception, match="interrupted") as e:   # ComfyUI's own interrupt, naming the job
        run(CREATE, unique_id="7", **create_kw(seed=4))
    t.join(10)
    prompt_id = re.search(r"\[prompt_id (\w+)\]", str(e.value)).group(1)
    stop_now.clear()
    out = run(CREATE, unique_id="7", **create_kw(seed=4))
    assert out["result"][3] == prompt_id and creates(sim) == 1


def test_a_result_that_cannot_be_saved_names_the_node_and_prompt_and_is_not_paid_again(node, sim, monkeypatch):
    real = store.ResultStore.save_sidecar
    monkeypatch.setattr(store.ResultStore, "save_sidecar", enospc)
    with pytest.raises(LocalStateError) as e:
        run(CREATE, unique_id="7", **create_kw(seed=6))
    msg, prompt_id = str(e.value), e.value.prompt_id
    assert msg.startswith(LABEL) and f"[prompt_id {prompt_id}]" in msg and "No space left on device" in msg
    assert "Load Result" in msg and creates(sim) == 1
    monkeypatch.setattr(store.ResultStore, "save_sidecar", real)
    out = run(CREATE, unique_id="7", **create_kw(seed=6))
    assert out["result"][3] == prompt_id and creates(sim) == 1


def test_a_corrupt_result_png_names_the_node_and_prompt_and_keeps_the_file(node, sim, monkeypatch):
    from nodes.simulator import jobs as sim_jobs

    monkeypatch.setattr(sim_jobs, "make_png", lambda *a, **kw: b"\x89PNG\r\n\x1a\n" + b"not really a png" * 8)
    with pytest.raises(AliveAIError) as e:
        run(CREATE, unique_id="7", **create_kw(seed=7))
    msg, prompt_id = str(e.value), e.value.prompt_id
    assert msg.startswith(LABEL) and f"[prompt_id {prompt_id}]" in msg and "decode" in msg and "Load Result" in msg
    side = json.loads((Path(os.environ["ALIVEAI_OUTPUT_DIR"]) / "aliveai" / prompt_id / "result.json").read_text())
    assert (Path(os.environ["ALIVEAI_OUTPUT_DIR"]) / side["medias"][0]["file"]).is_file()   # kept for Load Result
    with pytest.raises(AliveAIError, match=prompt_id):
        run(CREATE, unique_id="7", **create_kw(seed=7))
    assert creates(sim) == 1


def test_an_unwritable_output_folder_is_refused_before_submitting(node, sim):
    """A plain file where the output folder should be: refused by name, nothing sent (chmod would
    not do: tests may run as root)."""
    out = Path(os.environ["ALIVEAI_OUTPUT_DIR"])
    out.mkdir(parents=True)
    (out / "aliveai").write_text("in the way")
    with pytest.raises(ConfigError) as e:
        run(CREATE, unique_id="7", **create_kw(seed=8))
    msg = str(e.value)
    assert msg.startswith(LABEL) and str(out / "aliveai") in msg and "nothing was sent" in msg
    assert creates(sim) == 0 and not sim.state.counters.uploads


def test_a_full_user_folder_is_refused_before_submitting(node, sim, monkeypatch):
    """The user folder (job log, request cache) takes no new file: refused by name, nothing sent."""
    user = Path(os.environ["ALIVEAI_USER_DIR"])
    real_open = open

    def full_user_folder(path, *a, **kw):
        if Path(path).parent == user:
            enospc()
        return real_open(path, *a, **kw)

    monkeypatch.setattr(runtime, "open", full_user_folder, raising=False)
    with pytest.raises(ConfigError) as e:
        run(CREATE, unique_id="7", **create_kw(seed=9))
    assert str(user) in str(e.value) and "nothing was sent" in str(e.value)
    assert creates(sim) == 0
