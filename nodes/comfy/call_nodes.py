"""Node classes for the AliveAI operations that are not jobs: the prompt list and queue, the
catalogs (clothes, poses, profiles, LoRA templates), the LLM prompt helpers and the account.

As with the job nodes, each class is a few attributes over `CallNode`, made from its table
entry: inputs, tooltips and queue-time checks come from the fields, outputs from the result kind
(TEXT and TEXT_PAIR give STRING outputs so they feed any text input; JSON gives the answer as
pretty JSON text, also shown on the node; NOTHING gives a status line). Three entries get no
node on purpose: Login (#41: credentials are settings, never widget values, which ComfyUI saves
into every workflow and image), Upload File (#29: that is the Upload node) and the two websocket
entries (documentation only).

Operations with a real quirk get one small named function each, in `SPECIAL`: Me never shows the
account's apiKey, Get Prompts also outputs its page's images. Deletes cannot be undone and these
nodes run whenever their graph is queued, so they need an explicit `confirm`: without it they
are refused when queued, and again at run time, before anything is sent.

Catalog and list nodes have no IS_CHANGED: a value that changes on every queue would also re-run
(and re-bill) every paid job downstream of them. Change a widget to refresh one.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..api import OPERATIONS, overrides
from ..api.schema import JSON, NOTHING, TEXT, TEXT_PAIR, Operation
from ..client import AliveAIClient
from ..client.results import medias_of
from ..errors import ValidationError
from ..redact import redact
from . import bridge, inputs, results, runtime, session
from .job_nodes import display_name, node_key
from .library_nodes import linked_outputs
from .outputs import preview_entries, result_images
from .widgets import input_types, media_slots, queue_check

# Callable non-job operations without a node of their own, and why.
NO_NODE = {
    "login": "credentials never come from widgets: set them in Settings > AliveAI or the environment",
    "upload_file": "the Upload (AliveAI) node",
}
CONFIRM = "confirm"
SECRET_KEYS = frozenset({"apikey", "accesstoken", "password"})  # never shown, whatever the API sends

OUTPUTS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    TEXT: (("STRING",), ("prompt",), ("The generated text; connect it to any text input.",)),
    TEXT_PAIR: (("STRING", "STRING"), ("prompt", "negative_prompt"),
                ("The generated text; connect it to any text input.", "The generated negative prompt.")),
    JSON: (("STRING",), ("json",), ("The answer as pretty-printed JSON text (also shown on the node).",)),
    NOTHING: (("STRING",), ("status",), ("What was done, in one line.",)),
}


def call_operations() -> tuple[Operation, ...]:
    return tuple(o for o in OPERATIONS if o.callable and not o.is_job and o.key not in NO_NODE)


def is_delete(op: Operation) -> bool:
    return op.method == "DELETE"


def refusal(op: Operation, label: str) -> ValidationError:
    return ValidationError(f"turn on '{CONFIRM}' to really {op.name.lower()} (it cannot be undone), or bypass "
                           "this node; nothing was sent", operation=label, field=CONFIRM, limit="confirm")


@dataclass
class Call:
    """One run of a call node, as the output functions see it."""

    op: Operation
    label: str
    client: AliveAIClient
    values: dict[str, Any]       # the request values, validated, media uploaded
    node_id: str | None
    prompt: dict | None          # the API-format prompt (only Get Prompts asks for it)
    stop: threading.Event


def to_json(body: Any) -> str:
    return redact(json.dumps(without_secrets(body), indent=2, ensure_ascii=False, default=str))


def without_secrets(body: Any) -> Any:
    if isinstance(body, dict):
        return {k: without_secrets(v) for k, v in body.items() if str(k).lower() not in SECRET_KEYS}
    if isinstance(body, list):
        return [without_secrets(v) for v in body]
    return body


def shown(text: str, result: tuple, status: str) -> dict:
    """The node's return value; `status` is taken out by execute_call and shown under the node."""
    return {"ui": {"text": [text]}, "result": result, "status": status}


def generic(c: Call) -> dict:
    op = c.op
    if op.returns in (TEXT, TEXT_PAIR):
        out = c.client.text(op.key, **c.values)
        texts = out if isinstance(out, tuple) else (out,)
        return shown("\n\n".join(texts), texts, f"{len(texts[0])} characters")
    body = c.client.call(op, c.values)
    if op.returns == NOTHING:
        what = ", ".join(f"{k} {v}" for k, v in c.values.items())
        status = f"{op.name}: done ({what})" if what else f"{op.name}: done"
        return shown(status, (status,), status)
    text = to_json(body)
    return shown(text, (text,), summary(body))


def summary(body: Any) -> str:
    """A status line for a JSON answer: how many items, where the answer has a list."""
    if isinstance(body, list):
        return f"{len(body)} item{'s' if len(body) != 1 else ''}"
    lists = [(k, v) for k, v in body.items() if isinstance(v, list)] if isinstance(body, dict) else []
    if lists:
        return f"{len(lists[0][1])} {lists[0][0]}"
    return f"{len(body)} fields" if isinstance(body, dict) else "done"


def me(c: Call) -> dict:
    """Me answers with the account's own apiKey (API.md §5.6): client.me() drops it, and the
    text passes `without_secrets` and `redact` as well."""
    account = c.client.me()
    text = to_json(account)
    credits = account.get("credits")
    return shown(text, (text,), f"credits {credits}" if credits is not None else "account read")


def get_prompts(c: Call) -> dict:
    """The page as JSON, plus each prompt's first IMAGE media as one IMAGE batch (and previews).
    The images land in the result store at the paths a full download of the prompt would use (so
    it reuses them), but without a sidecar: they are not the prompt's whole result, and Load Result
    must not take them for it."""
    body = c.client.call(c.op, c.values) or {}
    text = to_json(body)
    store = session.store()
    files = []
    containers = body.get("prompts") if isinstance(body, dict) else None
    for container in containers if isinstance(containers, list) else []:
        if c.stop.is_set() or bridge.is_interrupted():
            bridge.raise_interrupted()
        first = next(((i, m) for i, m in enumerate(medias_of(container)) if m.type == "IMAGE"), None)
        if first is not None and container.get("promptId"):
            _, paths = results.download_medias(c.label, c.client, store, str(container["promptId"]), [first])
            files += paths
    n = len(containers) if isinstance(containers, list) else 0
    if not files:
        if c.prompt is not None and 1 not in linked_outputs(c.prompt, c.node_id):
            return shown(text, (text, None), f"{n} prompts, no images")  # nobody reads the images
        raise ValidationError(f"page {c.values.get('page')} lists {n} prompt(s) and none has an image; "
                              "try another page or promptType, or disconnect the 'images' output",
                              operation=c.label, field="page")
    out = shown(text, (text, result_images(store, files)), f"{n} prompts, {len(files)} images")
    out["ui"]["images"] = preview_entries(store, files)
    return out


def get_profiles(c: Call) -> dict:
    """The page as JSON, plus the first profile's id: an empty page is an error only when
    something reads that id (it would otherwise reach Create Character Image as "")."""
    body = c.client.call(c.op, c.values) or {}
    text = to_json(body)
    listed = body.get("profiles") if isinstance(body, dict) else None
    listed = [p for p in listed if isinstance(p, dict)] if isinstance(listed, list) else []
    first = str(listed[0].get("id") or "") if listed else ""
    if not first and (c.prompt is None or 1 in linked_outputs(c.prompt, c.node_id)):
        raise ValidationError(f"page {c.values.get('page')} lists no profile with an id: turn on 'public' to list "
                              "everyone's, try page 0, or disconnect the 'first_id' output",
                              operation=c.label, field="page")
    return shown(text, (text, first), f"{len(listed)} profiles")


SPECIAL: dict[str, Callable[[Call], dict]] = {"me": me, "get_prompts": get_prompts, "get_profiles": get_profiles}
EXTRA_OUTPUTS = {"get_prompts": (("IMAGE",), ("images",), ("The first image of each prompt of the page, as one "
                                                            "batch (resized to the first one's size).",)),
                 # So an example (or a headless request) can make a character image with no id pasted.
                 "get_profiles": (("STRING",), ("first_id",), ("The id of the first profile of the page, for "
                                                               "Create Character Image's profileId.",))}


def execute_call(op: Operation, label: str, kwargs: dict, node_id: str | None, prompt: dict | None,
                 stop: threading.Event) -> dict:
    """The whole blocking run of a call node: check, upload a media input, call, shape outputs."""
    if is_delete(op) and kwargs.get(CONFIRM) is not True:
        raise refusal(op, label)
    client = runtime.require_client(label)
    warnings: list[str] = []
    jobs = inputs.plan(op, label, kwargs, client, warnings)   # every limit of the doc; no upload yet
    if len(jobs) > 1:
        slot = media_slots(op)[0]
        raise ValidationError(f"takes one image, got a batch of {len(jobs)}: pick one (e.g. with Image From Batch)",
                              operation=label, field=slot.tensor_input, limit="one image")
    values, _ = inputs.materialize(op, *jobs[0])
    out = SPECIAL.get(op.key, generic)(Call(op, label, client, values, node_id, prompt, stop))
    line = out.pop("status") + "".join(f" · warning: {w}" for w in warnings)
    bridge.send_text(line, node_id)
    out["ui"]["aliveai_status"] = [line]   # outlives the run, unlike the progress text (frontend 1.58)
    return out


class CallNode:
    OP: Operation
    LABEL: str
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        spec = input_types(cls.OP)
        if is_delete(cls.OP):
            spec["required"][CONFIRM] = ("BOOLEAN", {
                "default": False, "tooltip": f"Must be on: {cls.OP.name} cannot be undone. While off, queueing "
                                             "refuses this node and nothing is sent."})
        if cls.OP.key in EXTRA_OUTPUTS:
            spec["hidden"]["prompt"] = "PROMPT"   # to tell whether the extra outputs are connected
        return spec

    @classmethod
    def VALIDATE_INPUTS(cls, **kwargs):
        if is_delete(cls.OP) and kwargs.get(CONFIRM) is False:   # None: linked, checked at run time
            return str(refusal(cls.OP, cls.LABEL))
        return queue_check(cls.OP, cls.LABEL, kwargs)

    async def run(self, unique_id=None, prompt=None, **kwargs):
        return await runtime.run_in_thread(execute_call, self.OP, self.LABEL, kwargs, unique_id, prompt)


def make_call_node(op: Operation) -> type:
    types, names, tips = OUTPUTS[op.returns]
    extra = EXTRA_OUTPUTS.get(op.key, ((), (), ()))
    effect = "Deletes on AliveAI; needs 'confirm'." if is_delete(op) else \
        "Costs no job; the answer is cached until an input changes."
    attrs = {
        "OP": op,
        "LABEL": display_name(op),
        "CATEGORY": f"AliveAI/{op.category}",
        "DESCRIPTION": f"{op.doc or op.name}. AliveAI operation {op.name} ({op.method} {op.path}). {effect}"
                       + overrides.describe(op, session.start_routes()),
        "RETURN_TYPES": types + extra[0],
        "RETURN_NAMES": names + extra[1],
        "OUTPUT_TOOLTIPS": tips + extra[2],
        # Deletes have effects, and lists / the account are read for their own sake: all of them
        # may run alone. The LLM helpers only run when something reads their text.
        "OUTPUT_NODE": op.returns in (JSON, NOTHING),
    }
    return type(node_key(op), (CallNode,), attrs)


CALL_NODES: dict[str, type] = {node_key(op): make_call_node(op) for op in call_operations()}
CALL_DISPLAY: dict[str, str] = {node_key(op): display_name(op) for op in call_operations()}
