"""Typed errors. Each message starts with the operation's name and ends with the prompt_id
when a job exists, so the one line ComfyUI shows tells the user what failed, why, and which
job to look up (Load Result takes the prompt_id). Messages pass through `redact`.
"""
from __future__ import annotations

from .redact import redact


class AliveAIError(Exception):
    """Base of every error the pack raises on purpose."""

    hint = ""

    def __init__(self, message: str, *, operation: str | None = None, prompt_id: str | None = None,
                 status: int | None = None, api_message: str | None = None, hint: str | None = None):
        self.message = redact(message)
        self.operation = operation
        self.prompt_id = prompt_id
        self.status = status
        self.api_message = redact(api_message) if api_message else None
        if hint is not None:
            self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = []
        if self.operation:
            parts.append(f"{self.operation}: ")
        parts.append(self.message)
        if self.hint:
            parts.append(f" {self.hint}")
        if self.prompt_id:
            parts.append(f" [prompt_id {self.prompt_id}]")
        return redact("".join(parts))

    def for_node(self, label: str, own: str | None = None):
        """Name the node instead of the API operation: the user sees nodes, not endpoints. When
        the call that failed was not the node's own operation (`own`), e.g. Upload File or Get
        Prompt inside Edit Image, that call stays in the message: it is the cause."""
        if own and self.operation and self.operation not in (label, own):
            self.message = f"{self.operation} failed: {self.message}"
        self.operation = label
        self.args = (str(self),)
        return self

    def with_context(self, *, operation: str | None = None, prompt_id: str | None = None):
        """Fill in what a lower layer did not know; returns self for `raise e.with_context(...)`."""
        if operation and not self.operation:
            self.operation = operation
        if prompt_id and not self.prompt_id:
            self.prompt_id = prompt_id
        self.args = (str(self),)
        return self


class ValidationError(AliveAIError, ValueError):
    """A value breaks a limit of the doc. Raised before any request, so nothing is billed."""

    def __init__(self, message: str, *, field: str | None = None, limit: str | None = None, **kw):
        self.field = field
        self.limit = limit
        super().__init__(message, **kw)


class ConfigError(AliveAIError):
    """No credentials, or an unusable base URL."""

    hint = ("Set ALIVEAI_API_KEY (or ALIVEAI_EMAIL and ALIVEAI_PASSWORD) in the environment, "
            "or enter the key in ComfyUI: Settings > AliveAI > Account.")


class AuthError(AliveAIError):
    """401/403 from the API: wrong key, wrong prefix, expired token."""


class RateLimitError(AliveAIError):
    """429, or the API's "Max pending creations" rejection. Nothing was created."""

    def __init__(self, message: str, *, retry_after: float | None = None, queue_full: bool = False, **kw):
        self.retry_after = retry_after
        self.queue_full = queue_full
        super().__init__(message, **kw)


class ApiError(AliveAIError):
    """Any other HTTP error answer, with the API's own message."""


class NotFoundError(ApiError):
    """404: a prompt or media that does not exist (or expired), or a wrong path in the table."""


class NetworkError(AliveAIError):
    """The request did not get an answer: connection refused, DNS, TLS, read timeout."""

    hint = "Check the network (and HTTPS_PROXY / NO_PROXY if you use a proxy)."

    def __init__(self, message: str, *, sent: bool = True, **kw):
        self.sent = sent  # False when the request certainly never reached the server
        super().__init__(message, **kw)


class SubmitUncertainError(NetworkError):
    """A create request may have reached the server but its answer was lost, and no matching
    job could be found. It is never re-sent automatically: that could bill twice."""


class JobFailedError(AliveAIError):
    """The job ran and the API reported an error (`isError`)."""

    def __init__(self, message: str, *, error_type: str | None = None, **kw):
        self.error_type = error_type
        super().__init__(message, **kw)


class JobTimeoutError(AliveAIError):
    """The job ran longer than the running-time limit. It may still finish remotely."""

    hint = ("The job may still finish: run Load Result (AliveAI) with this prompt_id later, or queue the same "
            "inputs again to pick it up without a new job. The limit is set in Settings > AliveAI > Limits "
            "(or ALIVEAI_RUNNING_TIMEOUT, in seconds).")


class BudgetError(AliveAIError):
    """The spend guard refused a paid job before anything was sent (credit budget or floor: Settings >
    AliveAI > Limits, or ALIVEAI_CREDIT_BUDGET / ALIVEAI_MIN_CREDITS)."""


class JobCancelledError(AliveAIError):
    """The user interrupted; the remote job was removed from the queue or left running."""


class DownloadError(AliveAIError):
    """A result file could not be fetched, even after refreshing its URL."""

    hint = "The result is paid for and kept by AliveAI: run Load Result (AliveAI) with this prompt_id."


# -- errors added for the security and fault review (kept apart so parallel changes merge) --


class LocalStateError(AliveAIError):
    """Something on this machine, not AliveAI, stopped the run: a folder that cannot be written
    (disk full, read-only, permission), a result file that cannot be decoded, an identical run
    holding the request too long. Raised after a create, it carries KEPT and the prompt_id."""

    KEPT = ("The job is paid for and kept: queue the same inputs again (the job is picked up, not paid again) "
            "or run Load Result (AliveAI) with this prompt_id.")


class ResultTooLargeError(AliveAIError):
    """A result image (or video frame) is larger than the pack decodes, judged from its header
    before any pixel is decoded. The job is paid for and the file stays where `path` says."""

    hint = ("The file is saved and paid for (nothing is charged again): open it with an image tool; the pack "
            "does not decode images this large into a tensor.")

    def __init__(self, message: str, *, path: str | None = None, **kw):
        self.path = path
        super().__init__(message, **kw)
