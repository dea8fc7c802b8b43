"""The simulator's state: accounts and tokens, stored media, jobs and queues, counters, and a
request log, all plain data with no aiohttp or asyncio in sight.

Tests read it directly from their own thread (`SimulatorThread.state`), so everything a test
may want to assert on is a plain attribute: `counters`, `log`, `jobs`, `media`, `faults`,
`config`. The event loop is the only writer, apart from the switches tests flip (`faults`,
`expire_tokens()`, `advance()`), which are single assignments and safe across threads.

Ids are deterministic (a counter plus a hash), so two runs of the same script see the same
prompt and media ids. Credentials never reach the log: the Authorization header keeps only its
scheme, and passwords and `token` query values are masked.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..api import Operation
from . import catalog
from .faults import Faults

DEFAULT_API_KEY = "sim-key"
DEFAULT_EMAIL = "sim@example.com"
DEFAULT_PASSWORD = "sim-password"
MASK = "***"
LOG_LIMIT = 5000

# Prompt ids a hostile or broken API could send (fault prompt_id_hostile): traversal, two ids one
# naive sanitiser maps to one folder, a Windows separator and device name, and case twins.
HOSTILE_IDS = ("..", "job:42", "job/42", "a\\b", "CON", ".", "Job42", "job42")

QUEUED, RUNNING, DONE, FAILED, REMOVED, DELETED = "QUEUED", "RUNNING", "DONE", "FAILED", "REMOVED", "DELETED"
PENDING = (QUEUED, RUNNING)


@dataclass
class SimConfig:
    """Everything `SimulatorThread(**config)` and the command line can set.

    Users: there are max(len(accounts), len(api_keys)) of them; user i logs in with the i-th
    account and authenticates with the i-th key (missing ones are generated), so a second key
    is a second user with its own queue."""

    api_keys: Iterable[str] = (DEFAULT_API_KEY,)
    accounts: Mapping[str, str] = field(default_factory=lambda: {DEFAULT_EMAIL: DEFAULT_PASSWORD})
    workers: int = 2                      # global slots running jobs at once
    job_seconds: float = 0.3              # running time of one job
    progress_steps: tuple[int, ...] = (0, 25, 50, 75, 100)
    max_pending: int = 8                  # per user, queued + running
    url_ttl: int = 3600                   # seconds a media URL stays valid
    max_upload_bytes: int = 50 * 1024 * 1024
    replay_on_connect: bool = False       # send the current state when a prompt websocket opens
    credits: float = 1000.0               # starting balance of every user
    ws_heartbeat: float = 20.0            # websocket ping interval (aiohttp autoping answers the client's)
    video_frames: int = 12
    video_fps: int = 24
    video_bytes: int = 0                  # pad video results to this size (an MP4 'free' box): big downloads
    url_secret: str = "aliveai-simulator-url-secret"
    id_salt: str | None = None            # None: random per simulator, so ids never repeat across runs
    moved_paths: Mapping[str, str] = field(default_factory=dict)   # {op_key: "/path" or "METHOD /path"}: a live
    #                                       API whose paths differ from the table (the API check's tests)

    def __post_init__(self) -> None:
        keys = self.api_keys
        self.api_keys = tuple(sorted(keys) if isinstance(keys, (set, frozenset)) else keys)
        self.accounts = dict(self.accounts)
        self.moved_paths = dict(self.moved_paths)
        self.progress_steps = tuple(self.progress_steps)


@dataclass
class User:
    id: str
    email: str
    password: str | None
    api_key: str
    credits: float
    custom_clothes: dict[str, str]
    custom_poses: dict[str, str]


@dataclass
class Media:
    id: str
    owner: str
    media_type: str          # IMAGE or VIDEO
    ext: str
    content_type: str
    data: bytes = field(repr=False)
    width: int | None
    height: int | None
    source: str              # "upload" or the promptId that produced it


@dataclass
class Job:
    prompt_id: str
    op: Operation
    owner: str
    request: dict[str, Any]      # the request body as sent, seed filled in: Get Prompt's echo
    seed: str
    seq: int
    inputs: dict[str, list[str]]  # media field label -> media ids, resolved at create time
    status: str = QUEUED
    progress: int = 0
    media_ids: list[str] = field(default_factory=list)
    error: str | None = None
    created: float = 0.0
    finished: float | None = None
    sent_position: int | None = None  # last queuePosition announced on the websocket

    @property
    def pending(self) -> bool:
        return self.status in PENDING


@dataclass
class Counters:
    creates: Counter = field(default_factory=Counter)   # per operation key
    deletes: Counter = field(default_factory=Counter)   # per operation key
    requests: Counter = field(default_factory=Counter)  # per operation key (or route)
    uploads: int = 0
    downloads: int = 0            # whole bodies sent (a download_cut one is not counted)
    ws_connections: int = 0       # prompt websockets accepted
    user_ws_connections: int = 0  # user websockets accepted
    logins: int = 0
    restarts: int = 0             # simulated server restarts (SimulatorThread.restart, POST /_sim/restart)

    def as_dict(self) -> dict[str, Any]:
        return {k: dict(v) if isinstance(v, Counter) else v for k, v in self.__dict__.items()}


@dataclass
class LoggedRequest:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    op: str | None = None
    body: Any = None                                  # parsed JSON body, passwords masked
    parts: list[str] = field(default_factory=list)    # multipart part names
    status: int | None = None
    time: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Simulator:
    """The state of one simulated AliveAI account server."""

    def __init__(self, config: SimConfig | None = None, faults: Faults | None = None):
        self.config = config or SimConfig()
        self.faults = faults or Faults()
        self.counters = Counters()
        self.log: list[LoggedRequest] = []
        self.base_url = ""            # set when the server is bound
        self.clock_offset = 0.0       # advance() moves the simulator's clock forward
        self.users: dict[str, User] = {}
        self.tokens: dict[str, str] = {}   # access token -> user id
        self.media: dict[str, Media] = {}
        self.jobs: dict[str, Job] = {}
        self.issued_urls: set[str] = set()   # media ids whose URL was handed out (fault url_expire_once)
        self.restart_hook: Any = None        # set while serving: async fn(down seconds) playing a restart
        self._seq = 0
        self._token_seq = 0
        # A prompt id is unique on the real API. Without a salt a new simulator process would hand
        # out the ids of the last one again, and a client's stored results would pass for new ones.
        self._salt = self.config.id_salt if self.config.id_salt is not None else os.urandom(6).hex()
        self._make_users()

    # clock ----------------------------------------------------------------------------------
    def now(self) -> float:
        return time.time() + self.clock_offset

    def advance(self, seconds: float) -> None:
        """Move the clock forward, e.g. to expire media URLs without waiting."""
        self.clock_offset += seconds

    # users and credentials ---------------------------------------------------------------------
    def _make_users(self) -> None:
        emails = list(self.config.accounts)
        keys = list(self.config.api_keys)
        for i in range(max(len(emails), len(keys), 1)):
            uid = f"user-{i + 1}"
            email = emails[i] if i < len(emails) else f"user{i + 1}@example.com"
            self.users[uid] = User(
                id=uid, email=email, password=self.config.accounts.get(email),
                api_key=keys[i] if i < len(keys) else f"sim-key-{i + 1}", credits=float(self.config.credits),
                custom_clothes=dict(catalog.CUSTOM_CLOTHES), custom_poses=dict(catalog.CUSTOM_POSES))

    @property
    def default_user(self) -> User:
        return next(iter(self.users.values()))

    def authenticate(self, header: str | None) -> tuple[User | None, str]:
        """(user, "") or (None, the 401 detail) for an Authorization header value."""
        if not header:
            return None, "Missing Authorization header"
        scheme, _, credential = header.strip().partition(" ")
        credential = credential.strip()
        if scheme.lower() == "key":
            for user in self.users.values():
                if hmac.compare_digest(user.api_key, credential):
                    return user, ""
            return None, "Invalid API key"
        if scheme.lower() == "bearer":
            user = self.user_for_token(credential)
            return (user, "") if user else (None, "Invalid or expired access token")
        return None, "Unsupported authorization scheme: use 'Key <apiKey>' or 'Bearer <accessToken>'"

    def user_for_token(self, token: str | None) -> User | None:
        uid = self.tokens.get(token or "")
        return self.users.get(uid) if uid else None

    def login(self, email: str, password: str) -> str | None:
        for user in self.users.values():
            if user.email.lower() == email.strip().lower() and user.password is not None \
                    and hmac.compare_digest(user.password, password):
                self._token_seq += 1
                token = _jwt(user.id, int(self.now()), self._token_seq, self.config.url_secret)
                self.tokens[token] = user.id
                return token
        return None

    def expire_tokens(self) -> None:
        """Invalidate every access token issued so far; logging in again works."""
        self.tokens.clear()

    # ids, media, jobs --------------------------------------------------------------------------
    def new_id(self, kind: str, tag: str) -> str:
        self._seq += 1
        return hashlib.sha256(f"{self._salt}:{kind}:{self._seq}:{tag}".encode()).hexdigest()[:24]

    def add_media(self, owner: str, media_type: str, ext: str, content_type: str, data: bytes,
                  size: tuple[int, int] | None, source: str) -> Media:
        m = Media(id=self.new_id("media", source), owner=owner, media_type=media_type, ext=ext,
                  content_type=content_type, data=data, width=size[0] if size else None,
                  height=size[1] if size else None, source=source)
        self.media[m.id] = m
        return m

    def media_for(self, user: User, media_id: str) -> Media | None:
        m = self.media.get(media_id)
        return m if m and m.owner == user.id else None

    def new_job(self, op: Operation, user: User, request: dict[str, Any], seed: str | None,
                inputs: dict[str, list[str]]) -> Job:
        pid = self.new_id("prompt", op.key)
        if self.faults.take("prompt_id_hostile"):
            pid = self._hostile_id()
        seed = seed or str(int(hashlib.sha256(pid.encode()).hexdigest()[:15], 16) % 10 ** 12)
        job = Job(prompt_id=pid, op=op, owner=user.id, request={**request, "seed": seed}, seed=seed,
                  seq=self._seq, inputs=inputs, created=self.now())
        self.jobs[pid] = job
        return job

    def _hostile_id(self) -> str:
        """The next of HOSTILE_IDS in turn (fault prompt_id_hostile), unique among this simulator's jobs."""
        n = self.faults.count("prompt_id_hostile")
        pid = HOSTILE_IDS[(n - 1) % len(HOSTILE_IDS)]
        base, k = pid, 1
        while pid in self.jobs:
            k += 1
            pid = f"{base}~{k}"
        return pid

    def job_for(self, user: User, prompt_id: str) -> Job | None:
        job = self.jobs.get(prompt_id)
        return job if job and job.owner == user.id and job.status not in (REMOVED, DELETED) else None

    def waiting(self, user_id: str | None = None) -> list[Job]:
        """Queued jobs in FIFO order, of one user or of everyone."""
        return sorted((j for j in self.jobs.values() if j.status == QUEUED and user_id in (None, j.owner)),
                      key=lambda j: j.seq)

    def running(self) -> list[Job]:
        return [j for j in self.jobs.values() if j.status == RUNNING]

    def position(self, job: Job) -> int:
        """1-based place among the owner's waiting jobs; 0 once running (or finished)."""
        if job.status != QUEUED:
            return 0
        return 1 + sum(1 for j in self.waiting(job.owner) if j.seq < job.seq)

    def pending_count(self, user: User) -> int:
        return sum(1 for j in self.jobs.values() if j.owner == user.id and j.pending)

    def pending_items(self, user_id: str) -> list[dict[str, Any]]:
        """Get Pending's items (API.md §5.4): running jobs first, then the queue in order."""
        jobs = sorted((j for j in self.jobs.values() if j.owner == user_id and j.pending),
                      key=lambda j: (j.status != RUNNING, j.seq))
        return [{"promptId": j.prompt_id, "queuePosition": self.position(j), "video": j.op.returns == "VIDEO",
                 "progress": j.progress} for j in jobs]

    # observability -----------------------------------------------------------------------------
    def log_request(self, method: str, path: str, query: Iterable[tuple[str, str]],
                    headers: Mapping[str, str]) -> LoggedRequest:
        entry = LoggedRequest(method=method, path=path, time=self.now(),
                              query=[(k, MASK if k.lower() == "token" else v) for k, v in query],
                              headers={k: _redact_header(k, v) for k, v in headers.items()})
        self.log.append(entry)
        if len(self.log) > LOG_LIMIT:
            del self.log[: len(self.log) - LOG_LIMIT]
        return entry

    def requests_for(self, op_key: str) -> list[LoggedRequest]:
        return [e for e in self.log if e.op == op_key]


def redact_body(body: Any) -> Any:
    if isinstance(body, dict):
        return {k: MASK if k.lower() in ("password", "apikey", "accesstoken") else redact_body(v)
                for k, v in body.items()}
    if isinstance(body, list):
        return [redact_body(v) for v in body]
    return body


def _redact_header(name: str, value: str) -> str:
    if name.lower() in ("authorization", "proxy-authorization", "cookie"):
        scheme = value.split(" ", 1)[0] if " " in value else ""
        return f"{scheme} {MASK}".strip()
    return value


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt(user_id: str, issued: int, n: int, secret: str) -> str:
    """A JWT-shaped token ("eyJ..."), as the real Login returns; only the simulator reads it."""
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = _b64(json.dumps({"sub": user_id, "iat": issued, "jti": n}, separators=(",", ":")).encode())
    sig = _b64(hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest())
    return f"{head}.{body}.{sig}"
