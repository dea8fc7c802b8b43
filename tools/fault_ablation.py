"""Fault ablation: does each fault test still fail when its fault is never played?

A fault test that passes with its fault switched off proves nothing about that fault. This tool
runs, for each simulator fault, every test that sets it with that one fault made a no-op, and
prints fault -> tests that set it -> how many failed. The target is "all of them".

    python tools/fault_ablation.py                      # the test files that set faults
    python tools/fault_ablation.py tests/test_reliability.py --mode blind

Two ways of making a fault a no-op (`--mode`):
- `off` (default): the switch is read as "off" and nothing is counted, as if the line of
  simulator code that plays it were deleted. The tests' `assert_injected` catches this alone.
- `blind`: the injection is counted but not played, which fools `assert_injected`: only the
  behaviour assertions of a test (a retry happened, a 401 was seen, the wait was waited...)
  can catch it. This is the stricter measure of whether a test checks what the fault does.

The same module is the pytest plugin the runs load (`-p tools.fault_ablation`): with
`--record-faults=FILE` it records which test sets which fault (any truthy assignment to a
`Faults` field while the test runs, whichever way: `set`, `update`, `--fault`, the admin route,
plain attribute assignment); with `--ablate-fault=NAME` it patches `Faults.take`/`Faults.on` for
that name. Only simulators in the pytest process are affected (not ones started as a
subprocess). Tests run from the worktree root with the venv's python; nothing leaves loopback.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
MODES = ("off", "blind")


# -- the pytest plugin --------------------------------------------------------------------------
def pytest_addoption(parser) -> None:
    group = parser.getgroup("fault ablation")
    group.addoption("--ablate-fault", default=None, help="make this simulator fault a no-op")
    group.addoption("--ablate-mode", default="off", choices=MODES, help="off: not played, not counted; "
                    "blind: counted but not played")
    group.addoption("--record-faults", default=None, help="write {test: [faults it sets]} to this JSON file")
    group.addoption("--outcomes", default=None, help="write {test: passed|failed|skipped} to this JSON file")


_current: list[str] = []                       # the nodeid of the running test, for the recorder
_sets: dict[str, set[str]] = defaultdict(set)
_outcomes: dict[str, str] = {}


def pytest_configure(config) -> None:
    from nodes.simulator.faults import Faults

    name, mode = config.getoption("--ablate-fault"), config.getoption("--ablate-mode")
    if name:
        ablate(Faults, name, mode)
    if config.getoption("--record-faults"):
        record(Faults)


def ablate(faults_cls, name: str, mode: str) -> None:
    """Patch the class so that `name` is never played (and, in `off` mode, never counted)."""
    if name not in faults_cls.names():
        raise ValueError(f"unknown fault {name!r}")
    take, on = faults_cls.take, faults_cls.on

    def ablated_take(self, fault: str) -> bool:
        if fault != name:
            return take(self, fault)
        if mode == "blind":
            take(self, fault)                  # spent and counted, but the caller is told "no"
        return False

    def ablated_on(self, fault: str):
        if fault != name:
            return on(self, fault)
        if mode == "blind":
            on(self, fault)
        return type(getattr(self, fault))()    # False / 0.0: the switch reads as off

    faults_cls.take, faults_cls.on = ablated_take, ablated_on


def record(faults_cls) -> None:
    names = set(faults_cls.names())
    setattr_ = faults_cls.__setattr__

    def recording_setattr(self, attr, value) -> None:
        if attr in names and value and _current:
            _sets[_current[-1]].add(attr)
        setattr_(self, attr, value)

    faults_cls.__setattr__ = recording_setattr


def _test_id(item) -> str:
    return f"{item.path}::{item.nodeid.split('::', 1)[1]}"


def pytest_runtest_setup(item) -> None:
    _current.append(_test_id(item))


def pytest_runtest_teardown(item) -> None:
    if _current:
        _current.pop()


def pytest_runtest_logreport(report) -> None:
    test = str(TESTS / report.nodeid)          # tests/pytest.ini makes tests/ the rootdir
    if report.failed:
        _outcomes[test] = "failed"
    elif report.when == "call":
        _outcomes.setdefault(test, "skipped" if report.skipped else "passed")
    elif report.skipped:
        _outcomes.setdefault(test, "skipped")


def pytest_sessionfinish(session) -> None:
    config = session.config
    if path := config.getoption("--record-faults"):
        Path(path).write_text(json.dumps({t: sorted(f) for t, f in _sets.items()}, indent=1), "utf-8")
    if path := config.getoption("--outcomes"):
        Path(path).write_text(json.dumps(_outcomes, indent=1), "utf-8")


# -- the runner ----------------------------------------------------------------------------------
def _pytest(args: list[str]) -> int:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tools.fault_ablation", *args]
    return subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode


def files_that_set_faults() -> list[str]:
    """Test files that could set a fault (a cheap text filter; the recording run decides)."""
    words = (".faults", "--fault", "faults=", "/_sim/faults")
    return sorted(str(p.relative_to(ROOT)) for p in TESTS.glob("test_*.py")
                  if any(w in p.read_text("utf-8") for w in words))


def recorded(files: list[str], tmp: Path) -> dict[str, list[str]]:
    out = tmp / "sets.json"
    _pytest([*files, f"--record-faults={out}"])
    return json.loads(out.read_text("utf-8")) if out.exists() else {}


def by_fault(sets: dict[str, list[str]]) -> dict[str, list[str]]:
    tests: dict[str, list[str]] = defaultdict(list)
    for test, faults in sets.items():
        for f in faults:
            tests[f].append(test)
    return tests


def ablation_run(fault: str, tests: list[str], mode: str, tmp: Path) -> dict[str, str]:
    out = tmp / f"{fault}-{mode}.json"
    _pytest([*tests, f"--ablate-fault={fault}", f"--ablate-mode={mode}", f"--outcomes={out}"])
    got = json.loads(out.read_text("utf-8")) if out.exists() else {}
    return {t: got.get(t, "failed (not run)") for t in tests}


def short(test: str) -> str:
    return test.split("/tests/", 1)[-1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="*", help="test files (default: every test file that sets faults)")
    p.add_argument("--mode", choices=(*MODES, "both"), default="off")
    p.add_argument("--fault", action="append", help="only these faults")
    p.add_argument("--json", help="also write the full result to this file")
    a = p.parse_args(argv)
    files = a.files or files_that_set_faults()
    modes = MODES if a.mode == "both" else (a.mode,)
    with tempfile.TemporaryDirectory(prefix="ablation-") as d:
        tmp = Path(d)
        tests_of = by_fault(recorded(files, tmp))
        if a.fault:
            tests_of = {f: t for f, t in tests_of.items() if f in a.fault}
        result: dict[str, dict] = {}
        for fault in sorted(tests_of):
            result[fault] = {"tests": sorted(tests_of[fault])}
            for mode in modes:
                result[fault][mode] = ablation_run(fault, result[fault]["tests"], mode, tmp)
    from nodes.simulator.faults import Faults

    width = max(len(f) for f in Faults.names())
    head = "  ".join(f"failed ({m})" for m in modes)
    print(f"{'fault':<{width}}  tests  {head}")
    totals = {m: 0 for m in modes}
    for fault in Faults.names():
        if fault not in result:
            print(f"{fault:<{width}}  {0:>5}  (no test sets it)")
            continue
        r = result[fault]
        cells = []
        for m in modes:
            failed = sum(o.startswith("failed") for o in r[m].values())
            totals[m] += failed
            cells.append(f"{failed:>{len('failed ()') + len(m)}}")
        print(f"{fault:<{width}}  {len(r['tests']):>5}  {'  '.join(cells)}")
    n = sum(len(r["tests"]) for r in result.values())
    print(f"{'(fault, test) pairs':<{width}}  {n:>5}  " + "  ".join(
        f"{totals[m]:>{len('failed ()') + len(m)}}" for m in modes))
    for m in modes:
        survivors = [(f, short(t)) for f, r in result.items() for t, o in r[m].items() if not o.startswith("failed")]
        if survivors:
            print(f"\nstill passing with the fault made a no-op ({m}):")
            for f, t in survivors:
                print(f"  {f:<{width}}  {t}")
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=1), "utf-8")
    return 0 if all(totals[m] == n for m in modes) else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
