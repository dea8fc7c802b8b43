"""Following a job when the websocket is an adversary: a flood of frames that change nothing,
`{}` keep-alives, a frame that never finishes, a redirect on the handshake, an oversized frame.

Cancel, the silence check and Job.stop() must work on a clock whatever the socket does, the key
must never follow a redirect, and a huge frame must never be parsed. Each fault test asserts its
injection count, and runs the follower in a thread with a generous liveness bound, so code that
hangs under the fault fails the test instead of hanging it.
"""
from __future__ import annotations

import socket
import threading

import pytest
import websocket
from support import CREATE, assert_injected, create_kw, creates, run, running, wait_for

from nodes.comfy import bridge

LIVENESS = 10.0   # seconds a run may take while the adversary goes on forever
REQUEST = {"name": "A", "appearance": "b", "detailLevel": "MEDIUM", "seed": "9"}


class Background:
    """Run `fn` in a thread; keep its result or exception."""

    def __init__(self, fn):
        self.result = self.error = None
        self.thread = threading.Thread(target=self._go, args=(fn,), daemon=True)
        self.thread.start()

    def _go(self, fn):
        try:
            self.result = fn()
        except BaseException as e:  # noqa: BLE001 - handed back to the test thread
            self.error = e

    def finished_within(self, seconds: float) -> bool:
        self.thread.join(seconds)
        return not self.thread.is_alive()


def run_node_while(sim, fault: str, **kw):
    """Run a Create Image node while `fault` is on; True when it returned within LIVENESS. The
    fault is switched off afterwards either way, so a follower that hangs under it gets out."""
    bg = Background(lambda: run(CREATE, unique_id="1", **create_kw(**kw)))
    done = bg.finished_within(LIVENESS)
    sim.state.faults.set(fault, False)
    bg.finished_within(LIVENESS)
    return done, bg


# a flood of unchanged frames --------------------------------------------------------------------------------
def test_cancel_under_a_frame_flood_is_honoured(node, sim, interrupt):
    """The same queue position every 0.05 s, forever: Cancel still reaches the node and the job."""
    sim.state.faults.update({"ws_flood": True, "job_hang": True})
    threading.Thread(target=lambda: (wait_for(lambda: running(sim) and sim.state.faults.count("ws_flood") >= 10),
                                     interrupt.set()), daemon=True).start()
    done, bg = run_node_while(sim, "ws_flood")
    assert done, "the node did not return while the flood went on"
    assert sim.state.faults.count("ws_flood") >= 10
    assert isinstance(bg.error, bridge.Interrupted), bg.error
    pid = next(iter(sim.state.jobs))
    assert "already running on AliveAI" in str(bg.error) and pid in str(bg.error)
    assert len(sim.state.requests_for("delete_from_queue")) == 1
    assert_injected(sim, "job_hang")


def test_job_finishing_under_a_frame_flood_is_noticed_by_the_silence_check(node, sim):
    """No completion event ever comes, only the stale state again and again: the silence timer is
    not reset by frames that change nothing, so Get Prompt is read and the result arrives."""
    sim.state.faults.set("ws_flood")
    done, bg = run_node_while(sim, "ws_flood")
    assert done, "the finished job was not noticed while the flood went on"
    assert bg.error is None, bg.error
    img, _, _, pid = bg.result["result"]
    assert img.shape[0] == 1 and sim.state.jobs[pid].status == "DONE" and creates(sim) == 1
    assert sim.state.faults.count("ws_flood") >= 1
    assert len(sim.state.requests_for("get_prompt")) >= 1


def test_keepalive_spam_does_not_reset_the_silence_timer(node, sim):
    sim.state.faults.set("ws_keepalive_spam")
    done, bg = run_node_while(sim, "ws_keepalive_spam")
    assert done, "the finished job was not noticed while `{}` frames kept coming"
    assert bg.error is None, bg.error
    assert sim.state.faults.count("ws_keepalive_spam") >= 1
    assert len(sim.state.requests_for("get_prompt")) >= 1


def test_heartbeats_keep_coming_under_keepalive_spam(sim, client, monkeypatch):
    """Job.events() yields a Waiting at least once a heartbeat even while `{}` frames arrive
    faster than that, and Job.stop() ends it."""
    from nodes.client import Waiting, jobs

    monkeypatch.setattr(jobs, "SILENT_CHECK", 60.0)   # the heartbeat alone must come through
    sim.state.faults.update({"ws_keepalive_spam": True, "job_hang": True})
    job = client.submit("create_prompt", REQUEST)
    beats = threading.Semaphore(0)

    def follow():
        for ev in job.events(heartbeat=0.2):
            if isinstance(ev, Waiting) and sim.state.faults.count("ws_keepalive_spam") >= 5:
                beats.release()

    bg = Background(follow)
    got = all(beats.acquire(timeout=LIVENESS) for _ in range(3))
    job.stop()
    stopped = bg.finished_within(LIVENESS)
    sim.state.faults.set("ws_keepalive_spam", False)
    bg.finished_within(LIVENESS)
    assert got, "no heartbeat while the spam went on"
    assert stopped and bg.error is None, bg.error
    assert sim.state.faults.count("ws_keepalive_spam") >= 5
    assert_injected(sim, "job_hang")


def test_a_frame_that_never_finishes_does_not_hold_the_follower(sim, client, monkeypatch):
    """A socket stuck inside recv (a frame trickled a byte at a time looks the same): heartbeats,
    the running-time limit and Job.stop() still run on the clock."""
    from nodes.client import Waiting, jobs
    from nodes.errors import JobTimeoutError

    released = threading.Event()

    class StuckSocket:
        def recv(self):
            released.wait()
            return ""

        def ping(self, *a):
            pass

        def close(self, *a, **kw):
            released.set()

        send_close = abort = shutdown = close

    monkeypatch.setattr(jobs._Follow, "_connect", lambda self: StuckSocket())
    monkeypatch.setattr(jobs, "SILENT_CHECK", 60.0)
    sim.state.faults.set("job_hang")
    job = client.submit("create_prompt", REQUEST)
    wait_for(lambda: running(sim))
    seen: list = []
    bg = Background(lambda: seen.extend(job.events(heartbeat=0.2, running_timeout=0.6)))
    done = bg.finished_within(LIVENESS)
    released.set()
    bg.finished_within(LIVENESS)
    assert done, "the follower stayed inside a recv that never returned"
    assert any(isinstance(ev, Waiting) for ev in seen)
    assert isinstance(seen[-1].error, JobTimeoutError) and job.prompt_id in str(seen[-1].error)
    assert sim.state.faults.count("job_hang") >= 1


# a redirect on the handshake ------------------------------------------------------------------------------
class Trap:
    """A listener on another local port that records every byte sent to it and answers 404."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.received = b""
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.settimeout(2)
                try:
                    self.received += conn.recv(65536)
                    conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                except OSError:
                    pass

    def close(self):
        self.server.close()


def test_websocket_redirect_is_never_followed_with_the_key(node, sim, monkeypatch):
    from nodes.client import jobs

    monkeypatch.setattr(jobs, "WS_MAX_FAILURES", 1)
    trap = Trap()
    try:
        sim.state.ws_redirect_to = f"ws://127.0.0.1:{trap.port}/ws/prompts/stolen"
        sim.state.faults.set("ws_redirect")
        img, _, _, pid = run(CREATE, unique_id="1", **create_kw())["result"]
    finally:
        trap.close()
    assert sim.state.faults.count("ws_redirect") >= 1
    assert trap.connections == 0 and b"uthorization" not in trap.received, trap.received[:200]
    assert img.shape[0] == 1 and sim.state.jobs[pid].status == "DONE" and creates(sim) == 1   # by polling


def test_redirect_to_the_same_url_is_refused_too(sim, client):
    """The simplest safe rule: a 3xx on the handshake is a failed connect, whatever it names."""
    from nodes.client.prompt_socket import open_socket

    sim.state.faults.set("ws_redirect")
    job = client.submit("create_prompt", REQUEST)
    with pytest.raises(websocket.WebSocketException):
        open_socket(f"{sim.ws_url}/ws/prompts/{job.prompt_id}", client.transport.auth.header(), timeout=5)
    assert sim.state.faults.count("ws_redirect") == 1     # one handshake: not followed


# an oversized frame ---------------------------------------------------------------------------------------
def test_oversized_frame_ends_the_socket_and_is_never_parsed(node, sim, monkeypatch):
    """The 4 MiB frame is a well-formed error event: parsed, it would fail the job. Refused by its
    header, it only costs a reconnect (then polling) and the job's result arrives."""
    from nodes.client import jobs

    monkeypatch.setattr(jobs, "WS_MAX_FAILURES", 1)
    sim.state.faults.set("ws_big_frame")
    img, _, _, pid = run(CREATE, unique_id="1", **create_kw())["result"]
    assert sim.state.faults.count("ws_big_frame") >= 1
    assert img.shape[0] == 1 and sim.state.jobs[pid].status == "DONE" and creates(sim) == 1


def test_oversized_frame_is_refused_from_its_header(sim, client):
    """The cap acts on the frame header: the payload is not read into memory first."""
    from nodes.client.prompt_socket import open_socket

    sim.state.faults.set("ws_big_frame")
    job = client.submit("create_prompt", REQUEST)
    conn = open_socket(f"{sim.ws_url}/ws/prompts/{job.prompt_id}", client.transport.auth.header(), timeout=5)
    try:
        with pytest.raises(websocket.WebSocketPayloadException, match="frame of"):
            conn.recv()
        assert sum(len(b) for b in conn.frame_buffer.recv_buffer) < 1024 * 1024
    finally:
        conn.shutdown()
    assert sim.state.faults.count("ws_big_frame") == 1


def test_a_huge_error_message_from_the_socket_is_cut_in_the_error_text(client):
    """Under the frame cap, an error event may still carry a long message: the error keeps its
    start, says how long it was, and names the operation and the prompt_id."""
    from nodes.client import jobs
    from nodes.client.events import Failed
    from nodes.client.jobs import Job
    from nodes.api import OPERATIONS

    op = next(o for o in OPERATIONS if o.key == "create_prompt")
    follow = jobs._Follow(Job(client, op, "p-1"), None, 0.2)
    (ev,) = follow._from_event({"isError": True, "message": "GPU on fire " + "x" * 200_000, "errorType": "X"})
    assert isinstance(ev, Failed)
    text = str(ev.error)
    assert "GPU on fire" in text and "p-1" in text and len(text) < 2000
