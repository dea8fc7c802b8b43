"""Node classes for the create operations, made from the operation table.

Each class is three attributes over `JobNode`: the operation, its node key and its display
name. Inputs, tooltips, validation and outputs all come from the table entry.
"""
from __future__ import annotations

from ..api import JOBS, overrides
from ..api.schema import VIDEO, Operation
from ..errors import AliveAIError, LocalStateError
from . import runtime, session
from .handles import MEDIA
from .outputs import image_outputs, video_outputs
from .widgets import input_types, queue_check

# Node names that differ from the doc's: two that read better for the core operations (API.md
# calls them "Create Image Generation" and "Create Video Generation"), and two that the doc gives
# to two operations each (#31/#33 "Get Custom Clothes", #48/#51 "Get Templates"), since node
# keys must be unique.
NAMES = {"create_prompt": "Create Image", "create_image_to_video": "Image To Video",
         "get_custom_clothes_by_id": "Get Custom Clothes By Id", "get_video_templates": "Get Video Templates"}


def node_key(op: Operation) -> str:
    name = NAMES.get(op.key, op.name)
    return "AliveAI" + "".join(w[:1].upper() + w[1:] for w in name.replace("-", " ").split())


def display_name(op: Operation) -> str:
    return f"{NAMES.get(op.key, op.name)} (AliveAI)"


class JobNode:
    OP: Operation
    FUNCTION = "run"
    RUNNING_TIMEOUT: float | None = 1800.0   # running time only; the queue wait is never counted.
    # The running_timeout preference (read at run time) overrides it; see runtime.running_timeout.

    @classmethod
    def INPUT_TYPES(cls):
        return input_types(cls.OP)

    @classmethod
    def VALIDATE_INPUTS(cls, **kwargs):
        return queue_check(cls.OP, cls.LABEL, kwargs)

    async def run(self, unique_id=None, **kwargs):
        limit = runtime.running_timeout(self.RUNNING_TIMEOUT, self.LABEL)
        return await runtime.run_in_thread(run_and_decode, self.OP, self.LABEL, kwargs, unique_id,
                                           running_timeout=limit)


def run_and_decode(op: Operation, label: str, kwargs: dict, node_id: str | None, *, stop, running_timeout) -> dict:
    """The run and the decoding of its result, both in the worker thread: decoding on the prompt's
    event loop would hold up every other remote node of the graph."""
    out = runtime.execute(op, label, kwargs, node_id, stop, running_timeout)
    make = video_outputs if op.returns == VIDEO else image_outputs
    store = session.store()
    try:
        result = make(store, out.refs, out.files, out.prompt_ids)
        # The final status line, shown by js/previews.js: the frontend (1.58) deletes progress text
        # when the run ends, and ComfyUI re-sends a node's ui for cached runs.
        result["ui"]["aliveai_status"] = [out.summary]
        return result
    except AliveAIError as e:   # e.g. a result over the pixel limit: its own message, plus the job
        if not e.hint:
            e.hint = LocalStateError.KEPT
        raise e.with_context(prompt_id=out.prompt_ids).for_node(label, own=op.name) from None
    except Exception as e:  # broad on purpose: a paid result that cannot be decoded names its job, file kept
        folder = out.files[0].parent if out.files else store.root
        raise runtime.local_failure(label, out.prompt_ids, f"the result in {folder} could not be decoded", e,
                                    folder) from e


def make_job_node(op: Operation) -> type:
    returns = ("VIDEO" if op.returns == VIDEO else "IMAGE", MEDIA, "STRING", "STRING")
    first = "video" if op.returns == VIDEO else "image"
    attrs = {
        "OP": op,
        "LABEL": display_name(op),
        "CATEGORY": f"AliveAI/{op.category}",
        "DESCRIPTION": (op.doc or op.name) + f". AliveAI operation {op.name} ({op.method} {op.path}). "
                       "Paid job: results are saved under output/aliveai/<prompt_id>/."
                       + overrides.describe(op, session.start_routes()),
        "RETURN_TYPES": returns,
        "RETURN_NAMES": (first, "media", "media_id", "prompt_id"),
        "OUTPUT_TOOLTIPS": (
            f"The result {first}" + (" (all results of a batch, in order)." if first == "image" else "."),
            "Media handle: connect it to the next AliveAI node to chain without re-upload.",
            "Media id(s) of the result, comma-separated.",
            "The AliveAI prompt_id(s): Load Result (AliveAI) fetches the result again without a new job.",
        ),
    }
    return type(node_key(op), (JobNode,), attrs)


JOB_NODES: dict[str, type] = {node_key(op): make_job_node(op) for op in JOBS}
JOB_DISPLAY: dict[str, str] = {node_key(op): display_name(op) for op in JOBS}
