"""Failure scenarios the simulator can play, switchable at runtime.

Every scenario is one field of `Faults`, declared with `flag()`, `counter()` or `seconds()`;
the kind decides how a value from the command line (`--fault name[=value]`) or from
`POST /_sim/faults` is coerced, and what `reset()` restores. Adding a scenario is one field
here plus the line of code that honours it. Counters (`http_500 = 3`: "the next three
requests") are consumed with `take()`, under a lock, because tests set them from their own
thread while the server's event loop spends them.

Every injection is counted in `injected` (`take()` counts a spent unit; flags and durations are
read through `on()`, which counts each time one was in force), so a fault test can assert that
its fault really happened: a test whose scenario silently stopped being played fails.
"""
from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

FLAG = "flag"        # on/off
COUNTER = "counter"  # the next N requests
SECONDS = "seconds"  # a duration


def flag(doc: str) -> Any:
    return field(default=False, metadata={"kind": FLAG, "doc": doc})


def counter(doc: str) -> Any:
    return field(default=0, metadata={"kind": COUNTER, "doc": doc})


def seconds(doc: str) -> Any:
    return field(default=0.0, metadata={"kind": SECONDS, "doc": doc})


@dataclass
class Faults:
    ws_refuse: bool = flag("Websocket handshakes are answered HTTP 503.")
    ws_drop: bool = flag("A prompt websocket is closed (code 1011) right after it sent a running job's first "
                         "progress event.")
    ws_silent: bool = flag("Prompt websockets open (and answer pings) but never send an event.")
    job_error: bool = flag("Jobs end with isError true, message 'Simulated failure: GPU out of memory'.")
    job_hang: bool = flag("Running jobs stop short of their last progress step and stay running while this is on.")
    http_500: int = counter("The next N HTTP requests that are not creates answer 500.")
    http_502: int = counter("The next N HTTP requests that are not creates answer 502 Bad Gateway.")
    http_503: int = counter("The next N HTTP requests that are not creates answer 503 Service Unavailable.")
    http_429: int = counter("The next N HTTP requests answer 429 with Retry-After: 1.")
    queue_full: int = counter("The next N creates are refused 429 'Max pending creations reached', as when the "
                              "account's queue is full (nothing is created).")
    bad_json: int = counter("The next N JSON answers are cut in half (malformed JSON, status 200).")
    create_lost: int = counter("The next N creates are made, but answered 502 Bad Gateway (a proxy lost the "
                               "answer): the job exists and is pending.")
    create_lost_late: int = counter("The next N creates are made, the answer is held until the job has finished, "
                                    "then the connection closes without one: the job is only in Get Prompts.")
    url_expired: bool = flag("Every media URL is issued already expired (downloads get 403).")
    url_expire_once: bool = flag("The first URL issued for each media is already expired; later ones (Get Prompt) "
                                 "are fresh.")
    download_cut: int = counter("The next N downloads send half of the file, then close the connection.")
    upload_reject: int = counter("The next N uploads are refused 415 Unsupported Media Type.")
    auth_expire_mid_job: bool = flag("When a job starts running, every access token expires (logging in again "
                                     "works).")
    slow_seconds: float = seconds("Every HTTP answer is delayed by this many seconds (after the work is done).")
    # -- the websocket as an adversary (following a job) --
    ws_flood: bool = flag("Prompt websockets repeat the job's state as it was when they opened, every 0.05 s while "
                          "this is on, and deliver no real event (not even the completion).")
    ws_keepalive_spam: bool = flag("Prompt websockets send `{}` every 0.05 s while this is on, and deliver no real "
                                   "event (not even the completion).")
    ws_redirect: bool = flag("Websocket handshakes are answered 307 Temporary Redirect, to the simulator's "
                             "`ws_redirect_to` when set (another host), else to the same URL.")
    ws_big_frame: bool = flag("A prompt websocket first sends one 4 MiB text frame (a JSON error event whose "
                              "message is 4 MiB long), then the job's events as usual.")

    # -- downloads, answers and waits as an adversary --
    download_endless: bool = flag("Downloads stream bytes without a Content-Length and never end (until the client "
                                  "leaves).")
    download_huge: bool = flag("Downloads announce a Content-Length of 50 GB (and then send the real file).")
    download_trickle: float = seconds("Downloads send one byte every this many seconds, without end.")
    download_gzip: bool = flag("Downloads are sent gzip-compressed with Content-Encoding: gzip (the Content-Length "
                               "is the compressed size).")
    media_url_internal: bool = flag("Media URLs name another host that resolves to loopback (localhost instead "
                                    "of the simulator's address): an internal address the API does not own.")
    media_redirect_internal: int = counter("The next N downloads answer 302 to the same file on a loopback name "
                                           "the API does not own (localhost).")
    big_json: int = counter("The next N JSON answers come padded to 20 MiB, streamed without a Content-Length.")
    retry_after_zero: int = counter("The next N refused creates (429) carry Retry-After: 0.")
    retry_after_past: int = counter("The next N refused creates (429) carry a Retry-After date an hour in the past "
                                    "(clock skew).")

    # -- hostile prompt ids and result files --
    prompt_id_hostile: int = counter("The next N creates get hostile prompt ids, in turn: '..', 'job:42', 'job/42', "
                                     "'a\\b', 'CON', '.', 'Job42', 'job42' (a taken one gets '~<n>' appended).")
    result_png_huge: int = counter("The next N result images are a PNG whose header claims 20000x20000 (over "
                                   "Pillow's own bomb limit), with a tiny IDAT.")
    result_png_large: int = counter("The next N result images are a PNG whose header claims 12000x12000 (just "
                                    "under Pillow's bomb limit), with a tiny IDAT.")

    # -- other scenarios --

    injected: Counter = field(default_factory=Counter, repr=False, compare=False, metadata={"kind": None})
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False,
                                  metadata={"kind": None})

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls) if f.metadata.get("kind"))

    @classmethod
    def describe(cls) -> dict[str, str]:
        """{name: "kind: doc"}, for --help and GET /_sim/faults."""
        return {f.name: f"{f.metadata['kind']}: {f.metadata['doc']}" for f in fields(cls) if f.metadata.get("kind")}

    def set(self, name: str, value: Any = True) -> None:
        """Set one scenario; `True` means "on" for flags, 1 for counters, 1 s for durations."""
        kind = self._kind(name)
        with self._lock:
            setattr(self, name, _coerce(kind, name, value))

    def update(self, values: Mapping[str, Any]) -> None:
        for name in values:        # check every name before changing anything
            self._kind(name)
        for name, value in values.items():
            self.set(name, value)

    def apply(self, spec: str) -> None:
        """`name` or `name=value`, as given to `--fault`."""
        name, sep, value = spec.partition("=")
        self.set(name.strip(), value.strip() if sep else True)

    def take(self, name: str) -> bool:
        """Spend one unit of a counter; True when there was one to spend."""
        if self._kind(name) != COUNTER:
            raise ValueError(f"fault {name!r} is not a counter")
        with self._lock:
            left = getattr(self, name)
            if left <= 0:
                return False
            setattr(self, name, left - 1)
            self.injected[name] += 1
            return True

    def on(self, name: str) -> Any:
        """The value of a flag or duration, counted as one injection when it is in force."""
        if self._kind(name) == COUNTER:
            raise ValueError(f"fault {name!r} is a counter: spend it with take()")
        value = getattr(self, name)
        if value:
            with self._lock:
                self.injected[name] += 1
        return value

    def count(self, name: str) -> int:
        """How many times `name` was injected since the last reset."""
        self._kind(name)
        with self._lock:
            return self.injected[name]

    def reset(self) -> None:
        with self._lock:
            for f in fields(self):
                if f.metadata.get("kind"):
                    setattr(self, f.name, f.default)
            self.injected.clear()

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.names()}

    def injections(self) -> dict[str, int]:
        with self._lock:
            return dict(self.injected)

    def _kind(self, name: str) -> str:
        for f in fields(self):
            if f.name == name and f.metadata.get("kind"):
                return f.metadata["kind"]
        raise ValueError(f"unknown fault {name!r}; known: {', '.join(self.names())}")


def _coerce(kind: str, name: str, value: Any) -> Any:
    text = str(value).strip().lower() if isinstance(value, str) else None
    if kind == FLAG:
        if isinstance(value, bool):
            return value
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
        if isinstance(value, int):
            return bool(value)
        raise ValueError(f"fault {name!r} takes true or false, got {value!r}")
    try:
        number = 1 if value is True else 0 if value is False else float(value)
    except (TypeError, ValueError):
        raise ValueError(f"fault {name!r} takes a number, got {value!r}") from None
    if number < 0:
        raise ValueError(f"fault {name!r} must not be negative, got {value!r}")
    return int(number) if kind == COUNTER else float(number)
