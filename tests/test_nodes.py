"""The node layer run as ComfyUI runs it (awaiting the async FUNCTION) against the simulator."""
from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
import threading
import time

import pytest
import torch

from conftest import ROOT
from support import assert_injected, defaults, image, run

from nodes.comfy import NODE_CLASS_MAPPINGS, bridge
from nodes.comfy.handles import MediaHandle
from nodes.errors import JobFailedError, ValidationError

CREATE = NODE_CLASS_MAPPINGS["AliveAICreateImage"]
I2V = NODE_CLASS_MAPPINGS["AliveAIImageToVideo"]
UPLOAD = NODE_CLASS_MAPPINGS["AliveAIUpload"]
LOAD = NODE_CLASS_MAPPINGS["AliveAILoadResult"]
EDIT = NODE_CLASS_MAPPINGS["AliveAIEditImage"]
INPAINT = NODE_CLASS_MAPPINGS["AliveAIInpaint"]


def test_pack_imports_as_comfyui_imports_it():
    """ComfyUI loads the folder by path under a mangled name: relative imports must hold."""
    spec = importlib.util.spec_from_file_location("custom_nodes_x_ComfyUI-AliveAI", ROOT / "__init__.py",
                                                  submodule_search_locations=[str(ROOT)])
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    try:
        spec.loader.exec_module(mod)
        assert mod.WEB_DIRECTORY == "./js"
        for key in ("AliveAICreateImage", "AliveAIImageToVideo", "AliveAIUpload", "AliveAILoadResult"):
            cls = mod.NODE_CLASS_MAPPINGS[key]
            it = cls.INPUT_TYPES()
            assert set(it) <= {"required", "optional", "hidden"}
            assert key in mod.NODE_DISPLAY_NAME_MAPPINGS
            assert len(cls.RETURN_TYPES) == len(cls.RETURN_NAMES) == len(cls.OUTPUT_TOOLTIPS)
            assert asyncio.iscoroutinefunction(getattr(cls, cls.FUNCTION))
    finally:
        sys.modules.pop(spec.name, None)


def test_create_image_widgets_come_from_the_table():
    spec = CREATE.INPUT_TYPES()
    assert list(spec["required"]) == ["name", "appearance", "detailLevel"]
    seed = spec["optional"]["seed"]
    assert seed[0] == "INT" and seed[1]["control_after_generate"] is True and seed[1]["max"] == 2**53 - 1
    assert spec["optional"]["cfg"][1]["default"] == 5 and spec["optional"]["cfg"][1]["max"] == 10
    assert "200 characters" in spec["required"]["name"][1]["tooltip"]
    assert spec["optional"]["gender"][0][0] == "(not set)"
    assert "createdFromPromptId" not in spec["optional"]


def test_validate_inputs_names_node_field_and_limit():
    msg = CREATE.VALIDATE_INPUTS(**{**defaults(CREATE), "name": "x" * 201, "appearance": "ok"})
    assert msg.startswith("Create Image (AliveAI): 'name'") and "200" in msg
    assert CREATE.VALIDATE_INPUTS(**{**defaults(CREATE), "name": "Ada", "appearance": "ok"}) is True
    # issue 12: motionStrength with another videoModel is sent with a warning (the doc only says when it applies)
    assert I2V.VALIDATE_INPUTS(**{**defaults(I2V), "text": "go", "videoModel": "AUDIO", "motionStrength": 3}) is True


def test_create_image_then_image_to_video_chain_without_reupload(comfy, sim):
    kw = {**defaults(CREATE), "name": "Ada Lovelace", "appearance": "at her desk", "aspectRatio": "LANDSCAPE"}
    out = run(CREATE, unique_id="5", **kw)
    img, handle, media_id, prompt_id = out["result"]
    assert img.shape == (1, 512, 768, 3) and img.dtype == torch.float32 and 0 <= img.min() and img.max() <= 1
    assert isinstance(handle, MediaHandle) and handle.media_id == media_id and handle.prompt_id == prompt_id
    assert out["ui"]["images"][0]["subfolder"].startswith("aliveai/")
    body = sim.state.requests_for("create_prompt")[-1].body
    assert body["seed"] == "0" and body["aspectRatio"] == "LANDSCAPE" and "gender" not in body
    assert any("done in" in t for _, t in comfy)

    vout = run(I2V, unique_id="6", **{**defaults(I2V), "text": "she smiles", "image_media": handle})
    video, vhandle, vid, vprompt = vout["result"]
    assert vout["ui"]["animated"] == [True]
    assert vhandle.first.media_type == "VIDEO"
    assert video.get_dimensions()[0] > 0
    vbody = sim.state.requests_for("create_image_to_video")[-1].body
    assert vbody["mediaId"] == media_id and vbody["createdFromPromptId"] == prompt_id
    assert "customImage" not in vbody  # a result, not an upload
    assert sim.state.counters.uploads == 0


def test_local_image_is_uploaded_once_and_edited(comfy, sim):
    kw = {**defaults(EDIT), "prompt": "add a hat"}
    img = image()
    out1 = run(EDIT, unique_id="1", image=img, **kw)
    out2 = run(EDIT, unique_id="1", image=img.clone(), **{**kw, "seed": 1})
    assert sim.state.counters.uploads == 1  # same pixels: uploaded once
    assert out1["result"][0].shape == (1, 32, 48, 3)
    body = sim.state.requests_for("edit_image")[-1].body
    assert body["createdFromPromptId"] == body["mediaId"]  # an upload has no prompt; see README known unknowns
    assert out2["result"][3] != out1["result"][3]


def test_batch_runs_one_job_per_image_in_order(comfy, sim):
    out = run(EDIT, unique_id="2", image=image(b=3), **{**defaults(EDIT), "prompt": "x"})
    assert out["result"][0].shape[0] == 3
    assert len(out["result"][3].split(",")) == 3
    assert sim.state.counters.uploads == 3 and sim.state.counters.creates["edit_image"] == 3


def test_inpaint_with_a_mask_of_another_size(comfy, sim):
    mask = torch.zeros(1, 16, 16)
    mask[:, 4:12, 4:12] = 1.0
    out = run(INPAINT, unique_id="3", image=image(), mask=mask, **{**defaults(INPAINT), "prompt": "a flower"})
    assert out["result"][0].shape == (1, 32, 48, 3)
    body = sim.state.requests_for("inpaint")[-1].body
    assert body["maskMediaId"] != body["originalMediaId"]


def test_missing_required_media_fails_before_anything_is_sent(comfy, sim):
    before = len(sim.state.log)
    with pytest.raises(ValidationError) as e:
        run(EDIT, unique_id="4", **{**defaults(EDIT), "prompt": "x"})
    assert "Edit Image (AliveAI)" in str(e.value) and "image" in str(e.value)
    assert len(sim.state.log) == before


def test_upload_node_and_media_from_id(comfy, sim):
    handle, ids = run(UPLOAD, unique_id="9", image=image(b=2))["result"]
    assert len(handle.items) == 2 and all(r.uploaded for r in handle.items)
    run(UPLOAD, unique_id="9", image=image(b=2))
    assert sim.state.counters.uploads == 2
    out = run(I2V, unique_id="7", **{**defaults(I2V), "text": "go"}, image_media=MediaHandle(handle.items[:1]))
    body = sim.state.requests_for("create_image_to_video")[-1].body
    assert body["customImage"] is True and out["result"][1].first.media_type == "VIDEO"


def test_load_result_from_disk_and_from_the_api(comfy, sim, tmp_path, monkeypatch):
    out = run(CREATE, unique_id="5", **{**defaults(CREATE), "name": "A B", "appearance": "c"})
    prompt_id = out["result"][3]
    creates = sim.state.counters.creates["create_prompt"]
    loaded = run(LOAD, prompt_id=prompt_id, unique_id="8")
    assert torch.equal(loaded["result"][0], out["result"][0])
    assert sim.state.counters.creates["create_prompt"] == creates
    # a fresh machine: nothing on disk, so it comes from Get Prompt + download
    monkeypatch.setenv("ALIVEAI_OUTPUT_DIR", str(tmp_path / "elsewhere"))
    gets = len(sim.state.requests_for("get_prompt"))
    again = run(LOAD, prompt_id=prompt_id, unique_id="8")
    assert torch.equal(again["result"][0], out["result"][0])
    assert len(sim.state.requests_for("get_prompt")) == gets + 1
    sidecar = json.loads((tmp_path / "elsewhere" / "aliveai" / prompt_id / "result.json").read_text())
    assert sidecar["prompt_id"] == prompt_id and sidecar["medias"][0]["type"] == "IMAGE"


def test_load_result_of_a_video_gives_its_first_frame_and_the_video(comfy, sim):
    img = run(CREATE, unique_id="5", **{**defaults(CREATE), "name": "A B", "appearance": "c"})
    v = run(I2V, unique_id="6", **{**defaults(I2V), "text": "go"}, image_media=img["result"][1])
    loaded = run(LOAD, prompt_id=v["result"][3], unique_id="8")
    frame, video = loaded["result"][0], loaded["result"][1]
    assert frame.dim() == 4 and frame.shape[0] == 1 and video is not None


def test_results_and_sidecars_are_saved_for_every_job(comfy, sim, tmp_path):
    out = run(CREATE, unique_id="5", **{**defaults(CREATE), "name": "A B", "appearance": "c"})
    pid = out["result"][3]
    folder = tmp_path / "output" / "aliveai" / pid
    assert any(p.suffix == ".png" for p in folder.iterdir())
    side = json.loads((folder / "result.json").read_text())
    assert side["operation"] == "create_prompt" and side["request"]["name"] == "A B"
    log = (tmp_path / "user" / "jobs.jsonl").read_text()
    assert f'"submitted", "prompt_id": "{pid}"' in log and '"completed"' in log


def test_job_failure_names_node_and_prompt_id(comfy, sim):
    sim.state.faults.set("job_error", True)
    with pytest.raises(JobFailedError) as e:
        run(CREATE, unique_id="5", **{**defaults(CREATE), "name": "A B", "appearance": "c"})
    msg = str(e.value)
    assert msg.startswith("Create Image (AliveAI): ") and "GPU out of memory" in msg and "prompt_id" in msg
    assert_injected(sim, "job_error")


def test_interrupt_while_queued_removes_the_job(comfy, sim, monkeypatch):
    sim.state.faults.set("job_hang", True)
    from nodes.client import AliveAIClient
    from nodes.comfy import session

    blockers = [session.client().submit("create_prompt", {"name": "A", "appearance": "b", "detailLevel": "HIGH",
                                                          "seed": str(i)}) for i in range(2)]
    flag = threading.Event()
    monkeypatch.setattr(bridge, "is_interrupted", flag.is_set)
    threading.Timer(1.0, flag.set).start()
    t0 = time.monotonic()
    with pytest.raises(bridge.Interrupted) as e:  # ComfyUI's InterruptProcessingException inside ComfyUI
        run(CREATE, unique_id="5", **{**defaults(CREATE), "name": "A B", "appearance": "c"})
    assert time.monotonic() - t0 < 5
    assert "removed from the AliveAI queue" in str(e.value)
    mine = sim.state.requests_for("delete_from_queue")
    assert len(mine) == 1
    assert any("interrupted" in t for _, t in comfy)
    assert isinstance(blockers[0], object) and AliveAIClient
    assert_injected(sim, "job_hang")


def test_cancelled_task_stops_the_worker_thread(comfy, sim):
    sim.state.faults.set("job_hang", True)

    async def main():
        task = asyncio.create_task(CREATE().run(unique_id="5", **{**defaults(CREATE), "name": "A", "appearance": "b"}))
        await asyncio.sleep(1.0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    t0 = time.monotonic()
    asyncio.run(main())  # asyncio.run waits for the worker thread: it must end within ~a second
    assert time.monotonic() - t0 < 5
    assert len(sim.state.requests_for("delete_from_queue")) == 1
    assert_injected(sim, "job_hang")


def test_independent_nodes_run_concurrently(comfy, sim):
    sim.state.config.job_seconds = 1.0

    async def two():
        kw = {**defaults(CREATE), "name": "A B", "appearance": "c"}
        return await asyncio.gather(CREATE().run(unique_id="1", **kw), CREATE().run(unique_id="2", **{**kw, "seed": 9}))

    t0 = time.monotonic()
    a, b = asyncio.run(two())
    wall = time.monotonic() - t0
    assert a["result"][3] != b["result"][3]
    assert sim.state.counters.creates["create_prompt"] == 2
    assert wall < 2 * 1.0 + 1.5  # not strictly serial (a benchmark measures the real figure)


def test_no_credentials_is_an_actionable_error(comfy, monkeypatch):
    from nodes.comfy import session
    from nodes.errors import ConfigError

    monkeypatch.delenv("ALIVEAI_API_KEY")
    session.reset()
    with pytest.raises(ConfigError) as e:
        run(CREATE, unique_id="5", **{**defaults(CREATE), "name": "A B", "appearance": "c"})
    assert "ALIVEAI_API_KEY" in str(e.value) and "Settings" in str(e.value)


def test_identical_request_after_a_restart_makes_no_new_job(comfy, sim, monkeypatch):
    """The persistent request cache: same inputs (a local image, same widgets) after the process
    forgot everything give the stored result: 0 uploads, 0 creates."""
    from nodes import media, pixel_cache
    from nodes.comfy import session

    kw = {**defaults(EDIT), "prompt": "add a hat"}
    img = image(seed=3)
    first = run(EDIT, unique_id="1", image=img, **kw)
    session.reset()
    media.UPLOADS.clear()  # a restart: no upload cache, no client, no decoded pixels in memory
    pixel_cache.DECODED.clear()
    uploads, creates = sim.state.counters.uploads, sim.state.counters.creates["edit_image"]
    decodes = []
    real = media._decode_one
    monkeypatch.setattr(media, "_decode_one", lambda src: decodes.append(src) or real(src))
    again = run(EDIT, unique_id="1", image=img.clone(), **kw)
    assert (sim.state.counters.uploads, sim.state.counters.creates["edit_image"]) == (uploads, creates)
    assert decodes == []  # the result's pixels come from the disk cache, not a new PNG decode
    assert again["result"][3] == first["result"][3]
    assert torch.equal(again["result"][0], first["result"][0])
    assert any("cached result" in t for _, t in comfy)
    run(EDIT, unique_id="1", image=img, **{**kw, "seed": 7})  # a new seed is a new job
    assert sim.state.counters.creates["edit_image"] == creates + 1


def test_cache_hit_with_deleted_files_downloads_again_without_a_job(comfy, sim, tmp_path):
    import shutil

    kw = {**defaults(CREATE), "name": "A B", "appearance": "cached"}
    first = run(CREATE, unique_id="5", **kw)
    shutil.rmtree(tmp_path / "output")
    creates = sim.state.counters.creates["create_prompt"]
    again = run(CREATE, unique_id="5", **kw)
    assert sim.state.counters.creates["create_prompt"] == creates
    assert torch.equal(again["result"][0], first["result"][0])


def test_a_non_mp4_video_is_converted_once_and_its_temp_file_removed(comfy, sim):
    import gc
    import os

    from nodes.simulator.synth import make_mp4

    class MkvVideo:  # a VIDEO whose container is not MP4: the pack must save it as MP4 itself
        saves: list = []

        def get_container_format(self):
            return "matroska,webm"

        def get_stream_source(self):
            return "clip.mkv"

        def save_to(self, path, **_):
            self.saves.append(path)
            with open(path, "wb") as f:
                f.write(make_mp4(64, 64, 4, 8, "1", "mkv"))

    handle, _ = run(UPLOAD, unique_id="9", video=MkvVideo())["result"]
    assert handle.first.media_type == "VIDEO" and sim.state.counters.uploads == 1
    assert len(MkvVideo.saves) == 1
    gc.collect()
    assert not os.path.exists(MkvVideo.saves[0])
