"""The Comfy Registry and Manager checklist, checked the way the Registry checks a version.

- pyproject.toml: every field the Registry reads is filled and well formed (node id, X.Y.Z
  version, license, Repository, PublisherId, DisplayName, an Icon that is a real file of this
  repository and small enough, requires-comfyui, a frontend range);
- what ships: every git-tracked file minus .comfyignore (git's own matcher, the same gitignore
  rules `comfy node pack` applies): no tests, bench, tools, CI files, and nothing shipped imports
  them;
- the code the Registry scans: no eval/exec, no runtime pip installs, nothing obfuscated;
- the generated node docs (js/docs/<NodeId>.md, locales/en/nodeDefs.json, the README list) are
  in sync, and `python -m nodes.docs --help` prints usage instead of rewriting README.md;
- a publish workflow that runs when the version changes on main.
"""
from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tomllib

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version
from PIL import Image

from conftest import ROOT

from nodes import docs
from nodes.comfy import NODE_CLASS_MAPPINGS

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
NOT_SHIPPED = ("tests/", "bench/", "tools/", ".ci/", ".github/")


def git(*args: str) -> list[str]:
    out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True)
    return [line for line in out.stdout.splitlines() if line]


def shipped() -> list[str]:
    """The files a package built from this tree holds: tracked (and untracked, not git-ignored)
    files, minus what .comfyignore names."""
    files = set(git("ls-files", "--cached", "--others", "--exclude-standard"))
    files = {f for f in files if (ROOT / f).is_file()}
    ignored = set(git("ls-files", "--cached", "--others", "-i", "--exclude-from=.comfyignore"))
    return sorted(files - ignored)


def is_shipped(path: str, files: list[str] | None = None) -> bool:
    return path in (files if files is not None else shipped())


# -- pyproject.toml ---------------------------------------------------------------------------------
def test_project_fields_as_the_registry_requires():
    project = PYPROJECT["project"]
    name = project["name"]
    assert len(name) < 100 and re.fullmatch(r"[A-Za-z][A-Za-z0-9]*(?:[-_.][A-Za-z0-9]+)*", name), name
    assert re.fullmatch(r"\d+\.\d+\.\d+", project["version"]), "the Registry wants X.Y.Z"
    assert (ROOT / project["license"]["file"]).is_file()
    assert project["description"].strip() and (ROOT / project["readme"]).is_file()
    repo = project["urls"]["Repository"]
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", repo), repo
    assert SpecifierSet(project["requires-python"]).contains("3.10")


def test_tool_comfy_fields_are_filled_and_the_icon_is_a_real_file():
    comfy = PYPROJECT["tool"]["comfy"]
    assert comfy["PublisherId"].strip() and comfy["DisplayName"].strip()
    owner_repo = PYPROJECT["project"]["urls"]["Repository"].removeprefix("https://github.com/")
    for key, ratio in (("Icon", 1.0), ("Banner", 21 / 9)):
        url = comfy[key]
        prefix = f"https://raw.githubusercontent.com/{owner_repo}/main/"
        assert url.startswith(prefix), f"{key} must point at a file of this repository: {url!r}"
        path = ROOT / url.removeprefix(prefix)
        assert path.is_file(), f"{key}: {path} is not in the repository"
        with Image.open(path) as im:
            assert im.format in ("PNG", "JPEG", "GIF"), key
            assert abs(im.width / im.height - ratio) < 0.02, f"{key} {im.width}x{im.height}"
            if key == "Icon":
                assert im.width <= 400 and im.height <= 400, "the Registry shows icons up to 400 px"


def test_minimum_comfyui_and_frontend_versions_are_declared():
    spec = SpecifierSet(PYPROJECT["tool"]["comfy"]["requires-comfyui"])
    assert spec.contains("0.3.64") and spec.contains("0.38.0") and not spec.contains("0.3.40")
    frontend = [d for d in PYPROJECT["project"]["dependencies"] if d.startswith("comfyui-frontend-package")]
    assert len(frontend) == 1
    fspec = SpecifierSet(frontend[0].removeprefix("comfyui-frontend-package"))
    assert all(fspec.contains(v) for v in ("1.27.10", "1.53.6", "1.58.1"))
    # The Manager installs requirements.txt: it must never pull a frontend (or torch) in.
    assert "frontend" not in (ROOT / "requirements.txt").read_text().lower()


# -- what ships --------------------------------------------------------------------------------------
def test_a_package_built_from_the_ignore_rules_holds_no_tests_bench_tools_or_ci():
    files = shipped()
    leaked = [f for f in files if f.startswith(NOT_SHIPPED)]
    assert not leaked, f"would ship to users: {leaked[:10]}"
    for needed in ("__init__.py", "pyproject.toml", "requirements.txt", "LICENSE", "README.md",
                   "nodes/comfy/bridge.py", "locales/en/nodeDefs.json", "js/docs/AliveAICreateImage.md"):
        assert needed in files, f"{needed} would be missing from the package"
    assert sum(f.startswith("workflows/") and f.endswith(".json") for f in files) >= 12
    assert sum(f.startswith("js/") and f.endswith(".js") for f in files) >= 4


def test_nothing_shipped_imports_what_does_not_ship():
    for f in shipped():
        if not f.endswith(".py"):
            continue
        for node in ast.walk(ast.parse((ROOT / f).read_text("utf-8"), f)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            for n in names:
                assert n.split(".")[0] not in ("tests", "bench", "tools", "conftest", "support"), f"{f}: imports {n}"


# -- the code scan ------------------------------------------------------------------------------------
def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            base = f.value.id if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) else ""
            yield node, name, base


def _strings(node: ast.AST) -> str:
    return " ".join(n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str))


def scan(source: str, where: str) -> list[str]:
    """What the Registry rejects in a Python file: eval/exec (and compile to run code), runtime
    pip installs, obfuscation (encoded or compressed code, marshal, absurd line lengths)."""
    problems = []
    tree = ast.parse(source, where)
    for node, name, base in _calls(tree):
        text = _strings(node)
        if name in ("eval", "exec") and base in ("", "builtins"):
            problems.append(f"{where}:{node.lineno}: {name}()")
        if name == "compile" and base in ("", "builtins"):
            problems.append(f"{where}:{node.lineno}: compile()")
        if name == "__import__":
            problems.append(f"{where}:{node.lineno}: __import__()")
        if re.search(r"\bpip\b", text) and re.search(r"\binstall\b", text) and \
                (base in ("subprocess", "os") or name in ("system", "run", "call", "check_call", "Popen", "popen")):
            problems.append(f"{where}:{node.lineno}: runs pip install")
        if name == "main" and base == "pip":
            problems.append(f"{where}:{node.lineno}: pip.main()")
        if name in ("b64decode", "decompress", "loads") and base in ("base64", "zlib", "marshal", "bz2", "lzma"):
            if base == "marshal" or any(n in source for n in ("exec(", "eval(")):
                problems.append(f"{where}:{node.lineno}: decodes code ({base}.{name})")
    for node in ast.walk(tree):
        mods = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        if any(m.split(".")[0] in ("pip", "marshal", "ensurepip") for m in mods):
            problems.append(f"{where}:{node.lineno}: imports {mods}")
    for i, line in enumerate(source.splitlines(), 1):
        if len(line) > 400:
            problems.append(f"{where}:{i}: a {len(line)}-character line")
    return problems


@pytest.mark.parametrize("bad", [
    "eval('1+1')", "exec(code)", "import builtins\nbuiltins.exec('x=1')",
    "import subprocess, sys\nsubprocess.check_call([sys.executable, '-m', 'pip', 'install', 'x'])",
    "import os\nos.system('pip install requests')", "import pip\npip.main(['install', 'x'])",
    "import base64\nexec(base64.b64decode('eD0x'))", "import marshal\nmarshal.loads(b'')",
    "x = '" + "a" * 500 + "'",
])
def test_the_scan_catches_what_the_registry_rejects(bad):
    assert scan(bad, "bad.py"), bad


def test_shipped_code_passes_the_registry_scan():
    problems = []
    for f in shipped():
        if f.endswith(".py"):
            problems += scan((ROOT / f).read_text("utf-8"), f)
        elif f.endswith(".js"):
            text = (ROOT / f).read_text("utf-8")
            problems += [f"{f}: {m}" for m in re.findall(r"\beval\s*\(|new\s+Function\s*\(", text)]
    assert not problems, problems


# -- generated docs -------------------------------------------------------------------------------------
def test_node_docs_locales_and_readme_list_are_in_sync():
    assert docs.stale() == [], "run: python -m nodes.docs"
    assert docs.main(["--check"]) == 0


def test_every_node_has_a_help_page_and_a_nodedefs_entry_with_every_input():
    defs = json.loads((ROOT / "locales" / "en" / "nodeDefs.json").read_text("utf-8"))
    assert set(defs) == set(NODE_CLASS_MAPPINGS)
    for key, cls in NODE_CLASS_MAPPINGS.items():
        page = (ROOT / "js" / "docs" / f"{key}.md").read_text("utf-8")
        spec = cls.INPUT_TYPES()
        for sec in ("required", "optional"):
            for name in spec.get(sec, {}):
                assert f"`{name}`" in page, f"{key}.md does not document {name}"
                assert name in defs[key]["inputs"], f"nodeDefs {key} lacks {name}"
        assert "## Outputs" in page and "## Example" in page
        assert len(defs[key]["outputs"]) == len(cls.RETURN_TYPES)
        assert defs[key]["display_name"] and defs[key]["description"]
    # where the frontend reads them: <WEB_DIRECTORY>/docs (WEB_DIRECTORY is ./js) and <pack>/locales
    assert 'WEB_DIRECTORY = "./js"' in (ROOT / "__init__.py").read_text()


def test_a_stale_page_is_caught():
    page = docs.DOCS / "AliveAICreateImage.md"
    original = page.read_text("utf-8")
    try:
        page.write_text(original.replace("## Inputs", "## Inputs (edited by hand)"), "utf-8")
        assert page in docs.stale() and docs.main(["--check"]) == 1
    finally:
        page.write_text(original, "utf-8")


@pytest.mark.parametrize("argv", [["--help"], ["-h"], ["--bogus"], ["README.md"], ["--check", "extra"]])
def test_help_or_an_unknown_argument_prints_usage_and_writes_nothing(argv):
    before = {p: p.read_bytes() for p in (docs.README, docs.NODE_DEFS)}
    mtime = docs.README.stat().st_mtime_ns
    out = subprocess.run([sys.executable, "-m", "nodes.docs", *argv], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert "python -m nodes.docs --check" in out.stdout + out.stderr
    assert out.returncode == (0 if argv[0] in ("--help", "-h") else 2)
    assert {p: p.read_bytes() for p in before} == before and docs.README.stat().st_mtime_ns == mtime


# -- publishing --------------------------------------------------------------------------------------
def test_publish_workflow_runs_on_a_version_change_on_main():
    text = (ROOT / ".github" / "workflows" / "publish.yml").read_text("utf-8")
    assert "Comfy-Org/publish-node-action@" in text
    assert re.search(r"branches:\s*\[main\]", text) and re.search(r"paths:\s*\[pyproject\.toml\]", text)
    assert "secrets.REGISTRY_ACCESS_TOKEN" in text and "version" in text


def test_versions_only_go_up_in_the_git_history():
    """A Registry version can be published once: the version in pyproject.toml never goes back."""
    seen = []
    for rev in git("log", "--format=%H", "-n", "50", "--", "pyproject.toml"):
        show = subprocess.run(["git", "show", f"{rev}:pyproject.toml"], cwd=ROOT, capture_output=True, text=True)
        if show.returncode == 0:
            m = re.search(r'^version\s*=\s*"([^"]+)"', show.stdout, re.M)
            if m:
                seen.append(Version(m.group(1)))
    seen.reverse()
    assert seen == sorted(seen), seen


def test_comfy_node_validate_and_pack_where_comfy_cli_is_installed(tmp_path):
    """The Registry's own tool, when it is on PATH (or ALIVEAI_COMFY_CLI names it): `comfy node
    validate` passes and the zip `comfy node pack` builds from a clean clone holds no tests,
    bench, tools or CI files. The rules above stand in for it where it is not installed."""
    import os
    import shutil
    import zipfile

    comfy = os.environ.get("ALIVEAI_COMFY_CLI") or shutil.which("comfy")
    if not comfy:
        pytest.skip("comfy-cli is not installed; the scan and the ignore-rule tests above apply its rules")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
    for f in shipped():   # the working tree as it is, uncommitted changes included
        (clone / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / f, clone / f)
    env = {**os.environ, "COMFY_CLI_TRACKING": "false"}
    args = [comfy, "--skip-prompt", "--no-enable-telemetry", "node"]
    out = subprocess.run([*args, "validate"], cwd=clone, capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0 and "passed" in out.stdout + out.stderr, out.stdout + out.stderr
    subprocess.run([*args, "pack"], cwd=clone, capture_output=True, text=True, timeout=300, env=env, check=True)
    names = zipfile.ZipFile(clone / "node.zip").namelist()
    assert names and not [n for n in names if n.startswith(NOT_SHIPPED)]
    assert "__init__.py" in names and "locales/en/nodeDefs.json" in names
