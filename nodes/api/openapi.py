"""Compare the operation table with AliveAI's OpenAPI document:
`python -m nodes.api.openapi FILE [--write-overrides [CONFIG]]`.

FILE is the document as downloaded from the doc page: JSON, or YAML when PyYAML is importable
(it is not a dependency of the pack; without it, convert the file to JSON). Every difference is
printed: paths and methods, fields (added, missing or renamed), types, required, limits, enums,
defaults, nested request objects (PoseRequest, FaceSwapRequest, TemplateRequest, ClothesRequest,
CropArea, ...) and the response keys the client reads. `--write-overrides` stores the moved paths
as path overrides (the config file's "paths"), so the pack follows the document without a code
edit; everything else is a fix to the table, for a developer.

How it compares: `to_openapi()` writes the table as an OpenAPI document, and both documents go
through the same `normalize()`, so the table compared with its own document reports nothing, and
any aspect `normalize` keeps is compared. Operations are matched by method and path, then by the
doc's tag and summary (the doc's group and name: "Get Templates" exists twice, in two groups),
then by operationId. Only local `#/components/schemas/...` references are followed.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .schema import (ARRAY, BINARY, BODY, FORM, IMAGE, INTEGER, OBJECT, PATH, QUERY, STRING, TEXT, TEXT_PAIR,
                     TOKEN, UPLOAD, VIDEO, Field, Operation, Shape)

METHODS = ("get", "post", "put", "patch", "delete")
# The keys of an answer the client reads, per kind of result; JSON answers are passed on as they are.
RESPONSE_KEYS = {TEXT: ("promptText",), TEXT_PAIR: ("promptText", "negPrompt"), UPLOAD: ("mediaId", "mediaType"),
                 TOKEN: ("accessToken",), IMAGE: ("promptId", "seed"), VIDEO: ("promptId", "seed")}
ASPECTS = ("type", "required", "minLength", "maxLength", "minimum", "maximum", "pattern", "enum", "default",
           "minItems", "maxItems", "items", "deprecated")


def pascal(key: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in key.split("_"))


# -- table -> OpenAPI --------------------------------------------------------------------------------
def field_schema(f: Field) -> dict[str, Any]:
    s: dict[str, Any]
    if f.type == OBJECT and f.shape:
        return {"$ref": f"#/components/schemas/{f.shape}"}
    if f.type == BINARY:
        s = {"type": "string", "format": "binary"}
    elif f.type == ARRAY:
        items: dict[str, Any] = ({"$ref": f"#/components/schemas/{f.shape}"} if f.shape
                                 else {"type": f.items or STRING, **({"enum": list(f.enum)} if f.enum else {})})
        s = {"type": "array", "items": items}
        if f.min_items is not None:
            s["minItems"] = f.min_items
        if f.max_items is not None:
            s["maxItems"] = f.max_items
    else:
        s = {"type": f.type}
        if f.type == INTEGER:
            s["format"] = "int32"
        if f.enum:
            s["enum"] = list(f.enum)
    for aspect, value in (("minLength", f.min_length), ("maxLength", f.max_length), ("pattern", f.pattern),
                          ("minimum", f.minimum), ("maximum", f.maximum), ("default", f.default)):
        if value is not None:
            s[aspect] = value
    if f.deprecated:
        s["deprecated"] = True
    if f.doc:
        s["description"] = f.doc
    return s


def object_schema(fields: tuple[Field, ...]) -> dict[str, Any]:
    s: dict[str, Any] = {"type": "object", "properties": {f.name: field_schema(f) for f in fields}}
    required = [f.name for f in fields if f.required]
    if required:
        s["required"] = required
    return s


def to_openapi(operations: tuple[Operation, ...] | None = None, shapes: Mapping[str, Shape] | None = None) -> dict:
    """The table as an OpenAPI 3.0 document (tests mutate it; a user can read it)."""
    if operations is None or shapes is None:
        from . import OPERATIONS, SHAPES
        operations, shapes = operations or OPERATIONS, shapes or SHAPES
    schemas: dict[str, Any] = {name: object_schema(s.fields) for name, s in shapes.items()}
    paths: dict[str, Any] = {}
    for op in operations:
        if not op.callable:
            continue
        entry: dict[str, Any] = {"operationId": op.key, "summary": op.name, "tags": [op.group]}
        params = [{"name": f.name, "in": f.where, "required": f.required or f.where == PATH,
                   "schema": field_schema(f)} for f in op.fields if f.where in (PATH, QUERY)]
        if params:
            entry["parameters"] = params
        body = op.fields_in(BODY)
        if op.multipart:
            entry["requestBody"] = {"required": True, "content": {"multipart/form-data": {
                "schema": object_schema(op.fields_in(FORM))}}}
        elif body:
            schemas[pascal(op.key) + "Request"] = object_schema(body)
            entry["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{pascal(op.key)}Request"}}}}
        answer: dict[str, Any] = {"description": "OK"}
        if op.returns in RESPONSE_KEYS:
            answer["content"] = {"application/json": {"schema": {"type": "object", "properties": {
                k: {"type": "string"} for k in RESPONSE_KEYS[op.returns]}}}}
        elif op.returns != "NOTHING":
            answer["content"] = {"application/json": {"schema": {"type": "object"}}}
        entry["responses"] = {"200": answer}
        paths.setdefault(op.path, {})[op.method.lower()] = entry
    return {"openapi": "3.0.1", "info": {"title": "AliveAI API (from the pack's operation table)", "version": "table"},
            "paths": paths, "components": {"schemas": schemas}}


# -- normalising ------------------------------------------------------------------------------------
class Doc:
    """An OpenAPI document with local $ref resolution."""

    def __init__(self, data: Mapping[str, Any]):
        self.data = data
        self.schemas = ((data.get("components") or {}).get("schemas") or {}) if isinstance(data, Mapping) else {}

    def deref(self, s: Any) -> tuple[Any, str | None]:
        """(schema, the component name it came from) with $ref and a single allOf followed."""
        name = None
        for _ in range(20):
            if not isinstance(s, Mapping):
                return {}, name
            if "$ref" in s and isinstance(s["$ref"], str) and s["$ref"].startswith("#/components/schemas/"):
                name = s["$ref"].rsplit("/", 1)[1]
                s = self.schemas.get(name, {})
                continue
            if isinstance(s.get("allOf"), list) and len(s["allOf"]) == 1 and len(s) <= 2:
                s = s["allOf"][0]
                continue
            return s, name
        return {}, name

    def props(self, s: Any, depth: int = 0) -> dict[str, Any]:
        """{name: normalised field} of an object schema."""
        s, _ = self.deref(s)
        required = set(s.get("required") or ())
        return {n: self.field(p, n in required, depth) for n, p in (s.get("properties") or {}).items()}

    def field(self, raw: Any, required: bool, depth: int = 0) -> dict[str, Any]:
        s, ref = self.deref(raw)
        kind = s.get("type")
        if isinstance(kind, list):   # OpenAPI 3.1: ["string", "null"]
            kind = next((k for k in kind if k != "null"), None)
        if kind is None and ("properties" in s or ref):
            kind = "object"
        if kind == "string" and s.get("format") == "binary":
            kind = BINARY
        out: dict[str, Any] = {"type": kind, "required": bool(required)}
        for aspect in ("minLength", "maxLength", "pattern", "minItems", "maxItems", "default"):
            if s.get(aspect) is not None:
                out[aspect] = s[aspect]
        for aspect in ("minimum", "maximum"):
            if s.get(aspect) is not None:
                out[aspect] = float(s[aspect])
        if s.get("enum"):
            out["enum"] = tuple(sorted(str(v) for v in s["enum"]))
        if s.get("deprecated"):
            out["deprecated"] = True
        if kind == "object" and depth < 6:
            out["shape"] = ref
            out["fields"] = self.props(s, depth + 1)
        if kind == "array":
            item, item_ref = self.deref(s.get("items") or {})
            if item_ref or item.get("properties"):
                out["shape"] = item_ref
                out["fields"] = self.props(item, depth + 1) if depth < 6 else {}
            else:
                out["items"] = item.get("type")
                if item.get("enum"):
                    out["enum"] = tuple(sorted(str(v) for v in item["enum"]))
        return out

    def operations(self) -> list[dict[str, Any]]:
        out = []
        for path, item in (self.data.get("paths") or {}).items():
            if not isinstance(item, Mapping):
                continue
            shared = item.get("parameters") or []
            for method in METHODS:
                o = item.get(method)
                if isinstance(o, Mapping):
                    out.append(self.operation(method.upper(), path, o, shared))
        return out

    def operation(self, method: str, path: str, o: Mapping[str, Any], shared: list) -> dict[str, Any]:
        fields: dict[tuple[str, str], dict[str, Any]] = {}
        for p in list(shared) + list(o.get("parameters") or []):
            p, _ = self.deref(p) if "$ref" not in p else (self._param(p), None)
            if isinstance(p, Mapping) and p.get("in") in (PATH, QUERY):
                fields[(p["in"], p.get("name"))] = self.field(p.get("schema") or {}, bool(p.get("required")))
        content = ((o.get("requestBody") or {}).get("content") or {})
        for mime, where in (("application/json", BODY), ("multipart/form-data", FORM)):
            if mime in content:
                for name, f in self.props((content[mime] or {}).get("schema") or {}).items():
                    fields[(where, name)] = f
        response = None
        for code in ("200", "201", 200, 201):
            answer = (o.get("responses") or {}).get(code)
            if isinstance(answer, Mapping):
                schema = ((answer.get("content") or {}).get("application/json") or {}).get("schema")
                if schema is not None:
                    s, _ = self.deref(schema)
                    response = tuple(sorted((s.get("properties") or {}).keys()))
                break
        tags = o.get("tags") or [""]
        return {"method": method, "path": path, "id": o.get("operationId"), "summary": o.get("summary") or "",
                "tag": str(tags[0]), "fields": fields, "response": response,
                "multipart": "multipart/form-data" in content}

    def _param(self, p: Mapping[str, Any]) -> Any:
        ref = p.get("$ref", "")
        if ref.startswith("#/components/parameters/"):
            return ((self.data.get("components") or {}).get("parameters") or {}).get(ref.rsplit("/", 1)[1], {})
        return {}


# -- comparing --------------------------------------------------------------------------------------
def _match(doc_ops: list[dict], table_ops: list[dict]) -> list[tuple[dict | None, dict | None]]:
    pairs: list[tuple[dict | None, dict | None]] = []
    left = list(doc_ops)
    for t in table_ops:
        found = next((d for d in left if (d["method"], d["path"]) == (t["method"], t["path"])), None)
        found = found or next((d for d in left if d["summary"].lower() == t["summary"].lower()
                               and d["tag"].lower() == t["tag"].lower()), None)
        found = found or next((d for d in left if d["id"] and str(d["id"]).lower() in
                               (t["id"].lower(), t["id"].replace("_", "").lower())), None)
        if found is not None:
            left.remove(found)
        pairs.append((found, t))
    return pairs + [(d, None) for d in left]


def _fields(label: str, doc: Mapping[Any, dict], table: Mapping[Any, dict], out: list[str]) -> None:
    def name(k: Any) -> str:
        return f"{k[0]} {k[1]}" if isinstance(k, tuple) else str(k)

    for k in sorted(set(doc) | set(table), key=name):
        where = f"{label}{name(k)}"
        if k not in table:
            out.append(f"{where}: in the doc, not in the table (a new or renamed field)")
            continue
        if k not in doc:
            out.append(f"{where}: in the table, not in the doc (renamed or removed?)")
            continue
        d, t = doc[k], table[k]
        for aspect in ASPECTS:
            if d.get(aspect) != t.get(aspect):
                out.append(f"{where}: {aspect} is {d.get(aspect)!r} in the doc, {t.get(aspect)!r} in the table")
        if d.get("shape") and t.get("shape") and d["shape"] != t["shape"]:
            out.append(f"{where}: nested object is {d['shape']} in the doc, {t['shape']} in the table")
        if "fields" in d or "fields" in t:
            sub = (k[1] if isinstance(k, tuple) else k)
            _fields(f"{label}{sub}.", d.get("fields") or {}, t.get("fields") or {}, out)


def compare(document: Mapping[str, Any], table_document: Mapping[str, Any] | None = None) -> tuple[list[str], dict]:
    """(differences as lines, moved routes {op_key: (METHOD, path)}) between `document` and the table."""
    table_document = table_document or to_openapi()
    doc_ops, table_ops = Doc(document).operations(), Doc(table_document).operations()
    lines: list[str] = []
    moved: dict[str, tuple[str, str]] = {}
    for d, t in _match(doc_ops, table_ops):
        if t is None:
            lines.append(f"{d['method']} {d['path']} ({d['summary'] or d['id']}): in the doc, not in the table")
            continue
        label = f"{t['id']} ({t['summary']})"
        if d is None:
            lines.append(f"{label}: {t['method']} {t['path']} is not in the doc")
            continue
        if (d["method"], d["path"]) != (t["method"], t["path"]):
            lines.append(f"{label}: the doc has {d['method']} {d['path']}, the table {t['method']} {t['path']}")
            moved[t["id"]] = (d["method"], d["path"])
        _fields(f"{label}: ", d["fields"], t["fields"], lines)
        if d["response"] is not None and t["response"] and set(t["response"]) - set(d["response"]):
            lines.append(f"{label}: the answer has {list(d['response'])} in the doc; the client reads "
                         f"{list(t['response'])}")
    return lines, moved


def load_document(path: str | Path) -> dict:
    text = Path(path).read_text("utf-8")
    try:
        data = json.loads(text)
    except ValueError:
        try:
            import yaml  # optional: only when the user has PyYAML
        except ImportError:
            raise SystemExit(f"{path} is not JSON, and reading YAML needs PyYAML, which is not installed "
                             "(pip install pyyaml, or download the OpenAPI file as JSON)") from None
        data = yaml.safe_load(text)
    if not isinstance(data, dict) or "paths" not in data:
        raise SystemExit(f"{path} is not an OpenAPI document (no 'paths')")
    return data


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m nodes.api.openapi", description="Print every difference between "
                                "AliveAI's OpenAPI document and the pack's operation table.")
    p.add_argument("file", help="the OpenAPI document (JSON, or YAML with PyYAML installed)")
    p.add_argument("--write-overrides", nargs="?", const="", metavar="CONFIG",
                   help="store the doc's paths for moved operations as path overrides in the pack's config file")
    p.add_argument("--export", action="store_true", help="print the table as an OpenAPI document instead")
    args = p.parse_args(argv)
    if args.export:
        print(json.dumps(to_openapi(), indent=2))
        return 0
    lines, moved = compare(load_document(args.file))
    print("\n".join(lines) if lines else "no differences")
    print(f"{len(lines)} difference(s); {len(moved)} moved path(s)", file=sys.stderr)
    if args.write_overrides is not None and moved:
        from ..doctor import default_config_path, save_routes
        config = Path(args.write_overrides) if args.write_overrides else default_config_path()
        save_routes(config, moved)
        print(f"wrote {len(moved)} path override(s) to {config}", file=sys.stderr)
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
