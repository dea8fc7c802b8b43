"""Result media as the API describes it (API.md §5.2): `medias[]` of `{id, mediaUrl, mediaType}`,
found at the top level of a PromptContainer or nested under `promptContainer`.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Media:
    id: str
    url: str
    type: str  # "IMAGE" or "VIDEO", upper-cased

    @classmethod
    def from_api(cls, item: dict) -> Media | None:
        if not isinstance(item, dict) or not item.get("id"):
            return None
        return cls(str(item["id"]), str(item.get("mediaUrl") or ""), str(item.get("mediaType") or "").upper())


def medias_of(container: Any) -> list[Media]:
    """All medias of a PromptContainer, a PromptEvent or a CreateResponse, in order."""
    if not isinstance(container, dict):
        return []
    items = container.get("medias")
    if not isinstance(items, list):
        inner = container.get("promptContainer")
        items = inner.get("medias") if isinstance(inner, dict) else None
    out = []
    for item in items or []:
        m = Media.from_api(item)
        if m:
            out.append(m)
    return out


def pick_results(medias: Iterable[Media], expected: str | None, exclude_ids: Iterable[str] = ()) -> list[Media]:
    """The medias that are this job's result: of the expected type, minus the job's own inputs
    (image-to-video lists the source IMAGE before the VIDEO; API.md §7.1)."""
    skip = set(exclude_ids)
    out = [m for m in medias if m.id not in skip and (expected is None or m.type == expected)]
    return out
