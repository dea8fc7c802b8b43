"""The aiohttp application: routes generated from the operation table, the two websockets,
signed file downloads, catalog thumbnails, and one middleware for logging and faults.

Every callable operation of `nodes.api.OPERATIONS` becomes a route with its own method and
path; paths without parameters are registered first, so `GET /prompts/pending` is never read
as `GET /prompts/{promptId}`. The websocket paths come from the table's two documentation
entries. The middleware logs each request (credentials masked), applies the HTTP faults and
turns `Reply` errors into the `{"detail": ...}` bodies clients read (API.md §7.2).
"""
from __future__ import annotations

import asyncio
import gzip
import time
import weakref
from email.utils import formatdate
from typing import Any

from aiohttp import WSCloseCode, web

from ..api import BY_KEY, OPERATIONS, Operation, overrides
from ..api.schema import BODY, EVENTS
from . import admin, views
from .handlers import MULTIPART, Call, handler_for
from .inputs import Reply, check, parse_body, query_values
from .jobs import Engine
from .signing import check as check_signature
from .state import LoggedRequest, Simulator, redact_body
from .synth import make_png

# Request storage keys are typed from aiohttp 3.13; older versions take the plain string.
ENTRY: Any = web.RequestKey("entry", LoggedRequest) if hasattr(web, "RequestKey") else "aliveai.entry"
SIM = web.AppKey("sim", Simulator)
ENGINE = web.AppKey("engine", Engine)
SOCKETS = web.AppKey("sockets", weakref.WeakSet)
THUMBS = web.AppKey("thumbs", dict)
CHUNK = 64 * 1024
THUMB_GROUPS = ("clothes", "poses", "profiles", "templates")
EXTRA_PREFIXES = ("/ws/", "/files/", "/thumbs/", "/_sim/")   # routes that are not table operations


def detail(status: int, text: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"detail": text}, status=status, headers=headers)


def _op_of(request: web.Request) -> Operation | None:
    route = getattr(request.match_info, "route", None)
    return getattr(getattr(route, "handler", None), "op", None)


BURST = {500: "Internal server error", 502: "Bad gateway", 503: "Service unavailable"}


def _burst(sim: Simulator) -> int | None:
    """The status of an HTTP 5xx burst fault that is still running, spending one unit of it."""
    return next((status for status in BURST if sim.faults.take(f"http_{status}")), None)


def build_app(sim: Simulator) -> web.Application:
    engine = Engine(sim)

    @web.middleware
    async def observe(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith("/_sim/"):
            return await handler(request)
        entry = sim.log_request(request.method, request.path, request.query.items(), request.headers)
        request[ENTRY] = entry
        op = _op_of(request)
        entry.op = op.key if op else None
        sim.counters.requests[entry.op or request.path.split("/")[1]] += 1
        socket = request.headers.get("Upgrade", "").lower() == "websocket"
        delay = 0.0 if socket else sim.faults.on("slow_seconds")
        if delay > 0 and request.path.startswith("/files/"):   # streamed: delay before the first byte
            await asyncio.sleep(delay)
            delay = 0.0
        try:
            if not socket and sim.faults.take("http_429"):
                resp: web.StreamResponse = detail(429, "Too many requests (simulated)", {"Retry-After": "1"})
            elif not socket and not (op and op.is_job) and (status := _burst(sim)):
                resp = detail(status, f"{BURST[status]} (simulated)")
            else:
                resp = await handler(request)
        except Reply as e:
            resp = detail(e.status, e.detail, e.headers)
        except web.HTTPException as e:   # unknown path, wrong method: the same JSON error shape
            resp = detail(e.status, e.reason, {k: v for k, v in e.headers.items() if k.lower() == "allow"})
        if isinstance(resp, web.Response) and resp.content_type == "application/json" and resp.body \
                and sim.faults.take("bad_json"):
            resp.body = bytes(resp.body)[: len(resp.body) // 2]   # after the work: a create is made all the same
        if resp.status == 429 and op and op.is_job:
            if sim.faults.take("retry_after_zero"):
                resp.headers["Retry-After"] = "0"
            elif sim.faults.take("retry_after_past"):
                resp.headers["Retry-After"] = formatdate(time.time() - 3600, usegmt=True)
        if isinstance(resp, web.Response) and resp.content_type == "application/json" and resp.body \
                and sim.faults.take("big_json"):
            resp = await _padded_json(request, resp)
        if delay > 0 and not resp.prepared:   # after the work: a create is made even if the client gives up
            await asyncio.sleep(delay)
        entry.status = resp.status
        return resp

    app = web.Application(middlewares=[observe], client_max_size=sim.config.max_upload_bytes + 1024 * 1024)
    app[SIM], app[ENGINE], app[SOCKETS], app[THUMBS] = sim, engine, weakref.WeakSet(), {}
    for op in sorted(routed_operations(sim), key=lambda o: "{" in o.path):
        app.router.add_route(op.method, op.path, operation_handler(sim, engine, op))
    sockets = {"prompt_events": prompt_socket, "user_events": user_socket}
    for op in (o for o in OPERATIONS if o.returns == EVENTS):
        if op.key not in sockets:
            raise RuntimeError(f"simulator: no websocket behaviour for table entry {op.key!r}")
        app.router.add_get(op.path, tag(sockets[op.key], op), allow_head=False)
    app.router.add_get("/files/{name}", download, allow_head=False)
    app.router.add_get("/thumbs/{group}/{name}", thumbnail, allow_head=False)
    admin.add_routes(app, sim)
    app.on_shutdown.append(_close_sockets)
    return app


def routed_operations(sim: Simulator) -> list[Operation]:
    """The callable operations with their routes, `SimConfig.moved_paths` applied: a simulator
    started with paths moved plays a live API where the table's guess is wrong for those."""
    moved = overrides.parse(sim.config.moved_paths, "moved_paths", BY_KEY)
    return [overrides.apply(o, moved) for o in OPERATIONS if o.callable]


def tag(fn: Any, op: Operation) -> Any:
    fn.op = op
    return fn


def operation_handler(sim: Simulator, engine: Engine, op: Operation) -> Any:
    behaviour = handler_for(op) or not_simulated

    async def handle(request: web.Request) -> web.StreamResponse:
        user = None
        if op.auth:
            user, why = sim.authenticate(request.headers.get("Authorization"))
            if user is None:
                raise Reply(401, why)
        body = None
        if op.fields_in(BODY) and op.key not in MULTIPART:
            body = parse_body(await request.read())
            request[ENTRY].body = redact_body(body)
        values = check(op, request.match_info, query_values(op, request.query), body)
        return await behaviour(Call(request, op, user, values, body, sim, engine, request[ENTRY]))

    return tag(handle, op)


async def not_simulated(call: Call) -> web.StreamResponse:
    """A table entry added without simulator behaviour: the route exists, says so, and the
    test that every operation has a behaviour names it; the rest of the simulator keeps working."""
    raise Reply(501, f"The simulator has no behaviour for {call.op.name} ({call.op.key}) yet")


FLOOD_EVERY = 0.05                 # seconds between the frames of ws_flood / ws_keepalive_spam
BIG_FRAME = 4 * 1024 * 1024        # the message length of ws_big_frame's frame


def _refuse_socket(sim: Simulator, request: web.Request) -> web.Response | None:
    if sim.faults.on("ws_refuse"):
        return detail(503, "Service unavailable (simulated)")
    if sim.faults.on("ws_redirect"):
        # A redirect on the handshake: a client that follows it carries its Authorization header
        # to whatever host Location names (a test points `ws_redirect_to` at a listener of its own).
        target = getattr(sim, "ws_redirect_to", None) or str(request.url.with_scheme("ws"))
        return web.Response(status=307, headers={"Location": target})
    return None


async def _spam(sim: Simulator, queue: asyncio.Queue, name: str, frame: dict[str, Any]) -> None:
    """ws_flood / ws_keepalive_spam: the same frame, again and again, while the fault is on."""
    while sim.faults.on(name):
        queue.put_nowait(frame)
        await asyncio.sleep(FLOOD_EVERY)


async def _serve_socket(request: web.Request, queue: asyncio.Queue, on_event: Any) -> web.WebSocketResponse:
    """Send queued events as JSON text frames until the client leaves; `on_event` may close."""
    sim = request.app[SIM]
    ws = web.WebSocketResponse(heartbeat=sim.config.ws_heartbeat, autoping=True)
    await ws.prepare(request)
    request.app[SOCKETS].add(ws)

    async def pump() -> None:
        while not ws.closed:
            event = await queue.get()
            if (sent := getattr(sim, "on_event_sent", None)) is not None:  # bench/ times event delivery from here
                sent(event)
            try:
                await ws.send_json(event)
            except ConnectionError:
                return
            if await on_event(ws, event):
                return

    sender = asyncio.get_running_loop().create_task(pump())
    try:
        async for _ in ws:    # client frames are ignored; reading keeps ping/pong and close working
            pass
    finally:
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)
    return ws


async def prompt_socket(request: web.Request) -> web.StreamResponse:
    sim, engine = request.app[SIM], request.app[ENGINE]
    if (refused := _refuse_socket(sim, request)) is not None:
        return refused
    user, why = sim.authenticate(request.headers.get("Authorization"))
    if user is None:
        raise Reply(401, why)
    job = sim.job_for(user, request.match_info["promptId"])
    if job is None:
        raise Reply(404, "Prompt not found")
    # A silent or spamming socket is never subscribed: it stays open (pings work) and delivers no
    # real event; the spam is the job's state at connection time, or `{}`, over and over.
    spam = next((name for name in ("ws_flood", "ws_keepalive_spam") if sim.faults.on(name)), None)
    silent = spam is not None or sim.faults.on("ws_silent")
    queue = asyncio.Queue() if silent else engine.subscribe(engine.prompt_subs, job.prompt_id)
    if sim.faults.on("ws_big_frame"):
        queue.put_nowait({**views.event(sim, job), "isError": True, "message": "x" * BIG_FRAME})
    if sim.config.replay_on_connect:
        queue.put_nowait(views.event(sim, job))
    sim.counters.ws_connections += 1
    spammer = None
    if spam is not None:
        frame = views.event(sim, job) if spam == "ws_flood" else {}
        spammer = asyncio.get_running_loop().create_task(_spam(sim, queue, spam, frame))

    async def maybe_drop(ws: web.WebSocketResponse, event: dict[str, Any]) -> bool:
        running = event.get("queuePosition") == 0 and not (event.get("isComplete") or event.get("isError"))
        if running and sim.faults.on("ws_drop"):
            await ws.close(code=WSCloseCode.INTERNAL_ERROR, message=b"Simulated connection drop")
            return True
        return False

    try:
        return await _serve_socket(request, queue, maybe_drop)
    finally:
        if spammer is not None:
            spammer.cancel()
            await asyncio.gather(spammer, return_exceptions=True)
        engine.unsubscribe(engine.prompt_subs, job.prompt_id, queue)


async def user_socket(request: web.Request) -> web.StreamResponse:
    sim, engine = request.app[SIM], request.app[ENGINE]
    if (refused := _refuse_socket(sim, request)) is not None:
        return refused
    user = sim.user_for_token(request.query.get("token"))
    if user is None:
        raise Reply(401, "Invalid or expired access token")
    queue = engine.subscribe(engine.user_subs, user.id)
    sim.counters.user_ws_connections += 1

    async def never(ws: web.WebSocketResponse, event: dict[str, Any]) -> bool:
        return False

    try:
        return await _serve_socket(request, queue, never)
    finally:
        engine.unsubscribe(engine.user_subs, user.id, queue)


def s3_error(status: int, code: str, message: str) -> web.Response:
    """S3's XML error body, as files.aliveai.app would answer (clients fall back to raw text)."""
    xml = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>'
    return web.Response(status=status, text=xml, content_type="application/xml")


BIG_JSON = 20 * 1024 * 1024


async def _padded_json(request: web.Request, resp: web.Response) -> web.StreamResponse:
    """The same JSON object with a 20 MiB string field, streamed (chunked, no Content-Length)."""
    body = bytes(resp.body)
    out = web.StreamResponse(status=resp.status, headers={"Content-Type": "application/json"})
    await out.prepare(request)
    head = b'{"padding": "' if body.startswith(b"{") else b'[{"padding": "'
    await out.write(head)
    block = b"x" * CHUNK
    for _ in range(BIG_JSON // CHUNK):
        await out.write(block)
    await out.write(b'", ' + body[1:] if body.startswith(b"{") else b'"}, ' + body[1:])
    await out.write_eof()
    return out


async def _endless(request: web.Request, content_type: str, trickle: float) -> web.StreamResponse:
    """No Content-Length, bytes until the client goes away: 64 KiB at a time, or one byte every
    `trickle` seconds."""
    resp = web.StreamResponse(headers={"Content-Type": content_type})
    await resp.prepare(request)
    block = b"\0" * CHUNK
    try:
        while True:
            if trickle:
                await resp.write(b"\0")
                await asyncio.sleep(trickle)
            else:
                await resp.write(block)
                await asyncio.sleep(0)
    except (ConnectionError, RuntimeError):   # the client left (RuntimeError: aiohttp's closing transport)
        return resp


async def download(request: web.Request) -> web.StreamResponse:
    sim = request.app[SIM]
    url = request.rel_url
    problem = check_signature(sim.config.url_secret.encode(), url.raw_path, url.raw_query_string, sim.now())
    if problem:
        return s3_error(403, *problem)
    media_id, _, ext = request.match_info["name"].partition(".")
    media = sim.media.get(media_id)
    if media is None or media.ext != ext:
        return s3_error(404, "NoSuchKey", "The specified key does not exist.")
    if request.url.host != "localhost" and sim.faults.take("media_redirect_internal"):
        target = views.internal_base(sim.base_url) + str(request.rel_url)
        return web.Response(status=302, headers={"Location": target})
    if (trickle := sim.faults.on("download_trickle")) or sim.faults.on("download_endless"):
        return await _endless(request, media.content_type, trickle)
    if sim.faults.on("download_gzip"):
        sim.counters.downloads += 1
        return web.Response(body=gzip.compress(media.data), headers={"Content-Type": media.content_type,
                                                                     "Content-Encoding": "gzip"})
    resp = web.StreamResponse(headers={"Content-Type": media.content_type})
    resp.content_length = len(media.data)
    huge = sim.faults.on("download_huge")
    if huge:
        resp.content_length = 50 * 1024 ** 3
    await resp.prepare(request)
    end = len(media.data) // 2 if sim.faults.take("download_cut") else len(media.data)
    if end == len(media.data) and not huge:
        # Counted before the body goes out: a client holding every byte may read the counter
        # before this handler runs again after its last write.
        sim.counters.downloads += 1
    for start in range(0, end, CHUNK):
        await resp.write(media.data[start:min(start + CHUNK, end)])
    if end < len(media.data) or huge:   # fewer bytes than announced, then the connection goes away
        if request.transport is not None:
            request.transport.close()
        return resp
    await resp.write_eof()
    return resp


async def thumbnail(request: web.Request) -> web.StreamResponse:
    group, name = request.match_info["group"], request.match_info["name"]
    if group not in THUMB_GROUPS or not name.endswith(".png"):
        raise Reply(404, "Not Found")
    key, cache = f"{group}/{name}", request.app[THUMBS]
    if key not in cache:
        cache[key] = await asyncio.get_running_loop().run_in_executor(None, make_png, 96, 128, key, name[:-4])
    return web.Response(body=cache[key], content_type="image/png")


async def _close_sockets(app: web.Application) -> None:
    await close_sockets(app, WSCloseCode.GOING_AWAY, b"Simulator shutting down")


async def close_sockets(app: web.Application, code: int, message: bytes) -> None:
    await asyncio.gather(*(ws.close(code=code, message=message) for ws in list(app[SOCKETS])),
                         return_exceptions=True)
