"""`/_sim/...`: switches for tests and demos that cannot reach the Python state object, e.g. a
ComfyUI instance pointed at a simulator started from the command line.

No auth (the server listens on 127.0.0.1 only), never logged, never subject to faults.
"""
from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from .state import Simulator

# Settings that can change while the server runs (the rest are read once at start).
RUNTIME_CONFIG = {"workers": int, "job_seconds": float, "max_pending": int, "url_ttl": int,
                  "max_upload_bytes": int, "replay_on_connect": bool}


def add_routes(app: web.Application, sim: Simulator) -> None:
    restarts: set[asyncio.Task] = set()

    async def body(request: web.Request) -> dict[str, Any]:
        try:
            data = await request.json() if request.can_read_body else {}
        except ValueError:
            raise web.HTTPBadRequest(reason="Malformed JSON") from None
        if not isinstance(data, dict):
            raise web.HTTPBadRequest(reason="Expected a JSON object")
        return data

    def fail(text: str) -> web.Response:
        return web.json_response({"detail": text}, status=400)

    async def get_faults(request: web.Request) -> web.Response:
        return web.json_response({"faults": sim.faults.as_dict(), "injected": sim.faults.injections(),
                                  "available": sim.faults.describe()})

    async def set_faults(request: web.Request) -> web.Response:
        data = await body(request)
        if data.pop("reset", False):
            sim.faults.reset()
        try:
            sim.faults.update(data)
        except ValueError as e:
            return fail(str(e))
        return await get_faults(request)

    async def reset_faults(request: web.Request) -> web.Response:
        sim.faults.reset()
        return await get_faults(request)

    async def set_config(request: web.Request) -> web.Response:
        data = await body(request)
        unknown = sorted(set(data) - set(RUNTIME_CONFIG))
        if unknown:
            return fail(f"not settable at runtime: {', '.join(unknown)}; settable: {', '.join(RUNTIME_CONFIG)}")
        for name, value in data.items():
            setattr(sim.config, name, RUNTIME_CONFIG[name](value))
        return web.json_response({k: getattr(sim.config, k) for k in RUNTIME_CONFIG})

    async def expire_tokens(request: web.Request) -> web.Response:
        sim.expire_tokens()
        return web.json_response({"tokens": 0})

    async def advance(request: web.Request) -> web.Response:
        data = await body(request)
        sim.advance(float(data.get("seconds", 0)))
        return web.json_response({"clockOffset": sim.clock_offset})

    async def restart(request: web.Request) -> web.Response:
        """Answer first, then restart (the restart drops this very connection)."""
        data = await body(request)
        down = float(data.get("seconds", 1.0))
        if sim.restart_hook is None:
            return fail("the simulator is not serving")
        hook, loop = sim.restart_hook, asyncio.get_running_loop()

        def start() -> None:
            task = loop.create_task(hook(down))
            restarts.add(task)   # keep a reference until it is done
            task.add_done_callback(restarts.discard)

        loop.call_later(0.05, start)
        return web.json_response({"restarting": True, "down": down})

    async def state(request: web.Request) -> web.Response:
        return web.json_response({
            "faults": sim.faults.as_dict(), "injected": sim.faults.injections(), "counters": sim.counters.as_dict(),
            "config": {k: getattr(sim.config, k) for k in RUNTIME_CONFIG},
            "users": [{"id": u.id, "email": u.email, "credits": u.credits} for u in sim.users.values()],
            "jobs": {pid: {"op": j.op.key, "status": j.status, "progress": j.progress, "owner": j.owner}
                     for pid, j in sim.jobs.items()},
        })

    async def log(request: web.Request) -> web.Response:
        return web.json_response([e.as_dict() for e in sim.log])

    r = app.router
    r.add_get("/_sim/faults", get_faults)
    r.add_post("/_sim/faults", set_faults)
    r.add_delete("/_sim/faults", reset_faults)
    r.add_post("/_sim/config", set_config)
    r.add_post("/_sim/expire-tokens", expire_tokens)
    r.add_post("/_sim/advance", advance)
    r.add_post("/_sim/restart", restart)
    r.add_get("/_sim/state", state)
    r.add_get("/_sim/log", log)
