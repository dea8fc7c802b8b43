"""Load: 50 concurrent jobs, a third of them videos, against one simulator: from the client in 50
threads, and from 50 node runs awaited together (as ComfyUI runs independent async nodes). Every
result must arrive whole and belong to its own request (its seed, its text, its bytes), nothing may
be created twice, and afterwards no thread and no socket of ours may be left open.

Each test owns its simulator, so threads are counted before it starts and after it stops: the
simulator's own executor threads are then gone too, and anything left over is a leak.
"""
from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest
from support import CREATE, I2V, create_kw, defaults, node_env

from nodes.client import AliveAIClient
from nodes.client.config import resolve
from nodes.simulator import DEFAULT_API_KEY, SimulatorThread

N = 50
POOL_MAXSIZE = 32          # requests' connection pool per host (http.Transport)
SIM = dict(job_seconds=0.2, workers=16, max_pending=N + 4)
REQ = {"name": "Ada Lovelace", "appearance": "at her desk", "detailLevel": "MEDIUM"}


def is_video(i: int) -> bool:
    return i % 3 == 2


def our_connections(port: int) -> int:
    """Open TCP connections of this process to or from the simulator's port."""
    conns = psutil.Process().net_connections(kind="tcp")
    return sum(1 for c in conns if (c.raddr and c.raddr.port == port) or (c.laddr and c.laddr.port == port
                                                                          and c.status != psutil.CONN_LISTEN))


def client_side(port: int) -> int:
    return sum(1 for c in psutil.Process().net_connections(kind="tcp") if c.raddr and c.raddr.port == port)


def settle(predicate, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def check_job(sim, i: int, prompt_id: str, media_id: str, data: bytes) -> None:
    """The result belongs to request i: its job echoes i's seed (and text), the bytes are that job's."""
    job = sim.state.jobs[prompt_id]
    assert job.request["seed"] == str(1000 + i), (i, job.request)
    assert job.op.key == ("create_image_to_video" if is_video(i) else "create_prompt")
    if is_video(i):
        assert job.request["text"] == f"clip {i}"
    media = sim.state.media[media_id]
    assert media.source == prompt_id and media.media_type == ("VIDEO" if is_video(i) else "IMAGE")
    assert data == media.data


@pytest.fixture
def baseline():
    """Threads and simulator-port connections before anything starts, checked after everything stopped."""
    before = threading.active_count()
    ports: list[int] = []
    yield ports
    assert settle(lambda: threading.active_count() <= before), \
        f"threads left: {[t.name for t in threading.enumerate()]} (had {before})"
    for port in ports:
        assert settle(lambda p=port: our_connections(p) == 0), f"sockets left on port {port}"


def test_fifty_concurrent_jobs_from_client_threads(baseline, tmp_path):
    with SimulatorThread(**SIM) as sim:
        port = int(sim.base_url.rsplit(":", 1)[1])
        baseline.append(port)
        settings = resolve(env={"ALIVEAI_BASE_URL": sim.base_url, "ALIVEAI_API_KEY": DEFAULT_API_KEY})
        with AliveAIClient(settings, backoff_factor=0.01) as client:
            source = client.submit("create_prompt", {**REQ, "seed": "1"}).result().medias[0]

            def one(i: int):
                if is_video(i):
                    job = client.submit("create_image_to_video", videoModel="DEFAULT", mediaId=source.id,
                                        text=f"clip {i}", seed=str(1000 + i))
                else:
                    job = client.submit("create_prompt", {**REQ, "seed": str(1000 + i)})
                m = job.result(running_timeout=60).medias[0]
                path = client.download(m.url, tmp_path / f"{i:02d}", prompt_id=job.prompt_id, media_id=m.id)
                return job.prompt_id, m.id, path.read_bytes()

            t0 = time.monotonic()
            with ThreadPoolExecutor(N, thread_name_prefix="load") as pool:
                results = list(pool.map(one, range(N)))
            wall = time.monotonic() - t0
            assert client_side(port) <= POOL_MAXSIZE         # idle keep-alives in one pool, no pile-up
        for i, (prompt_id, media_id, data) in enumerate(results):
            check_job(sim, i, prompt_id, media_id, data)
        assert len({r[0] for r in results}) == N
        assert sum(sim.state.counters.creates.values()) == N + 1      # nothing created twice
        assert wall < 60


def test_fifty_concurrent_node_runs(baseline, tmp_path, monkeypatch):
    from nodes.comfy import session

    with SimulatorThread(**SIM) as sim, node_env(monkeypatch, tmp_path, sim.base_url,
                                                 ALIVEAI_API_KEY=DEFAULT_API_KEY):
        port = int(sim.base_url.rsplit(":", 1)[1])
        baseline.append(port)
        first = asyncio.run(CREATE().run(unique_id="0", **create_kw(seed=1)))
        handle = first["result"][1]

        def node_run(i: int):
            if is_video(i):
                return I2V().run(unique_id=str(i), image_media=handle,
                                 **{**defaults(I2V), "text": f"clip {i}", "seed": 1000 + i})
            return CREATE().run(unique_id=str(i), **create_kw(seed=1000 + i))

        async def all_nodes():
            # ComfyUI awaits independent async nodes together; each runs its blocking part in a
            # thread. A pool as wide as the graph makes all 50 truly concurrent.
            asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(N, thread_name_prefix="node"))
            return await asyncio.gather(*(node_run(i) for i in range(N)))

        outs = asyncio.run(all_nodes())
        store = session.store()
        for i, out in enumerate(outs):
            _, node_handle, media_id, prompt_id = out["result"]
            assert node_handle.media_id == media_id and "," not in prompt_id
            path = store.media_path(prompt_id, media_id, "VIDEO" if is_video(i) else "IMAGE", 0)
            check_job(sim, i, prompt_id, media_id, path.read_bytes())
            if not is_video(i):
                m = sim.state.media[media_id]
                assert tuple(out["result"][0].shape) == (1, m.height, m.width, 3)
        assert sum(sim.state.counters.creates.values()) == N + 1
        assert sim.state.counters.uploads == 0                      # chained by handle, never re-uploaded
        session.reset()                                               # the pooled connections close with the client
        assert settle(lambda: our_connections(port) == 0)
