"""Deterministic synthetic media for the local AliveAI simulator.

Results must be real files (nodes decode them, ComfyUI previews them, ffprobe reads them) but
cost nothing to make and be reproducible: the same request (seed + label) gives the same
pixels, and different requests give visibly different ones, so a test or a person can tell
which job produced which picture. Colours, stripe angle and ring frequency all come from
sha256(seed, label); the label is also written onto the picture.

No torch: the simulator runs beside the tests and must start fast.
"""
from __future__ import annotations

import hashlib
import io
import numbers
from fractions import Fraction

# Multiplies every size `image_size` returns: 1.0 keeps simulator images small and fast;
# raise it to exercise large-result paths.
SIZE_SCALE = 1.0

# (width, height) per AspectRatio of the doc, before SIZE_SCALE. DEFAULT is portrait, as the
# API's default photo is.
_SIZES = {
    "DEFAULT": (512, 768),
    "SQUARE": (512, 512),
    "PORTRAIT": (512, 768),
    "LANDSCAPE": (768, 512),
}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def image_size(aspect_ratio: str | None, high: bool = False) -> tuple[int, int]:
    """Pixel size of a synthetic image for an AspectRatio (None means DEFAULT); `high`
    (DetailLevel HIGH, upscales) doubles it. Sizes are multiples of 16, as model outputs are."""
    key = (aspect_ratio or "DEFAULT").upper()
    if key not in _SIZES:
        raise ValueError(f"Unknown aspect ratio {aspect_ratio!r}; expected one of {', '.join(_SIZES)}")
    factor = SIZE_SCALE * (2 if high else 1)
    width, height = _SIZES[key]
    return max(16, round(width * factor / 16) * 16), max(16, round(height * factor / 16) * 16)


def _digest(seed: str, label: str) -> bytes:
    return hashlib.sha256(f"{seed}\x00{label}".encode()).digest()


def _pattern(width: int, height: int, digest: bytes):
    """uint8 [height, width, 3]: a two-colour gradient along a hashed angle, crossed by hashed
    rings in a third colour. Only 2-D maps are computed; colours come from a 512-entry lookup
    table, which keeps 1024x1024 at a few milliseconds."""
    import numpy as np
    c0, c1, c2 = (np.frombuffer(digest[i:i + 3], dtype=np.uint8).astype(np.float32) for i in (0, 3, 6))
    angle = digest[9] / 255 * 2 * np.pi
    rings = 3 + digest[10] % 9
    cx, cy = digest[11] / 255, digest[12] / 255
    # One scale for both axes keeps the rings round on non-square sizes.
    side = np.float32(max(width, height))
    x = (np.arange(width, dtype=np.float32) / side)[None, :]
    y = (np.arange(height, dtype=np.float32) / side)[:, None]
    t = x * np.float32(np.cos(angle)) + y * np.float32(np.sin(angle))
    lo, hi = float(t.min()), float(t.max())
    level = ((t - np.float32(lo)) * np.float32(255 / max(hi - lo, 1e-6))).astype(np.uint16)
    on_ring = np.sin(np.sqrt((x - cx) ** 2 + (y - cy) ** 2) * np.float32(2 * np.pi * rings)) > 0
    level[on_ring] += 256
    ramp = np.linspace(0, 1, 256, dtype=np.float32)[:, None]
    gradient = c0 * (1 - ramp) + c1 * ramp
    lut = np.concatenate([gradient, gradient * 0.65 + c2 * 0.35]).astype(np.uint8)
    return lut[level]


def _draw_label(array, label: str):
    """The label in the top-left corner, white on a dark box, so a preview says what it is."""
    from PIL import Image, ImageDraw
    img = Image.fromarray(array)
    if label:
        draw = ImageDraw.Draw(img)
        text = label[:48]
        box = draw.textbbox((6, 6), text)
        draw.rectangle((box[0] - 3, box[1] - 3, box[2] + 3, box[3] + 3), fill=(0, 0, 0))
        draw.text((6, 6), text, fill=(255, 255, 255))
    return img


def _check_size(width: int, height: int) -> None:
    if not (isinstance(width, numbers.Integral) and isinstance(height, numbers.Integral)) or width < 1 or height < 1:
        raise ValueError(f"Width and height must be positive integers, got {width!r}x{height!r}")


def make_png(width: int, height: int, seed: str, label: str) -> bytes:
    """A deterministic RGB PNG: identical bytes for identical arguments."""
    _check_size(width, height)
    img = _draw_label(_pattern(width, height, _digest(seed, label)), label)
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def video_codec() -> str:
    """H.264 (what the API returns and every browser plays) when this PyAV build has libx264,
    otherwise MPEG-4 Part 2, which every FFmpeg build can encode and every MP4 reader opens."""
    import av
    return "libx264" if "libx264" in av.codec.codecs_available else "mpeg4"


def make_mp4(width: int, height: int, frames: int, fps: float, seed: str, label: str) -> bytes:
    """A small real MP4 (yuv420p) whose pattern scrolls sideways frame by frame.

    The pixels are deterministic; the bytes are too with the encoders seen so far, but that
    is the encoder's promise, not ours."""
    import av
    import numpy as np
    _check_size(width, height)
    if width % 2 or height % 2:
        raise ValueError(f"yuv420p video needs even width and height, got {width}x{height}")
    if frames < 1:
        raise ValueError(f"A video needs at least one frame, got {frames}")
    rate = Fraction(fps).limit_denominator(1001)
    if rate <= 0:
        raise ValueError(f"Frame rate must be positive, got {fps}")
    base = np.asarray(_draw_label(_pattern(width, height, _digest(seed, label)), label))
    step = max(1, width // max(frames, 8))
    codec = video_codec()
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if codec == "libx264":
            # One thread: x264's output then depends only on its input. ultrafast: this is a fixture.
            stream.options = {"preset": "ultrafast", "crf": "23", "threads": "1"}
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(np.roll(base, i * step, axis=1)), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return buf.getvalue()


def png_size(blob: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk, without decoding."""
    if len(blob) < 24 or blob[:8] != _PNG_SIGNATURE or blob[12:16] != b"IHDR":
        raise ValueError("Not a PNG (no signature and IHDR chunk)")
    return int.from_bytes(blob[16:20], "big"), int.from_bytes(blob[20:24], "big")


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height but whose IDAT holds one row of zeros: what a
    decompression bomb or a broken encoder looks like before decoding. Only the header is
    honest; a reader that checks sizes from it never needs the missing pixels."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))

    _check_size(width, height)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(bytes(1 + 3 * min(width, 64)))
    return _PNG_SIGNATURE + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
