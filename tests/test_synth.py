"""The simulator's synthetic media: real, openable files of the requested size, the same for
the same request and different for different ones."""
from __future__ import annotations

import io

import av
import numpy as np
import pytest
from PIL import Image

from nodes.simulator import synth


def pixels(blob):
    with Image.open(io.BytesIO(blob)) as img:
        return img.mode, img.size, np.asarray(img).copy()


def test_make_png_is_deterministic_and_of_requested_size():
    a = synth.make_png(320, 200, "seed-1", "Create Image")
    assert a == synth.make_png(320, 200, "seed-1", "Create Image")
    assert synth.png_size(a) == (320, 200)
    mode, size, px = pixels(a)
    assert mode == "RGB" and size == (320, 200)
    assert len(np.unique(px.reshape(-1, 3), axis=0)) > 16  # a pattern, not a flat fill


@pytest.mark.parametrize("other", [("seed-2", "Create Image"), ("seed-1", "Edit Image")])
def test_make_png_differs_visibly_between_requests(other):
    _, _, a = pixels(synth.make_png(256, 256, "seed-1", "Create Image"))
    _, _, b = pixels(synth.make_png(256, 256, *other))
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 10


def test_make_png_odd_sizes_and_bad_sizes():
    assert synth.png_size(synth.make_png(7, 3, "s", "")) == (7, 3)
    with pytest.raises(ValueError):
        synth.make_png(0, 10, "s", "x")


def test_png_size_rejects_non_png():
    with pytest.raises(ValueError):
        synth.png_size(b"\xff\xd8\xff\xe0" + bytes(40))


def test_make_mp4_opens_with_requested_size_and_frames():
    blob = synth.make_mp4(96, 64, 5, 8, "seed", "Create Video")
    assert blob[4:8] == b"ftyp"
    with av.open(io.BytesIO(blob)) as container:
        assert "mp4" in container.format.name
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (96, 64)
        assert stream.average_rate == 8
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    assert len(frames) == 5
    assert all(f.shape == (64, 96, 3) for f in frames)
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean() > 2  # the pattern moves


@pytest.mark.parametrize("codec, decoded_as", [("libx264", "h264"), ("mpeg4", "mpeg4")])
def test_make_mp4_with_either_codec(monkeypatch, codec, decoded_as):
    if codec not in av.codec.codecs_available:
        pytest.skip(f"this PyAV build has no {codec}")
    monkeypatch.setattr(synth, "video_codec", lambda: codec)
    with av.open(io.BytesIO(synth.make_mp4(32, 32, 3, 24, "s", "x"))) as container:
        assert container.streams.video[0].codec_context.name == decoded_as
        assert sum(1 for _ in container.decode(video=0)) == 3


def test_make_mp4_prefers_h264_and_validates():
    assert synth.video_codec() == ("libx264" if "libx264" in av.codec.codecs_available else "mpeg4")
    with pytest.raises(ValueError):
        synth.make_mp4(33, 32, 2, 24, "s", "x")
    with pytest.raises(ValueError):
        synth.make_mp4(32, 32, 0, 24, "s", "x")


def test_image_size_per_aspect_ratio():
    assert synth.image_size("SQUARE") == (512, 512)
    assert synth.image_size("PORTRAIT") == (512, 768)
    assert synth.image_size("LANDSCAPE") == (768, 512)
    assert synth.image_size(None) == synth.image_size("DEFAULT") == (512, 768)
    assert synth.image_size("SQUARE", high=True) == (1024, 1024)
    with pytest.raises(ValueError):
        synth.image_size("CINEMA")


def test_image_size_scale(monkeypatch):
    monkeypatch.setattr(synth, "SIZE_SCALE", 0.5)
    assert synth.image_size("LANDSCAPE") == (384, 256)
