"""Check values against the table and split them into a request, before anything is sent.

`prepare(op, values, shapes)` is the only way a request gets built, so every limit of the doc
(lengths, ranges, patterns, enums, required fields, array sizes, nested objects) is checked
locally and a bad value costs no credit. Optional fields that are unset (None, "" or []) are
left out of the request: the doc's arrays need at least one item and its strings have limits,
so an empty value would be rejected or misread by the API. Every integer is an int32 in the doc,
so one outside [-2^31, 2^31-1] is refused whatever the field's own limits (ComfyUI skips its
min/max checks for our nodes, whose VALIDATE_INPUTS takes **kwargs). A field's `only_with` is
the doc's description of when it applies, not a limit: it gives a warning, never a refusal.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ..errors import ValidationError
from .schema import (ARRAY, BINARY, BODY, BOOLEAN, FORM, INT32_MAX, INT32_MIN, INTEGER, NUMBER, OBJECT, PATH, QUERY,
                     STRING, Field, Operation, Shape)


@dataclass(frozen=True)
class Prepared:
    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    json: dict[str, Any] | None
    form: dict[str, Any] | None
    warnings: tuple[str, ...] = ()   # sent anyway: e.g. a field the doc says applies only with another model


def is_unset(value: Any) -> bool:
    return value is None or (isinstance(value, (str, list, tuple)) and len(value) == 0)


def prepare(op: Operation, values: Mapping[str, Any], shapes: Mapping[str, Shape]) -> Prepared:
    """Validate `values` (wire names) for `op` and build the request parts."""
    known = {f.name for f in op.fields}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValidationError(f"unknown field(s) {', '.join(map(repr, unknown))}; "
                              f"known: {', '.join(sorted(known)) or 'none'}",
                              operation=op.name, field=unknown[0], limit="known fields")
    warnings: list[str] = []
    clean = check_fields(op.name, op.fields, values, shapes, prefix="", warnings=warnings)
    path = op.path
    query: list[tuple[str, str]] = []
    body: dict[str, Any] = {}
    form: dict[str, Any] = {}
    for f in op.fields:
        if f.name not in clean:
            continue
        v = clean[f.name]
        if f.where == PATH:
            path = path.replace("{" + f.name + "}", path_segment(v))
        elif f.where == QUERY:
            for item in (v if isinstance(v, (list, tuple)) else [v]):
                query.append((f.name, _query_text(item)))
        elif f.where == FORM:
            form[f.name] = v
        else:
            body[f.name] = v
    has_body = any(f.where == BODY for f in op.fields)
    return Prepared(op.method, path, tuple(query), body if has_body else None, form if op.multipart else None,
                    tuple(warnings))


def _query_text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def check_fields(opname: str, fields: tuple[Field, ...], values: Mapping[str, Any],
                 shapes: Mapping[str, Shape], prefix: str, partial: bool = False,
                 warnings: list[str] | None = None) -> dict[str, Any]:
    """Check `values` against `fields`. With `partial`, fields absent from `values` are not
    checked (at queue time a linked input has no value yet); a present but empty required
    field is still refused. A field set where the doc says it does not apply (`only_with`) is
    kept, and a warning is added to `warnings`."""
    out: dict[str, Any] = {}
    for f in fields:
        if partial and f.name not in values:
            continue
        label = prefix + f.name
        v = values.get(f.name)
        if is_unset(v):
            if f.required:
                raise ValidationError(f"'{label}' is required", operation=opname, field=label, limit="required")
            continue
        out[f.name] = check_value(opname, f, v, shapes, label)
    for f in fields:
        if f.only_with and f.name in out:
            other, allowed = f.only_with
            if partial and other not in out:
                continue
            if out.get(other) not in allowed and warnings is not None:
                warnings.append(f"{opname}: '{prefix + f.name}' applies only when '{prefix + other}' is "
                                f"{' or '.join(allowed)} (it is {out.get(other)!r}); sent anyway, AliveAI may "
                                "ignore it")
    return out


def check_value(opname: str, f: Field, v: Any, shapes: Mapping[str, Shape], label: str) -> Any:
    def fail(what: str, limit: str):
        raise ValidationError(f"'{label}' {what}", operation=opname, field=label, limit=limit)

    if f.type == STRING:
        if not isinstance(v, str):
            fail(f"must be text, got {type(v).__name__}", "string")
        if f.enum and v not in f.enum:
            fail(f"must be one of {', '.join(f.enum)} (got {v!r})", "enum")
        if f.not_blank and not v.strip():
            fail("must not be blank", "not blank")
        if f.min_length is not None and len(v) < f.min_length:
            fail(f"must be at least {f.min_length} characters (got {len(v)})", f"min length {f.min_length}")
        if f.max_length is not None and len(v) > f.max_length:
            fail(f"must be at most {f.max_length} characters (got {len(v)})", f"max length {f.max_length}")
        if f.pattern and not re.fullmatch(f.pattern, v):
            fail(f"must match {f.pattern} (got {v!r})", f"pattern {f.pattern}")
        return v
    if f.type in (INTEGER, NUMBER):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            fail(f"must be a number, got {type(v).__name__}", f.type)
        if f.type == INTEGER:
            if isinstance(v, float):
                if not v.is_integer():
                    fail(f"must be a whole number (got {v})", "integer")
                v = int(v)
            if not INT32_MIN <= v <= INT32_MAX:
                fail(f"must fit a 32-bit integer, {INT32_MIN}..{INT32_MAX} (got {v})", "int32")
        elif not math.isfinite(v):
            fail(f"must be a finite number (got {v})", "finite")
        if f.minimum is not None and v < f.minimum:
            fail(f"must be at least {_n(f.minimum)} (got {v})", f"minimum {_n(f.minimum)}")
        if f.maximum is not None and v > f.maximum:
            fail(f"must be at most {_n(f.maximum)} (got {v})", f"maximum {_n(f.maximum)}")
        return v
    if f.type == BINARY:
        if not isinstance(v, (bytes, bytearray, memoryview)):
            fail(f"must be file bytes, got {type(v).__name__}", "binary")
        return v
    if f.type == BOOLEAN:
        if not isinstance(v, bool):
            fail(f"must be true or false, got {type(v).__name__}", "boolean")
        return v
    if f.type == OBJECT:
        if not isinstance(v, Mapping):
            fail(f"must be an object, got {type(v).__name__}", "object")
        return _check_shape(opname, f, v, shapes, label)
    if f.type == ARRAY:
        if not isinstance(v, (list, tuple)):
            fail(f"must be a list, got {type(v).__name__}", "array")
        if f.min_items is not None and len(v) < f.min_items:
            fail(f"needs at least {f.min_items} item(s) (got {len(v)})", f"min items {f.min_items}")
        if f.max_items is not None and len(v) > f.max_items:
            fail(f"takes at most {f.max_items} items (got {len(v)})", f"max items {f.max_items}")
        items = []
        for i, item in enumerate(v):
            sub = f"{label}[{i}]"
            if f.shape:
                if not isinstance(item, Mapping):
                    raise ValidationError(f"'{sub}' must be an object", operation=opname, field=sub, limit="object")
                items.append(_check_shape(opname, f, item, shapes, sub))
            else:
                scalar = Field(f.name, type=f.items or STRING, enum=f.enum, enum_name=f.enum_name)
                items.append(check_value(opname, scalar, item, shapes, sub))
        return items
    raise AssertionError(f"table error: {label} has unknown type {f.type!r}")


def _check_shape(opname: str, f: Field, v: Mapping, shapes: Mapping[str, Shape], label: str) -> dict:
    shape = shapes[f.shape] if f.shape else None
    if shape is None:
        return dict(v)
    known = {g.name for g in shape.fields}
    unknown = sorted(set(v) - known)
    if unknown:
        raise ValidationError(f"'{label}' has unknown key(s) {', '.join(map(repr, unknown))} for {shape.name}",
                              operation=opname, field=label, limit=shape.name)
    return check_fields(opname, shape.fields, v, shapes, prefix=label + ".")


def _n(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def path_segment(value: Any) -> str:
    """A path parameter as one URL segment: every reserved character quoted, and a value of only
    dots (an id like `..` from a hostile API) spelled %2E, or clients and proxies would read it
    as "the parent path" and call another endpoint."""
    text = quote(str(value), safe="")
    return text.replace(".", "%2E") if text.strip(".") == "" else text
