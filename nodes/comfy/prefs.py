"""The pack's limits and cache sizes: set in Settings > AliveAI > Limits, or in the environment.

Each one is read when it is used (a change applies to the next run, no restart). The environment
wins over the settings dialog, as it does for the credentials, so a server operator can pin a
value. The dialog stores its values in the pack's config file (`<user dir>/aliveai/config.json`,
beside the credentials), never in ComfyUI's settings file; none of them is a secret.

A bad value from the environment is reported where it is used (the spend guard refuses to run,
fail-closed; a cache size falls back to its default); the dialog refuses bad values before saving.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ..client.config import read_config_file
from ..errors import ConfigError
from . import bridge

WHERE = "Settings > AliveAI > Limits"


@dataclass(frozen=True)
class Pref:
    key: str                 # in the config file and the route
    env: str                 # the environment variable that wins over the file
    label: str
    unit: str
    doc: str
    default: float | None    # what an empty field means, for the dialog; None: off
    maximum: float           # the largest value taken: past it a value is a typo or an attack
                             # (1e308 MB of pixel cache overflowed every paid image run)

    def parse(self, raw: Any, origin: str) -> float | None:
        """A number in 0..maximum from a string or a number, None for empty; ConfigError naming `origin`."""
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        try:
            if isinstance(raw, bool):
                raise ValueError
            value = float(raw.strip() if isinstance(raw, str) else raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{origin} must be a number of {self.unit}, got {str(raw)[:40]!r}", hint="") from None
        if not 0 <= value <= self.maximum:  # also refuses nan and inf
            raise ConfigError(f"{origin} must be a number of {self.unit} from 0 to {self.maximum:,.0f}, "
                              f"got {str(raw)[:40]!r}", hint="")
        return value


PREFS: dict[str, Pref] = {p.key: p for p in (
    Pref("credit_budget", "ALIVEAI_CREDIT_BUDGET", "Credit budget per ComfyUI session", "credits",
         "Paid nodes refuse a job, before sending anything, once this ComfyUI session's estimated spend would "
         "pass it (1 credit per image job, 5 per video job: AliveAI publishes no prices). Empty: no budget.",
         None, 1e9),
    Pref("min_credits", "ALIVEAI_MIN_CREDITS", "Credits to keep on the account", "credits",
         "Paid nodes refuse a job that would take the account's balance (read from Me) below this. "
         "Empty: no floor.", None, 1e9),
    Pref("running_timeout", "ALIVEAI_RUNNING_TIMEOUT", "Running-time limit", "seconds",
         "How long a job may run before the node stops following it (time queued never counts; the job goes on "
         "remotely and Load Result gets it). 0: no limit. Empty: 1800.", 1800.0, 7 * 24 * 3600.0),
    Pref("pixel_cache_mb", "ALIVEAI_PIXEL_CACHE_MB", "Decoded-pixel cache on disk", "MB",
         "Disk space for decoded results in the system's cache folder (ALIVEAI_CACHE_DIR moves it), so a cached "
         "re-run after a restart does "
         "not decode its PNG again. 0: off. Empty: 1024.", 1024.0, 1_000_000.0),
    Pref("download_cap_mb", "ALIVEAI_DOWNLOAD_CAP_MB", "Largest result download", "MB",
         "A result file larger than this is not downloaded (refused from its announced size, or stopped when the "
         "bytes pass it); the job stays with AliveAI for Load Result. Images are capped at 200 MB whatever this "
         "says. Empty: 2048.", 2048.0, 1_000_000.0),
)}


def _file() -> dict:
    try:
        return read_config_file(bridge.config_path())
    except ConfigError:
        return {}   # the account form reports an unreadable file; limits fall back to their defaults


def raw(key: str) -> tuple[Any, str]:
    """(value, origin) of a preference: the environment's, else the dialog's, else (None, "")."""
    pref = PREFS[key]
    env = (os.environ.get(pref.env) or "").strip()
    if env:
        return env, pref.env
    value = _file().get(key)
    if value is not None:
        return value, f"{pref.label} ({WHERE})"
    return None, ""


def value(key: str) -> float | None:
    """The preference as a number, None when unset; ConfigError for a bad value, naming its origin."""
    found, origin = raw(key)
    return PREFS[key].parse(found, origin)


def view() -> dict[str, Any]:
    """For the dialog: each preference with the saved value and what wins."""
    saved = _file()
    out = []
    for p in PREFS.values():
        env = (os.environ.get(p.env) or "").strip()
        out.append({"key": p.key, "env": p.env, "label": p.label, "unit": p.unit, "doc": p.doc,
                    "default": p.default, "max": p.maximum, "saved": saved.get(p.key), "env_value": env or None,
                    "source": "env" if env else ("file" if saved.get(p.key) is not None else "default")})
    return {"prefs": out, "config_file": str(bridge.config_path())}


def merge(current: dict, form: Any) -> dict:
    """The config file after the form: a number sets a preference, null or "" clears it, an absent
    key keeps it. ConfigError for anything else, before anything is written."""
    if not isinstance(form, dict):
        raise ConfigError("expected a JSON object", hint="")
    unknown = sorted(set(form) - set(PREFS))
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(k[:40] for k in unknown[:5])}", hint="")
    out = dict(current)
    for key, raw_value in form.items():
        parsed = PREFS[key].parse(raw_value, PREFS[key].label)
        if parsed is None:
            out.pop(key, None)
        else:
            out[key] = int(parsed) if parsed.is_integer() else parsed
    return out
