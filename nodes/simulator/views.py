"""The JSON the simulator answers with: media items, PromptContainers, prompt and user events.

Shapes follow API.md §5 and §6. A PromptContainer carries every request-echo key of the table
(one non-null: the operation that made the prompt, holding its request body), `isFavorite`
and `medias`; there is no promptType field, as in the doc. Media URLs are signed afresh on
every call, so Get Prompt is how a client renews an expired URL.
"""
from __future__ import annotations

import time
from typing import Any

from ..api import OPERATIONS
from . import signing
from .state import DONE, FAILED, REMOVED, Job, Media, Simulator

ECHO_KEYS: tuple[str, ...] = tuple(o.echo for o in OPERATIONS if o.echo)


def iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def file_path(media: Media) -> str:
    return f"/files/{media.id}.{media.ext}"


def media_url(sim: Simulator, media: Media) -> str:
    now, ttl = sim.now(), sim.config.url_ttl
    first = media.id not in sim.issued_urls
    sim.issued_urls.add(media.id)
    if sim.faults.on("url_expired") or (first and sim.faults.on("url_expire_once")):
        now -= ttl + 60
    path = file_path(media)
    base = internal_base(sim.base_url) if sim.faults.on("media_url_internal") else sim.base_url
    return f"{base}{path}?{signing.sign(sim.config.url_secret.encode(), path, now, ttl)}"


def internal_base(base_url: str) -> str:
    """The simulator's own address under a loopback name the API does not own (an "internal host")."""
    scheme, _, rest = base_url.partition("://")
    return f"{scheme}://localhost:{rest.rsplit(':', 1)[1]}"


def media_item(sim: Simulator, media: Media) -> dict[str, Any]:
    return {"id": media.id, "mediaUrl": media_url(sim, media), "mediaType": media.media_type}


def container(sim: Simulator, job: Job) -> dict[str, Any]:
    out: dict[str, Any] = {"promptId": job.prompt_id}
    out.update({key: None for key in ECHO_KEYS})
    if job.op.echo:
        out[job.op.echo] = job.request
    out["isFavorite"] = False
    out["medias"] = [media_item(sim, sim.media[m]) for m in job.media_ids if m in sim.media]
    return out


def event(sim: Simulator, job: Job) -> dict[str, Any]:
    """A PromptEvent (API.md §6.1) for the job's current state."""
    failed = job.status in (FAILED, REMOVED)
    return {
        "promptId": job.prompt_id,
        "progress": job.progress,
        "isComplete": job.status == DONE,
        "promptContainer": container(sim, job),
        "isError": failed,
        "isSystem": False,
        "message": job.error if failed else None,
        "errorType": "UNKNOWN" if failed else None,
        "queuePosition": sim.position(job),
        "created": iso(sim.now()),
    }


def user_event(sim: Simulator, user_id: str, prompt_id: str) -> dict[str, Any]:
    """A UserEvent (API.md §6.2); `queue` holds Get Pending's items."""
    return {"eventType": "QUEUE_CHANGE", "queue": sim.pending_items(user_id), "promptId": prompt_id}


def create_response(job: Job) -> dict[str, Any]:
    return {"promptId": job.prompt_id, "seed": job.seed, "promptContainer": {"promptId": job.prompt_id, "medias": []}}
