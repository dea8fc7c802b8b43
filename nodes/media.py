"""The media layer: IMAGE / MASK tensors and VIDEO objects to upload bytes, result files back
to IMAGE tensors, and the content-hash cache that keeps one picture from uploading twice.

- torch, numpy and PIL are imported inside functions: ComfyUI imports every pack at start-up,
  and registry indexers import it without torch at all.
- Floats become uint8 once, as round(clamp(x, 0, 1) * 255): by numpy for a CPU tensor, by torch
  on the GPU (a GPU image crosses the bus as uint8). Decoding divides by 255 in float32 as core LoadImage does,
  so k/255 values round-trip bit for bit. The upload-cache key hashes that same uint8 buffer;
  `pixel_hash` and `image_to_pngs` also take `as_uint8`'s result, so a caller can convert once.
- PNGs for upload are written here, not by Pillow: Pillow tries all five row filters on every
  row, which is most of its encode time. One Sub filter and run-length deflate (Z_RLE) give
  files as small as Pillow's level 1 for photos and smaller for flat renders, 3-4x faster
  (`python -m bench` prints the comparison).
- Decoded result files stay in an LRU of uint8 pixels keyed by path and stat, in memory and on
  disk (`pixel_cache`), so a re-run served by the request cache converts instead of decoding
  the PNG again, also after a restart. Each call still returns a new tensor: nothing downstream
  can alter the cached pixels.
- Results decode to RGB with alpha dropped, not composited: core LoadImage does the same, and
  compositing over black would darken every soft edge.
- A batch shares one size, so a result of another size is resized to the first (Lanczos) with
  one warning, rather than failing a job that was already paid for.
- Result sizes are untrusted: each file's header is read before anything is decoded, and an
  image over MAX_IMAGE_PIXELS, or a batch whose tensor would hold over MAX_BATCH_PIXELS, is a
  ResultTooLargeError naming the file, which stays on disk. Pillow's own bomb check (2x its
  89 MP warning limit) would only fire after payment with a raw error, and just under it a
  12000x12000 PNG became a 1.7 GB tensor. Video frames get the same per-image check.
- VIDEO inputs are duck-typed (get_stream_source / get_container_format / save_to): no
  comfy_api import, and no frame is decoded when the source already is an MP4.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import struct
import tempfile
import threading
import zlib
from collections.abc import Callable

from . import pixel_cache
from .errors import AliveAIError, ResultTooLargeError, ValidationError

log = logging.getLogger("aliveai")

_CHUNK = 1 << 20
_SIXTEEN_BIT = {"I;16", "I;16L", "I;16B", "I;16N", "I"}
_TEMP_PREFIX = "aliveai-upload-"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_COLOR = {1: 0, 3: 2, 4: 6}   # channels -> PNG colour type: grey, RGB, RGBA
# 8192x8192 fits exactly; the float32 IMAGE of one such result is 768 MiB, of a full batch 1.5 GiB.
MAX_IMAGE_PIXELS = 64 << 20
MAX_BATCH_PIXELS = 128 << 20
_temp_videos: set[str] = set()
_temp_lock = threading.Lock()


def _is_torch(x) -> bool:
    return hasattr(x, "detach") and hasattr(x, "cpu")


def as_uint8(x):
    """The one float -> uint8 conversion: round(clamp(x, 0, 1) * 255), as a numpy array of the
    same shape. uint8 input passes through untouched; any other dtype is read as 0..1 values."""
    import numpy as np
    if _is_torch(x):
        import torch
        t = x.detach()
        if t.dtype == torch.uint8:
            return t.cpu().numpy()
        if t.dtype == torch.bool:
            return (t.to(torch.uint8) * 255).cpu().numpy()
        if t.dtype not in (torch.float32, torch.float64):
            t = t.float()  # half and bfloat16 would round 255 * x too coarsely
        if t.device.type == "cpu":
            # A zero-copy view, converted by numpy below: nodes run in worker threads, where
            # torch's intra-op pool made this 2-7x slower (and erratic on a busy machine).
            x = t.numpy()
        else:
            # clamp allocates the one working copy; the rest works in place. NaN (a broken
            # upstream node) would be undefined as uint8, so it becomes black.
            t = t.clamp(0, 1).nan_to_num_(0.0).mul_(255).round_()
            return t.to(torch.uint8).cpu().numpy()
    a = np.asarray(x)
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.bool_:
        return a.astype(np.uint8) * np.uint8(255)
    if a.dtype not in (np.float32, np.float64):
        a = a.astype(np.float32)
    a = np.fmax(a, 0)                # the one working copy; fmax turns NaN into 0 (black), as on the GPU
    np.fmin(a, 1, out=a)
    a *= 255
    np.rint(a, out=a)
    return a.astype(np.uint8)


def _batch_shape(x, kind: str) -> tuple[int, ...]:
    """The shape with a batch axis: [B,H,W,C] for an image, [B,H,W] for a mask."""
    shape, ndim = tuple(x.shape), (4 if kind == "image" else 3)
    if len(shape) == ndim - 1:
        shape = (1, *shape)
    if len(shape) != ndim or 0 in shape or (kind == "image" and shape[-1] not in (1, 3, 4)):
        rule = "[B,H,W,C] or [H,W,C] with C = 1, 3 or 4" if kind == "image" else "[B,H,W] or [H,W]"
        raise ValidationError(f"A {kind.upper()} must be non-empty {rule}, got shape {tuple(x.shape)}.", field=kind)
    return shape


def _chunk(kind: bytes, data) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))


def _png(array, compress_level: int) -> bytes:
    """An 8-bit PNG of uint8 [H,W] (grey), [H,W,3] (RGB) or [H,W,4] (RGBA) pixels: every row
    Sub-filtered (each byte minus the same channel of the pixel to its left), then deflated
    with run-length matching. uint8 subtraction wraps modulo 256, which is what PNG wants."""
    import numpy as np
    a = np.ascontiguousarray(array)
    h, w = a.shape[:2]
    c = 1 if a.ndim == 2 else a.shape[2]
    rows = a.reshape(h, w * c)
    raw = np.empty((h, w * c + 1), dtype=np.uint8)
    raw[:, 0] = 1                         # the filter type byte of each row: Sub
    raw[:, 1:c + 1] = rows[:, :c]
    np.subtract(rows[:, c:], rows[:, :-c], out=raw[:, c + 1:])
    z = zlib.compressobj(compress_level, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    idat = z.compress(raw) + z.flush()
    header = struct.pack(">IIBBBBB", w, h, 8, _PNG_COLOR[c], 0, 0, 0)
    return b"".join((_PNG_SIGNATURE, _chunk(b"IHDR", header), _chunk(b"IDAT", idat), _chunk(b"IEND", b"")))


def image_to_pngs(image, compress_level: int = 1) -> list[bytes]:
    """One PNG per batch item: RGB, RGBA (alpha kept) or grayscale for C = 1."""
    shape = _batch_shape(image, "image")
    frames = as_uint8(image).reshape(shape)
    if shape[-1] == 1:
        frames = frames[..., 0]
    return [_png(frame, compress_level) for frame in frames]


def mask_to_pngs(mask, compress_level: int = 1) -> list[bytes]:
    """One 8-bit grayscale ('L') PNG per mask; white (255) is the area to change (1.0)."""
    shape = _batch_shape(mask, "mask")
    return [_png(frame, compress_level) for frame in as_uint8(mask).reshape(shape)]


def mask_is_empty(mask) -> bool:
    """True when no pixel would survive conversion to 8 bits, e.g. the 64x64 zero mask core
    LoadImage gives for an image without alpha: such a mask means "no mask"."""
    if 0 in tuple(mask.shape):
        return True
    return not as_uint8(mask).any()


def fit_mask(mask, height: int, width: int):
    """Resize a MASK to an image's size, as float32 [B,height,width] on the mask's device.

    Bilinear (antialiased when shrinking), not nearest: masks from LoadImage come from alpha
    channels that are usually feathered, and a mask smaller than its image would come out
    stair-stepped with nearest. A hard mask only gains a one-pixel soft border."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    m = mask if _is_torch(mask) else torch.from_numpy(np.asarray(mask))
    m = m.detach().reshape(_batch_shape(m, "mask"))
    if m.dtype != torch.float32:
        m = m.float() / 255 if m.dtype == torch.uint8 else m.float()
    if tuple(m.shape[-2:]) == (height, width):
        return m
    out = F.interpolate(m[:, None], size=(height, width), mode="bilinear", align_corners=False, antialias=True)
    return out[:, 0].clamp_(0, 1)


def _decode_one(src):
    """Pixels of one encoded image (any mode, EXIF orientation applied): uint8 [H,W,3], or
    float32 [H,W] in 0..1 for 16-bit grey, whose precision convert('RGB') would clip away."""
    import numpy as np
    from PIL import Image, ImageOps
    fp = io.BytesIO(src) if isinstance(src, (bytes, bytearray, memoryview)) else src
    # Everything happens inside `with`: a closed PIL image refuses pixel access.
    with Image.open(fp) as img:
        ImageOps.exif_transpose(img, in_place=True)
        if img.mode in _SIXTEEN_BIT:
            return np.asarray(img, dtype=np.float32) / np.float32(65535)
        if img.mode == "P" and "transparency" in img.info:
            img = img.convert("RGBA")  # PIL warns when such a palette goes straight to RGB
        return np.asarray(img if img.mode == "RGB" else img.convert("RGB"))


def _describe(src, i: int, n: int) -> str:
    return os.path.basename(src) if isinstance(src, str) else f"{i + 1} of {n}"


def check_pixels(width: int, height: int, what: str, path: str | None = None, limit: int | None = None,
                 per: str = "per image") -> None:
    """Refuse a picture of width x height over `limit` pixels (MAX_IMAGE_PIXELS), before decoding it."""
    limit = MAX_IMAGE_PIXELS if limit is None else limit
    if width * height > limit:
        raise ResultTooLargeError(
            f"{what} is {width}x{height} ({width * height / 1e6:.1f} megapixels), over the limit of "
            f"{limit / 1e6:.1f} megapixels {per}; it was not decoded." + (f" The file is kept: {path}" if path else ""),
            path=path)


def image_size(src) -> tuple[int, int]:
    """(width, height) of an encoded image (bytes or a path) from its header alone: a PNG's IHDR
    read here (no Pillow warning for a huge one), any other format through Pillow, which refuses
    a header over twice its own limit: that is reported too large in Pillow's words."""
    from PIL import Image
    if isinstance(src, (bytes, bytearray, memoryview)):
        head = bytes(src[:24])
    else:
        with open(src, "rb") as f:
            head = f.read(24)
    if len(head) == 24 and head[:8] == _PNG_SIGNATURE and head[12:16] == b"IHDR":
        return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    fp = io.BytesIO(src) if isinstance(src, (bytes, bytearray, memoryview)) else src
    try:
        with Image.open(fp) as img:
            return img.size
    except Image.DecompressionBombError as e:
        path = src if isinstance(src, str) else None
        raise ResultTooLargeError(f"a result image is too large to decode ({e})."
                                  + (f" The file is kept: {path}" if path else ""), path=path) from None


def _decode_batch(sources: list, what: str, pixel_dir=None, pixel_budget: int = 0):
    import numpy as np
    import torch
    from PIL import Image, UnidentifiedImageError
    if not sources:
        raise ValidationError(f"No {what} to decode.")
    # Every header first, so nothing is decoded (and no tensor allocated) for a batch that cannot fit.
    n = len(sources)
    for i, src in enumerate(sources):
        path = src if isinstance(src, str) else None
        try:
            width, height = image_size(src)
        except (UnidentifiedImageError, OSError, ValueError) as e:
            raise AliveAIError(f"Could not decode {what} {i + 1} of {n}: {e}") from e
        check_pixels(width, height, f"the result image {_describe(src, i, n)}", path)
        if i == 0 and n * width * height > MAX_BATCH_PIXELS:   # every item becomes the first one's size
            folder = os.path.dirname(path) if path else None
            raise ResultTooLargeError(
                f"the batch of {n} result images would be {n} x {width}x{height} ({n * width * height / 1e6:.1f} "
                f"megapixels), over the limit of {MAX_BATCH_PIXELS / 1e6:.1f} megapixels per batch; nothing was "
                "decoded." + (f" The files are kept in {folder}" if folder else ""), path=folder)
    out = None
    resized = []
    for i, src in enumerate(sources):
        try:
            pixels = (pixel_cache.pixels(src, _decode_one, pixel_dir, pixel_budget) if isinstance(src, str)
                      else _decode_one(src))
            height, width = pixels.shape[:2]
            if out is None:
                out = np.empty((len(sources), height, width, 3), dtype=np.float32)
            elif (height, width) != out.shape[1:3]:
                resized.append(f"#{i + 1} {width}x{height}")
                img = Image.fromarray(pixels).resize((out.shape[2], out.shape[1]), Image.Resampling.LANCZOS)
                pixels = np.asarray(img)
            if pixels.dtype != np.uint8:
                out[i] = np.clip(pixels, 0, 1)[..., None]
            else:
                np.divide(pixels, np.float32(255), out=out[i])
        except (UnidentifiedImageError, OSError, ValueError) as e:
            raise AliveAIError(f"Could not decode {what} {i + 1} of {len(sources)}: {e}") from e
    if resized:
        log.warning("%d of %d %s differ from the first one's size %dx%d and were resized to it (Lanczos): %s",
                    len(resized), len(sources), what, out.shape[2], out.shape[1], ", ".join(resized))
    return torch.from_numpy(out)


def pngs_to_image(blobs: list[bytes]):
    """Encoded images (PNG, JPEG, WebP, any mode) -> IMAGE float32 [B,H,W,3], in order."""
    return _decode_batch(list(blobs), "images")


def images_from_files(paths, pixel_dir=None, pixel_budget: int = 0):
    """Like `pngs_to_image`, reading each file straight from disk; decoded pixels are kept in
    memory and, when `pixel_dir` and a budget in bytes are given, on disk there (`pixel_cache`)."""
    return _decode_batch([os.fspath(p) for p in paths], "image files", pixel_dir, pixel_budget)


def pixel_hash(image_or_mask, kind: str | None = None) -> str:
    """sha256 over a kind tag, the shape and the uint8 pixels: the upload-cache key.

    `kind` is "image" or "mask"; by default a 4-D value, or a 3-D one ending in 1, 3 or 4
    channels, is an image and anything else a mask. Equal pixels hash equal whatever the
    dtype, device or memory layout; [H,W,C] hashes like [1,H,W,C] because both upload the
    same PNG."""
    import numpy as np
    ndim = len(image_or_mask.shape)
    if kind is None:
        kind = "image" if ndim == 4 or (ndim == 3 and image_or_mask.shape[-1] in (1, 3, 4)) else "mask"
    if kind not in ("image", "mask"):
        raise ValidationError(f"pixel_hash kind must be 'image' or 'mask', not {kind!r}.")
    shape = _batch_shape(image_or_mask, kind)
    pixels = np.ascontiguousarray(as_uint8(image_or_mask))
    h = hashlib.sha256(f"aliveai-{kind}:{'x'.join(map(str, shape))}:".encode())
    h.update(pixels.reshape(-1))
    return h.hexdigest()


def file_sha256(path_or_bytes) -> str:
    """sha256 of bytes, or of a file read in 1 MiB chunks."""
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        return hashlib.sha256(path_or_bytes).hexdigest()
    h = hashlib.sha256()
    with open(path_or_bytes, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def video_source_bytes(video) -> tuple[bytes | str, str]:
    """What to upload for a VIDEO input, as (path or bytes, "mp4").

    An MP4 source (a VideoFromFile whose container reports mp4, untrimmed; a path; bytes) is
    passed as-is: no decode, no copy of a file. Anything else is written with save_to to a new
    temp .mp4 file, which `release_video_source` deletes after the upload."""
    if isinstance(video, (bytes, bytearray, memoryview)):
        return bytes(video), "mp4"
    if isinstance(video, (str, os.PathLike)):
        path = os.fspath(video)
        if not os.path.isfile(path):
            raise ValidationError(f"Video file not found: {path}", field="video")
        return path, "mp4"
    if hasattr(video, "get_stream_source") and hasattr(video, "get_container_format"):
        fmt = str(video.get_container_format() or "").lower()
        source = video.get_stream_source()
        is_path = isinstance(source, (str, os.PathLike))
        # "mov,mp4,m4a,..." is also what a QuickTime .mov reports, so a path must say .mp4 too.
        mp4_path = not is_path or os.fspath(source).lower().endswith((".mp4", ".m4v"))
        # Newer VideoFromFile has a trim window that only save_to applies.
        window = getattr(video, "get_active_trim_window", None)
        if "mp4" in fmt and mp4_path and not (window and any(window())):
            if is_path:
                return os.fspath(source), "mp4"
            source.seek(0)  # read() rather than getvalue(): any seekable binary stream will do
            data = source.read()
            source.seek(0)
            return data, "mp4"
    if not hasattr(video, "save_to"):
        raise ValidationError(f"Not a video: {type(video).__name__} has neither get_stream_source nor save_to.",
                              field="video")
    fd, path = tempfile.mkstemp(prefix=_TEMP_PREFIX, suffix=".mp4")
    os.close(fd)
    try:
        # Plain strings: VideoContainer and VideoCodec are str enums, and importing them would
        # tie this module to comfy_api.
        video.save_to(path, format="mp4", codec="h264")
    except Exception as e:  # broad on purpose: PyAV, ComfyUI and the codec each raise their own types
        os.unlink(path)
        raise AliveAIError(f"Could not convert the video to MP4 for upload: {e}") from e
    with _temp_lock:
        _temp_videos.add(path)
    return path, "mp4"


def release_video_source(source) -> None:
    """Delete a temp file made by `video_source_bytes`; never touches the user's own files."""
    with _temp_lock:
        ours = isinstance(source, str) and source in _temp_videos
        _temp_videos.discard(source)
    if ours:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(source)


class UploadCache:
    """Thread-safe map content hash -> (media_id, media_type).

    Nodes run concurrently (async tasks, route handlers on another thread), so the same
    picture can be wanted twice at once: a per-key lock makes the second caller wait for the
    first upload. A failed upload is not cached; a waiter then tries again itself, because the
    failure may have been a transient network error of the first caller."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done: dict[str, tuple[str, str]] = {}
        self._pending: dict[str, list] = {}  # key -> [lock, number of callers using it]

    def get(self, key: str) -> tuple[str, str] | None:
        with self._lock:
            return self._done.get(key)

    def put(self, key: str, value: tuple[str, str]) -> None:
        media_id, media_type = value
        with self._lock:
            self._done[key] = (str(media_id), str(media_type))

    def discard(self, key: str) -> None:
        """Forget a key, e.g. when the API says its media id has expired."""
        with self._lock:
            self._done.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._done.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._done)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._done

    def get_or_upload(self, key: str, upload: Callable[[], tuple[str, str]]) -> tuple[str, str]:
        with self._lock:
            if (hit := self._done.get(key)) is not None:
                return hit
            entry = self._pending.setdefault(key, [threading.Lock(), 0])
            entry[1] += 1
        try:
            with entry[0]:
                if (hit := self.get(key)) is not None:
                    return hit
                media_id, media_type = upload()
                value = (str(media_id), str(media_type))
                with self._lock:
                    self._done[key] = value
                return value
        finally:
            with self._lock:
                entry[1] -= 1
                if entry[1] == 0 and self._pending.get(key) is entry:
                    del self._pending[key]


UPLOADS = UploadCache()


def video_first_frame(path):
    """The first frame of a video file as IMAGE [1,H,W,3]: decodes one frame, never the whole video."""
    import av
    import numpy as np
    import torch

    with av.open(str(path)) as container:
        if container.streams.video:
            ctx = container.streams.video[0].codec_context
            check_pixels(ctx.width or 0, ctx.height or 0, f"the result video {os.path.basename(str(path))}",
                         str(path))
        for frame in container.decode(video=0):
            rgb = frame.to_ndarray(format="rgb24")
            return torch.from_numpy(np.ascontiguousarray(rgb)).float().div_(255.0).unsqueeze(0)
    raise AliveAIError(f"the video {path} has no frames")
