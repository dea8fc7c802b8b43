"""Types of the operation table: one `Operation` per AliveAI operation, one `Field` per input.

The table (`operations.py`, `resources.py`) is data made of these types. Everything else reads it:
the client builds requests from it, `validate.py` checks values against it before anything is
sent, the node factory turns fields into widgets and tooltips, the simulator serves its routes.
Nothing here imports requests, torch or ComfyUI.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Field types, as the doc names them.
STRING = "string"
INTEGER = "integer"
NUMBER = "number"
BOOLEAN = "boolean"
OBJECT = "object"
ARRAY = "array"
BINARY = "binary"  # file bytes of a multipart part

# Where a field travels.
BODY = "body"
QUERY = "query"
PATH = "path"
FORM = "form"  # multipart part (Upload File)

# What an operation returns.
IMAGE = "IMAGE"          # a job whose result is one or more images
VIDEO = "VIDEO"          # a job whose result is a video
TEXT = "TEXT"            # {promptText}
TEXT_PAIR = "TEXT_PAIR"  # {promptText, negPrompt}
JSON = "JSON"            # a catalog, a list, an account: returned as parsed JSON
NOTHING = "NOTHING"      # no body shown in the doc (deletes)
UPLOAD = "UPLOAD"        # {mediaId, mediaType}
TOKEN = "TOKEN"          # {accessToken}
EVENTS = "EVENTS"        # documentation-only websocket placeholder: never called over HTTP

# How sure we are of a path or a key: the doc states it, public code shows it, or we guessed.
DOC = "doc"
CODE = "code"
INFERRED = "inferred"

SEED_PATTERN = r"^\d{1,18}$"

# Every integer of the doc is an int32: these bound any INTEGER field whose own limits are wider or absent.
INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1


@dataclass(frozen=True)
class Field:
    """One input of an operation (or of a nested request object).

    `name` is the wire name. Limits are the doc's; `None` means the doc shows none.
    `media` marks a media-id field and says which kind of media it takes, so nodes can offer
    an IMAGE / MASK / VIDEO socket for it and upload on the fly. `from_prompt` marks
    `createdFromPromptId`, which nodes fill from the upstream media handle of the media field
    named by `from_media` (Inpaint: the image, never the mask). `upload_flag` marks a boolean the
    node fills when left unset: true when that media was uploaded by the node (customImage).
    `only_with` is advice, not a limit: a value given with another model is sent, with a warning.
    """

    name: str
    type: str = STRING
    required: bool = False
    doc: str = ""
    where: str = BODY
    min_length: int | None = None
    max_length: int | None = None
    not_blank: bool = False
    pattern: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    enum: tuple[str, ...] = ()
    enum_name: str | None = None
    default: Any = None               # the doc's default
    suggest: Any = None               # our widget default where the doc gives none
    deprecated: bool = False
    media: str | None = None          # "image" | "mask" | "video"
    from_prompt: bool = False
    from_media: str | None = None     # with from_prompt: the media field whose prompt is sent
    upload_flag: bool = False         # a boolean the node sets to true when it uploaded the media
    shape: str | None = None          # nested object type (OBJECT, or ARRAY items)
    items: str | None = None          # scalar item type of an ARRAY without a shape
    min_items: int | None = None
    max_items: int | None = None
    key_evidence: str = DOC           # DOC, CODE or INFERRED: how we know the wire name
    only_with: tuple[str, tuple[str, ...]] | None = None  # (other field, values it must have)
    note: str = ""                    # our own remark (evidence, caveats); not doc text

    def limits(self) -> list[str]:
        """The field's limits in words, for tooltips and the README."""
        out: list[str] = []
        if self.type == INTEGER and self.minimum is None and self.maximum is None:
            out.append("int32")
        if self.min_length is not None and self.max_length is not None:
            out.append(f"{self.min_length}..{self.max_length} characters")
        elif self.max_length is not None:
            out.append(f"at most {self.max_length} characters")
        elif self.min_length is not None:
            out.append(f"at least {self.min_length} character" + ("s" if self.min_length > 1 else ""))
        if self.not_blank:
            out.append("not blank")
        if self.minimum is not None and self.maximum is not None:
            out.append(f"{_num(self.minimum)}..{_num(self.maximum)}")
        elif self.minimum is not None:
            out.append(f">= {_num(self.minimum)}")
        elif self.maximum is not None:
            out.append(f"<= {_num(self.maximum)}")
        if self.pattern:
            out.append(f"pattern {self.pattern}")
        if self.min_items is not None or self.max_items is not None:
            out.append(f"{self.min_items or 0}..{self.max_items if self.max_items is not None else 'n'} items")
        if self.enum:
            out.append("one of " + ", ".join(self.enum))
        return out


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


@dataclass(frozen=True)
class Shape:
    """A nested request object (PoseRequest, FaceSwapRequest, ...). The doc does not expand
    them, so their fields come from public code or are inferred: `evidence` says which."""

    name: str
    fields: tuple[Field, ...]
    evidence: str = INFERRED
    doc: str = ""

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name!r}")


@dataclass(frozen=True)
class Operation:
    """One AliveAI operation: the doc's name, where it lives, what it takes, what it returns."""

    key: str                    # our unique id, snake_case (doc names repeat)
    number: int                 # the doc's order, #1..#52 in API.md
    name: str                   # the doc's name, e.g. "Create Prompt"
    group: str                  # the doc's group, e.g. "Prompts", "Llm"
    method: str
    path: str                   # may hold {pathParam}
    evidence: str               # DOC, CODE or INFERRED, for the method + path
    returns: str
    category: str               # node category below AliveAI/: Generate, Edit, Video, Prompt, ...
    fields: tuple[Field, ...] = ()
    prompt_type: str | None = None   # PromptType a create produces
    echo: str | None = None          # request-echo key of the PromptContainer
    doc: str = ""                    # the doc's description text
    auth: bool = True
    multipart: bool = False
    note: str = ""

    @property
    def is_job(self) -> bool:
        return self.prompt_type is not None

    @property
    def callable(self) -> bool:
        return self.returns != EVENTS

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name!r}")

    def fields_in(self, where: str) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.where == where)

    @property
    def media_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.media)

    @property
    def expected_media(self) -> str | None:
        """The media type whose presence means the job is complete (API.md §7.1)."""
        if self.returns in (IMAGE, VIDEO):
            return self.returns
        return None
