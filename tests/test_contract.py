"""Contracts every node keeps, and a snapshot of every node's interface: saved workflows depend
on node keys, input names, widget order and outputs, so a change to any of them must be
deliberate (update the snapshot with ALIVEAI_UPDATE_SNAPSHOT=1, and keep old nodes as DEPRECATED).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from nodes.comfy import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS

SNAPSHOT = Path(__file__).parent / "snapshots" / "nodes.json"
SOCKETS = {"IMAGE", "MASK", "VIDEO", "AUDIO", "LATENT"}
CATEGORIES = {"Generate", "Edit", "Video", "Prompt", "Library", "Catalog", "Parameters"}
SECRETISH = re.compile(r"(?i)(api[_-]?key|password|token|secret|bearer)")


def widget_layout(cls) -> list[str]:
    """Widget slots as ComfyUI's frontend stores them in widgets_values (GUIDE §7.4)."""
    spec = cls.INPUT_TYPES()
    out = []
    for section in ("required", "optional"):
        for name, (kind, *rest) in spec.get(section, {}).items():
            opts = rest[0] if rest else {}
            if opts.get("forceInput") or (isinstance(kind, str) and (kind in SOCKETS or kind.startswith("ALIVEAI_"))):
                continue
            out.append(name)
            if kind == "INT" and (opts.get("control_after_generate") or
                                  (name in ("seed", "noise_seed") and opts.get("control_after_generate") is not False)):
                out.append(f"{name}:control_after_generate")
    return out


def interface(cls) -> dict:
    spec = cls.INPUT_TYPES()
    return {
        "inputs": {s: [f"{n}:{k if isinstance(k, str) else 'COMBO'}" for n, (k, *_) in spec.get(s, {}).items()]
                   for s in ("required", "optional")},
        "widgets": widget_layout(cls),
        "outputs": list(cls.RETURN_TYPES),
        "category": cls.CATEGORY,
    }


def current() -> dict:
    return {k: interface(c) for k, c in sorted(NODE_CLASS_MAPPINGS.items())}


def test_snapshot_of_node_interfaces():
    now = current()
    if os.environ.get("ALIVEAI_UPDATE_SNAPSHOT") or not SNAPSHOT.exists():
        SNAPSHOT.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n")
    saved = json.loads(SNAPSHOT.read_text())
    missing = sorted(set(saved) - set(now))
    assert not missing, f"nodes removed (saved workflows would break; keep them as DEPRECATED): {missing}"
    for key, old in saved.items():
        new = now[key]
        assert new["widgets"][:len(old["widgets"])] == old["widgets"], f"{key}: widget order changed"
        assert new["outputs"][:len(old["outputs"])] == old["outputs"], f"{key}: outputs changed"
        for s in ("required", "optional"):
            gone = set(old["inputs"][s]) - set(new["inputs"]["required"] + new["inputs"]["optional"])
            assert not gone, f"{key}: inputs removed or retyped: {sorted(gone)}"
    assert now == saved, "node interfaces changed: re-run with ALIVEAI_UPDATE_SNAPSHOT=1 if this is deliberate"


@pytest.mark.parametrize("key", sorted(NODE_CLASS_MAPPINGS))
def test_node_contract(key):
    cls = NODE_CLASS_MAPPINGS[key]
    assert key.startswith("AliveAI") and NODE_DISPLAY_NAME_MAPPINGS[key].endswith("(AliveAI)")
    top, _, sub = cls.CATEGORY.partition("/")
    assert top == "AliveAI" and sub in CATEGORIES
    assert isinstance(cls.RETURN_TYPES, tuple)
    assert len(cls.RETURN_NAMES) == len(cls.RETURN_TYPES) == len(cls.OUTPUT_TOOLTIPS)
    assert callable(getattr(cls, cls.FUNCTION))
    assert cls.DESCRIPTION and len(cls.DESCRIPTION) > 20
    assert not hasattr(cls, "API_NODE") and not hasattr(cls, "IS_CHANGED")
    spec = cls.INPUT_TYPES()
    assert spec == cls.INPUT_TYPES()  # pure and deterministic
    for section in ("required", "optional"):
        for name, (kind, *rest) in spec.get(section, {}).items():
            opts = rest[0] if rest else {}
            assert opts.get("tooltip"), f"{key}.{name} has no tooltip"
            assert not SECRETISH.search(name), f"{key}.{name} looks like a secret input"
            if kind in ("INT", "FLOAT"):
                assert "min" in opts and "max" in opts and opts["min"] <= opts["default"] <= opts["max"], name
            if isinstance(kind, list):
                assert opts.get("default", kind[0]) in kind
            if kind == "STRING":
                assert not SECRETISH.search(str(opts.get("default", ""))), name


def test_every_paid_node_seed_is_a_controlled_int_within_the_api_range():
    for key, cls in NODE_CLASS_MAPPINGS.items():
        op = getattr(cls, "OP", None)
        if op is None or not op.is_job:
            continue
        seed = cls.INPUT_TYPES()["optional"]["seed"][1]
        assert seed["control_after_generate"] is True and seed["max"] < 10**18, key


def test_importing_the_pack_pulls_no_heavy_module():
    init, root = str(ROOT / "__init__.py"), str(ROOT)
    code = (f"import importlib.util, sys; spec = importlib.util.spec_from_file_location('pack', {init!r}, "
            f"submodule_search_locations=[{root!r}]); m = importlib.util.module_from_spec(spec); "
            "sys.modules['pack'] = m; spec.loader.exec_module(m); "
            "print(sorted(x for x in ('torch', 'PIL', 'av', 'numpy') if x in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd="/")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_readme_node_list_is_generated_and_current():
    from nodes import docs

    assert docs.main(["--check"]) == 0
    assert f"{len(NODE_CLASS_MAPPINGS)} nodes." in (ROOT / "README.md").read_text()


def test_no_conflicting_template_folders():
    for name in ("example", "examples", "workflow", "example_workflows"):
        assert not (ROOT / name).exists(), f"a top-level '{name}' would stop ComfyUI serving workflows/"


def test_requirements_never_list_torch():
    reqs = (ROOT / "requirements.txt").read_text().lower()
    assert not re.search(r"^\s*(torch|torchvision|torchaudio)\b", reqs, re.M)
