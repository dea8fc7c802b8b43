"""No secret leaves the process: a full run with a distinctive API key, then one with e-mail and
password login (with a token that expires mid-job), then failures (a 401, a job error, a download
that cannot be refreshed). Afterwards every artifact of the run is scanned for the key, the
password and every access token the simulator issued: the output folder (files, PNG text chunks,
sidecars), the user folder (job log, request cache), captured logs at DEBUG (the pack, urllib3,
websocket-client), the texts of the errors and their tracebacks, the node status lines, and the
simulator's own request log.
"""
from __future__ import annotations

import io
import json
import logging
import traceback

import pytest
from support import CREATE, EDIT, I2V, assert_injected, create_kw, defaults, image, node_env, run

from nodes.comfy import NODE_CLASS_MAPPINGS, session
from nodes.errors import AliveAIError
from nodes.simulator import SimulatorThread

KEY = "sk-test-LEAKCANARY-1234567890"
WRONG_KEY = "sk-test-LEAKCANARY-WRONG-5555"
EMAIL = "canary@example.com"
PASSWORD = "pw-LEAKCANARY-0987654321"
WRONG_PASSWORD = "pw-LEAKCANARY-WRONG-4444"
LOAD = NODE_CLASS_MAPPINGS["AliveAILoadResult"]


@pytest.fixture
def leak_sim():
    with SimulatorThread(job_seconds=0.2, api_keys=(KEY,), accounts={EMAIL: PASSWORD}) as s:
        yield s


@pytest.fixture
def env(leak_sim, tmp_path, monkeypatch):
    with node_env(monkeypatch, tmp_path, leak_sim.base_url) as texts:
        yield texts


def use(monkeypatch, **values: str) -> None:
    for k in ("ALIVEAI_API_KEY", "ALIVEAI_EMAIL", "ALIVEAI_PASSWORD"):
        monkeypatch.delenv(k, raising=False)
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    session.reset()


def failure(fn, **kw) -> str:
    """The full text a user or a log could see of an expected failure: message and traceback."""
    with pytest.raises(AliveAIError) as e:
        fn(**kw)
    return str(e.value) + "\n" + repr(e.value) + "\n" + "".join(traceback.format_exception(e.value))


def png_texts(data: bytes) -> str:
    """The text chunks of a PNG (tEXt, zTXt, iTXt), decompressed: what raw bytes may hide."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        im.load()
        return json.dumps({**{k: str(v) for k, v in im.info.items()}, **dict(getattr(im, "text", {}) or {})})


def test_no_secret_in_any_artifact_of_a_run(env, leak_sim, tmp_path, monkeypatch, caplog):
    texts = env
    tokens: list[str] = []
    login = leak_sim.state.login

    def record_login(email, password):
        token = login(email, password)
        if token:
            tokens.append(token)
        return token
    monkeypatch.setattr(leak_sim.state, "login", record_login)
    for name in ("", "aliveai", "urllib3", "websocket"):
        caplog.set_level(logging.DEBUG, logger=name or None)
    errors: list[str] = []

    # 1. API key: generate, upload + edit, image to video, load a result back.
    use(monkeypatch, ALIVEAI_API_KEY=KEY)
    first = run(CREATE, unique_id="1", **create_kw())
    run(EDIT, unique_id="2", image=image(), **{**defaults(EDIT), "prompt": "add a hat"})
    run(I2V, unique_id="3", image_media=first["result"][1], **{**defaults(I2V), "text": "she smiles"})
    run(LOAD, unique_id="4", prompt_id=first["result"][3])
    leak_sim.state.faults.set("job_error")
    errors.append(failure(run, node_cls=CREATE, unique_id="1", **create_kw(seed=5)))
    assert_injected(leak_sim, "job_error")
    leak_sim.state.faults.set("job_error", False)
    leak_sim.state.faults.set("url_expired")
    errors.append(failure(run, node_cls=CREATE, unique_id="1", **create_kw(seed=6)))
    assert_injected(leak_sim, "url_expired")
    leak_sim.state.faults.set("url_expired", False)
    use(monkeypatch, ALIVEAI_API_KEY=WRONG_KEY)                      # a 401
    errors.append(failure(run, node_cls=CREATE, unique_id="1", **create_kw(seed=7)))

    # 2. E-mail and password: Bearer tokens, one of which expires mid-job (401, log in again).
    use(monkeypatch, ALIVEAI_EMAIL=EMAIL, ALIVEAI_PASSWORD=PASSWORD)
    sockets = leak_sim.state.counters.ws_connections
    leak_sim.state.faults.update({"auth_expire_mid_job": True, "ws_drop": True})
    run(CREATE, unique_id="1", **create_kw(seed=8))
    run(EDIT, unique_id="2", image=image(seed=1), **{**defaults(EDIT), "prompt": "a red hat"})
    assert_injected(leak_sim, "auth_expire_mid_job", "ws_drop")
    # two jobs, each socket dropped mid-job: the reopened sockets carried credentials too
    assert leak_sim.state.counters.ws_connections - sockets > 2, "no dropped socket was reopened"
    leak_sim.state.faults.reset()
    leak_sim.state.faults.set("job_error")
    errors.append(failure(run, node_cls=CREATE, unique_id="1", **create_kw(seed=9)))
    assert_injected(leak_sim, "job_error")
    leak_sim.state.faults.reset()
    use(monkeypatch, ALIVEAI_EMAIL=EMAIL, ALIVEAI_PASSWORD=WRONG_PASSWORD)  # login refused
    errors.append(failure(run, node_cls=CREATE, unique_id="1", **create_kw(seed=10)))
    session.reset()

    assert len(tokens) >= 2, "the token should have been renewed mid-job"
    assert leak_sim.state.counters.logins >= 2
    secrets = {"API key": KEY, "wrong API key": WRONG_KEY, "password": PASSWORD, "wrong password": WRONG_PASSWORD,
               **{f"access token {i}": t for i, t in enumerate(tokens)}}

    # Every artifact, as text.
    artifacts: dict[str, str] = {}
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".png" for p in files) and any(p.name == "jobs.jsonl" for p in files)
    assert any(p.suffix == ".mp4" for p in files) and any(p.name == "result.json" for p in files)
    assert any("cache" in p.parts for p in files)
    for p in files:
        data = p.read_bytes()
        artifacts[str(p.relative_to(tmp_path))] = data.decode("latin-1")
        if p.suffix == ".png":
            artifacts[f"{p.relative_to(tmp_path)} (text chunks)"] = png_texts(data)
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    artifacts["logs"] = "\n".join(formatter.format(r) for r in caplog.records)
    assert any(r.name.startswith("urllib3") for r in caplog.records)     # the capture really saw DEBUG
    artifacts["errors"] = "\n".join(errors)
    artifacts["node status lines"] = "\n".join(texts)
    artifacts["simulator request log"] = json.dumps([e.as_dict() for e in leak_sim.state.log], default=str)

    leaks = [f"{what} in {where}" for where, text in artifacts.items() for what, s in secrets.items() if s in text]
    assert not leaks, leaks
    # and the failures still said what went wrong
    assert "GPU out of memory" in artifacts["errors"] and "401" in artifacts["errors"]
    assert "Invalid email or password" in artifacts["errors"]


def test_saved_workflow_and_result_png_hold_no_key(env, leak_sim, tmp_path, monkeypatch):
    """What a user shares after a run with a key set: the workflow as ComfyUI saves it (UI JSON),
    the API prompt, the nodes' ui messages (which go to /history), and a result PNG carrying
    SaveImage's metadata (prompt + workflow). None of them may hold the key."""
    from pathlib import Path

    from PIL import Image, PngImagePlugin
    from tools.workflow_runner import api_prompt, run_workflow

    use(monkeypatch, ALIVEAI_API_KEY=KEY)
    root = Path(__file__).resolve().parents[1]
    wf = json.loads((root / "workflows" / "Edit then upscale.json").read_text())
    result = run_workflow(wf, tmp_path / "wf")
    prompt = api_prompt(wf, NODE_CLASS_MAPPINGS)
    saved = json.dumps(wf) + json.dumps(prompt, default=str) + json.dumps(result.ui, default=str)
    image_out = next(v for _, kind, v in result.sinks if kind == "SaveImage")
    pixels = (image_out[0].numpy() * 255).round().astype("uint8")
    info = PngImagePlugin.PngInfo()
    info.add_text("prompt", json.dumps(prompt, default=str))
    info.add_text("workflow", json.dumps(wf))
    png = tmp_path / "shared.png"
    Image.fromarray(pixels).save(png, pnginfo=info)
    assert result.ui and image_out is not None
    assert KEY not in saved
    assert KEY.encode() not in png.read_bytes()
    assert b"AliveAIEditImage" in png.read_bytes()  # the metadata really is in the file we scanned
