"""What each operation of the table does in the simulator.

Every create (`op.is_job`) shares one handler: check media references, enforce the pending
cap, queue a job. The other operations are looked up by the table's key in `HANDLERS`, with
fallbacks by result kind (TEXT / TEXT_PAIR -> the LLM stand-in), so `server.py` can turn every
callable entry of the table into a route without a hand-written list. An entry with no
behaviour still gets its route (answering 501), and a test names it.
"""
from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ..api import Operation
from ..api.schema import FORM, TEXT, TEXT_PAIR
from ..api.validate import check_fields
from ..errors import ValidationError
from . import catalog, llm, views
from .inputs import Reply, check_references
from .jobs import Engine
from .sniff import ACCEPTED, size_of, sniff
from .state import DONE, RUNNING, LoggedRequest, Simulator, User


@dataclass
class Call:
    request: web.Request
    op: Operation
    user: User | None
    values: dict[str, Any]           # clean values of path, query and body fields
    body: dict[str, Any] | None      # the JSON body as sent
    sim: Simulator
    engine: Engine
    entry: LoggedRequest


Handler = Callable[[Call], Awaitable[web.StreamResponse]]
HANDLERS: dict[str, Handler] = {}
MULTIPART = {"upload_file"}          # handlers that read the body themselves


def handles(*keys: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for key in keys:
            HANDLERS[key] = fn
        return fn
    return register


def handler_for(op: Operation) -> Handler | None:
    if op.is_job:
        return create
    if op.key in HANDLERS:
        return HANDLERS[op.key]
    if op.returns in (TEXT, TEXT_PAIR):
        return llm_helper
    return None


def ok(data: Any = None) -> web.Response:
    """JSON, or an empty 200 for operations whose answer the doc shows no body for."""
    return web.Response(status=200) if data is None else web.json_response(data)


# creates --------------------------------------------------------------------------------------
async def create(call: Call) -> web.StreamResponse:
    sim, user = call.sim, call.user
    assert user is not None
    inputs = check_references(sim, user, call.op, call.values)
    if sim.pending_count(user) >= sim.config.max_pending or sim.faults.take("queue_full"):
        raise Reply(429, "Max pending creations reached")
    job = sim.new_job(call.op, user, call.body or {}, call.values.get("seed"), inputs)
    sim.counters.creates[call.op.key] += 1
    call.engine.submit(job)
    if sim.faults.take("create_lost"):
        raise Reply(502, "Bad gateway (simulated: the job was created but this answer was lost)")
    if sim.faults.take("create_lost_late"):
        for _ in range(600):          # at most 30 s: the job leaves the queue, then the answer is lost
            if not job.pending:
                break
            await asyncio.sleep(0.05)
        if call.request.transport is not None:
            call.request.transport.close()
    return ok(views.create_response(job))


# prompts manager and queue ----------------------------------------------------------------------
def _text_of(value: Any) -> str:
    if isinstance(value, dict):
        return " ".join(_text_of(v) for v in value.values())
    if isinstance(value, list):
        return " ".join(_text_of(v) for v in value)
    return str(value) if value is not None else ""


@handles("get_prompts")
async def get_prompts(call: Call) -> web.StreamResponse:
    v = call.values
    size = v.get("pageSize", 20)
    if size < 1:
        raise Reply(400, f"'pageSize' must be at least 1 (got {size})")
    types, query = v.get("promptType"), (v.get("query") or "").lower()
    jobs = [j for j in call.sim.jobs.values() if j.owner == call.user.id and j.status == DONE
            and (not types or j.op.prompt_type in types) and (not query or query in _text_of(j.request).lower())]
    jobs.sort(key=lambda j: j.seq, reverse=True)
    page, pages = v["page"], math.ceil(len(jobs) / size)
    chunk = jobs[page * size:(page + 1) * size]
    return ok({"prompts": [views.container(call.sim, j) for j in chunk], "hasNextPage": page + 1 < pages,
               "totalPageCount": pages})


def _job(call: Call) -> Any:
    job = call.sim.job_for(call.user, call.values["promptId"])
    if job is None:
        raise Reply(404, "Prompt not found")
    return job


@handles("get_prompt")
async def get_prompt(call: Call) -> web.StreamResponse:
    return ok(views.container(call.sim, _job(call)))


@handles("delete_prompt")
async def delete_prompt(call: Call) -> web.StreamResponse:
    job = _job(call)
    if job.pending:
        raise Reply(409, "Prompt is still pending")
    call.engine.delete_prompt(job)
    call.sim.counters.deletes[call.op.key] += 1
    return ok()


@handles("get_pending")
async def get_pending(call: Call) -> web.StreamResponse:
    return ok({"queue": call.sim.pending_items(call.user.id)})


@handles("delete_from_queue")
async def delete_from_queue(call: Call) -> web.StreamResponse:
    job = call.sim.job_for(call.user, call.values["promptId"])
    if job is None or not job.pending:
        raise Reply(404, "Prompt not found in queue")
    if job.status == RUNNING:
        raise Reply(409, "Prompt is already running")
    call.engine.remove_queued(job)
    call.sim.counters.deletes[call.op.key] += 1
    return ok()


# upload ------------------------------------------------------------------------------------------
@handles("upload_file")
async def upload_file(call: Call) -> web.StreamResponse:
    request, sim, limit = call.request, call.sim, call.sim.config.max_upload_bytes
    if sim.faults.take("upload_reject"):
        raise Reply(415, "Unsupported Media Type (simulated)")
    if not request.content_type.startswith("multipart/"):
        raise Reply(415, "Upload File takes multipart/form-data with the parts 'name' and 'image'")
    reader = await request.multipart()
    name, data, too_big = None, None, False
    while (part := await reader.next()) is not None:
        call.entry.parts.append(part.name or "")
        if part.name == "image" and hasattr(part, "read_chunk"):
            buf = bytearray()
            while chunk := await part.read_chunk(256 * 1024):
                if len(buf) + len(chunk) > limit:
                    too_big = True       # keep reading (and dropping) so the client can finish sending
                    continue
                buf.extend(chunk)
            data = bytes(buf)
        elif part.name == "name" and hasattr(part, "text"):
            name = await part.text()
        else:
            await part.release()
    if too_big:
        raise Reply(413, f"File too large: the limit is {limit} bytes")
    try:
        check_fields(call.op.name, call.op.fields_in(FORM), {"name": name, "image": data or None},
                     {}, prefix="")
    except ValidationError as e:
        raise Reply(400, e.message) from None
    kind = sniff(data)
    if kind is None:
        raise Reply(415, f"Unsupported file type: upload {ACCEPTED}")
    media_type, ext, content_type = kind
    size = await asyncio.get_running_loop().run_in_executor(None, size_of, data, ext)
    media = sim.add_media(call.user.id, media_type, ext, content_type, data, size, source="upload")
    sim.counters.uploads += 1
    return ok({"mediaId": media.id, "mediaType": media.media_type})


# clothes and poses -------------------------------------------------------------------------------
@handles("get_public_clothes")
async def get_public_clothes(call: Call) -> web.StreamResponse:
    return ok(catalog.public_clothes(call.sim.base_url))


@handles("get_custom_clothes")
async def get_custom_clothes(call: Call) -> web.StreamResponse:
    return ok([catalog.clothes_item(call.sim.base_url, i, p) for i, p in call.user.custom_clothes.items()])


@handles("get_custom_clothes_by_id", "delete_custom_clothes", "get_custom_pose", "delete_custom_pose")
async def custom_item(call: Call) -> web.StreamResponse:
    clothes = "clothesId" in call.values
    store = call.user.custom_clothes if clothes else call.user.custom_poses
    item_id = call.values["clothesId" if clothes else "poseId"]
    if item_id not in store:
        raise Reply(404, "Clothes not found" if clothes else "Pose not found")
    if call.op.method == "DELETE":
        del store[item_id]
        call.sim.counters.deletes[call.op.key] += 1
        return ok()
    make = catalog.clothes_item if clothes else catalog.custom_pose_item
    return ok(make(call.sim.base_url, item_id, store[item_id]))


@handles("get_poses")
async def get_poses(call: Call) -> web.StreamResponse:
    return ok(catalog.poses(call.sim.base_url))


@handles("get_custom_poses")
async def get_custom_poses(call: Call) -> web.StreamResponse:
    return ok([catalog.custom_pose_item(call.sim.base_url, i, p) for i, p in call.user.custom_poses.items()])


@handles("get_profiles")
async def get_profiles(call: Call) -> web.StreamResponse:
    v = call.values
    return ok(catalog.profiles(call.sim.base_url, call.user.id, v["page"], bool(v.get("public")), v.get("sort")))


@handles(*catalog.TEMPLATES)
async def get_templates(call: Call) -> web.StreamResponse:
    return ok(catalog.templates(call.sim.base_url, call.op.key))


# llm, member -----------------------------------------------------------------------------------
async def llm_helper(call: Call) -> web.StreamResponse:
    check_references(call.sim, call.user, call.op, call.values)
    return ok(llm.answer(call.sim, call.user, call.op, call.values))


@handles("login")
async def login(call: Call) -> web.StreamResponse:
    token = call.sim.login(call.values["email"], call.values["password"])
    if token is None:
        raise Reply(401, "Invalid email or password")
    call.sim.counters.logins += 1
    return ok({"accessToken": token})


@handles("me")
async def me(call: Call) -> web.StreamResponse:
    u = call.user
    return ok({"id": u.id, "credits": u.credits, "email": u.email, "apiKey": u.api_key, "emailConfirmed": True,
               "hasPurchase": True, "premiumExpiration": "2030-01-01T00:00:00Z", "created": "2024-01-01T00:00:00Z"})
