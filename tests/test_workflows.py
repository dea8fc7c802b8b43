"""The example workflows of `workflows/` are tests too (GUIDE §1.3, §7.4).

Each file is checked as ComfyUI's frontend and server would see it: UI format, known node
types, widget values laid out as the frontend lays them out from INPUT_TYPES, links whose types
match on both ends, required inputs connected, every AliveAI node feeding an output node,
seeds on "fixed", no secret or machine path, a thumbnail beside it. Then the AliveAI part of
each file is executed against the simulator (tools/workflow_runner.py) exactly as shipped: no file
placed in input/, no id pasted (issue 13).

The widget layout here is computed independently of the generator and the runner on purpose:
it is the oracle both must agree with.
"""
from __future__ import annotations

import inspect
import json
import re
from collections import deque
from pathlib import Path

import pytest
import torch
from PIL import Image

from conftest import ROOT

from nodes.comfy import NODE_CLASS_MAPPINGS
from nodes.comfy.job_nodes import JobNode
from nodes.comfy.widgets import media_slots
from tools.workflow_runner import run_workflow

WORKFLOWS = ROOT / "workflows"
FILES = sorted(WORKFLOWS.glob("*.json"))
UI_KEYS = {"last_node_id", "last_link_id", "nodes", "links", "groups", "config", "extra", "version"}
CONTROL_VALUES = {"fixed", "increment", "decrement", "randomize"}
WIDGET_KINDS = {"INT", "FLOAT", "STRING", "BOOLEAN"}
INPUT_FILES = "<a file of ComfyUI's input folder>"  # LoadImage / LoadVideo list the folder at run time
MAX_RESOLUTION = 16384

# The core nodes the examples may use, with their INPUT_TYPES and RETURN_TYPES as ComfyUI
# v0.3.64 declares them (nodes.py, comfy_extras/nodes_post_processing.py, nodes_video.py,
# nodes_preview_any.py). "upload": the frontend adds an upload widget saved as "image".
CORE: dict[str, dict] = {
    "LoadImage": {"inputs": {"required": {"image": (INPUT_FILES, {"image_upload": True})}},
                  "returns": ("IMAGE", "MASK"), "upload": True},
    "LoadVideo": {"inputs": {"required": {"file": (INPUT_FILES, {"video_upload": True})}},
                  "returns": ("VIDEO",), "upload": True},
    "ImageScale": {"inputs": {"required": {
        "image": ("IMAGE",), "upscale_method": (["nearest-exact", "bilinear", "area", "bicubic", "lanczos"],),
        "width": ("INT", {"default": 512, "min": 0, "max": MAX_RESOLUTION, "step": 1}),
        "height": ("INT", {"default": 512, "min": 0, "max": MAX_RESOLUTION, "step": 1}),
        "crop": (["disabled", "center"],)}}, "returns": ("IMAGE",)},
    "ImageBlur": {"inputs": {"required": {
        "image": ("IMAGE",), "blur_radius": ("INT", {"default": 1, "min": 1, "max": 31, "step": 1}),
        "sigma": ("FLOAT", {"default": 1.0, "min": 0.1, "max": 10.0, "step": 0.1})}}, "returns": ("IMAGE",)},
    "SolidMask": {"inputs": {"required": {
        "value": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.01}),
        "width": ("INT", {"default": 512, "min": 1, "max": MAX_RESOLUTION, "step": 1}),
        "height": ("INT", {"default": 512, "min": 1, "max": MAX_RESOLUTION, "step": 1})}}, "returns": ("MASK",)},
    "MaskComposite": {"inputs": {"required": {
        "destination": ("MASK",), "source": ("MASK",),
        "x": ("INT", {"default": 0, "min": 0, "max": MAX_RESOLUTION, "step": 1}),
        "y": ("INT", {"default": 0, "min": 0, "max": MAX_RESOLUTION, "step": 1}),
        "operation": (["multiply", "add", "subtract", "and", "or", "xor"],)}}, "returns": ("MASK",)},
    "SaveImage": {"inputs": {"required": {"images": ("IMAGE",), "filename_prefix": ("STRING", {"default": "ComfyUI"})}},
                  "returns": (), "output": True},
    "PreviewImage": {"inputs": {"required": {"images": ("IMAGE",)}}, "returns": (), "output": True},
    "SaveVideo": {"inputs": {"required": {
        "video": ("VIDEO",), "filename_prefix": ("STRING", {"default": "video/ComfyUI"}),
        "format": (["auto", "mp4"], {"default": "auto"}), "codec": (["auto", "h264"], {"default": "auto"})}},
        "returns": (), "output": True},
    # Its preview widgets are frontend-only and not serialized: widgets_values stays empty.
    "PreviewAny": {"inputs": {"required": {"source": ("*", {})}}, "returns": (), "output": True},
}
NOTES = {"Note", "MarkdownNote"}   # frontend-only: never sent to the server; one text widget

CONTROL, UPLOAD, FILTER = "<control_after_generate>", "<upload>", "<control_filter>"


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def spec_of(kind: str) -> dict:
    return NODE_CLASS_MAPPINGS[kind].INPUT_TYPES() if kind in NODE_CLASS_MAPPINGS else CORE[kind]["inputs"]


def returns_of(kind: str) -> tuple:
    return tuple(NODE_CLASS_MAPPINGS[kind].RETURN_TYPES) if kind in NODE_CLASS_MAPPINGS else CORE[kind]["returns"]


def is_widget(kind, opts: dict) -> bool:
    return (isinstance(kind, list) or kind in WIDGET_KINDS or kind == INPUT_FILES) and not opts.get("forceInput")


def expected_slots(kind: str) -> list[tuple[str, object, dict]]:
    """(input name or a marker, type, options) per widgets_values slot, as the frontend saves them:
    required then optional widgets; +1 after an INT with a control (named seed/noise_seed unless
    switched off, or control_after_generate: True); +2 after a combo with one; +1 upload."""
    slots = []
    spec = spec_of(kind)
    for section in ("required", "optional"):
        for name, (k, *rest) in spec.get(section, {}).items():
            opts = rest[0] if rest else {}
            if not is_widget(k, opts):
                continue
            slots.append((name, k, opts))
            cag = opts.get("control_after_generate")
            if k == "INT" and (cag or (name in ("seed", "noise_seed") and cag is not False)):
                slots.append((CONTROL, name, {}))
            elif isinstance(k, list) and cag:
                slots += [(CONTROL, name, {}), (FILTER, name, {})]
    if CORE.get(kind, {}).get("upload"):
        slots.append((UPLOAD, "upload", {}))
    return slots


def input_names(kind: str) -> dict[str, object]:
    spec = spec_of(kind)
    return {n: k for s in ("required", "optional") for n, (k, *_) in spec.get(s, {}).items()}


def is_output(kind: str) -> bool:
    if kind in NODE_CLASS_MAPPINGS:
        return bool(getattr(NODE_CLASS_MAPPINGS[kind], "OUTPUT_NODE", False))
    return CORE.get(kind, {}).get("output", False)


def strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from strings(k)
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


# -- the folder -------------------------------------------------------------------------------------
def test_there_are_at_least_ten_examples():
    assert len(FILES) >= 10, [f.name for f in FILES]


def test_every_workflow_has_a_same_stem_lower_case_jpg_and_nothing_else_is_there():
    names = {p.name for p in WORKFLOWS.iterdir()}
    for f in FILES:
        # The Templates browser shows the file stem as the title and cuts it after about 30
        # characters: a short sentence, not an identifier (issue 13).
        assert re.fullmatch(r"[A-Z][a-z0-9 ]+\.json", f.name) and "  " not in f.name, \
            f"{f.name}: name it as its title, a short sentence ('Text to image.json')"
        assert len(f.stem) <= 28, f"{f.name}: the Templates browser cuts titles past ~30 characters"
        assert f"{f.stem}.jpg" in names, f"{f.name} has no {f.stem}.jpg thumbnail"
        with Image.open(WORKFLOWS / f"{f.stem}.jpg") as im:
            assert im.format == "JPEG" and 256 <= im.width <= 1024 and 256 <= im.height <= 1024
    stray = names - {f.name for f in FILES} - {f"{f.stem}.jpg" for f in FILES} - {"api"}   # api/: headless
    assert not stray, f"only workflows and their thumbnails belong in workflows/: {sorted(stray)}"


def test_no_conflicting_template_folder_names_at_the_pack_root():
    """ComfyUI serves only the first of these folders it finds; a plain file of such a name
    stops ComfyUI from starting (GUIDE §1.3)."""
    for name in ("example", "examples", "workflow", "example_workflows"):
        assert not (ROOT / name).exists(), f"a top-level '{name}' would break the Templates dialog"
    assert WORKFLOWS.is_dir()


# -- each file --------------------------------------------------------------------------------------
@pytest.fixture(params=FILES, ids=[f.stem for f in FILES])
def wf(request) -> dict:
    return load(request.param)


def test_ui_format(wf):
    assert UI_KEYS <= set(wf), f"missing {UI_KEYS - set(wf)} (API-format files do not load from Templates)"
    assert wf["version"] == 0.4 and isinstance(wf["nodes"], list) and isinstance(wf["links"], list)
    ids = [n["id"] for n in wf["nodes"]]
    assert len(ids) == len(set(ids)) and wf["last_node_id"] >= max(ids)
    assert not wf.get("definitions"), "no subgraphs in the examples"
    for n in wf["nodes"]:
        assert {"id", "type", "pos", "size", "mode", "inputs", "outputs", "properties"} <= set(n), n["id"]
        assert n["mode"] == 0, f"node {n['id']} is muted or bypassed"
        if n["type"] not in NOTES:
            assert n["properties"].get("Node name for S&R") == n["type"]


def test_every_node_type_is_ours_or_an_allowed_core_node(wf):
    for n in wf["nodes"]:
        assert n["type"] in NODE_CLASS_MAPPINGS or n["type"] in CORE or n["type"] in NOTES, n["type"]
    assert any(n["type"] in NODE_CLASS_MAPPINGS for n in wf["nodes"])


def test_widget_values_match_the_layout_from_input_types(wf):
    for n in wf["nodes"]:
        values = n.get("widgets_values", [])
        where = f"node {n['id']} ({n['type']})"
        if n["type"] in NOTES:
            assert len(values) == 1 and isinstance(values[0], str) and values[0].strip(), where
            continue
        slots = expected_slots(n["type"])
        assert len(values) == len(slots), f"{where}: {len(values)} values for {[s[0] for s in slots]}"
        for (name, kind, opts), v in zip(slots, values, strict=True):
            what = f"{where} '{name if name not in (CONTROL, FILTER) else kind}'"
            if name == CONTROL:
                assert v in CONTROL_VALUES, f"{what}: control value {v!r}"
                assert v == "fixed", f"{what}: paid nodes must ship with a fixed seed, not {v!r}"
            elif name == FILTER or kind == "STRING":
                assert isinstance(v, str), what
            elif name == UPLOAD:
                assert v == "image", what
            elif kind == INPUT_FILES:
                assert isinstance(v, str) and v and not Path(v).is_absolute(), what
            elif isinstance(kind, list):
                assert v in kind, f"{what}: {v!r} is not one of {kind}"
            elif kind == "BOOLEAN":
                assert isinstance(v, bool), what
            elif kind in ("INT", "FLOAT"):
                ok = (int,) if kind == "INT" else (int, float)
                assert isinstance(v, ok) and not isinstance(v, bool), f"{what}: {v!r}"
                lo, hi = opts.get("min", v), opts.get("max", v)
                assert lo <= v <= hi, f"{what}: {v} outside {lo}..{hi}"


def test_links_connect_matching_sockets(wf):
    nodes = {n["id"]: n for n in wf["nodes"]}
    link_ids = [link[0] for link in wf["links"]]
    assert len(link_ids) == len(set(link_ids)) and (not link_ids or wf["last_link_id"] >= max(link_ids))
    for link in wf["links"]:
        assert len(link) == 6, link
        lid, origin, slot, target, target_slot, kind = link
        assert origin in nodes and target in nodes, link
        o, t = nodes[origin], nodes[target]
        returns = returns_of(o["type"])
        assert 0 <= slot < len(returns) and returns[slot] == kind, f"link {lid}: {o['type']} slot {slot} is not {kind}"
        assert o["outputs"][slot]["type"] == kind and lid in (o["outputs"][slot]["links"] or []), f"link {lid}"
        entries = [x for x in t["inputs"] if x.get("link") == lid]
        assert len(entries) == 1, f"link {lid}: {len(entries)} inputs of node {target} hold it"
        entry = entries[0]
        assert t["inputs"].index(entry) == target_slot, f"link {lid}: target_slot"
        names = input_names(t["type"])
        assert entry["name"] in names, f"link {lid}: {t['type']} has no input {entry['name']}"
        declared = names[entry["name"]]
        assert declared == "*" or (declared == kind == entry["type"]), \
            f"link {lid}: {kind} into {t['type']}.{entry['name']} ({declared})"
        if "widget" in entry:
            assert entry["widget"] == {"name": entry["name"]}
    known = set(link_ids)
    for n in wf["nodes"]:
        for x in n["inputs"]:
            assert x.get("link") is None or x["link"] in known, f"node {n['id']} input {x['name']}: dangling link"
        for out in n["outputs"]:
            assert set(out.get("links") or []) <= known, f"node {n['id']} output {out['name']}: dangling link"


def test_required_inputs_of_our_nodes_are_connected(wf):
    for n in wf["nodes"]:
        cls = NODE_CLASS_MAPPINGS.get(n["type"])
        if cls is None:
            continue
        linked = {x["name"] for x in n["inputs"] if x.get("link") is not None}
        for name, (kind, *rest) in cls.INPUT_TYPES().get("required", {}).items():
            if not is_widget(kind, rest[0] if rest else {}):
                assert name in linked, f"node {n['id']} ({n['type']}): required '{name}' is not connected"
        # media fields: optional sockets, but one of the three must be connected for a required one
        slots = media_slots(cls.OP) if hasattr(cls, "OP") else ((cls.slot(),) if hasattr(cls, "slot") else ())
        values = dict(zip([s[0] for s in expected_slots(n["type"])], n.get("widgets_values", []), strict=True))
        for s in slots:
            typed_id = str(values.get(s.id_input, "")).strip()   # Face Swap's face_media_id is a widget
            if s.field.required:
                assert {s.tensor_input, s.handle_input, s.id_input} & linked or typed_id, \
                    f"node {n['id']} ({n['type']}): connect {s.tensor_input}, {s.handle_input} or {s.id_input}"


def test_queue_time_validation_passes_unless_a_note_asks_for_a_value(wf):
    """VALIDATE_INPUTS as ComfyUI calls it when the example is queued: widget values, linked
    inputs as None, only the parameters it names (all with **kwargs). Every example is accepted as
    shipped (Load Result's prompt_id comes from a link)."""
    for n in wf["nodes"]:
        cls = NODE_CLASS_MAPPINGS.get(n["type"])
        if cls is None or not hasattr(cls, "VALIDATE_INPUTS"):
            continue
        slots = [s[0] for s in expected_slots(n["type"])]
        values = {k: v for k, v in zip(slots, n["widgets_values"], strict=True) if k not in (CONTROL, FILTER)}
        values.update({x["name"]: None for x in n["inputs"] if x.get("link") is not None})
        params = inspect.signature(cls.VALIDATE_INPUTS).parameters
        if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            values = {k: v for k, v in values.items() if k in params}
        result = cls.VALIDATE_INPUTS(**values)
        assert result is True, f"node {n['id']} ({n['type']}) refused when queued: {result}"


def test_every_node_of_ours_reaches_an_output_node(wf):
    downstream: dict[int, set[int]] = {}
    for _, origin, _, target, _, _ in wf["links"]:
        downstream.setdefault(origin, set()).add(target)
    kinds = {n["id"]: n["type"] for n in wf["nodes"]}
    for n in wf["nodes"]:
        if n["type"] not in NODE_CLASS_MAPPINGS:
            continue
        seen, todo = set(), deque([n["id"]])
        while todo:
            i = todo.popleft()
            if is_output(kinds[i]):
                break
            for j in downstream.get(i, ()):
                if j not in seen:
                    seen.add(j)
                    todo.append(j)
        else:
            pytest.fail(f"node {n['id']} ({n['type']}) reaches no output node: ComfyUI would never run it")
    assert any(is_output(k) for k in kinds.values())


def test_no_secret_and_no_machine_path(wf):
    from nodes.simulator import DEFAULT_API_KEY, DEFAULT_EMAIL, DEFAULT_PASSWORD

    for s in strings(wf):
        for bad in (DEFAULT_API_KEY, DEFAULT_EMAIL, DEFAULT_PASSWORD, "Key ", "Bearer ", "eyJ", "@"):
            assert bad not in s, f"secret-looking {bad!r} in {s[:80]!r}"
        assert not re.search(r"(?:^|[\s`'\"(])(?:/[A-Za-z]|~[/\\]|[A-Za-z]:[\\/])", s), f"a path in {s[:80]!r}"
        assert not re.search(r"/(home|Users|work|tmp|root)/", s), f"a machine path in {s[:80]!r}"


def test_notes_explain_the_placeholders(wf):
    """Every example opens with a note; where an input comes from a node in place of the user's
    own (a profile id), the note says how to choose another."""
    text = " ".join(n["widgets_values"][0] for n in wf["nodes"] if n["type"] in NOTES)
    types = {n["type"] for n in wf["nodes"]}
    assert text, "every example opens with a note saying what it does"
    if "AliveAICreateCharacterImage" in types:
        assert "profileId" in text and "Get Profiles For User" in text


def test_runs_as_shipped_no_file_to_place_and_no_id_to_paste(wf):
    """LoadImage / LoadVideo need a file in ComfyUI's input folder (example.mp4 is not shipped), and
    a pasted id cannot be in a template: inputs come from nodes (issue 13)."""
    for n in wf["nodes"]:
        assert n["type"] not in ("LoadImage", "LoadVideo"), f"node {n['id']} needs a file placed in input/"
        cls = NODE_CLASS_MAPPINGS.get(n["type"])
        if cls is None:
            continue
        linked = {x["name"] for x in n["inputs"] if x.get("link") is not None}
        values = dict(zip([s[0] for s in expected_slots(n["type"])], n.get("widgets_values", []), strict=True))
        for name, v in values.items():
            assert not (isinstance(v, str) and "PASTE" in v.upper()), f"node {n['id']} '{name}': {v!r}"
        for name in ("profileId", "prompt_id"):
            if name in values and values[name] in ("", None):
                assert name in linked, f"node {n['id']} ({n['type']}): '{name}' is empty and not linked"


def vue_height(n: dict) -> int:
    """A node's height as Nodes 2.0 (Comfy.VueNodes.Enabled) draws it: a 40 px header, 32 px per
    socket row, 36 px per widget (multiline text 120), at least the saved size + title bar."""
    if n["type"] in NOTES:
        return n["size"][1] + 40
    rows = max(len(n["inputs"]), len(n["outputs"]))
    widgets = 0
    for _name, kind, opts in expected_slots(n["type"]):
        widgets += 120 if kind == "STRING" and opts.get("multiline") else 36
    return max(n["size"][1] + 30, 40 + 32 * rows + widgets)


def test_nodes_do_not_overlap_in_either_canvas_mode(wf):
    """Neither in the classic canvas nor under Nodes 2.0's taller nodes (Pose over Clothes, issue 13)."""
    boxes = [(n["id"], n["pos"][0], n["pos"][1] - 30, n["pos"][0] + n["size"][0], n["pos"][1] - 30 + vue_height(n))
             for n in wf["nodes"]]
    for i, (a, ax0, ay0, ax1, ay1) in enumerate(boxes):
        for b, bx0, by0, bx1, by1 in boxes[i + 1:]:
            assert ax1 <= bx0 or bx1 <= ax0 or ay1 <= by0 or by1 <= ay0, f"nodes {a} and {b} overlap"


# -- executed against the simulator ------------------------------------------------------------------
@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_the_aliveai_part_runs_on_the_simulator(path, comfy, sim, tmp_path):
    wf = load(path)
    kinds = {n["id"]: n["type"] for n in wf["nodes"]}
    creates_before = sum(sim.state.counters.creates.values())

    run = run_workflow(wf, tmp_path)   # as shipped: no hook fills anything in

    ours = [i for i, k in kinds.items() if k in NODE_CLASS_MAPPINGS]
    assert set(ours) <= set(run.outputs), "every AliveAI node ran"
    for nid, kind, value in run.sinks:
        if kind in ("SaveImage", "PreviewImage"):
            assert isinstance(value, torch.Tensor) and value.dim() == 4 and value.shape[-1] == 3, nid
            assert value.dtype == torch.float32 and 0 <= value.min() and value.max() <= 1
        elif kind == "SaveVideo":
            assert Path(value.get_stream_source()).is_file() and min(value.get_dimensions()) > 0
        else:
            assert isinstance(value, str) and value.strip()
    assert {k for _, k, _ in run.sinks} & {"SaveImage", "PreviewImage", "SaveVideo"}
    # A widget turned into an input received the upstream text (e.g. Generate Prompt -> appearance).
    by_id = {link[0]: link for link in wf["links"]}
    for n in wf["nodes"]:
        for x in n["inputs"]:
            if "widget" in x and x.get("link") is not None and n["id"] in run.kwargs:
                _, origin, slot, *_ = by_id[x["link"]]
                assert run.kwargs[n["id"]][x["name"]] == run.outputs[origin][slot]
    # One job per job node (a chain never re-submits), one upload per local media that feeds us.
    jobs = [i for i in ours if issubclass(NODE_CLASS_MAPPINGS[kinds[i]], JobNode)]
    assert sum(sim.state.counters.creates.values()) - creates_before == len(jobs)
    # A tensor (IMAGE / MASK / VIDEO) reaching a pack node is uploaded, wherever it comes from;
    # media handles are not.
    local_media = {(o, s) for _, o, s, t, _, kind in wf["links"]
                   if kind in ("IMAGE", "MASK", "VIDEO") and kinds[t] in NODE_CLASS_MAPPINGS}
    assert sim.state.counters.uploads == len(local_media)
