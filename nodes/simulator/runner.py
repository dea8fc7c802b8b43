"""Running the simulator: `serve()` for the command line, `SimulatorThread` for tests and demos.

`SimulatorThread` owns a private event loop in a background thread, binds 127.0.0.1 on a free
port, and shuts everything down on `stop()`: websockets are closed, running jobs cancelled, the
loop's executor joined, the thread joined, so a test session leaks no threads. aiohttp is
imported here, lazily, only when a server actually starts.
"""
from __future__ import annotations

import asyncio
import threading
from typing import Any

from .faults import Faults
from .state import SimConfig, Simulator

HOST = "127.0.0.1"


async def serve(sim: Simulator, port: int, ready: Any, stop: asyncio.Event) -> None:
    """Serve until `stop` is set; `ready(base_url)` is called once the port is bound."""
    from aiohttp import WSCloseCode, web

    from .server import ENGINE, build_app, close_sockets

    app = build_app(sim)
    runner = web.AppRunner(app, shutdown_timeout=2.0, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, HOST, port)
    comeback: set[asyncio.Task] = set()

    async def restart(down: float) -> None:
        """A server restart as clients see it; the jobs, queue and media (the state) are kept.
        Returns once the server is down; it listens again on the same port `down` seconds later."""
        nonlocal site
        await close_sockets(app, WSCloseCode.SERVICE_RESTART, b"Simulator restarting")
        await site.stop()                       # new connections are refused...
        for handler in runner.server.connections if runner.server else ():
            handler.force_close()               # ...and open keep-alive connections drop
        sim.counters.restarts += 1

        async def listen_again() -> None:
            nonlocal site
            await asyncio.sleep(down)
            site = web.TCPSite(runner, HOST, int(sim.base_url.rsplit(":", 1)[1]))
            await site.start()

        task = asyncio.get_running_loop().create_task(listen_again())
        comeback.add(task)
        task.add_done_callback(comeback.discard)

    try:
        await site.start()
        bound = runner.addresses[0][1]
        sim.base_url = f"http://{HOST}:{bound}"
        sim.restart_hook = restart
        ready(sim.base_url)
        await stop.wait()
    finally:
        sim.restart_hook = None
        for task in list(comeback):
            task.cancel()
        await asyncio.gather(*comeback, return_exceptions=True)
        await app[ENGINE].shutdown()
        await runner.cleanup()


def make_simulator(faults: Faults | dict | list | tuple | None = None, **config: Any) -> Simulator:
    """A Simulator from SimConfig keywords; `faults` is a Faults, {name: value} or ["name=value", ...]."""
    if isinstance(faults, Faults):
        chosen = faults
    else:
        chosen = Faults()
        if isinstance(faults, dict):
            chosen.update(faults)
        elif faults:
            for spec in faults:
                chosen.apply(spec)
    return Simulator(SimConfig(**config), chosen)


class SimulatorThread:
    """A live simulator on 127.0.0.1:<free port>, in a background thread.

        with SimulatorThread(job_seconds=0.2) as sim:
            requests.get(sim.base_url + "/members/me", headers={"Authorization": "Key sim-key"})
            sim.state.faults.job_error = True
    """

    def __init__(self, port: int = 0, faults: Faults | dict | list | tuple | None = None, **config: Any):
        self.state = make_simulator(faults, **config)
        self.port = port
        self.base_url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def api_key(self) -> str:
        return self.state.default_user.api_key

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Key {self.api_key}"}

    @property
    def ws_url(self) -> str:
        return "ws" + self.base_url[len("http"):]

    def start(self, timeout: float = 15.0) -> SimulatorThread:
        if self._thread is not None:
            raise RuntimeError("simulator already started")
        self._thread = threading.Thread(target=self._main, name="aliveai-simulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise RuntimeError("the AliveAI simulator did not start in time")
        if self._error is not None:
            self._thread.join(timeout)
            raise RuntimeError(f"the AliveAI simulator failed to start: {self._error}") from self._error
        return self

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._stop = asyncio.Event()
            loop.run_until_complete(serve(self.state, self.port, self._bound, self._stop))
        except BaseException as e:  # noqa: BLE001 -- reported by start(); the thread must not die silently
            self._error = e
        finally:
            self._ready.set()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    def _bound(self, base_url: str) -> None:
        self.base_url = base_url
        self._ready.set()

    def stop(self, timeout: float = 15.0) -> None:
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None:
            return
        if loop is not None and stop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:   # the loop closed between the check and the call
                pass
        thread.join(timeout)
        if thread.is_alive():
            raise RuntimeError("the AliveAI simulator thread did not stop")
        self._thread = None

    def restart(self, down: float = 1.0, timeout: float = 15.0) -> None:
        """Play a server restart mid-job: every websocket closes (1012), open connections drop and
        new ones are refused for `down` seconds; jobs, queue and media are kept. Returns once the
        server is down."""
        hook, loop = self.state.restart_hook, self._loop
        if hook is None or loop is None:
            raise RuntimeError("the simulator is not serving")
        asyncio.run_coroutine_threadsafe(hook(float(down)), loop).result(timeout)

    def __enter__(self) -> SimulatorThread:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
