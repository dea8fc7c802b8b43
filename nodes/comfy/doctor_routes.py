"""The "Check API" button's routes: run the API check (nodes/doctor.py) and save what it found.

POST /aliveai/doctor/check runs the check in a worker thread with the current settings and keeps
the report; POST /aliveai/doctor/save stores the paths THAT report verified ("Use found paths"),
never paths sent by the page: a route of ours is reachable by anything that reaches ComfyUI's
port, so the page only chooses which verified paths to keep. Both pass `routes.guard`.
A saved path is used by the next request; node descriptions show it after a restart (nodes are
built once, at import).
"""
from __future__ import annotations

import asyncio
import threading
from typing import Any

from aiohttp import web

from .. import doctor
from ..client.client import AliveAIClient
from ..errors import AliveAIError, ConfigError
from ..redact import redact
from . import bridge, session
from .routes import BadRequest, _json, guard, json_post, mask_email

_last: dict[str, doctor.Report] = {}
_lock = threading.Lock()


def run_check() -> doctor.Report:
    s = session.settings()
    if not s.has_credentials:
        raise ConfigError(f"{s.withheld}." if s.withheld else "no AliveAI credentials are set.")
    with AliveAIClient(s, retries=1, backoff_factor=0.2) as client:
        report = doctor.run(client)
    with _lock:
        _last["report"] = report
    return report


@json_post
async def post_check(form: dict, local: bool = True) -> web.Response:
    try:
        report = await asyncio.to_thread(run_check)
    except AliveAIError as e:
        return _json({"error": redact(str(e))}, status=400)
    data: dict[str, Any] = report.as_json()
    if not local:
        data["account"] = mask_email(report.account) if "@" in report.account else ""
    data["text"] = report.table() if local else ""
    return _json(data)


@json_post
async def post_save(form: dict, local: bool = True) -> web.Response:
    with _lock:
        report = _last.get("report")
    if report is None:
        raise BadRequest("run the API check first")
    keys = form.get("keys")
    if keys is not None and (not isinstance(keys, list) or not all(isinstance(k, str) for k in keys)):
        raise BadRequest("'keys' must be a list of operation keys")
    saved = doctor.save(report, bridge.config_path(), keys)
    session.reset()
    return _json({"saved": saved, "note": "Used from the next request; node descriptions show it after a restart."})


def setup(routes: web.RouteTableDef) -> None:
    for path, handler in (("/aliveai/doctor/check", post_check), ("/aliveai/doctor/save", post_save)):
        routes.post(path)(guard(handler))
