"""What following a job yields: small typed statuses, in the order a job goes through them.

Queued(position), Running(progress), Notice(text) and Waiting (a heartbeat while the API says
nothing), then Completed(medias) or Failed(error). `status_of` reads the queue position and
progress of a websocket event or a pending-queue item, which may come as strings or be absent.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import AliveAIError
from .results import Media


@dataclass(frozen=True)
class Queued:
    position: int | None


@dataclass(frozen=True)
class Running:
    progress: float  # 0..100


@dataclass(frozen=True)
class Notice:
    text: str


@dataclass(frozen=True)
class Waiting:
    mode: str          # "websocket" or "polling"
    elapsed: float     # seconds since following began


@dataclass(frozen=True)
class Completed:
    medias: tuple[Media, ...]          # the result medias (expected type, inputs removed)
    all_medias: tuple[Media, ...]
    container: dict = field(repr=False, default_factory=dict)


@dataclass(frozen=True)
class Failed:
    error: AliveAIError


Event = Queued | Running | Notice | Waiting | Completed | Failed



def status_of(position: Any, progress: Any) -> Queued | Running | None:
    try:
        pos = int(position) if position is not None else None
    except (TypeError, ValueError):
        pos = None
    try:
        prog = float(progress) if progress is not None else None
    except (TypeError, ValueError):
        prog = None
    if pos is not None and pos > 0:
        return Queued(pos)
    if prog is not None:
        return Running(max(0.0, min(100.0, prog)))
    if pos == 0:
        return Running(0.0)
    return None
