"""The README's first commands as a new user meets them: `python -m nodes.demo` and
`python -m nodes.simulator` run as subprocesses, with the environment a user would set.

What is checked is what the user reads: one line naming the cause (never a traceback), the
variable to fix, the prompt_id of a job left behind and what happens to it, and no talk of
credits where none are spent. Faults are asserted as played; Ctrl-C is sent once the demo has
printed the job's prompt_id (and, for the running case, its progress), never after a sleep.
"""
from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading

import pytest
from conftest import ROOT
from support import assert_injected, wait_for

from nodes.simulator import DEFAULT_API_KEY

TIMEOUT = 60


def user_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALIVEAI_")}
    env.update(PYTHONUNBUFFERED="1", **extra)
    return env


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Demo:
    """`python -m nodes.demo` in the background, its stdout read line by line."""

    def __init__(self, env: dict[str, str], out) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "nodes.demo", "--out", str(out)], cwd=ROOT, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_for_line(self, pattern: str) -> re.Match:
        while True:
            try:
                line = self.lines.get(timeout=TIMEOUT)
            except queue.Empty:
                self.proc.kill()
                raise AssertionError(f"the demo never printed {pattern!r}; it printed {self.seen}") from None
            self.seen.append(line)
            m = re.search(pattern, line)
            if m:
                return m

    def interrupt(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGINT)
        try:
            err = self.proc.stderr.read()
            rc = self.proc.wait(timeout=TIMEOUT)
        finally:
            self.proc.kill()
        return rc, err


def assert_one_clear_line(err: str) -> None:
    assert "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err


# -- Ctrl-C -------------------------------------------------------------------------------------

def test_ctrl_c_while_queued_removes_the_job_and_names_its_prompt_id(sim, client, tmp_path):
    sim.state.config.workers = 1
    sim.state.faults.job_hang = True          # an earlier job holds the only slot: the demo's job waits
    blocker = client.submit("create_prompt", {"name": "A", "appearance": "b", "detailLevel": "MEDIUM"})
    demo = Demo(user_env(ALIVEAI_BASE_URL=sim.base_url, ALIVEAI_API_KEY=DEFAULT_API_KEY), tmp_path)
    pid = demo.wait_for_line(r"submitted, prompt_id (\w+)").group(1)
    demo.wait_for_line(r"queued #")
    rc, err = demo.interrupt()
    assert_injected(sim, "job_hang")
    assert rc == 130
    assert_one_clear_line(err)
    assert pid in err and "removed from the queue" in err, err
    assert sim.state.jobs[pid].status == "REMOVED"
    assert sim.state.jobs[blocker.prompt_id].status == "RUNNING"


def test_ctrl_c_while_running_says_it_may_be_billed_and_how_to_get_it(sim, tmp_path):
    sim.state.faults.job_hang = True          # the job runs and never finishes by itself
    demo = Demo(user_env(ALIVEAI_BASE_URL=sim.base_url, ALIVEAI_API_KEY=DEFAULT_API_KEY), tmp_path)
    pid = demo.wait_for_line(r"submitted, prompt_id (\w+)").group(1)
    demo.wait_for_line(r"running 75%")        # the last step before the hang...
    wait_for(lambda: sim.state.faults.count("job_hang") >= 1)   # ...and the hang itself has begun
    rc, err = demo.interrupt()
    assert_injected(sim, "job_hang")
    assert rc == 130
    assert_one_clear_line(err)
    assert pid in err and "already running" in err and "may be billed" in err and "Load Result" in err, err
    assert sim.state.jobs[pid].status == "RUNNING"


# -- the base URL -------------------------------------------------------------------------------

def test_an_unreachable_base_url_is_named_before_anything_is_sent(tmp_path):
    port = free_port()                        # nothing listens there
    out = run(["-m", "nodes.demo", "--out", str(tmp_path)],
              user_env(ALIVEAI_BASE_URL=f"http://127.0.0.1:{port}", ALIVEAI_API_KEY="not-sent-anywhere"))
    assert out.returncode == 2
    assert_one_clear_line(out.stderr)
    assert "ALIVEAI_BASE_URL" in out.stderr and f"127.0.0.1:{port}" in out.stderr and "Nothing was sent" in out.stderr
    assert "Create Image" not in out.stdout   # refused up front, not after the create's retries
    assert "not-sent-anywhere" not in out.stdout + out.stderr


@pytest.mark.parametrize("url", ["127.0.0.1:8765", "localhost:8765/"])
def test_a_base_url_without_a_scheme_is_one_line_with_the_right_hint(tmp_path, url):
    out = run(["-m", "nodes.demo", "--out", str(tmp_path)], user_env(ALIVEAI_BASE_URL=url, ALIVEAI_API_KEY="k-123456"))
    assert out.returncode == 2
    assert_one_clear_line(out.stderr)
    assert "ALIVEAI_BASE_URL" in out.stderr and "http://" in out.stderr, out.stderr
    assert "Settings > AliveAI > Account" not in out.stderr   # the key is not the problem


# -- what the demo says about money and pictures -------------------------------------------------

def test_the_built_in_simulator_run_says_no_credits_and_synthetic_pictures(tmp_path):
    out = run(["-m", "nodes.demo", "--out", str(tmp_path)], user_env())
    assert out.returncode == 0, out.stderr
    assert "spends credits" not in out.stdout
    assert "no credits spent" in out.stdout and "synthetic" in out.stdout.split("Done.", 1)[1]
    assert sorted(p.suffix for p in tmp_path.glob("aliveai/*/*") if p.suffix in (".png", ".mp4")) == [".mp4", ".png"]


def test_a_simulator_named_by_base_url_is_not_announced_as_spending_credits(sim, tmp_path):
    out = run(["-m", "nodes.demo", "--out", str(tmp_path)],
              user_env(ALIVEAI_BASE_URL=sim.base_url, ALIVEAI_API_KEY=DEFAULT_API_KEY))
    assert out.returncode == 0, out.stderr
    assert "spends credits" not in out.stdout and "simulator" in out.stdout.splitlines()[0]
    assert "synthetic" in out.stdout
    assert sum(sim.state.counters.creates.values()) == 2


def test_a_loopback_server_that_is_not_the_simulator_is_announced_as_spending_credits():
    from nodes import demo

    with socket.socket() as s:                # listens, but answers nothing like the simulator
        s.bind(("127.0.0.1", 0))
        s.listen()
        s.settimeout(10)
        box: list[bool] = []
        t = threading.Thread(target=lambda: box.append(demo.is_simulator(f"http://127.0.0.1:{s.getsockname()[1]}")))
        t.start()
        conn, _ = s.accept()
        conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        conn.close()
        t.join(TIMEOUT)
    assert box == [False]
    assert not demo.is_simulator("https://api.aliveai.app")   # never asked: not a loopback host


# -- the simulator's command line -----------------------------------------------------------------

def test_a_busy_simulator_port_is_one_clear_line():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        out = run(["-m", "nodes.simulator", "--port", str(port)], user_env())
    assert out.returncode == 2
    assert_one_clear_line(out.stderr)
    assert f"port {port}" in out.stderr and "already in use" in out.stderr and "--port" in out.stderr


def test_max_upload_bytes_is_an_option_and_refused_as_a_fault_with_the_option_to_use(capsys):
    from nodes.simulator.__main__ import main, parse_args
    from nodes.simulator.runner import make_simulator

    args = parse_args(["--max-upload-bytes", "200"])
    assert make_simulator(args.fault, max_upload_bytes=args.max_upload_bytes).config.max_upload_bytes == 200
    assert main(["--fault", "max_upload_bytes=200"]) == 2
    err = capsys.readouterr().err
    assert "not a fault" in err and "--max-upload-bytes 200" in err


def test_every_simulator_switch_the_readme_and_docs_show_is_accepted_by_the_command_line():
    """Each `--fault name[=N]` and `--max-upload-bytes N` written in the README or docs/ is taken by
    `python -m nodes.simulator` as written (a setting shown as a fault was refused there)."""
    from nodes.simulator.__main__ import parse_args, setting_given_as_fault
    from nodes.simulator.runner import make_simulator

    texts = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    text = "\n".join(p.read_text("utf-8") for p in texts if p.exists())
    shown = re.findall(r"(--fault [a-z][a-z0-9_]*(?:=\d+)?|--max-upload-bytes \d+)", text)
    assert len(set(shown)) >= 20, shown
    for switch in set(shown):
        args = parse_args(switch.split())
        assert setting_given_as_fault(args.fault) is None, switch
        make_simulator(args.fault, max_upload_bytes=args.max_upload_bytes)


# -- CI ------------------------------------------------------------------------------------------

def test_ci_fails_when_node_is_missing_instead_of_skipping_the_js_tests(tmp_path):
    """A PATH with bash and the basic tools but no node: .ci/run stops with a message naming node,
    before it builds a venv (which is never made)."""
    import shutil

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "ls", "python3", "timeout"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    assert not (bin_dir / "node").exists()
    venv = tmp_path / "venv"
    out = subprocess.run(["bash", str(ROOT / ".ci" / "run")], cwd=tmp_path, capture_output=True, text=True,
                         timeout=TIMEOUT, env={"PATH": str(bin_dir), "ALIVEAI_CI_VENV": str(venv),
                                               "HOME": str(tmp_path)})
    assert out.returncode != 0
    assert "node is not installed" in out.stderr and "JS tests" in out.stderr, out.stderr
    assert not venv.exists()
