"""The AliveAI client layer: HTTP, auth, uploads, job follow, downloads. No torch, no ComfyUI."""
from .client import AliveAIClient
from .config import Settings, resolve
from .events import Completed, Failed, Notice, Queued, Running, Waiting
from .jobs import Job
from .results import Media

__all__ = ["AliveAIClient", "Completed", "Failed", "Job", "Media", "Notice", "Queued", "Running", "Settings",
           "Waiting", "resolve"]
