"""Reading and checking a request against its operation in the table.

Path, query and JSON body values are gathered under their wire names, query strings are
converted to the field's type, unknown body keys are refused, and then the table's own
`check_fields` decides, exactly as the client does before sending. Media ids anywhere in the
request (top level or nested, like FaceSwapRequest.mediaIds) must name media the caller owns,
of the kind the field takes. Every refusal is a `Reply` (400) whose detail names the field.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ..api import SHAPES, Operation
from ..api.schema import ARRAY, BODY, BOOLEAN, FORM, INTEGER, NUMBER, OBJECT, PATH, QUERY, STRING, Field
from ..api.validate import check_fields
from ..errors import ValidationError
from . import catalog
from .state import Simulator, User


class Reply(Exception):
    """An error answer: `{"detail": detail}` with `status` (and extra headers)."""

    def __init__(self, status: int, detail: str, headers: Mapping[str, str] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = dict(headers or {})


def _convert(f: Field, kind: str, raw: str) -> Any:
    label = f.name
    if kind == INTEGER:
        if not re.fullmatch(r"-?\d+", raw.strip()):
            raise Reply(400, f"'{label}' must be a whole number (got {raw!r})")
        return int(raw)
    if kind == NUMBER:
        try:
            return float(raw)
        except ValueError:
            raise Reply(400, f"'{label}' must be a number (got {raw!r})") from None
    if kind == BOOLEAN:
        if raw.strip().lower() not in ("true", "false"):
            raise Reply(400, f"'{label}' must be true or false (got {raw!r})")
        return raw.strip().lower() == "true"
    return raw


def query_values(op: Operation, query: Any) -> dict[str, Any]:
    """Query parameters converted to their field types; arrays are repeated parameters."""
    out: dict[str, Any] = {}
    for f in op.fields_in(QUERY):
        if f.type == ARRAY:
            items = query.getall(f.name, [])
            if items:
                out[f.name] = [_convert(f, f.items or STRING, x) for x in items]
        elif f.name in query:
            out[f.name] = _convert(f, f.type, query[f.name])
    return out


def parse_body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise Reply(400, "Malformed JSON request body") from None
    if not isinstance(body, dict):
        raise Reply(400, "The request body must be a JSON object")
    return body


def check(op: Operation, path: Mapping[str, str], query: Mapping[str, Any], body: dict[str, Any] | None) -> dict:
    """The clean values of every non-multipart field, or Reply(400) naming the field."""
    values: dict[str, Any] = {f.name: path.get(f.name) for f in op.fields_in(PATH)}
    values.update(query)
    if body is not None:
        known = {f.name for f in op.fields_in(BODY)}
        unknown = sorted(set(body) - known)
        if unknown:
            raise Reply(400, f"Unknown field(s) {', '.join(map(repr, unknown))} for {op.name}; "
                             f"known: {', '.join(sorted(known))}")
        values.update(body)
    try:
        return check_fields(op.name, tuple(f for f in op.fields if f.where != FORM), values, SHAPES, prefix="")
    except ValidationError as e:
        raise Reply(400, e.message) from None


def _refs(fields: tuple[Field, ...], values: Mapping[str, Any], prefix: str):
    """(label, field, media id) for every media id in `values`, nested shapes included."""
    for f in fields:
        v = values.get(f.name)
        if v is None:
            continue
        label = prefix + f.name
        if f.media:
            if isinstance(v, list):
                for i, mid in enumerate(v):
                    yield f"{label}[{i}]", f, mid
            else:
                yield label, f, v
        elif f.shape and f.shape in SHAPES:
            sub = SHAPES[f.shape].fields
            if f.type == OBJECT and isinstance(v, Mapping):
                yield from _refs(sub, v, label + ".")
            elif f.type == ARRAY:
                for i, item in enumerate(v):
                    if isinstance(item, Mapping):
                        yield from _refs(sub, item, f"{label}[{i}].")


def check_references(sim: Simulator, user: User, op: Operation, values: Mapping[str, Any]) -> dict[str, list[str]]:
    """Refuse media ids the caller does not own or of the wrong kind, and unknown profiles.
    Returns {field label: media ids} of the top-level media fields, for the job's inputs."""
    inputs: dict[str, list[str]] = {}
    for label, f, mid in _refs(op.fields, values, ""):
        media = sim.media_for(user, mid)
        if media is None:
            raise Reply(400, f"'{label}' refers to unknown media {mid!r}")
        want = "VIDEO" if f.media == "video" else "IMAGE"
        if media.media_type != want:
            raise Reply(400, f"'{label}' must be {want} media (got {media.media_type})")
        inputs.setdefault(label.split("[")[0], []).append(mid)
    profile = values.get("profileId")
    if profile is not None and profile not in catalog.profile_ids(user.id):
        raise Reply(400, f"'profileId' refers to unknown profile {profile!r}")
    return inputs
