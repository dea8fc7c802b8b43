"""What each catalog is (its operation, its nouns for messages) and how its answers read: short,
normalized entries `{id, name, thumb, group}` (poses may add `type`).

The doc shows almost no item shapes (API.md §3.6-3.8, §5.7), so every field is looked up under
the names public code uses and anything unexpected is skipped, never raised on: an odd answer
gives a shorter list, not a broken picker or a blocked run. Thumbnails must be http(s) URLs: the
browser loads them.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..client import AliveAIClient

MAX_PROFILE_PAGES = 20   # per listing (own, public); the page size is the API's (10 in the simulator)
MAX_NAME = 120           # a clothes prompt can be long; the picker shows one line


@dataclass(frozen=True)
class Kind:
    key: str        # the route's name for it
    op: str         # the table's operation
    source: str     # the catalog's node name, for messages
    noun: str       # one item, for messages
    group: str      # the group of items that name none


KINDS: dict[str, Kind] = {k.key: k for k in (
    Kind("poses", "get_poses", "Get Poses", "pose", "Poses"),
    Kind("custom_poses", "get_custom_poses", "Get Custom Poses", "pose", "Custom poses"),
    Kind("clothes", "get_public_clothes", "Get Public Clothes", "clothes", "Public clothes"),
    Kind("custom_clothes", "get_custom_clothes", "Get Custom Clothes", "clothes", "Custom clothes"),
    Kind("templates", "get_templates", "Get Templates", "LoRA", "LoRAs"),
    Kind("edit_templates", "get_edit_templates", "Get Edit Templates", "edit LoRA", "Creative"),
    Kind("edit_templates_realism", "get_edit_templates_realism", "Get Edit Templates Realism", "edit LoRA",
         "Realism"),
    Kind("video_templates", "get_video_templates", "Get Video Templates", "video LoRA", "Video"),
    Kind("ltx_video_templates", "get_ltx_video_templates", "Get Ltx Video Templates", "video LoRA", "LTX video"),
    Kind("profiles", "get_profiles", "Get Profiles For User", "profile", "Profiles"),
)}

class UnknownCatalog(KeyError):
    pass


def kind_of(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise UnknownCatalog(name) from None


ID_KEYS = ("id", "clothesId", "poseId", "templateId", "profileId", "uuid", "_id")
NAME_KEYS = ("name", "title", "label", "displayName", "clothesPrompt", "additionalPrompt", "templatePrompt",
             "prompt", "description")
THUMB_KEYS = ("imageUrl", "image", "thumbnailUrl", "thumbnail", "thumbUrl", "clothesImageUrl", "previewUrl",
              "preview", "profileImageUrl", "avatarUrl", "coverUrl", "url")
GROUP_KEYS = ("category", "group")
LIST_KEYS = ("items", "content", "data", "results", "templates", "clothes", "poses", "profiles")


def as_text(value: Any) -> str | None:
    """A usable id or label: a non-empty string or an integer (never a bool, a float or an object)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        text = " ".join(value.split())
        return text or None
    return None


def _url(value: Any) -> str:
    """An http(s) picture URL, or "" (the browser loads it: no javascript:, no file paths)."""
    if isinstance(value, dict):
        value = value.get("url") or value.get("src")
    if isinstance(value, str) and re.match(r"^https?://[^\s]+$", value.strip(), re.IGNORECASE):
        return value.strip()
    return ""


def _first(item: dict, keys: Iterable[str], convert: Callable[[Any], Any]) -> Any:
    for k in keys:
        v = convert(item.get(k))
        if v:
            return v
    return None


def normalize_item(raw: Any, group: str, fallback_id: Any = None) -> dict[str, Any] | None:
    """One entry, or None when it has no id."""
    if not isinstance(raw, dict):
        ident = as_text(raw)  # a bare id
        return {"id": ident, "name": ident, "thumb": "", "group": group} if ident else None
    ident = _first(raw, ID_KEYS, as_text) or as_text(fallback_id)
    if not ident:
        return None
    name = _first(raw, NAME_KEYS, as_text) or ident
    if len(name) > MAX_NAME:
        name = name[:MAX_NAME - 1].rstrip() + "\u2026"
    return {"id": ident, "name": name, "thumb": _first(raw, THUMB_KEYS, _url) or "",
            "group": _first(raw, GROUP_KEYS, as_text) or group}


def _items(body: Any) -> list[tuple[Any, Any]]:
    """(item, fallback id) pairs of a list answer: a list, a list under a usual key, or an
    object of objects (keyed by id)."""
    if isinstance(body, list):
        return [(x, None) for x in body]
    if not isinstance(body, dict):
        return []
    for k in LIST_KEYS:
        if isinstance(body.get(k), list):
            return [(x, None) for x in body[k]]
    return [(v, k) for k, v in body.items() if isinstance(v, dict)]


def _unique(entries: Iterable[dict | None]) -> list[dict]:
    seen, out = set(), []
    for e in entries:
        if e is not None and e["id"] not in seen:
            seen.add(e["id"])
            out.append(e)
    return out


def normalize_list(body: Any, group: str) -> list[dict]:
    return _unique(normalize_item(x, group, k) for x, k in _items(body))


def category_title(key: str) -> str:
    """`posesAllFours` -> "All Fours"; `standing` -> "Standing"."""
    stem = re.sub(r"^poses(?=[A-Z_])", "", str(key)).strip("_") or str(key)
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", stem).replace("_", " ").split()
    return " ".join(w[:1].upper() + w[1:] for w in words)


def normalize_poses(body: Any) -> list[dict]:
    """Get Poses (#43): an object with one key per category (posesStanding, ...). A category may
    be `{type, poses: [...]}`, a list, or an object of objects; the category becomes the group
    and its `type` (if any) the entries' type, so the picker can fill the Pose node's type."""
    if not isinstance(body, dict):
        return normalize_list(body, KINDS["poses"].group)
    out: list[dict | None] = []
    for key, value in body.items():
        if not isinstance(value, (dict, list)):
            continue
        group = category_title(key)
        kind = as_text(value.get("type")) if isinstance(value, dict) else None
        poses = value.get("poses") if isinstance(value, dict) else None
        inner = poses if isinstance(poses, (list, dict)) else value
        for raw, fallback in _items(inner):
            entry = normalize_item(raw, group, fallback)
            own = as_text(raw.get("type")) if isinstance(raw, dict) else None
            if entry is not None and (own or kind):
                entry["type"] = own or kind
            out.append(entry)
    return _unique(out)


def fetch_profiles(client: AliveAIClient) -> list[dict]:
    """The user's own profiles, then everyone's (#47), page by page while `hasNextPage` says
    so, up to MAX_PROFILE_PAGES each; a page that brings nothing new ends a listing early."""
    out: list[dict] = []
    seen: set[str] = set()
    for public, group in ((False, "My profiles"), (True, "Public profiles")):
        for page in range(MAX_PROFILE_PAGES):
            body = client.call("get_profiles", page=page, public=public)
            new = [e for e in normalize_list(body.get("profiles") if isinstance(body, dict) else body, group)
                   if e["id"] not in seen]
            seen.update(e["id"] for e in new)
            out += new
            if not new or not (isinstance(body, dict) and body.get("hasNextPage") is True):
                break
    return out


def fetch(kind: str, client: AliveAIClient) -> list[dict]:
    k = kind_of(kind)
    if k.key == "profiles":
        return fetch_profiles(client)
    return normalize(kind, client.call(k.op))


def normalize(kind: str, body: Any) -> list[dict]:
    """The entries of one catalog answer (not profiles: those come page by page)."""
    k = kind_of(kind)
    entries = normalize_poses(body) if k.key == "poses" else normalize_list(body, k.group)
    if k.key == "custom_poses":
        for e in entries:
            e["type"] = "CUSTOM"   # the type public code sends with a custom pose [inferred]
    return entries
