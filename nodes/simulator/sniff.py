"""What an uploaded file is, from its bytes: PNG, JPEG, WebP or MP4, and its pixel size.

The name and Content-Type a client sends prove nothing, so the simulator looks at the magic
bytes, as a storage backend that transcodes uploads must. Sizes matter because edit results
keep their input's size and videos scale from it.
"""
from __future__ import annotations

import io

from .synth import png_size

# (media type, extension, content type) per recognised format.
PNG = ("IMAGE", "png", "image/png")
JPEG = ("IMAGE", "jpg", "image/jpeg")
WEBP = ("IMAGE", "webp", "image/webp")
MP4 = ("VIDEO", "mp4", "video/mp4")
ACCEPTED = "PNG, JPEG, WebP or MP4"


def sniff(blob: bytes) -> tuple[str, str, str] | None:
    if blob.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if blob.startswith(b"\xff\xd8\xff"):
        return JPEG
    if len(blob) >= 12 and blob[:4] == b"RIFF" and blob[8:12] == b"WEBP":
        return WEBP
    if len(blob) >= 12 and blob[4:8] == b"ftyp":
        return MP4
    return None


def size_of(blob: bytes, ext: str) -> tuple[int, int] | None:
    """(width, height), or None when the file cannot be read (it is still stored: the real
    API's checks on content are unknown)."""
    try:
        if ext == "png":
            return png_size(blob)
        if ext in ("jpg", "webp"):
            from PIL import Image
            with Image.open(io.BytesIO(blob)) as img:
                return img.size
        if ext == "mp4":
            import av
            with av.open(io.BytesIO(blob)) as container:
                stream = container.streams.video[0]
                return stream.codec_context.width, stream.codec_context.height
    except Exception:  # noqa: BLE001 -- any decoder failure just means "size unknown"
        return None
    return None
