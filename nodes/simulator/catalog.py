"""Deterministic catalogs: clothes, poses, profiles and the five LoRA template lists.

The doc shows few item shapes (API.md §5.7), so items follow what public code reads: clothes
as `{clothesId, clothesPrompt, clothesImageUrl}` (#33), pose categories as
`{type, poses: [{id, image}]}`, custom poses as `{id, image, additionalPrompt}` (#46),
profiles and templates as `{id, name, imageUrl}`. Every picture URL points at the simulator's
own `/thumbs/...png`, so catalog nodes can show real previews offline. Ids are stable across
runs, so tests and saved workflows can name them.
"""
from __future__ import annotations

import hashlib
from typing import Any

PROFILE_PAGE_SIZE = 10

PUBLIC_CLOTHES: tuple[tuple[str, str], ...] = (
    ("clothes-summer-dress", "a light floral summer dress"),
    ("clothes-business-suit", "a tailored navy business suit with a white shirt"),
    ("clothes-leather-jacket", "a black leather biker jacket over a grey t-shirt and jeans"),
    ("clothes-red-gown", "a long red silk evening gown"),
    ("clothes-sportswear", "a matching blue running top and leggings"),
    ("clothes-winter-coat", "a camel wool winter coat with a knitted scarf"),
)
CUSTOM_CLOTHES: tuple[tuple[str, str], ...] = (
    ("custom-clothes-1", "a vintage denim jacket with embroidered patches"),
    ("custom-clothes-2", "a white linen shirt and beige chinos"),
    ("custom-clothes-3", "a green velvet cocktail dress"),
)
CUSTOM_POSES: tuple[tuple[str, str], ...] = (
    ("custom-pose-1", "leaning against a brick wall, arms crossed"),
    ("custom-pose-2", "sitting cross-legged on the floor, looking up"),
)
# (response key, PoseRequest type, id stem): the doc's eight keys (§3.6), the types one public
# client uses, and its id style (standing023, all_fours003, porn11).
POSE_CATEGORIES: tuple[tuple[str, str, str], ...] = (
    ("posesStanding", "STANDING", "standing"),
    ("posesLying", "LYING", "lying"),
    ("posesAllFours", "ALL_FOURS", "all_fours"),
    ("posesKneeling", "KNEELING", "kneeling"),
    ("posesSitting", "SITTING", "sitting"),
    ("posesSquatting", "SQUATTING", "squatting"),
    ("posesSuspended", "SUSPENDED", "suspended"),
    ("posesPorn", "PORN", "porn"),
)
POSES_PER_CATEGORY = 3
# Template lists per operation key of the table (#48..#52).
TEMPLATES: dict[str, tuple[tuple[str, str], ...]] = {
    "get_templates": (("tpl-film-grain", "Film Grain"), ("tpl-selfie", "Selfie"), ("tpl-studio-light", "Studio Light"),
                      ("tpl-golden-hour", "Golden Hour"), ("tpl-anime-lines", "Anime Lines"),
                      ("tpl-polaroid", "Polaroid")),
    "get_edit_templates": (("edit-creative-neon", "Neon Glow"), ("edit-creative-oil", "Oil Painting"),
                           ("edit-creative-comic", "Comic Ink"), ("edit-creative-dream", "Dreamy Haze")),
    "get_edit_templates_realism": (("edit-realism-skin", "Skin Texture"), ("edit-realism-hdr", "HDR Detail"),
                                   ("edit-realism-bokeh", "Bokeh"), ("edit-realism-film", "35mm Film")),
    "get_video_templates": (("video-slow-pan", "Slow Pan"), ("video-spin", "Spin 360"), ("video-walk", "Walk In"),
                            ("video-wind", "Wind In Hair"), ("video-zoom", "Dolly Zoom")),
    "get_ltx_video_templates": (("ltx-handheld", "Handheld"), ("ltx-timelapse", "Timelapse"),
                                ("ltx-orbit", "Orbit")),
}
_FIRST = ("Alma", "Bruno", "Chiara", "Dmitri", "Elena", "Felix", "Greta", "Hiro", "Ines", "Jonas", "Kaia", "Luca")
_LAST = ("Berg", "Costa", "Dahl", "Eriksen", "Fontaine", "Gallo", "Haas", "Ivanova")
PUBLIC_PROFILE_COUNT = 24
OWN_PROFILE_COUNT = 3


def thumb(base: str, group: str, item_id: str) -> str:
    return f"{base}/thumbs/{group}/{item_id}.png"


def clothes_item(base: str, clothes_id: str, prompt: str) -> dict[str, Any]:
    return {"clothesId": clothes_id, "clothesPrompt": prompt, "clothesImageUrl": thumb(base, "clothes", clothes_id)}


def public_clothes(base: str) -> list[dict[str, Any]]:
    return [clothes_item(base, i, p) for i, p in PUBLIC_CLOTHES]


def custom_pose_item(base: str, pose_id: str, prompt: str) -> dict[str, Any]:
    return {"id": pose_id, "image": thumb(base, "poses", pose_id), "additionalPrompt": prompt}


def poses(base: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, kind, stem in POSE_CATEGORIES:
        items = [f"{stem}{n:03d}" for n in range(1, POSES_PER_CATEGORY + 1)]
        out[key] = {"type": kind, "poses": [{"id": i, "image": thumb(base, "poses", i)} for i in items]}
    return out


def pose_ids() -> set[str]:
    return {f"{stem}{n:03d}" for _, _, stem in POSE_CATEGORIES for n in range(1, POSES_PER_CATEGORY + 1)}


def templates(base: str, op_key: str) -> list[dict[str, Any]]:
    return [{"id": i, "name": n, "imageUrl": thumb(base, "templates", i)} for i, n in TEMPLATES[op_key]]


def _profile(n: int, owner: str | None) -> dict[str, Any]:
    pid = f"profile-{n:03d}" if owner is None else f"profile-{owner}-{n}"
    name = f"{_FIRST[n % len(_FIRST)]} {_LAST[(n * 5) % len(_LAST)]}"
    likes = int(hashlib.sha256(pid.encode()).hexdigest()[:4], 16) % 500
    return {"id": pid, "name": name, "likes": likes, "order": n}


def profile_records(user_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(public profiles, the user's own) as internal records with sort keys."""
    return ([_profile(n, None) for n in range(1, PUBLIC_PROFILE_COUNT + 1)],
            [_profile(n, user_id) for n in range(1, OWN_PROFILE_COUNT + 1)])


def profile_ids(user_id: str) -> set[str]:
    public, own = profile_records(user_id)
    return {p["id"] for p in public + own}


def profiles(base: str, user_id: str, page: int, public: bool, sort: str | None) -> dict[str, Any]:
    """One page of Get Profiles For User: `public` true lists everyone's and the user's own
    profiles, false (or absent) only the user's (the doc's wording for #47)."""
    public_items, own = profile_records(user_id)
    items = own + public_items if public else own
    if sort == "TOP":
        items = sorted(items, key=lambda p: (-p["likes"], p["id"]))
    else:  # NEW, and the order when no sort is asked for
        items = sorted(items, key=lambda p: (-p["order"], p["id"]))
    start = page * PROFILE_PAGE_SIZE
    chunk = items[start:start + PROFILE_PAGE_SIZE]
    return {"profiles": [{"id": p["id"], "name": p["name"], "imageUrl": thumb(base, "profiles", p["id"])}
                         for p in chunk],
            "hasNextPage": start + PROFILE_PAGE_SIZE < len(items)}
