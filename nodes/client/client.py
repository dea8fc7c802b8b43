"""The AliveAI client: every operation of the table through one generic `call`, plus upload,
submit-and-follow for jobs, and downloads of presigned result URLs.

No torch and no ComfyUI here: nodes run this blocking code in a worker thread.
"""
from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .. import api
from ..api import overrides
from ..api.schema import TEXT, TEXT_PAIR, Operation
from ..errors import (AliveAIError, ApiError, AuthError, DownloadError, NetworkError, NotFoundError, RateLimitError,
                      SubmitUncertainError, ValidationError)
from . import download as transfer
from .config import Settings, resolve
from .http import Transport
from .jobs import Job
from .results import Media, medias_of
from .retry import CreateRate, server_wait

log = logging.getLogger("aliveai")

DOWNLOAD_TRIES = 3
UPLOAD_TRIES = 3
QUEUE_FULL_WAIT = 600.0    # how long a create waits for a free slot when AliveAI's queue is full
QUEUE_FULL_STEP = 2.0      # without Retry-After, wait 2, 4, 6 ... s (capped at 30) between creates
LOOKUP_TRIES = 2           # looks for a create whose answer was lost (the job may not be listed at once)
LOOKUP_DELAY = 1.0


class AliveAIClient:
    def __init__(self, settings: Settings | None = None, *, config_path: str | os.PathLike | None = None,
                 retries: int = 5, backoff_factor: float = 0.5):
        self.settings = settings or resolve(config_path)
        self.transport = Transport(self.settings, retries=retries, backoff_factor=backoff_factor)
        self._claimed: set[str] = set()   # prompt ids our creates got: a lost answer is never matched to them

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> AliveAIClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- generic ----------------------------------------------------------------------------
    def call(self, operation: str | Operation, values: Mapping[str, Any] | None = None, *,
             prompt_id: str | None = None, **fields: Any) -> Any:
        """Validate `fields` (wire names) against the table, send the request, return the parsed
        answer. Nothing is sent when a value breaks a limit of the doc."""
        op = api.operation(operation) if isinstance(operation, str) else operation
        if not op.callable:
            raise ValidationError(f"{op.name} is documentation only: follow jobs with Job.events()", operation=op.name)
        op = overrides.apply(op, self.settings.routes)   # the user's path override, if any (api/overrides.py)
        prep = api.prepare(op, {**(values or {}), **fields})
        files = None
        data = None
        if op.multipart:
            form = dict(prep.form or {})
            blob = form.pop("image")
            files = {"image": (form.get("name") or "upload.bin", blob)}
            data = form
        return self.transport.request(prep.method, prep.path, params=list(prep.query) or None, json=prep.json,
                                      files=files, data=data, operation=op, auth=op.auth, prompt_id=prompt_id)

    def text(self, operation: str, **fields: Any) -> str | tuple[str, str]:
        """Run an LLM helper: `promptText`, or `(promptText, negPrompt)` for Generate Video Prompt."""
        op = api.operation(operation)
        body = self.call(op, **fields) or {}
        if op.returns == TEXT_PAIR:
            return str(body.get("promptText") or ""), str(body.get("negPrompt") or "")
        if op.returns != TEXT:
            raise ValidationError(f"{op.name} does not return text", operation=op.name)
        return str(body.get("promptText") or "")

    # -- account, queue, prompts --------------------------------------------------------------
    def me(self) -> dict:
        """The account, without its apiKey: Me returns the key itself (API.md §5.6)."""
        body = self.call("me") or {}
        return {k: v for k, v in body.items() if k != "apiKey"}

    def get_prompt(self, prompt_id: str) -> dict:
        return self.call("get_prompt", promptId=prompt_id, prompt_id=prompt_id) or {}

    def pending(self) -> list[dict]:
        body = self.call("get_pending") or {}
        queue = body.get("queue") if isinstance(body, dict) else None
        return [q for q in queue or [] if isinstance(q, dict)]

    def pending_item(self, prompt_id: str) -> dict | None:
        for item in self.pending():
            if str(item.get("promptId")) == prompt_id:
                return item
        return None

    def cancel(self, prompt_id: str) -> str:
        """Delete From Queue. "removed" when it was queued; "running" when AliveAI refused because
        it already runs; "gone" when it is not in the queue any more."""
        try:
            self.call("delete_from_queue", promptId=prompt_id, prompt_id=prompt_id)
            return "removed"
        except NotFoundError:
            return "gone"
        except ApiError as e:
            if e.status in (400, 409, 422) and self.pending_item(prompt_id) is not None:
                return "running"
            if e.status in (400, 409, 422):
                return "gone"
            raise

    # -- upload -----------------------------------------------------------------------------
    def upload(self, data: bytes | str | os.PathLike, name: str) -> tuple[str, str]:
        """Upload File: multipart parts `name` and `image`. Returns (mediaId, mediaType).
        Retried on network errors and 5xx: an upload costs nothing (API.md §7.3)."""
        for attempt in range(UPLOAD_TRIES):
            blob = Path(data).read_bytes() if isinstance(data, (str, os.PathLike)) else data
            try:
                body = self.call("upload_file", name=name, image=blob) or {}
                break
            except (NetworkError, ApiError) as e:
                status = getattr(e, "status", None)
                retry = isinstance(e, NetworkError) or (status is not None and status >= 500) or status == 429
                if not retry or attempt == UPLOAD_TRIES - 1:
                    raise
                time.sleep(server_wait(getattr(e, "retry_after", None), 0.5 * (2 ** attempt)))
        media_id = body.get("mediaId")
        if not media_id:
            raise ApiError("the upload answer has no mediaId", operation="Upload File")
        return str(media_id), str(body.get("mediaType") or "IMAGE").upper()

    # -- jobs -------------------------------------------------------------------------------
    def submit(self, operation: str | Operation, values: Mapping[str, Any] | None = None, *,
               notify: Callable[[str], None] | None = None, queue_full_wait: float | None = None,
               should_stop: Callable[[], bool] | None = None, **fields: Any) -> Job:
        """Create a job and return its handle. The create is never re-sent blindly: when its answer
        is lost, the job is looked up in the queue and the prompt list first (one click, one bill).
        A full queue ("Max pending creations", 429: nothing was created) is waited out."""
        op = api.operation(operation) if isinstance(operation, str) else operation
        if not op.is_job:
            raise ValidationError(f"{op.name} is not a job; use call()", operation=op.name)
        body_values = {**(values or {}), **fields}
        prep = api.prepare(op, body_values)  # validate before anything is sent
        input_ids = tuple(str(body_values[f.name]) for f in op.media_fields if body_values.get(f.name))
        deadline = time.monotonic() + (QUEUE_FULL_WAIT if queue_full_wait is None else queue_full_wait)
        rate = CreateRate()
        attempt = 0
        while True:
            try:
                rate.sent()
                resp = self.call(op, body_values)
                break
            except RateLimitError as e:
                attempt += 1
                # The server's Retry-After is held in [1 s, 60 s] (0 or a past date made a tight loop),
                # and never more than CREATES_PER_MINUTE sends of this create in any minute.
                wait = server_wait(e.retry_after, min(30.0, QUEUE_FULL_STEP * attempt))
                wait = max(wait, rate.wait())
                if time.monotonic() + wait > deadline or (should_stop and should_stop()):
                    raise
                if notify:
                    notify(f"AliveAI queue full, retrying in {wait:.0f} s")
                log.info("AliveAI %s: %s; waiting %.1f s", op.name, e.message, wait)
                _sleep_unless(wait, should_stop)
            except NetworkError as e:
                if not e.sent:
                    raise
                resp = self._find_lost_create(op, prep.json or {}, e)
                break
            except ApiError as e:
                if e.status is None or e.status < 500:
                    raise
                resp = self._find_lost_create(op, prep.json or {}, e)
                break
        prompt_id = str((resp or {}).get("promptId") or "")
        if not prompt_id:
            raise ApiError("the create answer has no promptId", operation=op.name)
        self._claimed.add(prompt_id)
        return Job(self, op, prompt_id, seed=(resp or {}).get("seed"), input_ids=input_ids)

    def _find_lost_create(self, op: Operation, body: dict, cause: AliveAIError) -> dict:
        """The create may have reached AliveAI. Look for a job with our exact request: first the
        pending queue (newest first), then page 0 of Get Prompts for this prompt type (a fast job
        may have finished already). Jobs this client already got an answer for are skipped, so two
        identical requests in flight never share one result."""
        log.warning("AliveAI %s: the create answer was lost (%s); looking for the job", op.name, cause.message)
        for attempt in range(LOOKUP_TRIES):
            if attempt:
                time.sleep(LOOKUP_DELAY)
            try:
                found = self._lookup(op, body)
            except AliveAIError as e:
                log.warning("AliveAI %s: could not look for the lost job: %s", op.name, e)
                continue
            if found:
                log.info("AliveAI %s: found the job of the lost answer: %s", op.name, found)
                self._claimed.add(found)
                return {"promptId": found, "seed": body.get("seed")}
        raise SubmitUncertainError(
            f"the create request may have reached AliveAI but its answer was lost ({cause.message}), and no matching "
            "job was found. It was NOT re-sent, to avoid paying twice: check your AliveAI prompt list before "
            "running again.", operation=op.name)

    def _lookup(self, op: Operation, body: dict) -> str | None:
        pending = [str(q.get("promptId")) for q in self.pending() if q.get("promptId")]
        for pid in reversed(pending):
            if pid not in self._claimed and _echo_matches(self.get_prompt(pid), op, body):
                return pid
        page = self.call("get_prompts", page=0, pageSize=20, promptType=[op.prompt_type]) or {}
        for container in page.get("prompts") or []:
            pid = str(container.get("promptId") or "") if isinstance(container, dict) else ""
            if pid and pid not in self._claimed and _echo_matches(container, op, body):
                return pid
        return None

    def attach(self, operation: str | Operation, prompt_id: str, input_ids: tuple[str, ...] = ()) -> Job:
        """Re-attach to an existing job by prompt_id."""
        op = api.operation(operation) if isinstance(operation, str) else operation
        return Job(self, op, prompt_id, input_ids=input_ids)

    def follow(self, prompt_id: str, operation: str | Operation = "create_prompt", **kw):
        """Yield the job's events until it completes or fails (see Job.events)."""
        return self.attach(operation, prompt_id).events(**kw)

    def operation_of(self, container: dict) -> Operation | None:
        """Which create made this prompt: the non-null request echo tells (API.md §5.2)."""
        for op in api.JOBS:
            if isinstance(container, dict) and container.get(op.echo):
                return op
        return None

    # -- downloads --------------------------------------------------------------------------
    def download(self, url: str, dest: str | os.PathLike, *, prompt_id: str | None = None, media_id: str | None = None,
                 operation: str = "Download", max_bytes: int | None = None, deadline: float | None = None,
                 should_stop: Callable[[], bool] | None = None) -> Path:
        """Stream a presigned result URL to `dest`, exactly as given: no Authorization header and
        the query string untouched (altering it gives 403). On 403 the URL has probably expired:
        fresh URLs come from Get Prompt (needs prompt_id and media_id). Cut transfers are retried.
        Where it may go, how large and how long it may take: see download.py (`max_bytes`
        defaults to the video cap, `deadline` to download.DEADLINE seconds; `should_stop` is
        Cancel, checked on a clock)."""
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        transfer.clean_stale_parts(dest.parent)
        cap = transfer.VIDEO_CAP if max_bytes is None else max_bytes
        end = time.monotonic() + (transfer.DEADLINE if deadline is None else deadline)
        refreshed = False
        last: str = ""
        try:
            for attempt in range(DOWNLOAD_TRIES + 1):
                status, last = transfer.fetch(self.transport.session, self.transport.timeout, url, dest,
                                              api_base=self.settings.base_url, max_bytes=cap, end=end,
                                              should_stop=should_stop)
                if status == 200:
                    return dest
                if status == 403 and not refreshed and prompt_id and media_id:
                    url = self._fresh_url(prompt_id, media_id, operation)
                    refreshed = True
                    continue
                if status in (403, 404):
                    break
                _sleep_unless(min(0.3 * (2 ** attempt), max(0.0, end - time.monotonic())), should_stop)
        except AliveAIError as e:
            raise e.with_context(operation=operation, prompt_id=prompt_id) from None
        raise DownloadError(f"could not download media {media_id or ''} ({last})".replace("  ", " "),
                            operation=operation, prompt_id=prompt_id)

    def _fresh_url(self, prompt_id: str, media_id: str, operation: str) -> str:
        for m in medias_of(self.get_prompt(prompt_id)):
            if m.id == media_id and m.url:
                return m.url
        raise DownloadError(f"media {media_id} is no longer listed by the prompt", operation=operation,
                            prompt_id=prompt_id)

    def fetch_bytes(self, media: Media, *, prompt_id: str | None = None) -> bytes:
        """Download a (small) media to memory through a temporary file."""
        with tempfile.TemporaryDirectory(prefix="aliveai-") as d:
            path = self.download(media.url, Path(d) / "m", prompt_id=prompt_id, media_id=media.id)
            return path.read_bytes()


def _echo_matches(container: Any, op: Operation, body: dict) -> bool:
    echo = container.get(op.echo) if isinstance(container, dict) else None
    if not isinstance(echo, dict):
        return False
    return all(echo.get(k) == v for k, v in body.items())


def _sleep_unless(seconds: float, should_stop: Callable[[], bool] | None) -> None:
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        if should_stop and should_stop():
            return
        time.sleep(min(0.5, left))


__all__ = ["AliveAIClient", "AuthError", "Media"]
