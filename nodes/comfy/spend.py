"""Spend guard: refuse a paid job *before* anything is sent when it would break a limit the user set.

- Credit budget (`ALIVEAI_CREDIT_BUDGET`, or Settings > AliveAI > Limits): credits this ComfyUI
  session (this process) may spend. Each job submitted adds its estimated cost; a job that would
  take the total past the budget is refused.
- Credits to keep (`ALIVEAI_MIN_CREDITS`, or the same dialog): a floor the account must keep.
  Before a job is submitted, the balance (Me, cached ME_TTL seconds) minus what this session
  submitted since that read, minus the job's estimate, must stay at or above the floor.

Both are read at run time and off by default; when neither is set, nothing is checked and Me is
never called (the session's estimate is still counted, for the status tab). When either is set, a
job the account cannot afford (balance below its estimate) is refused too.

AliveAI does not document what an operation costs (API.md §10), so `ESTIMATE` is our guess, kept
in this one place: per result kind, one credit for an image job, five for a video job (the figures
the simulator charges). Estimates are counted when a job is submitted, so a job that later fails
still counts: the guard errs on the side of spending less. Actual spend is measured where possible:
every Me read is compared with the first one of the session (`summary()`), which also counts
spending by other clients of the same account.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..api.schema import Operation
from ..errors import BudgetError, ConfigError
from . import prefs, session

if TYPE_CHECKING:
    from ..client.client import AliveAIClient

log = logging.getLogger("aliveai")

ESTIMATE = {"IMAGE": 1.0, "VIDEO": 5.0}   # credits per job, by result kind: an estimate, not a price list
ME_TTL = 30.0


@dataclass
class _Account:
    credits: float
    read_at: float
    first: float                 # the balance at the session's first read
    since_read: float = 0.0      # estimates of jobs submitted since `read_at`


@dataclass
class _Session:
    spent: float = 0.0           # estimated credits of the jobs this session submitted
    jobs: int = 0
    accounts: dict[str, _Account] = field(default_factory=dict)


_lock = threading.Lock()
_state = _Session()


def estimate(op: Operation) -> float:
    return ESTIMATE.get(op.returns, ESTIMATE["IMAGE"])


def limits() -> tuple[float | None, float | None]:
    """(budget, floor), read now from the environment or the settings dialog; None when unset."""
    return prefs.value("credit_budget"), prefs.value("min_credits")


def _balance(client: AliveAIClient) -> _Account | None:
    """The account's balance, from Me at most every ME_TTL seconds; None when Me has no credits."""
    scope = session.account_scope(client.settings)
    with _lock:
        acct = _state.accounts.get(scope)
        if acct is not None and time.monotonic() - acct.read_at < ME_TTL:
            return acct
    credits = client.me().get("credits")
    if not isinstance(credits, (int, float)) or isinstance(credits, bool):
        log.warning("AliveAI: Me gave no credit balance; the credit floor is not checked")
        return None
    with _lock:
        first = acct.first if acct is not None else float(credits)
        acct = _state.accounts[scope] = _Account(float(credits), time.monotonic(), first)
        log.info("AliveAI: %g credits left; this session spent about %g (estimate) and %g (measured by Me)",
                 acct.credits, _state.spent, acct.first - acct.credits)
        return acct


def check(client: AliveAIClient, op: Operation, label: str) -> None:
    """Raise BudgetError, before anything is sent, when this job would break a limit; otherwise
    count its estimate as spent."""
    budget, floor = limits()
    cost = estimate(op)
    # With no limit set nothing is checked and Me is not read; the job still counts, for the status tab.
    acct = _balance(client) if budget is not None or floor is not None else None
    with _lock:
        if budget is not None and _state.spent + cost > budget:
            raise BudgetError(
                f"refused before submitting: this job (about {_credits(cost)}, an estimate) would take this "
                f"session's spend to about {_credits(_state.spent + cost)}, over the budget of {budget:g}"
                f"{_origin('credit_budget')}. Nothing was sent; raise the budget, or start a new session "
                "(Reset in the AliveAI sidebar tab, or restart ComfyUI).",
                operation=label)
        if acct is not None:
            left = acct.credits - acct.since_read - cost
            if left < (floor or 0.0):
                raise BudgetError(
                    f"refused before submitting: the account has about {_credits(acct.credits - acct.since_read)}; "
                    f"this job (about {cost:g}, an estimate) would leave {left:g}, below the floor of "
                    f"{floor or 0:g}{_origin('min_credits')}. Nothing was sent.", operation=label)
            acct.since_read += cost
        _state.spent += cost
        _state.jobs += 1


def _credits(n: float) -> str:
    return f"{n:g} credit{'' if n == 1 else 's'}"


def _origin(key: str) -> str:
    where = prefs.raw(key)[1]
    return f" ({where})" if where else ""


def summary() -> dict:
    """This session's spend: estimated from submitted jobs, and measured from Me where read."""
    with _lock:
        measured = [a.first - a.credits for a in _state.accounts.values()]
        return {"estimated": _state.spent, "jobs": _state.jobs,
                "measured": sum(measured) if measured else None,
                "credits": next((a.credits for a in _state.accounts.values()), None)}


def session_view() -> dict:
    """For the status tab: this session's jobs and estimated spend, and the limits now in force
    (None when unset or unreadable: the run itself reports a bad value)."""
    out = {k: v for k, v in summary().items() if k in ("jobs", "estimated", "measured")}
    for name, key in (("budget", "credit_budget"), ("floor", "min_credits")):
        try:
            out[name] = prefs.value(key)
        except ConfigError as e:
            out[name], out["error"] = None, e.message
    return out


def reset() -> None:
    """Start a new session: the status tab's reset button, and tests."""
    global _state
    with _lock:
        _state = _Session()
