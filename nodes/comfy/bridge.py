"""The one boundary with ComfyUI. Every `comfy.*`, `server`, `folder_paths` and `comfy_api`
import of the pack happens here, guarded, so every other module imports and is tested
outside ComfyUI. Outside ComfyUI the functions fall back to no-ops and local folders
(ALIVEAI_OUTPUT_DIR, ALIVEAI_USER_DIR, ALIVEAI_CACHE_DIR), and tests monkeypatch them.
"""
from __future__ import annotations

import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger("aliveai")

try:  # ComfyUI is present only when its server module has a live instance (a stray `server` module is not enough)
    import folder_paths  # type: ignore[import-not-found]
    from server import PromptServer  # type: ignore[import-not-found]

    IN_COMFY = getattr(PromptServer, "instance", None) is not None
except ImportError:
    IN_COMFY = False

if IN_COMFY:  # real errors inside ComfyUI must surface, so no try/except here
    import comfy.model_management as _mm  # type: ignore[import-not-found]
    import comfy.utils as _cu  # type: ignore[import-not-found]


class Interrupted(Exception):
    """Stand-in for ComfyUI's InterruptProcessingException outside ComfyUI."""


def interrupt_exception() -> type[BaseException]:
    return _mm.InterruptProcessingException if IN_COMFY else Interrupted


def is_interrupted() -> bool:
    return bool(IN_COMFY and _mm.processing_interrupted())


def raise_interrupted(message: str = "interrupted") -> None:
    """Raise ComfyUI's interrupt (a clean `execution_interrupted`, not an error dialog)."""
    if IN_COMFY:
        _mm.throw_exception_if_processing_interrupted()
        raise _mm.InterruptProcessingException()
    raise Interrupted(message)


class _NoProgress:
    def update_absolute(self, value: float, total: float | None = None, preview: Any = None) -> None:
        pass


def progress_bar(total: int, node_id: str | None):
    if IN_COMFY:
        return _cu.ProgressBar(total, node_id=node_id)
    return _NoProgress()


_text_sink = None  # outside ComfyUI: a callable(text, node_id) for the demo and tests


def set_text_sink(sink) -> None:
    global _text_sink
    _text_sink = sink


# A word joiner (U+2060): invisible, and not a letter, so "<" followed by it never opens a tag and
# "&" followed by it never starts an entity.
_JOIN = "\u2060"


def plain_text(text: str) -> str:
    """Status text that reads the same on every frontend: 1.27 puts progress text into the page as
    HTML without escaping, 1.58 escapes it first (so our own escaping showed as "&amp;#x27;").
    Plain text with "\n" line breaks, with a word joiner after each "<" and "&", renders
    identically on both and can never become markup or an entity on 1.27."""
    return text.replace("&", "&" + _JOIN).replace("<", "<" + _JOIN)


def send_text(text: str, node_id: str | None) -> None:
    """Status text under the node (plain text, see plain_text). The frontend (1.58) deletes it
    when the run ends: what must stay goes in the node's ui output instead."""
    if not IN_COMFY:
        if _text_sink is not None:
            _text_sink(text, node_id)
        return
    if not node_id:
        return
    server = PromptServer.instance
    if hasattr(server, "send_progress_text"):
        server.send_progress_text(plain_text(text), node_id, getattr(server, "client_id", None))


def send_event(event: str, data: dict) -> None:
    if IN_COMFY:
        server = PromptServer.instance
        server.send_sync(event, data, getattr(server, "client_id", None))


def output_dir() -> Path:
    if IN_COMFY:
        return Path(folder_paths.get_output_directory())
    return Path(os.environ.get("ALIVEAI_OUTPUT_DIR") or Path.cwd() / "aliveai-output")


def user_dir() -> Path:
    """Pack state (config, request cache, job log): `<ComfyUI user dir>/aliveai`, NOT inside
    `<user dir>/default`, which ComfyUI serves over HTTP (/api/userdata)."""
    if IN_COMFY:
        return Path(folder_paths.get_user_directory()) / "aliveai"
    return Path(os.environ.get("ALIVEAI_USER_DIR") or Path.home() / ".config" / "comfyui-aliveai")


def cache_dir() -> Path:
    """Caches that can be rebuilt (decoded result pixels): ALIVEAI_CACHE_DIR, else the platform's
    cache folder, never the user folder, which people back up and sync (ComfyUI Desktop keeps it
    under Documents)."""
    explicit = os.environ.get("ALIVEAI_CACHE_DIR")
    if explicit:
        return Path(explicit)
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
        return base / "comfyui-aliveai" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "comfyui-aliveai"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "comfyui-aliveai"


def config_path() -> Path:
    return user_dir() / "config.json"


def listen_address() -> tuple[tuple[str, ...], int] | None:
    """ComfyUI's `--listen` hosts (it takes a comma-separated list) and `--port`; None outside
    ComfyUI or when they cannot be read (the route guard then trusts loopback names only)."""
    if not IN_COMFY:
        return None
    try:
        from comfy.cli_args import args  # type: ignore[import-not-found]

        hosts = tuple(h.strip() for h in str(getattr(args, "listen", "") or "").split(",") if h.strip())
        return hosts, int(getattr(args, "port", 8188))
    except Exception as e:  # noqa: BLE001 - an older or patched ComfyUI: fall back to the strict rule
        log.debug("AliveAI: cannot read ComfyUI's listen address: %s", e)
        return None


def register_routes(setup) -> bool:
    """Call `setup(routes)` with ComfyUI's route table; False outside ComfyUI."""
    if not IN_COMFY:
        return False
    setup(PromptServer.instance.routes)
    return True


class LocalVideo:
    """Outside ComfyUI: a light stand-in with the VideoFromFile methods the pack uses."""

    def __init__(self, path: str | os.PathLike):
        self.path = str(path)

    def get_stream_source(self) -> str:
        return self.path

    def get_container_format(self) -> str:
        return "mov,mp4,m4a,3gp,3g2,mj2"

    def get_dimensions(self) -> tuple[int, int]:
        import av  # deferred: only when someone asks

        with av.open(self.path) as c:
            s = c.streams.video[0]
            return s.width, s.height

    def save_to(self, path: str, **_: Any) -> None:
        shutil.copyfile(self.path, path)

    def __repr__(self) -> str:
        return f"LocalVideo({self.path!r})"


def video_from_file(path: str | os.PathLike):
    if IN_COMFY:
        from comfy_api.input_impl import VideoFromFile  # type: ignore[import-not-found]

        return VideoFromFile(str(path))
    return LocalVideo(path)
