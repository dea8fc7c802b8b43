"""Decoded result pixels: kept in memory and on disk, keyed by the file's stat, within budgets."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from nodes import media, pixel_cache
from nodes.pixel_cache import DecodedCache, DiskCache

MB = 1 << 20


def k255(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, shape, generator=g, dtype=torch.uint8).float() / 255


@pytest.fixture
def fresh(monkeypatch):
    """Empty caches before and after; every real decode counted."""
    pixel_cache.DECODED.clear()
    pixel_cache.ON_DISK.forget_totals()
    decodes = []
    real = media._decode_one
    monkeypatch.setattr(media, "_decode_one", lambda src: decodes.append(src) or real(src))
    yield decodes
    pixel_cache.DECODED.clear()
    pixel_cache.ON_DISK.forget_totals()


def write_png(path, image):
    tmp = path.with_suffix(".part")
    tmp.write_bytes(media.image_to_pngs(image)[0])
    os.replace(tmp, path)  # results are replaced atomically, as downloads do


def test_decoded_files_are_reused_until_the_file_changes(tmp_path, fresh):
    path = tmp_path / "r.png"
    first = k255(1, 8, 8, 3, seed=10)
    write_png(path, first)
    a = media.images_from_files([path])
    b = media.images_from_files([path])
    assert torch.equal(a, first) and torch.equal(b, first) and len(pixel_cache.DECODED) == 1 and len(fresh) == 1
    a.zero_()  # a caller changing its tensor must not change the next caller's
    assert torch.equal(media.images_from_files([path]), first)
    second = k255(1, 8, 8, 3, seed=11)
    write_png(path, second)
    assert torch.equal(media.images_from_files([path]), second) and len(fresh) == 2


def test_decoded_cache_keeps_to_its_budget():
    cache = DecodedCache(budget=100)
    for i in range(5):
        cache.put(("k", i), np.zeros(40, dtype=np.uint8))
    assert len(cache) == 2 and cache.get(("k", 4)) is not None and cache.get(("k", 0)) is None
    cache.put(("big",), np.zeros(101, dtype=np.uint8))  # larger than the whole budget: not kept
    assert cache.get(("big",)) is None


def test_pixels_survive_a_restart_on_disk(tmp_path, fresh):
    path, pixels_dir = tmp_path / "r.png", tmp_path / "pixels"
    image = k255(1, 16, 12, 3, seed=1)
    write_png(path, image)
    assert torch.equal(media.images_from_files([path], pixels_dir, MB), image)
    assert len(fresh) == 1 and len(list(pixels_dir.glob("*.npy"))) == 1
    pixel_cache.DECODED.clear()  # a restart forgets memory, not the folder
    again = media.images_from_files([path], pixels_dir, MB)
    assert torch.equal(again, image) and len(fresh) == 1
    write_png(path, k255(1, 16, 12, 3, seed=2))  # a replaced file is a new key: decoded again
    pixel_cache.DECODED.clear()
    assert torch.equal(media.images_from_files([path], pixels_dir, MB), k255(1, 16, 12, 3, seed=2)) and len(fresh) == 2


def test_no_folder_or_a_zero_budget_writes_nothing(tmp_path, fresh):
    path, pixels_dir = tmp_path / "r.png", tmp_path / "pixels"
    write_png(path, k255(1, 4, 4, 3))
    media.images_from_files([path], pixels_dir)           # a folder but no budget
    pixel_cache.DECODED.clear()
    media.images_from_files([path], None, 1 << 20)        # a budget but no folder
    assert not pixels_dir.exists() and len(fresh) == 2


def test_sixteen_bit_grey_keeps_its_precision_through_the_disk_cache(tmp_path, fresh):
    from PIL import Image

    path, pixels_dir = tmp_path / "g16.png", tmp_path / "pixels"
    grey = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000)
    Image.fromarray(grey).save(path)  # mode I;16
    first = media.images_from_files([path], pixels_dir, MB)
    pixel_cache.DECODED.clear()
    second = media.images_from_files([path], pixels_dir, MB)
    assert len(fresh) == 1 and torch.equal(first, second)
    assert torch.allclose(second[0, :, :, 0], torch.from_numpy(grey / 65535).float())


def test_a_broken_cache_file_is_a_miss_and_is_replaced(tmp_path, fresh):
    path, pixels_dir = tmp_path / "r.png", tmp_path / "pixels"
    image = k255(1, 8, 8, 3, seed=4)
    write_png(path, image)
    media.images_from_files([path], pixels_dir, MB)
    (cached,) = pixels_dir.glob("*.npy")
    cached.write_bytes(cached.read_bytes()[:-20])  # truncated, e.g. by a crash or a full disk
    pixel_cache.DECODED.clear()
    assert torch.equal(media.images_from_files([path], pixels_dir, MB), image) and len(fresh) == 2
    pixel_cache.DECODED.clear()
    assert torch.equal(media.images_from_files([path], pixels_dir, MB), image) and len(fresh) == 2


def test_disk_cache_drops_the_least_recently_used_beyond_its_budget(tmp_path):
    disk, folder = DiskCache(), tmp_path / "pixels"
    one = np.zeros((10, 10, 3), np.uint8)
    disk.put(folder, ("k", 0), one, 1 << 20)
    budget = 3 * DiskCache.path(folder, ("k", 0)).stat().st_size   # room for three
    for i in range(3):
        disk.put(folder, ("k", i), one + i, budget)
        os.utime(DiskCache.path(folder, ("k", i)), ns=(i * 10**9, i * 10**9))  # distinct ages: 0 oldest
    assert disk.get(folder, ("k", 0)) is not None   # used now: the newest
    disk.put(folder, ("k", 3), one + 3, budget)      # over budget: the least recently used (1) goes
    assert disk.get(folder, ("k", 1)) is None
    assert [int(disk.get(folder, ("k", i))[0, 0, 0]) for i in (0, 2, 3)] == [0, 2, 3]
    assert sum(p.stat().st_size for p in folder.glob("*.npy")) <= budget
    disk.put(folder, ("huge",), np.zeros(budget + 1, np.uint8), budget)  # larger than the budget: not kept
    assert disk.get(folder, ("huge",)) is None and len(list(folder.glob("*.npy"))) == 3
    assert not list(folder.glob("*.tmp"))


def test_an_unwritable_folder_still_returns_the_pixels(tmp_path, fresh):
    path = tmp_path / "r.png"
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")   # the cache folder cannot be created under a file
    image = k255(1, 4, 4, 3, seed=5)
    write_png(path, image)
    assert torch.equal(media.images_from_files([path], blocker / "pixels", MB), image)
    assert blocker.read_text() == "x"


def test_a_file_whose_time_cannot_be_touched_is_still_served(tmp_path, monkeypatch):
    disk, folder = DiskCache(), tmp_path / "pixels"
    disk.put(folder, ("k",), np.full((2, 2, 3), 7, np.uint8), 1 << 20)

    def refuse(*_a, **_k):
        raise PermissionError("read-only")

    monkeypatch.setattr(pixel_cache.os, "utime", refuse)
    assert int(disk.get(folder, ("k",))[0, 0, 0]) == 7
    assert DiskCache.path(folder, ("k",)).exists()


def test_the_cache_folder_is_the_platforms_not_the_user_folder(monkeypatch, tmp_path):
    from nodes.comfy import bridge, session

    monkeypatch.setenv("ALIVEAI_CACHE_DIR", str(tmp_path / "c"))
    assert bridge.cache_dir() == tmp_path / "c"
    assert session.store().pixel_dir == tmp_path / "c" / "pixels"
    monkeypatch.delenv("ALIVEAI_CACHE_DIR")
    monkeypatch.setattr(bridge.sys, "platform", "linux")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert bridge.cache_dir() == tmp_path / "xdg" / "comfyui-aliveai"
    monkeypatch.setattr(bridge.sys, "platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "local"))
    assert bridge.cache_dir() == tmp_path / "local" / "comfyui-aliveai" / "Cache"
    assert bridge.user_dir() not in bridge.cache_dir().parents
