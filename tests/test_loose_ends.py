"""Loose ends of issues 12 and 13 (helper H): the last line of every node outlives the run (ui key
`aliveai_status`, which js/previews.js shows; frontend 1.58 deletes progress text when a run ends),
a warning about a field sent anyway is shown on the node, and the "not set" value of a widget
without a doc minimum is readable in its tooltip."""
from __future__ import annotations

from support import defaults, image, run

from nodes.api import OPERATIONS
from nodes.comfy import NODE_CLASS_MAPPINGS
from nodes.comfy.widgets import widget_spec

N = NODE_CLASS_MAPPINGS
UPLOAD, LOAD, I2V, ME = N["AliveAIUpload"], N["AliveAILoadResult"], N["AliveAIImageToVideo"], N["AliveAIMe"]
CREATE = N["AliveAICreateImage"]


def test_upload_keeps_its_last_line_in_the_ui_output(comfy, sim):
    out = run(UPLOAD, unique_id="9", image=image(b=2))
    assert out["ui"]["aliveai_status"] == ["uploaded 2 media"]
    assert comfy[-1] == ("9", "uploaded 2 media")   # the same line as the last progress text
    handle, ids = out["result"]
    assert len(handle.items) == 2 and ids.count(",") == 1


def test_load_result_keeps_its_last_line_in_the_ui_output(comfy, sim):
    from support import create_kw
    made = run(CREATE, unique_id="3", **create_kw(seed=77))
    prompt_id = made["result"][3]
    out = run(LOAD, prompt_id=prompt_id, unique_id="5")
    [line] = out["ui"]["aliveai_status"]
    assert line == f"loaded 1 saved file(s) · prompt {prompt_id}" and comfy[-1] == ("5", line)


def test_call_node_keeps_its_last_line_in_the_ui_output(comfy, sim):
    out = run(ME, unique_id="6", **defaults(ME))
    [line] = out["ui"]["aliveai_status"]
    assert line.startswith("credits ") and comfy[-1] == ("6", line)
    assert "text" in out["ui"]   # the answer is still shown as before


def test_a_field_of_another_video_model_is_sent_with_a_warning_shown_on_the_node(comfy, sim):
    kw = {**defaults(I2V), "text": "go", "videoModel": "DEFAULT", "videoQuality": "V_720P"}
    out = run(I2V, unique_id="7", image=image(), **kw)
    body = sim.state.requests_for("create_image_to_video")[-1].body
    assert body["videoQuality"] == "V_720P"           # sent: the doc describes, it does not refuse
    texts = [t for node, t in comfy if node == "7"]
    assert any(t.startswith("warning: ") and "videoQuality" in t for t in texts)   # while it runs
    [line] = out["ui"]["aliveai_status"]
    assert line.startswith("done in ") and "warning: " in line and "videoQuality" in line   # and after
    assert line.count("videoQuality") == 1


def test_no_warning_when_the_field_fits_the_model(comfy, sim):
    kw = {**defaults(I2V), "text": "go", "videoModel": "GROK", "videoQuality": "V_720P"}
    out = run(I2V, unique_id="7", image=image(), **kw)
    assert "warning" not in out["ui"]["aliveai_status"][0]
    assert not any("warning" in t for _, t in comfy)


def test_the_far_not_set_value_is_readable_in_the_tooltip():
    """-1000001 used to read "-1e+06 leaves it out" (rounded and in exponent form)."""
    seen = set()
    for op in OPERATIONS:
        for f in op.fields:
            if f.required or f.minimum is not None or f.type not in ("number", "integer") or f.default is not None:
                continue
            try:
                kind, opts = widget_spec(f)
            except AssertionError:
                continue
            if opts.get("min") not in (-1000001.0, -2147483649):
                continue
            seen.add((kind, f.name))
            shown = "-1000001" if kind == "FLOAT" else "-2147483649"
            assert f"{shown} means not set" in opts["tooltip"], (op.key, f.name, opts["tooltip"])
            assert "e+" not in opts["tooltip"]
    assert ("FLOAT", "swapStrength") in seen or ("FLOAT", "strength") in seen
    assert ("INT", "frameCount") in seen


def test_js_migration_knows_the_servers_not_set_values_and_templates_are_marked():
    """js/lib/unset.js migrates a saved -1 to the far "not set" value: its constants must be the
    ones widgets.py gives, and the shipped templates (saved by this version) carry its marker, so
    a -1 in them would be kept as a value."""
    import json
    import re

    from conftest import ROOT

    from nodes.api.schema import INT32_MIN
    from nodes.comfy.widgets import UNSET_FLOAT

    js = (ROOT / "js" / "lib" / "unset.js").read_text(encoding="utf-8")
    consts = dict(re.findall(r"export const (\w+) = (-?\d+);", js))
    assert float(consts["UNSET_FLOAT"]) == UNSET_FLOAT and int(consts["UNSET_INT"]) == INT32_MIN - 1
    assert int(consts["MARKER_VERSION"]) == 2 and '"aliveai_unset"' in js
    for path in sorted((ROOT / "workflows").glob("*.json")):
        for node in json.loads(path.read_text(encoding="utf-8"))["nodes"]:
            if str(node["type"]).startswith("AliveAI"):
                assert node["properties"].get("aliveai_unset") == 2, (path.name, node["type"])
