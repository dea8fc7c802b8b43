"""The operation table: every AliveAI operation of the doc (API.md #1..#52), as data.

`OPERATIONS` is ordered by the doc's numbering; `operation(key)` finds one by our key.
`prepare(op, values)` validates values and builds the request parts.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .operations import CREATES
from .resources import RESOURCES
from .schema import Field, Operation, Shape
from .shapes import SHAPES
from .validate import Prepared
from .validate import prepare as _prepare

OPERATIONS: tuple[Operation, ...] = tuple(sorted(CREATES + RESOURCES, key=lambda o: o.number))
BY_KEY: dict[str, Operation] = {o.key: o for o in OPERATIONS}
BY_PROMPT_TYPE: dict[str, Operation] = {o.prompt_type: o for o in OPERATIONS if o.prompt_type}
JOBS: tuple[Operation, ...] = tuple(o for o in OPERATIONS if o.is_job)


def operation(key: str) -> Operation:
    try:
        return BY_KEY[key]
    except KeyError:
        raise KeyError(f"no AliveAI operation {key!r}") from None


def prepare(op: Operation | str, values: Mapping[str, Any]) -> Prepared:
    return _prepare(operation(op) if isinstance(op, str) else op, values, SHAPES)


__all__ = ["OPERATIONS", "BY_KEY", "BY_PROMPT_TYPE", "JOBS", "SHAPES", "Field", "Operation", "Shape", "Prepared",
           "operation", "prepare"]
