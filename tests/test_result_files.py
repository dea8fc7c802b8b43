"""Result files under attack: hostile prompt and media ids, sidecars pointing outside their folder,
and result images whose header asks for more pixels than any machine should decode
(issue 11: safe names, verified sidecars, a pixel limit on results)."""
from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nodes.comfy import NODE_CLASS_MAPPINGS
from nodes.errors import AliveAIError, ResultTooLargeError
from nodes.simulator.synth import make_mp4, make_png, png_header_only
from nodes.store import ResultStore
from tests.support import CREATE, create_kw, creates, run

LOAD = NODE_CLASS_MAPPINGS["AliveAILoadResult"]
HOSTILE = ["..", ".", "", "job:42", "job/42", "job_42", "a\\b", "a/../b", "CON", "con", "nul", "LPT1", "Job42",
           "job42", "x" * 200, "x" * 200 + "y", "é", "a..b", "/etc", "C:\\x", " ", "job 42", "a\x00b"]


def view_ok(output: Path, subfolder: str, filename: str) -> bool:
    """ComfyUI's /view checks (server.py, 0.3.64): no '..' in the file name, no leading '/', and
    the subfolder joined to the output folder must stay inside it."""
    if not filename or filename[0] == "/" or ".." in filename:
        return False
    out = os.path.abspath(output)
    full = os.path.join(out, subfolder)
    return os.path.commonpath((os.path.abspath(full), out)) == out and os.path.isfile(os.path.join(full, filename))


def pixels_of(path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def image_of(out) -> np.ndarray:
    return np.rint(out["result"][0][0].numpy() * 255).astype(np.uint8)


def gets(sim, prefix: str = "/prompts/") -> int:
    return sum(1 for r in list(sim.state.log) if r.method == "GET" and r.path.startswith(prefix)
               and r.path != "/prompts/pending")


# -- names ---------------------------------------------------------------------------------------
def test_prompt_and_media_ids_map_to_distinct_safe_names(tmp_path):
    store = ResultStore(tmp_path / "output", tmp_path / "user")
    folders = [store.sidecar_path(pid).parent for pid in HOSTILE]
    names = [f.name for f in folders]
    assert len({n.lower() for n in names}) == len(HOSTILE), names   # distinct even on a case-insensitive disk
    for pid, folder in zip(HOSTILE, folders, strict=True):
        assert folder.parent == store.root, pid
        assert folder.name not in ("", ".", "..") and "/" not in folder.name and "\\" not in folder.name
        assert ".." not in folder.name and "\x00" not in folder.name and len(folder.name) <= 64
        assert folder.name.split(".")[0].lower() not in {"con", "prn", "aux", "nul", "lpt1", "com1"}
    files = [store.media_path("p1", mid, "IMAGE", 0) for mid in HOSTILE]
    assert len({f.name.lower() for f in files}) == len(HOSTILE)
    for f in files:
        assert f.parent == store.root / "p1" and ".." not in f.name and f.name.endswith(".png")
    # plain ids (what the simulator and, as far as is known, the API hand out) keep their names
    assert store.sidecar_path("3f2a9c1b7e0d4a5b6c7d8e9f").parent.name == "3f2a9c1b7e0d4a5b6c7d8e9f"
    assert store.media_path("job42", "m-1_a", "VIDEO", 3).name == "03_m-1_a.mp4"


def test_hostile_prompt_ids_from_the_api_get_their_own_folders_and_results(comfy, sim, tmp_path):
    sim.state.faults.set("prompt_id_hostile", 3)     # '..', 'job:42', 'job/42'
    outs = [run(CREATE, **create_kw(seed=i)) for i in range(3)]
    assert sim.state.faults.count("prompt_id_hostile") >= 1
    assert [o["result"][3] for o in outs] == ["..", "job:42", "job/42"]
    output = tmp_path / "output"
    assert not (output / "result.json").exists() and not list(output.glob("*.png"))   # '..' stayed inside
    subfolders = [o["ui"]["images"][0]["subfolder"] for o in outs]
    assert len(set(subfolders)) == 3
    for o in outs:
        entry = o["ui"]["images"][0]
        assert view_ok(output, entry["subfolder"], entry["filename"]), entry
        assert Path(output, entry["subfolder"]).parent == output / "aliveai"
    # Load Result of each id gives that job's own image, from disk, not its twin's
    for pid, o in zip(["job:42", "job/42", ".."], [outs[1], outs[2], outs[0]], strict=True):
        before = gets(sim)
        loaded = run(LOAD, prompt_id=pid)
        assert loaded["result"][4] == pid and loaded["result"][3] == o["result"][2]
        assert np.array_equal(image_of(loaded), image_of(o))
        assert gets(sim) == before   # from the saved files


def only_legacy(tmp_path: Path, out: dict, legacy_name: str) -> None:
    """Leave nothing in output/ but this result, where the previous version saved it (folder = its
    old `_safe(prompt_id)`), as that version wrote its sidecar."""
    output = tmp_path / "output"
    entry = out["ui"]["images"][0]
    data = (output / entry["subfolder"] / entry["filename"]).read_bytes()
    side = json.loads((output / entry["subfolder"] / "result.json").read_text())
    shutil.rmtree(output)
    old = output / "aliveai" / legacy_name
    old.mkdir(parents=True)
    (old / f"00_{out['result'][2]}.png").write_bytes(data)
    side["medias"][0]["file"] = f"aliveai/{legacy_name}/00_{out['result'][2]}.png"
    (old / "result.json").write_text(json.dumps(side))


def test_results_saved_by_the_previous_version_are_found_only_for_their_exact_prompt_id(comfy, sim, tmp_path):
    sim.state.faults.set("prompt_id_hostile", 3)
    outs = [run(CREATE, **create_kw(seed=i)) for i in range(3)]     # '..', 'job:42', 'job/42'
    assert sim.state.faults.count("prompt_id_hostile") >= 1
    only_legacy(tmp_path, outs[1], "job_42")      # job:42 as the previous version saved it; job/42 only on the API
    before = gets(sim)
    loaded = run(LOAD, prompt_id="job:42")
    assert gets(sim) == before                    # back-compat: found on disk
    assert np.array_equal(image_of(loaded), image_of(outs[1]))
    # job/42 had the same old folder name: that sidecar is job:42's, so it is not used
    loaded = run(LOAD, prompt_id="job/42")
    assert np.array_equal(image_of(loaded), image_of(outs[2]))
    assert loaded["result"][3] == outs[2]["result"][2] and gets(sim) > before


def test_an_old_folder_named_dot_dot_is_never_read(comfy, sim, tmp_path):
    """The previous version saved prompt '..' into output/ itself; that sidecar is not followed."""
    sim.state.faults.set("prompt_id_hostile", 1)
    out = run(CREATE, **create_kw(seed=1))
    assert sim.state.faults.count("prompt_id_hostile") >= 1 and out["result"][3] == ".."
    output = tmp_path / "output"
    shutil.rmtree(output)
    (output / "aliveai").mkdir(parents=True)
    Image.new("RGB", (8, 8), (255, 0, 0)).save(output / "secret.png")
    (output / "result.json").write_text(json.dumps({"prompt_id": "..", "medias": [
        {"id": "x", "type": "IMAGE", "file": "secret.png"}]}))
    loaded = run(LOAD, prompt_id="..")
    assert np.array_equal(image_of(loaded), image_of(out))


# -- sidecars ------------------------------------------------------------------------------------
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "output" / "secret.png"
    Image.new("RGB", (16, 16), (255, 0, 255)).save(path)
    return path


@pytest.mark.parametrize("where", ["sibling", "dotdot", "absolute", "other-result", "symlink"])
def test_load_result_never_follows_a_sidecar_file_outside_its_folder(comfy, sim, tmp_path, caplog, where):
    first = run(CREATE, **create_kw(seed=1))
    other = run(CREATE, **create_kw(seed=2))
    pid = first["result"][3]
    folder = tmp_path / "output" / first["ui"]["images"][0]["subfolder"]
    target = secret(tmp_path)
    side = json.loads((folder / "result.json").read_text())
    media = folder / Path(side["medias"][0]["file"]).name
    if where == "symlink":
        media.unlink()
        media.symlink_to(target)
    else:
        other_file = tmp_path / "output" / other["ui"]["images"][0]["subfolder"] / other["ui"]["images"][0]["filename"]
        side["medias"][0]["file"] = {
            "sibling": "secret.png", "dotdot": f"aliveai/{folder.name}/../../secret.png", "absolute": str(target),
            "other-result": other_file.relative_to(tmp_path / "output").as_posix()}[where]
        (folder / "result.json").write_text(json.dumps(side))
    with caplog.at_level(logging.INFO, logger="aliveai"):
        loaded = run(LOAD, prompt_id=pid)
    assert np.array_equal(image_of(loaded), image_of(first))      # the job's own image, fetched again
    assert not np.array_equal(image_of(loaded)[:16, :16], pixels_of(target))
    entry = loaded["ui"]["images"][0]
    assert view_ok(tmp_path / "output", entry["subfolder"], entry["filename"])
    assert not Path(tmp_path / "output", entry["subfolder"], entry["filename"]).is_symlink()
    if where != "symlink":
        assert any("outside the result's folder" in r.getMessage() for r in caplog.records)


def test_a_sidecar_naming_another_prompt_is_ignored(comfy, sim, tmp_path, caplog):
    a = run(CREATE, **create_kw(seed=1))
    b = run(CREATE, **create_kw(seed=2))
    fa = tmp_path / "output" / a["ui"]["images"][0]["subfolder"]
    fb = tmp_path / "output" / b["ui"]["images"][0]["subfolder"]
    shutil.copy(fb / "result.json", fa / "result.json")          # b's sidecar (with b's files) in a's folder
    before = gets(sim)
    with caplog.at_level(logging.INFO, logger="aliveai"):
        loaded = run(LOAD, prompt_id=a["result"][3])
    assert gets(sim) > before
    assert np.array_equal(image_of(loaded), image_of(a))
    assert any("not the sidecar of prompt" in r.getMessage() for r in caplog.records)


def test_a_request_cache_entry_pointing_outside_is_not_served(comfy, sim, tmp_path):
    first = run(CREATE, **create_kw(seed=5))
    target = secret(tmp_path)
    (entry_path,) = list((tmp_path / "user").rglob("cache/*/*.json"))
    entry = json.loads(entry_path.read_text())
    entry["medias"][0]["file"] = "secret.png"
    entry_path.write_text(json.dumps(entry))
    again = run(CREATE, **create_kw(seed=5))
    assert creates(sim) == 1                                     # still no second job
    assert again["result"][3] == first["result"][3]
    assert np.array_equal(image_of(again), image_of(first))
    assert not np.array_equal(image_of(again)[:16, :16], pixels_of(target))


# -- the pixel limit -----------------------------------------------------------------------------
def typed(e: BaseException, cls):
    while e is not None and not isinstance(e, cls):
        e = e.__cause__ or e.__context__
    return e


@pytest.mark.parametrize("fault, size", [("result_png_huge", "20000x20000"), ("result_png_large", "12000x12000")])
def test_a_huge_result_png_is_refused_from_its_header_and_kept(comfy, sim, tmp_path, fault, size):
    from nodes import pixel_cache
    sim.state.faults.set(fault, 1)
    with pytest.raises(AliveAIError) as info:
        run(CREATE, **create_kw(seed=3))
    assert sim.state.faults.count(fault) >= 1
    err = typed(info.value, ResultTooLargeError)
    assert err is not None, repr(info.value)
    assert size in str(info.value) and "megapixels" in str(info.value)
    assert err.path and Path(err.path).is_file() and Path(err.path).parent.parent == tmp_path / "output" / "aliveai"
    assert not list((tmp_path / "cache").rglob("*.npy")) and len(pixel_cache.DECODED) == 0
    assert creates(sim) == 1
    # Load Result names itself and the prompt, and still keeps the file
    pid = Path(err.path).parent.name
    with pytest.raises(ResultTooLargeError) as again:
        run(LOAD, prompt_id=pid)
    assert "Load Result (AliveAI)" in str(again.value) and f"[prompt_id {pid}]" in str(again.value)
    assert Path(err.path).is_file() and creates(sim) == 1


def test_the_limit_holds_when_pillows_own_limit_is_off(tmp_path, monkeypatch):
    from nodes import media
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)        # some packs switch Pillow's check off
    path = tmp_path / "big.png"
    path.write_bytes(png_header_only(9000, 9000))
    with pytest.raises(ResultTooLargeError) as info:
        media.images_from_files([path])
    assert "9000x9000" in str(info.value) and info.value.path == str(path) and path.is_file()
    with pytest.raises(ResultTooLargeError):
        media.pngs_to_image([png_header_only(9000, 9000)])


def test_a_batch_is_refused_before_decoding_when_its_tensor_would_be_too_large(tmp_path, monkeypatch):
    from nodes import media
    paths = []
    for i in range(4):
        paths.append(tmp_path / f"{i}.png")
        paths[-1].write_bytes(make_png(64, 64, str(i), ""))
    monkeypatch.setattr(media, "MAX_BATCH_PIXELS", 3 * 64 * 64)
    decoded = []
    monkeypatch.setattr(media, "_decode_one", lambda src: decoded.append(src) or pixels_of(src))
    assert tuple(media.images_from_files(paths[:3]).shape) == (3, 64, 64, 3)
    decoded.clear()
    with pytest.raises(ResultTooLargeError) as info:
        media.images_from_files(paths)
    assert "batch of 4" in str(info.value) and decoded == []


def test_a_video_frame_over_the_limit_is_not_decoded(tmp_path, monkeypatch):
    from nodes import media
    path = tmp_path / "v.mp4"
    path.write_bytes(make_mp4(64, 48, 2, 24, "s", ""))
    assert tuple(media.video_first_frame(path).shape) == (1, 48, 64, 3)
    monkeypatch.setattr(media, "MAX_IMAGE_PIXELS", 64 * 48 - 1)
    with pytest.raises(ResultTooLargeError) as info:
        media.video_first_frame(path)
    assert "64x48" in str(info.value) and info.value.path == str(path)


def test_the_limit_reads_other_formats_headers_too(tmp_path, monkeypatch):
    from nodes import media
    path = tmp_path / "r.jpg"
    Image.new("RGB", (40, 30), (1, 2, 3)).save(path)
    assert tuple(media.images_from_files([path]).shape) == (1, 30, 40, 3)
    monkeypatch.setattr(media, "MAX_IMAGE_PIXELS", 40 * 30 - 1)
    with pytest.raises(ResultTooLargeError) as info:
        media.images_from_files([path])
    assert "40x30" in str(info.value) and path.is_file()
