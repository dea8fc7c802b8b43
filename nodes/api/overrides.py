"""Per-operation method/path overrides, so a wrong guess in the table is fixed without a code edit.

Most paths of the table are inferred. A user whose API check (`python -m nodes.doctor`) finds
one missing stores the right one in the pack's config file (key "paths") or, headless, in the
environment variable ALIVEAI_PATHS (JSON; it wins over the file per operation). Both take
`{"op_key": "/new/path"}` or `{"op_key": "METHOD /new/path"}`.

Why the checks are strict: the path is appended to the API host and the request carries the key.
A path like `@evil.example/x` or `//evil.example/x` would move the request, and the key, to another
host. So an override is a plain absolute path of safe segments, no `.`/`..` segments, no query,
and the same `{parameters}` as the table's path (they are filled the same way). Only callable
operations (not the documentation-only websockets) can be overridden.

`ALTERNATIVES` lists known other guesses per operation: the check tries them when the table's
path answers 404/405 and proposes the first one that exists.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ..errors import ConfigError
from .schema import Operation

ENV = "ALIVEAI_PATHS"
CONFIG_KEY = "paths"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_SEGMENT = r"(?:[A-Za-z0-9_~-][A-Za-z0-9._~-]*|\{[A-Za-z][A-Za-z0-9_]*\})"
_PATH = re.compile(rf"/{_SEGMENT}(?:/{_SEGMENT})*")
_PARAM = re.compile(r"\{([A-Za-z][A-Za-z0-9_]*)\}")
MAX_PATH = 200

# Known other guesses (method, path) per operation, tried in order when the table's path is missing.
ALTERNATIVES: dict[str, tuple[tuple[str, str], ...]] = {
    "create_after_face_swap": (("POST", "/prompts/face-swap"),),
    "create_character_image": (("POST", "/prompts/character"),),
    "create_character_training_data": (("POST", "/prompts/training-data"),),
    "create_face": (("POST", "/prompts/create-face"),),
    "edit_eyes": (("POST", "/prompts/improve-eyes"), ("POST", "/prompts/eye-improve")),
    "upscale_image": (("POST", "/prompts/edit-upscale-image"), ("POST", "/prompts/upscale")),
    "edit_video_extend": (("POST", "/prompts/extend-video"),),
    "edit_video_increase_fps": (("POST", "/prompts/increase-fps"),),
    "create_enhance_image": (("POST", "/prompts/edit-enhance"),),
    "create_face_improve_prompt": (("POST", "/prompts/improve-face"),),
    "inpaint_google": (("POST", "/prompts/google-inpaint"),),
    "delete_from_queue": (("DELETE", "/prompts/queue"), ("DELETE", "/prompts")),
    "create_video_prompt": (("POST", "/prompts/video-expression"),),
    "upload_file": (("POST", "/uploads"), ("POST", "/media/upload")),
    "get_public_clothes": (("GET", "/clothes/public"),),
    "generate_character_builder_prompt": (("POST", "/llm/generate-character-builder-prompt"),),
    "generate_character_prompt": (("POST", "/llm/generate-character-prompt"),),
    "get_clothes_description": (("GET", "/llm/generate-clothes-description/{clothesId}"),),
    "generate_prompt": (("POST", "/llm/generate-prompt"),),
    "generate_update_prompt": (("POST", "/llm/generate-update-prompt"),),
    "generate_video_prompt": (("POST", "/llm/generate-video-prompt"),),
    "generate_vision_prompt": (("POST", "/llm/generate-vision-prompt"),),
    "me": (("GET", "/members"),),
    "get_edit_templates_realism": (("GET", "/templates/edit/realism"),),
    "get_video_templates": (("GET", "/templates/video"),),
    "get_ltx_video_templates": (("GET", "/templates/video/ltx"),),
}


def _bad(message: str) -> ConfigError:
    return ConfigError(message, hint="Fix or remove that path override; `python -m nodes.doctor` checks the paths.")


def params_of(path: str) -> set[str]:
    return set(_PARAM.findall(path))


def parse_route(op: Operation, value: Any, origin: str) -> tuple[str, str]:
    """(METHOD, /path) from "/path" or "METHOD /path", checked against `op`; ConfigError otherwise.
    The value is never echoed whole: it may hold anything a hostile page managed to store."""
    if not op.callable:
        raise _bad(f"{origin}: {op.name} ({op.key}) is documentation only and has no path to override")
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_PATH + 8:
        raise _bad(f"{origin}: the override of {op.key} must be \"/path\" or \"METHOD /path\"")
    method, _, path = value.strip().rpartition(" ")
    method = (method.strip() or op.method).upper()
    if method not in METHODS:
        raise _bad(f"{origin}: the override of {op.key} has an unknown method (use one of {', '.join(METHODS)})")
    path = path.strip()
    if len(path) > MAX_PATH or not _PATH.fullmatch(path) or path.startswith("//"):
        raise _bad(f"{origin}: the override of {op.key} is not a plain absolute path like /prompts/x "
                          "(letters, digits, - _ . ~ and {parameters} only; no host, query, '.' or '..')")
    if any(seg in (".", "..") or set(seg) == {"."} for seg in path.split("/")[1:]):
        raise _bad(f"{origin}: the override of {op.key} must not contain '.' or '..' segments")
    if params_of(path) != params_of(op.path):
        want = ", ".join("{" + p + "}" for p in sorted(params_of(op.path))) or "none"
        raise _bad(f"{origin}: the override of {op.key} must keep the path parameters of {op.path} ({want})")
    return method, path


def parse(raw: Any, origin: str, operations: Mapping[str, Operation]) -> dict[str, tuple[str, str]]:
    """{op_key: (METHOD, path)} from a JSON object of overrides; ConfigError naming `origin`."""
    if raw in (None, "", {}):
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise _bad(f"{origin} is not valid JSON (expected {{\"op_key\": \"/path\"}})") from None
    if not isinstance(raw, Mapping):
        raise _bad(f"{origin} must be a JSON object {{\"op_key\": \"/path\" or \"METHOD /path\"}}")
    out: dict[str, tuple[str, str]] = {}
    for key, value in raw.items():
        op = operations.get(key) if isinstance(key, str) else None
        if op is None:
            raise _bad(f"{origin}: {str(key)[:60]!r} is not an operation key (see python -m nodes.doctor)")
        out[key] = parse_route(op, value, origin)
    return out


def load(file: Mapping[str, Any], env: Mapping[str, str],
         operations: Mapping[str, Operation]) -> dict[str, tuple[str, str]]:
    """The effective overrides: the config file's "paths", then ALIVEAI_PATHS on top (per operation)."""
    out = parse(file.get(CONFIG_KEY), f'the "{CONFIG_KEY}" of the AliveAI config file', operations)
    out.update(parse(env.get(ENV), ENV, operations))
    # an override equal to the table is no override: it must not show up as one
    return {k: v for k, v in out.items() if v != (operations[k].method, operations[k].path)}


def to_config(routes: Mapping[str, tuple[str, str]], operations: Mapping[str, Operation]) -> dict[str, str]:
    """The config-file form: "/path", or "METHOD /path" when the method changes too."""
    return {k: (p if m == operations[k].method else f"{m} {p}") for k, (m, p) in sorted(routes.items())}


def apply(op: Operation, routes: Mapping[str, tuple[str, str]] | None) -> Operation:
    """`op` with its overridden method and path (or `op` itself when none)."""
    route = (routes or {}).get(op.key)
    if route is None or route == (op.method, op.path):
        return op
    method, path = route
    return replace(op, method=method, path=path, note=(op.note + "; " if op.note else "") + "path overridden")


def describe(op: Operation, routes: Mapping[str, tuple[str, str]] | None) -> str:
    """A sentence for a node's description when the user overrides this operation's path."""
    route = (routes or {}).get(op.key)
    if route is None:
        return ""
    return (f" Path override in use: {route[0]} {route[1]} instead of {op.method} {op.path} "
            f"(from the AliveAI config file or {ENV}; a change shows here after a restart).")
