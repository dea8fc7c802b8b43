"""Media handles: what flows between AliveAI nodes so remote steps chain without re-upload.

A handle lists the media ids of a result (or an upload) with the prompt_id that produced them;
the next node fills `mediaId` and `createdFromPromptId` from it. It is a frozen dataclass:
ComfyUI keeps it in its output cache and shows `str()` of inputs in error reports, so it holds
no URL (they expire, and are signed) and no secret.
"""
from __future__ import annotations

from dataclasses import dataclass

MEDIA = "ALIVEAI_MEDIA"


@dataclass(frozen=True)
class MediaRef:
    media_id: str
    media_type: str              # "IMAGE" or "VIDEO"
    prompt_id: str | None = None  # None for uploads
    uploaded: bool = False


@dataclass(frozen=True)
class MediaHandle:
    items: tuple[MediaRef, ...]

    def __post_init__(self):
        if not self.items:
            raise ValueError("a media handle needs at least one media")

    @property
    def first(self) -> MediaRef:
        return self.items[0]

    @property
    def media_id(self) -> str:
        return self.first.media_id

    @property
    def prompt_id(self) -> str | None:
        return self.first.prompt_id

    def of_type(self, media_type: str) -> tuple[MediaRef, ...]:
        return tuple(r for r in self.items if r.media_type == media_type)

    def __str__(self) -> str:
        ids = ", ".join(r.media_id for r in self.items[:4]) + (" …" if len(self.items) > 4 else "")
        return f"AliveAI media [{ids}]" + (f" from prompt {self.prompt_id}" if self.prompt_id else "")
