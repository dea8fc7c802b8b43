"""The catalogs behind the id widgets (poses, clothes, LoRA templates, profiles) as short,
normalized lists `{id, name, thumb, group}`: for the pickers of js/catalogs.js (through the
/aliveai/catalog/{kind} route) and for the run-time check that an id is still in its catalog.

Why it looks like this:
- What a catalog is and how its answers are read into entries is in `catalog_items`.
- Lists are per account (custom poses and clothes, own profiles): memory and disk entries carry
  the account scope (base URL + hashed credential) and another account's list is never served.
- Memory holds a list for TTL seconds; disk (`<user dir>/catalogs/<kind>.json`) keeps the last
  good one across restarts and API outages, then served with `stale: true` and the error.
- One service for two kinds of caller: route handlers (in asyncio.to_thread) and node runs
  (worker threads). State is behind threading locks, and one fetch per list runs at a time:
  concurrent callers wait for it and share its answer.
- The route asks for stale-while-revalidate: an expired list is answered at once (marked stale)
  and refreshed in a background thread, so opening a picker never waits on the API twice.
- `check` refuses an id only when a list was really obtained and lacks it; when a catalog cannot
  be fetched at all it logs and lets the run go on (the API will answer). It is for run time only:
  INPUT_TYPES and VALIDATE_INPUTS never do network I/O.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..client.config import Settings
from ..atomic import atomic_file
from ..errors import AliveAIError, ConfigError, ValidationError
from ..redact import redact
from . import bridge, session
from .catalog_items import KINDS, as_text, fetch, kind_of

log = logging.getLogger("aliveai")

TTL = 600.0              # seconds a list is fresh
RECHECK_AGE = 30.0       # an id missing from a list older than this is looked up in a fresh one


# Id fields of the operation nodes checked at run time (inputs.plan); the parameter builders
# name their own (builder_nodes).
CATALOG_FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "create_character_image": {"profileId": ("profiles",)},
    "generate_character_prompt": {"profileId": ("profiles",)},
}


# -- the service ----------------------------------------------------------------------------------
@dataclass
class Entry:
    items: list[dict]
    updated: float        # epoch seconds of the fetch
    scope: str


@dataclass
class Listing:
    kind: str
    items: list[dict] = field(default_factory=list)
    updated: float | None = None    # None: no list at all
    stale: bool = False
    error: str | None = None
    revalidating: bool = False

    def ids(self) -> set[str]:
        return {e["id"] for e in self.items}

    def as_json(self) -> dict[str, Any]:
        out = {"kind": self.kind, "items": self.items, "stale": self.stale, "error": self.error,
               "updated": self.updated}
        if self.revalidating:
            out["revalidating"] = True
        return out


class Catalogs:
    def __init__(self, ttl: float = TTL, clock: Callable[[], float] = time.time):
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.Lock()   # the dicts below; held for a few statements only
        self._entries: dict[tuple[str, str], Entry] = {}
        self._fetch_locks: dict[tuple[str, str], threading.Lock] = {}
        self._background: set[tuple[str, str]] = set()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    # -- lookups --------------------------------------------------------------------------------
    def get(self, kind: str, refresh: bool = False, background: bool = False) -> Listing:
        """The list of `kind` for the current account. `refresh` skips the TTL; `background`
        answers an expired list at once and refreshes it in a thread (stale-while-revalidate)."""
        kind_of(kind)
        s, problem = self._settings()
        if s is None:
            return Listing(kind, error=problem)
        key = (session.account_scope(s), kind)
        entry = self._entry(key)
        if entry is not None and not refresh and self._fresh(entry):
            return Listing(kind, entry.items, entry.updated)
        if entry is not None and background and not refresh:
            self._revalidate(key, s)
            return Listing(kind, entry.items, entry.updated, stale=True, revalidating=True)
        return self._fetch(key, s)

    def peek(self, kind: str) -> Listing:
        """What memory holds, without any I/O but the settings file (for a route that timed out)."""
        kind_of(kind)
        s, problem = self._settings()
        if s is None:
            return Listing(kind, error=problem)
        with self._lock:
            entry = self._entries.get((session.account_scope(s), kind))
        if entry is None:
            return Listing(kind)
        return Listing(kind, entry.items, entry.updated, stale=not self._fresh(entry))

    def _settings(self) -> tuple[Settings | None, str | None]:
        try:
            s = session.settings()
        except ConfigError as e:
            return None, str(e)
        if not s.has_credentials:
            return None, str(ConfigError("no AliveAI credentials are set."))
        return s, None

    def _fresh(self, entry: Entry) -> bool:
        return 0 <= self.clock() - entry.updated < self.ttl

    def _entry(self, key: tuple[str, str]) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None:
            return entry
        entry = self._load(key)
        if entry is not None:
            with self._lock:
                entry = self._entries.setdefault(key, entry)
        return entry

    def _fetch_lock(self, key: tuple[str, str]) -> threading.Lock:
        with self._lock:
            return self._fetch_locks.setdefault(key, threading.Lock())

    def _fetch(self, key: tuple[str, str], s: Settings) -> Listing:
        scope, kind = key
        started = self.clock()
        with self._fetch_lock(key):
            entry = self._entry(key)
            if entry is not None and entry.updated >= started:   # fetched while we waited: share it
                return Listing(kind, entry.items, entry.updated)
            try:
                items = fetch(kind, session.QUICK.get(s))
            except AliveAIError as e:
                error = redact(str(e))
                log.warning("AliveAI: could not list %s: %s", KINDS[kind].source, error)
                if entry is None:
                    return Listing(kind, error=error)
                return Listing(kind, entry.items, entry.updated, stale=True, error=error)
            entry = Entry(items, self.clock(), scope)
            with self._lock:
                self._entries[key] = entry
            self._save(kind, entry)
            return Listing(kind, items, entry.updated)

    def _revalidate(self, key: tuple[str, str], s: Settings) -> None:
        with self._lock:
            if key in self._background:
                return
            self._background.add(key)

        def work() -> None:
            try:
                self._fetch(key, s)
            finally:
                with self._lock:
                    self._background.discard(key)

        threading.Thread(target=work, name="aliveai-catalog", daemon=True).start()

    # -- disk -----------------------------------------------------------------------------------
    @staticmethod
    def path(kind: str) -> Path:
        return bridge.user_dir() / "catalogs" / f"{kind_of(kind).key}.json"

    def _load(self, key: tuple[str, str]) -> Entry | None:
        scope, kind = key
        try:
            data = json.loads(self.path(kind).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            log.info("AliveAI: ignoring the unreadable catalog file of %s: %s", kind, e)
            return None
        if not isinstance(data, dict) or data.get("scope") != scope:   # another account's list
            return None
        updated = data.get("updated")
        if not isinstance(updated, (int, float)) or isinstance(updated, bool):
            return None
        items = [{k: str(e.get(k) or "") for k in ("id", "name", "thumb", "group")}
                 | ({"type": str(e["type"])} if isinstance(e.get("type"), str) else {})
                 for e in data.get("items") or [] if isinstance(e, dict) and isinstance(e.get("id"), str) and e["id"]]
        return Entry(items, float(updated), scope)

    def _save(self, kind: str, entry: Entry) -> None:
        path = self.path(kind)
        data = {"scope": entry.scope, "updated": entry.updated, "items": entry.items}
        try:
            with atomic_file(path) as f:
                f.write(json.dumps(data, ensure_ascii=False).encode("utf-8"))
        except OSError as e:  # the memory copy still works; only a restart loses the list
            log.warning("AliveAI: could not save the %s list to %s: %s", kind, path, e)


CATALOGS = Catalogs()


# -- the run-time check ---------------------------------------------------------------------------
def check(kinds: str | Iterable[str], ident: Any, label: str, field: str, service: Catalogs | None = None) -> None:
    """Raise a ValidationError naming the node, the field and the id when `ident` is in none of
    the `kinds` catalogs. A list older than RECHECK_AGE is fetched again first (the item may be
    new). When one of the catalogs cannot be fetched at all, the run goes on (logged)."""
    svc = service or CATALOGS
    names = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    ident = as_text(ident)
    if not ident:
        return
    listings = [svc.get(k) for k in names]
    if any(ident in lst.ids() for lst in listings):
        return
    now = svc.clock()
    listings = [svc.get(lst.kind, refresh=True) if lst.updated is not None and not lst.stale
                and now - lst.updated > RECHECK_AGE else lst for lst in listings]
    if any(ident in lst.ids() for lst in listings):
        return
    missing = [lst for lst in listings if lst.updated is None]
    if missing:
        level = logging.DEBUG if all("credentials" in (lst.error or "") for lst in missing) else logging.WARNING
        log.log(level, "AliveAI %s: could not check %s %r against %s (%s); running anyway", label, field, ident,
                ", ".join(KINDS[lst.kind].source for lst in missing), "; ".join(lst.error or "?" for lst in missing))
        return
    sources = " or ".join(KINDS[n].source for n in names)
    message = f"'{field}': {KINDS[names[0]].noun} '{ident}' is not in {sources} any more: pick another"
    stale = [lst for lst in listings if lst.stale]
    if stale:
        age = max(now - (lst.updated or now) for lst in stale)
        message += f" (list from {age / 60:.0f} min ago: AliveAI could not be reached to refresh it)"
    raise ValidationError(message, operation=label, field=field, limit="in catalog")


def check_values(op_key: str, label: str, values: dict) -> None:
    """The catalog ids among an operation node's request values (CATALOG_FIELDS)."""
    for name, kinds in CATALOG_FIELDS.get(op_key, {}).items():
        if values.get(name):
            check(kinds, values[name], label, name)
