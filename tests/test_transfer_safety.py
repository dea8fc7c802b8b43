"""Downloads, answers and waits as an adversary (issue 11): where a result download may go, how
large and how long it may be, Cancel while it runs, gzip answers, JSON answer size, the waits a
server asks for, and the .part files a killed run leaves. Each fault test asserts its injection
count; orderings use events and predicates, never sleeps; time bounds are liveness bounds only."""
from __future__ import annotations

import os
import socket
import threading
import time
from email.utils import formatdate
from pathlib import Path

import pytest
from support import CREATE, assert_injected, create_kw, creates, later, run

from nodes.client import download as transfer
from nodes.client import url_policy
from nodes.comfy import bridge
from nodes.errors import DownloadError, JobCancelledError, NetworkError, RateLimitError

LIVENESS = 60.0   # generous: "it returns at all", never "it is fast"
IMAGE_REQ = {"name": "Ada", "appearance": "at her desk", "detailLevel": "MEDIUM", "aspectRatio": "SQUARE",
             "seed": "3"}


def finishes(fn, timeout: float = LIVENESS):
    """Run `fn` in a thread; fail if it has not returned within `timeout` (the endless and trickle
    cases hung forever before). Returns its result, or the exception it raised."""
    out: dict = {}

    def go():
        try:
            out["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed back to the test, which asserts on it
            out["error"] = e

    t = threading.Thread(target=go, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), f"still running after {timeout} s"
    return out.get("error", out.get("value"))


def done_media(client, sim):
    job = client.submit("create_prompt", IMAGE_REQ)
    done = job.result(running_timeout=30)
    return job.prompt_id, done.medias[0], sim.state.media[done.medias[0].id].data


def files_requests(sim):
    return [e for e in sim.state.log if e.path.startswith("/files/")]


# where a download may go ------------------------------------------------------------------------------------
def test_media_url_on_an_internal_host_is_refused_and_nothing_is_saved(node, sim, tmp_path):
    sim.state.faults.set("media_url_internal")
    with pytest.raises(DownloadError) as e:
        run(CREATE, unique_id="1", **create_kw())
    pid = next(iter(sim.state.jobs))
    msg = str(e.value)
    assert msg.startswith("Create Image (AliveAI): refused to download from http://localhost:") and pid in msg
    assert sim.state.faults.count("media_url_internal") >= 1
    assert files_requests(sim) == [] and sim.state.counters.downloads == 0
    assert not [p for p in (tmp_path / "output").rglob("*") if p.is_file() and p.suffix != ".jsonl"]


def test_a_redirect_to_an_internal_host_is_checked_and_refused(node, sim):
    sim.state.faults.set("media_redirect_internal", 1)
    with pytest.raises(DownloadError) as e:
        run(CREATE, unique_id="1", **create_kw())
    assert "refused to download from http://localhost:" in str(e.value)
    assert sim.state.faults.count("media_redirect_internal") >= 1
    assert [r.status for r in files_requests(sim)] == [302] and sim.state.counters.downloads == 0


def test_a_url_on_another_loopback_port_is_never_connected_to(client, tmp_path):
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    try:
        port = listener.getsockname()[1]
        for url in (f"http://127.0.0.1:{port}/files/x.png", f"http://user:pw@127.0.0.1:{port}/x",
                    f"ftp://127.0.0.1:{port}/x", f"http://127.0.0.1:{port}/a b"):
            with pytest.raises(DownloadError, match="refused to download"):
                client.download(url, tmp_path / "x.png")
        with pytest.raises(BlockingIOError):   # the kernel would hold a connection attempt here
            listener.accept()
    finally:
        listener.close()


def test_downloads_never_carry_authorization(client, sim, tmp_path):
    _, media, data = done_media(client, sim)
    assert client.download(media.url, tmp_path / "r.png").read_bytes() == data
    assert files_requests(sim) and all("authorization" not in {k.lower() for k in r.headers}
                                       for r in files_requests(sim))


PUBLIC_API = "https://api.aliveai.app"


def fake_dns(table):
    def resolver(host, port):
        if host not in table:
            raise socket.gaierror("no such name")
        return table[host]
    return resolver


@pytest.mark.parametrize("url, answers", [
    ("http://files.aliveai.app/x.png", ["52.1.1.1"]),                      # not https, not the API's origin
    ("https://evil.example/x.png", ["10.0.0.5"]),                            # private
    ("https://evil.example/x.png", ["169.254.169.254"]),                     # link-local (cloud metadata)
    ("https://evil.example/x.png", ["52.1.1.1", "127.0.0.1"]),               # public AND loopback: refused
    ("https://evil.example/x.png", ["::1"]),
    ("https://evil.example/x.png", ["fe80::1%eth0"]),
    ("https://evil.example/x.png", ["fd00::1"]),
    ("https://evil.example/x.png", ["::ffff:127.0.0.1"]),                    # IPv4-mapped loopback
    ("https://127.0.0.1/x.png", []),
    ("https://[::1]:8443/x.png", []),
    ("https://unknown.example/x.png", []),                                   # does not resolve
    ("https://u:p@files.aliveai.app/x.png", ["52.1.1.1"]),
    ("https://files.aliveai.app/x\r\nHost: a/x.png", ["52.1.1.1"]),
    ("file:///etc/passwd", []),
    ("https://api.aliveai.app:99999/x", []),
])
def test_url_policy_refuses_internal_or_odd_urls(url, answers):
    dns = fake_dns({"api.aliveai.app": ["34.1.2.3"], "evil.example": answers, "files.aliveai.app": answers})
    with pytest.raises(url_policy.UnsafeUrl):
        url_policy.check(url, PUBLIC_API, resolver=dns)


def test_url_policy_allows_the_api_origin_and_public_https():
    dns = fake_dns({"api.aliveai.app": ["34.1.2.3"], "files.aliveai.app": ["52.1.1.1", "2600:1f18::1"]})
    url_policy.check("https://files.aliveai.app/a.png?X-Amz-Signature=1", PUBLIC_API, resolver=dns)
    url_policy.check("https://api.aliveai.app/files/a.png", PUBLIC_API, resolver=fake_dns({}))  # no lookup
    # a LAN deployment: the API host is private, so private result hosts are too (https only)
    lan = fake_dns({"api.lan": ["192.168.1.10"], "files.lan": ["192.168.1.11"]})
    url_policy.check("https://files.lan/a.png", "http://api.lan:8080", resolver=lan)
    with pytest.raises(url_policy.UnsafeUrl):
        url_policy.check("http://files.lan/a.png", "http://api.lan:8080", resolver=lan)
    # the address actually reached is checked too (DNS that changed between check and connect)
    with pytest.raises(url_policy.UnsafeUrl):
        url_policy.check_peer("127.0.0.1", "https://files.aliveai.app/a.png", PUBLIC_API, resolver=dns)
    url_policy.check_peer("52.1.1.1", "https://files.aliveai.app/a.png", PUBLIC_API, resolver=dns)


# how large, how long, Cancel ----------------------------------------------------------------------------------
def test_an_endless_download_stops_at_its_cap(client, sim, tmp_path):
    pid, media, _ = done_media(client, sim)
    sim.state.faults.set("download_endless")
    err = finishes(lambda: client.download(media.url, tmp_path / "r.png", prompt_id=pid, media_id=media.id,
                                           max_bytes=4 * transfer.MB))
    assert isinstance(err, DownloadError) and "passed the 4 MB cap" in str(err)
    assert str(err).endswith(f"[prompt_id {pid}]")
    assert sim.state.faults.count("download_endless") >= 1
    assert list(tmp_path.iterdir()) == []          # neither the file nor its .part


def test_an_announced_size_over_the_cap_is_refused_before_reading(client, sim, tmp_path):
    pid, media, _ = done_media(client, sim)
    sim.state.faults.set("download_huge")
    err = finishes(lambda: client.download(media.url, tmp_path / "r.png", prompt_id=pid, media_id=media.id,
                                           max_bytes=200 * transfer.MB))
    assert isinstance(err, DownloadError) and "51200 MB, over the 200 MB cap" in str(err)
    assert sim.state.faults.count("download_huge") >= 1 and len(files_requests(sim)) == 1   # not retried


def test_the_node_caps_images_from_the_setting(node, sim, monkeypatch):
    monkeypatch.setenv("ALIVEAI_DOWNLOAD_CAP_MB", "1")
    sim.state.faults.set("download_endless")
    err = finishes(lambda: run(CREATE, unique_id="1", **create_kw()))
    assert isinstance(err, DownloadError) and "passed the 1 MB cap" in str(err)
    assert "ALIVEAI_DOWNLOAD_CAP_MB" in str(err) and str(err).startswith("Create Image (AliveAI): ")
    assert sim.state.faults.count("download_endless") >= 1


def test_a_trickle_is_dropped_by_the_low_speed_rule(client, sim, tmp_path, monkeypatch):
    monkeypatch.setattr(transfer, "LOW_SPEED_SECONDS", 1.0)
    pid, media, _ = done_media(client, sim)
    sim.state.faults.set("download_trickle", 0.3)
    err = finishes(lambda: client.download(media.url, tmp_path / "r.png", prompt_id=pid, media_id=media.id))
    assert isinstance(err, DownloadError) and "stalled" in str(err)
    assert sim.state.faults.count("download_trickle") >= 1 and list(tmp_path.iterdir()) == []


def test_a_download_ends_at_its_overall_deadline(client, sim, tmp_path, monkeypatch):
    monkeypatch.setattr(transfer, "LOW_SPEED_BYTES", 0)   # fast enough for the speed rule: only the deadline
    pid, media, _ = done_media(client, sim)
    sim.state.faults.set("download_trickle", 0.05)
    err = finishes(lambda: client.download(media.url, tmp_path / "r.png", prompt_id=pid, media_id=media.id,
                                           deadline=1.0))
    assert isinstance(err, DownloadError) and "deadline" in str(err)
    assert sim.state.faults.count("download_trickle") >= 1


def test_cancel_stops_a_blocked_download(client, sim, tmp_path):
    pid, media, _ = done_media(client, sim)
    sim.state.faults.set("download_trickle", 5.0)   # one byte, then a read that blocks for 5 s at a time
    stop = threading.Event()
    later(lambda: sim.state.faults.count("download_trickle") >= 1, stop.set)
    err = finishes(lambda: client.download(media.url, tmp_path / "r.png", prompt_id=pid, media_id=media.id,
                                           should_stop=stop.is_set))
    assert isinstance(err, JobCancelledError) and str(err).endswith(f"[prompt_id {pid}]")
    assert sim.state.faults.count("download_trickle") >= 1 and list(tmp_path.iterdir()) == []


def test_comfy_cancel_reaches_the_download_of_a_node(node, sim, monkeypatch):
    flag = threading.Event()
    monkeypatch.setattr(bridge, "is_interrupted", flag.is_set)
    sim.state.faults.set("download_endless")
    later(lambda: sim.state.faults.count("download_endless") >= 1, flag.set)
    err = finishes(lambda: run(CREATE, unique_id="1", **create_kw()))
    assert isinstance(err, (bridge.Interrupted, JobCancelledError)), err
    assert sim.state.faults.count("download_endless") >= 1 and creates(sim) == 1


def test_a_gzip_encoded_download_is_saved_decoded(client, sim, tmp_path):
    pid, media, data = done_media(client, sim)
    sim.state.faults.set("download_gzip")
    path = client.download(media.url, tmp_path / "r.png", prompt_id=pid, media_id=media.id)
    assert path.read_bytes() == data and sim.state.faults.count("download_gzip") >= 1


# answers -----------------------------------------------------------------------------------------------------
def test_a_json_answer_over_the_cap_is_refused_not_read_whole(client, sim):
    pid, _, _ = done_media(client, sim)
    sim.state.faults.set("big_json", 1)
    err = finishes(lambda: client.get_prompt(pid))
    assert isinstance(err, NetworkError) and "more than 16 MiB" in str(err) and str(err).endswith(f"[prompt_id {pid}]")
    assert sim.state.faults.count("big_json") >= 1
    assert client.get_prompt(pid)["promptId"] == pid     # the next answer is read as usual


# waits the server asks for -------------------------------------------------------------------------------------
@pytest.mark.parametrize("fault", ["retry_after_zero", "retry_after_past"])
def test_retry_after_zero_or_past_does_not_loop_creates(client, sim, monkeypatch, fault):
    """A fake clock: the refusals arrive instantly, so any tight loop shows as many creates at one
    instant. The loop may wait at least 1 s per refusal and send at most 4 creates a minute."""
    from nodes.client import client as client_mod
    from nodes.client import retry

    clock = [1000.0]
    sent: list[float] = []
    waits: list[float] = []

    def sleep_unless(seconds, should_stop):
        waits.append(seconds)
        clock[0] += seconds

    monkeypatch.setattr(client_mod.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(retry.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(client_mod, "_sleep_unless", sleep_unless)
    real_call = client_mod.AliveAIClient.call

    def call(self, op, *a, **kw):
        if getattr(op, "key", op) == "create_prompt":
            sent.append(clock[0])
        return real_call(self, op, *a, **kw)

    monkeypatch.setattr(client_mod.AliveAIClient, "call", call)
    sim.state.faults.set("queue_full", 1000)
    sim.state.faults.set(fault, 1000)
    with pytest.raises(RateLimitError):
        client.submit("create_prompt", IMAGE_REQ, queue_full_wait=300, should_stop=lambda: len(sent) >= 40)
    assert sim.state.faults.count(fault) >= 1 and creates(sim) == 0
    assert_injected(sim, "queue_full")
    assert waits and min(waits) >= retry.WAIT_FLOOR
    assert max(sum(1 for t in sent if s <= t < s + 60) for s in sent) <= retry.CREATES_PER_MINUTE


def test_urllib3_retries_hold_retry_after_between_floor_and_ceiling():
    from nodes.client.retry import WAIT_CEILING, WAIT_FLOOR, make_retry

    class Answer:
        def __init__(self, value):
            self.headers = {"Retry-After": value}

    r = make_retry()
    past = formatdate(time.time() - 3600, usegmt=True)
    assert r.get_retry_after(Answer("0")) == WAIT_FLOOR
    assert r.get_retry_after(Answer(past)) == WAIT_FLOOR
    assert r.get_retry_after(Answer("86400")) == WAIT_CEILING
    assert r.new().get_retry_after(Answer("0")) == WAIT_FLOOR          # urllib3 copies it per attempt


# leftovers ---------------------------------------------------------------------------------------------------
def test_stale_part_files_are_removed_when_a_download_starts_there(client, sim, tmp_path):
    pid, media, data = done_media(client, sim)
    folder = tmp_path / "out"
    folder.mkdir()
    two_min, two_hours = time.time() - 120, time.time() - 7200
    dead = folder / "00_a.png.999999999-1.part"           # a pid above any pid_max: its writer is gone
    old = folder / f"00_b.png.{os.getppid()}-1.part"      # a live writer, untouched for two hours
    fresh = folder / f"00_c.png.{os.getppid()}-2.part"    # a live writer at work: kept
    other = folder / "notes.part"                          # not ours: kept
    for p in (dead, old, fresh, other):
        p.write_bytes(b"x")
    os.utime(dead, (two_min, two_min))
    os.utime(old, (two_hours, two_hours))
    path = client.download(media.url, folder / "00_d.png", prompt_id=pid, media_id=media.id)
    assert path.read_bytes() == data
    assert sorted(p.name for p in folder.iterdir()) == sorted([fresh.name, other.name, "00_d.png"])


def test_part_name_carries_the_writer_pid():
    name = transfer.part_name(Path("/x/00_a.png")).name
    assert transfer.PART.search(name).group(1) == str(os.getpid())
