"""OpenAPI import (nodes/api/openapi.py): a spec built from the table, mutated the ways the real
document may differ, and every mutation reported; the unmutated spec reports nothing."""
from __future__ import annotations

import copy
import json

import pytest

from nodes.api import BY_KEY, openapi


def spec() -> dict:
    return copy.deepcopy(openapi.to_openapi())


def schemas(s: dict) -> dict:
    return s["components"]["schemas"]


def move(s: dict, old: str, new: str, method: str = "post") -> None:
    s["paths"].setdefault(new, {})[method] = s["paths"][old].pop(method)
    if not s["paths"][old]:
        del s["paths"][old]


def test_the_table_compared_with_its_own_document_reports_nothing():
    assert openapi.compare(spec()) == ([], {})


MUTATIONS = {
    "moved path": (lambda s: move(s, "/prompts/inpaint-google", "/prompts/google-inpaint"),
                   "the doc has POST /prompts/google-inpaint, the table POST /prompts/inpaint-google"),
    "moved method": (lambda s: s["paths"]["/prompts/pending"].__setitem__(
        "post", s["paths"]["/prompts/pending"].pop("delete")), "the doc has POST /prompts/pending"),
    "renamed field": (lambda s: schemas(s)["InpaintRequest"]["properties"].__setitem__(
        "negPrompt", schemas(s)["InpaintRequest"]["properties"].pop("negativePrompt")),
        "body negPrompt: in the doc, not in the table"),
    "new enum value": (lambda s: schemas(s)["CreatePromptRequest"]["properties"]["model"]["enum"].append("FLUX2"),
                       "body model: enum is"),
    "changed limit": (lambda s: schemas(s)["GeneratePromptRequest"]["properties"]["inputPrompt"].__setitem__(
        "maxLength", 300), "body inputPrompt: maxLength is 300 in the doc, 250 in the table"),
    "changed minimum of a query": (lambda s: s["paths"]["/prompts"]["get"]["parameters"][1]["schema"].__setitem__(
        "minimum", 0), "query pageSize: minimum is 0.0 in the doc"),
    "nested field added": (lambda s: schemas(s)["PoseRequest"]["properties"].__setitem__(
        "poseImageId", {"type": "string"}), "pose.poseImageId: in the doc, not in the table"),
    "nested limit in an array item": (lambda s: schemas(s)["TemplateRequest"]["properties"]["strength"].__setitem__(
        "maximum", 2), "modelTemplates.strength: maximum is 2.0 in the doc"),
    "nested shape field in CropArea": (lambda s: schemas(s)["CropArea"]["required"].remove("x"),
                                       "cropArea.x: required is False in the doc"),
    "required dropped": (lambda s: schemas(s)["CreatePromptRequest"]["required"].remove("detailLevel"),
                         "body detailLevel: required is False in the doc, True in the table"),
    "type changed": (lambda s: schemas(s)["UpscaleImageRequest"]["properties"]["strength"].__setitem__(
        "type", "integer"), "body strength: type is 'integer' in the doc, 'number' in the table"),
    "default changed": (lambda s: schemas(s)["CreatePromptRequest"]["properties"]["cfg"].__setitem__("default", 7),
                        "body cfg: default is 7 in the doc, 5 in the table"),
    "pattern added": (lambda s: schemas(s)["CreateFaceRequest"]["properties"]["prompt"].__setitem__("pattern", r"\S"),
                      "body prompt: pattern"),
    "response key renamed": (lambda s: s["paths"]["/upload"]["post"]["responses"]["200"]["content"]["application/json"]
                             ["schema"]["properties"].__setitem__("id", {"type": "string"}) or
                             s["paths"]["/upload"]["post"]["responses"]["200"]["content"]["application/json"]
                             ["schema"]["properties"].pop("mediaId"), "the answer has"),
    "operation missing": (lambda s: s["paths"].pop("/video-templates/ltx"), "is not in the doc"),
    "new operation": (lambda s: s["paths"].__setitem__("/prompts/new-thing", {"post": {"summary": "New Thing"}}),
                      "POST /prompts/new-thing (New Thing): in the doc, not in the table"),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_every_mutation_is_reported(name):
    mutate, expected = MUTATIONS[name]
    s = spec()
    mutate(s)
    lines, _ = openapi.compare(s)
    assert lines, name
    assert any(expected in line for line in lines), lines


def test_a_31_style_document_with_nullable_types_and_refs_in_allof_reads_the_same():
    s = spec()
    body = s["paths"]["/llm/prompt"]["post"]["requestBody"]["content"]["application/json"]
    body["schema"] = {"allOf": [body["schema"]]}
    schemas(s)["GeneratePromptRequest"]["properties"]["inputPrompt"]["type"] = ["string", "null"]
    assert openapi.compare(s) == ([], {})


def test_write_overrides_stores_the_moved_paths(tmp_path, capsys):
    s = spec()
    move(s, "/prompts/inpaint-google", "/prompts/google-inpaint")
    move(s, "/clothes", "/clothes/public", "get")
    doc = tmp_path / "openapi.json"
    doc.write_text(json.dumps(s))
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"api_key": "k"}))
    assert openapi.main([str(doc)]) == 1
    assert "inpaint_google" in capsys.readouterr().out and "paths" not in json.loads(config.read_text())
    assert openapi.main([str(doc), "--write-overrides", str(config)]) == 1
    saved = json.loads(config.read_text())
    assert saved["paths"] == {"get_public_clothes": "/clothes/public", "inpaint_google": "/prompts/google-inpaint"}
    assert saved["api_key"] == "k"
    assert BY_KEY["inpaint_google"].path == "/prompts/inpaint-google"   # the table itself is not touched


def test_yaml_needs_pyyaml_and_says_so(tmp_path):
    doc = tmp_path / "openapi.yaml"
    doc.write_text("openapi: 3.0.1\npaths: {}\n")
    try:
        import yaml  # noqa: F401 -- only to know which behaviour to expect
    except ImportError:
        with pytest.raises(SystemExit, match="PyYAML"):
            openapi.load_document(doc)
    else:
        assert openapi.load_document(doc)["paths"] == {}
