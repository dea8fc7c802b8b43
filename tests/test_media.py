"""The media layer: tensors <-> PNG bytes, masks, the pixel hash, VIDEO sources and the
upload cache. Tiny tensors, no ComfyUI."""
from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image

from nodes import media
from nodes.errors import AliveAIError, ValidationError

ROOT = Path(__file__).resolve().parents[1]


def k255(*shape, seed=0):
    """A float32 tensor of exact k/255 values, as LoadImage produces."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, shape, generator=g, dtype=torch.uint8).float() / 255


def png_mode(blob):
    with Image.open(io.BytesIO(blob)) as img:
        return img.mode, img.size, np.asarray(img).copy()


def test_png_round_trip_is_exact():
    image = k255(2, 8, 8, 3)
    blobs = media.image_to_pngs(image)
    assert len(blobs) == 2 and all(b.startswith(b"\x89PNG") for b in blobs)
    back = media.pngs_to_image(blobs)
    assert back.dtype == torch.float32 and back.shape == (2, 8, 8, 3)
    assert torch.equal(back, image)


def test_quantisation_rounds_and_clamps():
    image = torch.tensor([[[[-0.5, 0.002, 0.0021], [1.7, 0.5, 100 / 255 + 0.4 / 255]]]])  # [1,1,2,3]
    _, _, px = png_mode(media.image_to_pngs(image)[0])
    assert px.tolist() == [[[0, 1, 1], [255, 128, 100]]]


def test_hwc_input_and_numpy_input():
    image = k255(8, 6, 3, seed=1)
    blobs = media.image_to_pngs(image)
    assert len(blobs) == 1
    assert torch.equal(media.pngs_to_image(blobs)[0], image)
    assert media.image_to_pngs(image.numpy()) == blobs


def test_rgba_keeps_alpha_in_png_and_decodes_to_rgb():
    image = k255(1, 4, 4, 4, seed=2)
    image[0, 0, 0, 3] = 0.0
    mode, size, px = png_mode(media.image_to_pngs(image)[0])
    assert mode == "RGBA" and size == (4, 4)
    assert px[0, 0, 3] == 0
    assert np.array_equal(px, (image[0].numpy() * 255).round().astype(np.uint8))
    back = media.pngs_to_image(media.image_to_pngs(image))
    assert back.shape == (1, 4, 4, 3)
    # Alpha is dropped, not composited: the colour under a transparent pixel survives.
    assert torch.equal(back[0], image[0, ..., :3])


def test_png_writer_is_exact_for_every_channel_count_and_odd_sizes():
    """The pack writes its own PNGs (Sub filter + run-length deflate): Pillow must read back
    the very same bytes, including one-pixel-wide images and bytes that wrap modulo 256."""
    rng = np.random.default_rng(8)
    for shape in ((1, 1), (1, 7), (5, 1), (9, 13), (3, 1, 3), (6, 5, 3), (4, 9, 4), (17, 2, 4)):
        pixels = rng.integers(0, 256, shape, dtype=np.uint8)
        blob = media._png(pixels, 1)
        mode, size, back = png_mode(blob)
        assert mode == ("L" if pixels.ndim == 2 else {3: "RGB", 4: "RGBA"}[shape[2]])
        assert size == (shape[1], shape[0])
        assert np.array_equal(back, pixels)
    ramp = np.tile(np.arange(256, dtype=np.uint8), (4, 2))[..., None].repeat(3, axis=2)  # smooth: compresses
    assert len(media._png(ramp, 1)) < ramp.nbytes / 4


def test_image_to_pngs_accepts_the_converted_uint8_pixels():
    image = k255(1, 6, 5, 3, seed=9)
    pixels = media.as_uint8(image)
    assert pixels.dtype == np.uint8 and pixels.shape == (1, 6, 5, 3)
    assert media.image_to_pngs(pixels) == media.image_to_pngs(image)
    assert media.pixel_hash(pixels) == media.pixel_hash(image)


def test_bad_image_shape_is_a_validation_error():
    with pytest.raises(ValidationError):
        media.image_to_pngs(torch.zeros(1, 8, 8, 2))
    with pytest.raises(ValidationError):
        media.image_to_pngs(torch.zeros(8, 8))


def test_mask_png_is_grayscale_white_where_one():
    mask = torch.zeros(1, 8, 8)
    mask[0, 2:4, 5:7] = 1.0
    blobs = media.mask_to_pngs(mask)
    mode, size, px = png_mode(blobs[0])
    assert mode == "L" and size == (8, 8)
    assert (px[2:4, 5:7] == 255).all()
    assert px.sum() == 4 * 255
    assert media.mask_to_pngs(mask[0]) == blobs  # [H,W] accepted


def test_zero_mask_is_empty_and_painted_mask_is_not():
    assert media.mask_is_empty(torch.zeros(1, 64, 64))
    assert media.mask_is_empty(torch.full((64, 64), 0.001))  # rounds to 0 in 8 bits
    painted = torch.zeros(1, 64, 64)
    painted[0, 10, 10] = 0.5
    assert not media.mask_is_empty(painted)


def test_fit_mask_resizes_to_image_size():
    mask = torch.zeros(1, 64, 64)
    mask[:, :, 32:] = 1.0  # right half
    fitted = media.fit_mask(mask, 96, 128)
    assert fitted.shape == (1, 96, 128) and fitted.dtype == torch.float32
    assert float(fitted.min()) >= 0 and float(fitted.max()) <= 1
    assert (fitted[:, :, :60] == 0).all() and (fitted[:, :, 68:] == 1).all()
    small = media.fit_mask(mask[0], 16, 16)  # [H,W] in, shrink
    assert small.shape == (1, 16, 16) and (small[0, :, :7] == 0).all() and (small[0, :, 9:] == 1).all()
    same = torch.rand(2, 8, 8)
    assert torch.equal(media.fit_mask(same, 8, 8), same)


def test_mixed_sizes_are_resized_to_the_first_with_one_warning(caplog):
    first = media.image_to_pngs(k255(1, 8, 8, 3))[0]
    other = media.image_to_pngs(k255(1, 16, 12, 3, seed=3))[0]
    third = media.image_to_pngs(k255(1, 4, 4, 3, seed=4))[0]
    with caplog.at_level(logging.WARNING, logger="aliveai"):
        batch = media.pngs_to_image([first, other, third])
    assert batch.shape == (3, 8, 8, 3)
    warnings = [r for r in caplog.records if r.name == "aliveai" and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "12x16" in warnings[0].getMessage() and "4x4" in warnings[0].getMessage()


def test_any_mode_and_jpeg_decode_to_rgb(tmp_path):
    blobs = []
    for mode, color in (("L", 200), ("RGBA", (200, 200, 200, 128)), ("LA", (200, 128)), ("P", 7)):
        buf = io.BytesIO()
        Image.new(mode, (5, 3), color=color).save(buf, "PNG")
        blobs.append(buf.getvalue())
    buf = io.BytesIO()
    Image.new("RGB", (5, 3), (10, 200, 30)).save(buf, "JPEG", quality=95)
    blobs.append(buf.getvalue())
    buf = io.BytesIO()
    Image.fromarray(np.full((3, 5), 65535, dtype=np.uint16)).save(buf, "PNG")  # 16-bit grayscale
    blobs.append(buf.getvalue())
    out = media.pngs_to_image(blobs)
    assert out.shape == (6, 3, 5, 3)
    assert torch.equal(out[:3], torch.full((3, 3, 5, 3), 200 / 255))  # L, RGBA, LA: gray 200, alpha dropped
    assert abs(float(out[4, 1, 1, 1]) - 200 / 255) < 0.03
    assert torch.equal(out[5], torch.ones(3, 5, 3))
    paths = []
    for i, b in enumerate(blobs[:2]):
        paths.append(tmp_path / f"{i}.png")
        paths[-1].write_bytes(b)
    assert torch.equal(media.images_from_files(paths), out[:2])


def test_undecodable_bytes_raise_a_typed_error():
    with pytest.raises(AliveAIError, match="2 of 2"):
        media.pngs_to_image([media.image_to_pngs(k255(1, 2, 2, 3))[0], b"not an image"])
    with pytest.raises(ValidationError):
        media.pngs_to_image([])


def test_pixel_hash_depends_on_pixels_only():
    image = k255(1, 8, 8, 3, seed=5)
    base = media.pixel_hash(image)
    assert len(base) == 64
    # Same pixels through a non-contiguous view (channels-first storage, permuted back).
    strided = image.permute(0, 3, 1, 2).contiguous().permute(0, 2, 3, 1)
    assert not strided.is_contiguous()
    assert media.pixel_hash(strided) == base
    assert media.pixel_hash(image.double()) == base
    assert media.pixel_hash((image * 255).round().to(torch.uint8)) == base
    assert media.pixel_hash(image[0]) == base  # [H,W,C] uploads the same PNG
    changed = image.clone()
    changed[0, 3, 4, 1] = (changed[0, 3, 4, 1] + 1 / 255) % 1
    assert media.pixel_hash(changed) != base
    assert media.pixel_hash(image.reshape(1, 4, 16, 3)) != base  # same bytes, other shape


def test_pixel_hash_image_and_mask_of_same_bytes_differ():
    values = k255(1, 8, 8, seed=6)
    as_mask = media.pixel_hash(values, kind="mask")
    as_image = media.pixel_hash(values.reshape(1, 8, 8, 1), kind="image")
    assert as_mask != as_image
    assert media.pixel_hash(values) == as_mask  # a 3-D value not ending in 1/3/4 channels is a mask


def test_file_sha256_streams_paths(tmp_path):
    data = os.urandom(3 * (1 << 20) + 17)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    assert media.file_sha256(path) == media.file_sha256(data) == __import__("hashlib").sha256(data).hexdigest()


def test_upload_cache_uploads_once_for_concurrent_callers():
    cache = media.UploadCache()
    calls = []
    start = threading.Barrier(8)

    def upload():
        calls.append(1)
        time.sleep(0.05)  # long enough for every other thread to be waiting on the key
        return "m-1", "IMAGE"

    results = []

    def worker():
        start.wait()
        results.append(cache.get_or_upload("k", upload))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert len(calls) == 1
    assert results == [("m-1", "IMAGE")] * 8
    assert len(cache) == 1 and cache.get("k") == ("m-1", "IMAGE")
    assert cache._pending == {}  # per-key locks do not pile up


def test_upload_cache_does_not_cache_failures():
    cache = media.UploadCache()

    def failing():
        raise ConnectionError("boom")

    with pytest.raises(ConnectionError):
        cache.get_or_upload("k", failing)
    assert cache.get("k") is None and len(cache) == 0
    assert cache.get_or_upload("k", lambda: ("m-2", "IMAGE")) == ("m-2", "IMAGE")
    cache.put("other", ("m-3", "VIDEO"))
    assert cache.get_or_upload("other", failing) == ("m-3", "VIDEO")
    cache.discard("k")
    assert "k" not in cache and len(cache) == 1
    cache.clear()
    assert len(cache) == 0
    assert isinstance(media.UPLOADS, media.UploadCache)


def small_mp4(path_or_buf, fmt="mp4", codec="mpeg4", pix_fmt="yuv420p"):
    with av.open(path_or_buf, mode="w", format=fmt) as c:
        s = c.add_stream(codec, rate=8)
        s.width, s.height, s.pix_fmt = 16, 16, pix_fmt
        for i in range(3):
            frame = av.VideoFrame.from_ndarray(np.full((16, 16, 3), i * 60, dtype=np.uint8), format="rgb24")
            c.mux(s.encode(frame))
        c.mux(s.encode())


class FakeVideo:
    """Stands in for VideoFromFile: the same duck-typed surface, a recorded save_to."""

    def __init__(self, source, container_format, trim=(0.0, 0.0)):
        self.source, self.container_format, self.trim = source, container_format, trim
        self.saved = []

    def get_stream_source(self):
        if isinstance(self.source, io.BytesIO):
            self.source.seek(0)
        return self.source

    def get_container_format(self):
        return self.container_format

    def get_active_trim_window(self):
        return self.trim

    def save_to(self, path, format=None, codec=None):
        self.saved.append((path, format, codec))
        small_mp4(path)


def test_video_from_mp4_bytesio_is_passed_as_is():
    buf = io.BytesIO()
    small_mp4(buf)
    expected = buf.getvalue()
    buf.seek(5)
    video = FakeVideo(buf, "mov,mp4,m4a,3gp,3g2,mj2")
    source, kind = media.video_source_bytes(video)
    assert kind == "mp4" and source == expected and video.saved == []


def test_video_from_mp4_path_is_passed_as_is(tmp_path):
    path = tmp_path / "clip.mp4"
    small_mp4(str(path))
    video = FakeVideo(str(path), "mov,mp4,m4a,3gp,3g2,mj2")
    assert media.video_source_bytes(video) == (str(path), "mp4") and video.saved == []
    assert media.video_source_bytes(path) == (str(path), "mp4")
    assert media.video_source_bytes(b"raw") == (b"raw", "mp4")
    media.release_video_source(str(path))  # not ours: must survive
    assert path.exists()


@pytest.mark.parametrize("fmt, trim", [("matroska,webm", (0.0, 0.0)), ("mov,mp4,m4a,3gp,3g2,mj2", (1.0, 2.0))])
def test_video_not_mp4_or_trimmed_is_saved_to_a_temp_mp4(tmp_path, fmt, trim):
    buf = io.BytesIO()
    small_mp4(buf, fmt="matroska")
    video = FakeVideo(buf, fmt, trim)
    source, kind = media.video_source_bytes(video)
    assert kind == "mp4" and isinstance(source, str) and source.endswith(".mp4")
    assert video.saved == [(source, "mp4", "h264")]
    with av.open(source) as c:
        assert "mp4" in c.format.name and c.streams.video[0].width == 16
    media.release_video_source(source)
    assert not os.path.exists(source)


def test_video_save_failure_is_typed_and_leaves_no_temp_file():
    class Broken(FakeVideo):
        def save_to(self, path, format=None, codec=None):
            self.saved.append(path)
            raise RuntimeError("encoder missing")

    video = Broken(io.BytesIO(b""), "avi")
    with pytest.raises(AliveAIError, match="encoder missing"):
        media.video_source_bytes(video)
    assert not os.path.exists(video.saved[0])
    with pytest.raises(ValidationError):
        media.video_source_bytes(object())


def test_importing_media_does_not_import_torch_or_pil():
    code = "import sys, nodes.media; print('torch' in sys.modules, 'PIL' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.split() == ["False", "False", "False"]
