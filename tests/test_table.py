"""The operation table against the reference, and validation of every kind of limit."""
from __future__ import annotations

import re

import pytest
from conftest import REFERENCE

from nodes.api import BY_PROMPT_TYPE, JOBS, OPERATIONS, SHAPES, enums, operation, prepare
from nodes.api.schema import ARRAY, CODE, DOC, EVENTS, INFERRED, OBJECT
from nodes.errors import ValidationError


def reference_rows() -> list[tuple[int, str, str]]:
    """(number, doc name, method+path cell) of the reference's operation table (API.md §2)."""
    rows = []
    text = REFERENCE.read_text("utf-8")
    section = text[text.index("## 2. Operation table"):text.index("## 3. Operation details")]
    for line in section.splitlines():
        m = re.match(r"^\| (\d+) \| ([^|]+) \| ([^|]+) \| ([^|]+) \|", line)
        if m:
            rows.append((int(m.group(1)), m.group(3).strip(), m.group(4).strip()))
    return rows


def test_table_has_all_52_operations_in_doc_order():
    assert [o.number for o in OPERATIONS] == list(range(1, 53))
    assert len({o.key for o in OPERATIONS}) == 52
    assert len(JOBS) == 21
    assert sorted(BY_PROMPT_TYPE) == sorted(enums.PROMPT_TYPE)


@pytest.mark.skipif(not REFERENCE.exists(), reason="the shared/ reference is not beside the checkout")
def test_table_matches_reference_names_and_paths():
    rows = reference_rows()
    assert len(rows) == 52
    for number, name, cell in rows:
        op = OPERATIONS[number - 1]
        base = re.sub(r"\s*\(.*\)$", "", name)
        assert op.name == base, (number, op.name, name)
        if op.returns == EVENTS:
            continue
        m = re.search(r"`(GET|POST|DELETE) ([^`?]+)", cell)
        assert m, cell
        assert (op.method, op.path) == (m.group(1), m.group(2).strip()), number


def test_evidence_marks_match_reference():
    with_evidence = {1, 3, 4, 11, 14, 19, 22, 27, 28, 41, 43, 48}
    for op in OPERATIONS:
        if op.number in with_evidence:
            assert op.evidence in (DOC, CODE), op.name
        else:
            assert op.evidence == INFERRED, op.name


@pytest.mark.parametrize("op", JOBS, ids=lambda o: o.key)
def test_every_create_has_seed_serverid_and_a_media_result(op):
    names = {f.name for f in op.fields}
    assert {"seed", "serverId"} <= names
    assert op.returns in ("IMAGE", "VIDEO") and op.echo and op.method == "POST"


def test_strict_seed_pattern_only_where_the_doc_has_it():
    strict = {o.number for o in JOBS if o.field("seed").pattern}
    assert strict == {4, 6, 8, 19}


def test_required_created_from_prompt_id_where_the_doc_says():
    req = {o.number for o in JOBS if any(f.from_prompt and f.required for f in o.fields)}
    assert req == {7, 10, 11, 12, 13, 14, 20, 21}


def test_every_nested_shape_exists():
    for op in OPERATIONS:
        for f in op.fields:
            if f.type in (OBJECT, ARRAY) and f.shape:
                assert f.shape in SHAPES, (op.key, f.name)


BASE = {"name": "Ada Lovelace", "appearance": "a mathematician", "detailLevel": "HIGH"}


@pytest.mark.parametrize("values, field, limit", [
    ({**BASE, "name": "x" * 201}, "name", "max length 200"),
    ({**BASE, "appearance": "x" * 1501}, "appearance", "max length 1500"),
    ({**BASE, "seed": "1" * 19}, "seed", r"pattern ^\d{1,18}$"),
    ({**BASE, "seed": "12a"}, "seed", r"pattern ^\d{1,18}$"),
    ({**BASE, "cfg": 0}, "cfg", "minimum 1"),
    ({**BASE, "cfg": 11}, "cfg", "maximum 10"),
    ({**BASE, "faceImproveStrength": 2.5}, "faceImproveStrength", "integer"),
    ({**BASE, "gender": "OTHER"}, "gender", "enum"),
    ({**BASE, "faceImproveEnabled": "yes"}, "faceImproveEnabled", "boolean"),
    ({"name": "A", "appearance": "b"}, "detailLevel", "required"),
    ({**BASE, "modelTemplates": [{"id": str(i)} for i in range(11)]}, "modelTemplates", "max items 10"),
    ({**BASE, "modelTemplates": [{"strength": 1}]}, "modelTemplates[0].id", "required"),
    ({**BASE, "pose": {"id": "p", "poseStrength": 101}}, "pose.poseStrength", "maximum 100"),
    ({**BASE, "pose": {"bogus": 1}}, "pose", "PoseRequest"),
    ({**BASE, "wat": 1}, "wat", "known fields"),
])
def test_create_prompt_limits(values, field, limit):
    with pytest.raises(ValidationError) as e:
        prepare("create_prompt", values)
    assert e.value.field == field
    assert e.value.limit == limit
    assert str(e.value).startswith("Create Prompt: ")
    assert field.split("[")[0].split(".")[0] in str(e.value)


def test_boundaries_are_inclusive():
    p = prepare("create_prompt", {**BASE, "name": "x" * 200, "seed": "9" * 18, "cfg": 10, "faceImproveStrength": 0,
                                  "modelTemplates": [{"id": str(i)} for i in range(10)]})
    assert p.json["cfg"] == 10 and len(p.json["modelTemplates"]) == 10


def test_min_lengths_and_not_blank():
    with pytest.raises(ValidationError, match="at least 5"):
        prepare("generate_prompt", {"model": "DEFAULT", "inputPrompt": "abcd"})
    with pytest.raises(ValidationError, match="blank"):
        prepare("generate_prompt", {"model": "DEFAULT", "inputPrompt": "      "})
    with pytest.raises(ValidationError, match="at least 2"):
        prepare("generate_character_builder_prompt", {"model": "GROK", "age": "9"})
    with pytest.raises(ValidationError, match="blank"):
        prepare("login", {"email": " ", "password": "x"})


def test_image_to_video_model_specific_fields():
    base = {"videoModel": "DEFAULT", "mediaId": "m1", "text": "go"}
    assert prepare("create_image_to_video", {**base, "motionStrength": 6}).json["motionStrength"] == 6
    # issue 12: the doc only says when videoQuality applies; it is sent, with a warning, not refused
    p = prepare("create_image_to_video", {**base, "videoQuality": "V_720P"})
    assert p.json["videoQuality"] == "V_720P" and any("only when 'videoModel' is GROK" in w for w in p.warnings)
    with pytest.raises(ValidationError, match="maximum 6|at most 6"):
        prepare("create_image_to_video", {**base, "motionStrength": 7})
    with pytest.raises(ValidationError, match="at most 1500"):
        prepare("create_image_to_video", {**base, "text": "x" * 1501})
    assert "scene" not in prepare("create_image_to_video", {**base, "scene": ""}).json


def test_unset_optionals_are_omitted_not_sent_empty():
    p = prepare("create_prompt", {**BASE, "background": "", "gender": None, "modelTemplates": []})
    assert "background" not in p.json and "gender" not in p.json and "modelTemplates" not in p.json


def test_query_path_and_arrays():
    p = prepare("get_prompts", {"page": 0, "pageSize": 20, "promptType": ["INPAINT", "EDIT_IMAGE"], "query": "cat"})
    assert p.json is None and p.method == "GET"
    assert p.query == (("page", "0"), ("pageSize", "20"), ("promptType", "INPAINT"), ("promptType", "EDIT_IMAGE"),
                       ("query", "cat"))
    with pytest.raises(ValidationError, match="at most 20"):
        prepare("get_prompts", {"page": 0, "pageSize": 21})
    with pytest.raises(ValidationError, match="one of"):
        prepare("get_prompts", {"page": 0, "promptType": ["NOPE"]})
    assert prepare("delete_prompt", {"promptId": "a b/c"}).path == "/prompts/a%20b%2Fc"
    assert prepare("delete_from_queue", {"promptId": "p1"}).query == (("promptId", "p1"),)


def test_every_limit_of_every_field_is_enforced():
    """Generated from the table: for each length/range/item limit, one value past it fails and
    the value at it passes (with the op's other required fields filled minimally)."""
    from nodes.api.schema import BINARY, BOOLEAN, INTEGER, NUMBER, STRING

    def minimal(op):
        vals = {}
        for f in op.fields:
            if not f.required:
                continue
            if f.enum:
                vals[f.name] = f.enum[0]
            elif f.type == STRING:
                vals[f.name] = "x" * max(f.min_length or 1, 5)
            elif f.type == BOOLEAN:
                vals[f.name] = True
            elif f.type == BINARY:
                vals[f.name] = b"\x89PNG"
            elif f.type in (INTEGER, NUMBER):
                vals[f.name] = int(f.minimum) if f.minimum is not None else 1
            elif f.type == OBJECT:
                vals[f.name] = {g.name: (g.enum[0] if g.enum else ["m"] if g.type == ARRAY else 0
                                         if g.type == INTEGER else "xx") for g in SHAPES[f.shape].fields if g.required}
        if op.key == "create_image_to_video":
            vals["videoModel"] = "DEFAULT"
        return vals

    checked = 0
    for op in OPERATIONS:
        if not op.callable:
            continue
        base = minimal(op)
        prepare(op, base)
        for f in op.fields:
            if f.type == STRING and f.max_length:
                prepare(op, {**base, f.name: "x" * f.max_length})
                with pytest.raises(ValidationError):
                    prepare(op, {**base, f.name: "x" * (f.max_length + 1)})
                checked += 1
            if f.type == STRING and f.min_length and f.min_length > 1:
                with pytest.raises(ValidationError):
                    prepare(op, {**base, f.name: "x" * (f.min_length - 1)})
                checked += 1
            if f.type in (INTEGER, NUMBER) and f.maximum is not None and not f.only_with:
                prepare(op, {**base, f.name: f.maximum})
                with pytest.raises(ValidationError):
                    prepare(op, {**base, f.name: f.maximum + 1})
                checked += 1
            if f.type in (INTEGER, NUMBER) and f.minimum is not None and not f.only_with:
                with pytest.raises(ValidationError):
                    prepare(op, {**base, f.name: f.minimum - 1})
                checked += 1
            if f.type == ARRAY and f.max_items:
                with pytest.raises(ValidationError):
                    prepare(op, {**base, f.name: [{"id": "t"}] * (f.max_items + 1)})
                checked += 1
            if f.enum and f.type == STRING:
                with pytest.raises(ValidationError):
                    prepare(op, {**base, f.name: "NOT_A_VALUE"})
                checked += 1
    assert checked > 80


def test_operation_lookup_error_names_the_key():
    with pytest.raises(KeyError, match="no AliveAI operation 'nope'"):
        operation("nope")


def test_partial_check_waits_for_linked_fields_but_refuses_empty_ones():
    from nodes.api.validate import check_fields

    op = operation("create_image_to_video")
    assert check_fields(op.name, op.fields, {"motionStrength": 6}, SHAPES, "", partial=True) == {"motionStrength": 6}
    with pytest.raises(ValidationError, match="'text' is required"):
        check_fields(op.name, op.fields, {"text": ""}, SHAPES, "", partial=True)
    warnings: list[str] = []   # issue 12: the doc says when it applies; a warning, not a refusal
    assert check_fields(op.name, op.fields, {"videoModel": "GROK", "motionStrength": 2}, SHAPES, "", partial=True,
                        warnings=warnings) == {"videoModel": "GROK", "motionStrength": 2}
    assert any("only when 'videoModel'" in w for w in warnings)
    with pytest.raises(ValidationError, match="'videoModel' is required"):
        check_fields(op.name, op.fields, {"motionStrength": 6}, SHAPES, "")
