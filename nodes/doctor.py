"""The API check: `python -m nodes.doctor [--save] [--json]`, and the "Check API" button.

With the configured key it checks authentication (Me), clock skew (the Date header), latency,
the websocket handshakes, and the method and path of every operation of the table, without
spending or creating anything:
- GETs are sent as they are (required query values at their smallest, path ids that cannot exist);
- creates, uploads, deletes and LLM calls get a request the server must refuse before doing any
  work: a JSON body of the wrong type (an array where an object is expected) holding a required
  enum set to a value no server can deserialize; an upload as JSON instead of multipart; a delete
  of an id that cannot exist. Never a merely incomplete body, which a lenient server might fill in.
An id that cannot exist makes a 404 that says nothing about the route, so every 404 is compared
with the 404 of a path that certainly does not exist: the same answer means "no such route".
When the table's path is missing, the known alternatives (api/overrides.py) are tried the same
way and the first one that exists is proposed; `--save` (or "Use found paths") stores them as
path overrides in the config file. Nothing is written unless asked.

Every request goes through the pack's own client (`Transport`): the key goes only to the
configured API host, redirects are not followed for the websocket, answers are capped.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from .api import BY_KEY, OPERATIONS, overrides
from .api.schema import BODY, EVENTS, PATH, QUERY, Operation
from .errors import AliveAIError, ConfigError

PROBE_ID = "aliveai-check-no-such-id-0"
INVALID = "ALIVEAI_CHECK_NOT_A_VALUE"
MISSING_PATH = "/aliveai-check-no-such-route/0"

FOUND, MISSING, AUTH, OTHER = "found", "wrong path", "auth", "other"


@dataclass
class Result:
    """One operation's answer to its probe."""
    key: str
    name: str
    method: str
    path: str
    status: int | None
    verdict: str
    detail: str = ""
    overridden: bool = False
    proposed: tuple[str, str] | None = None   # (METHOD, path) that answered where the table's did not
    tried: list[str] = field(default_factory=list)


@dataclass
class Report:
    base_url: str
    auth: str = ""
    account: str = ""
    latency_ms: float | None = None
    clock_skew_s: float | None = None
    websocket: str = ""
    user_websocket: str = ""
    results: list[Result] = field(default_factory=list)
    overrides: dict[str, str] = field(default_factory=dict)

    @property
    def wrong(self) -> list[Result]:
        return [r for r in self.results if r.verdict == MISSING]

    @property
    def proposals(self) -> dict[str, tuple[str, str]]:
        return {r.key: r.proposed for r in self.results if r.proposed}

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.results:
            out[r.verdict] = out.get(r.verdict, 0) + 1
        return out

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["counts"] = self.counts()
        data["proposals"] = overrides.to_config(self.proposals, BY_KEY)
        return data

    def table(self) -> str:
        lines = [f"AliveAI API check of {self.base_url}",
                 f"  authentication: {self.auth}" + (f" ({self.account})" if self.account else ""),
                 f"  latency: {_fmt(self.latency_ms, 'ms')}   clock skew: {_fmt(self.clock_skew_s, 's')}",
                 f"  prompt websocket: {self.websocket}",
                 f"  user websocket: {self.user_websocket}", ""]
        width = max(len(r.key) for r in self.results) if self.results else 10
        lines.append(f"  {'operation':<{width}}  {'route':<48} status  result")
        for r in self.results:
            route = f"{r.method} {r.path}" + (" *" if r.overridden else "")
            lines.append(f"  {r.key:<{width}}  {route:<48} {r.status if r.status is not None else '-':>6}  "
                         f"{r.verdict}{': ' + r.detail if r.detail else ''}")
            if r.verdict == MISSING:
                lines.append(f"  {'':<{width}}  -> " + (f"found at {r.proposed[0]} {r.proposed[1]}" if r.proposed
                             else f"no known alternative answered (tried {', '.join(r.tried) or 'none'})"))
        counts = self.counts()
        lines += ["", "  " + ", ".join(f"{n} {v}" for v, n in sorted(counts.items())),
                  "  * = path override in use (config file \"paths\" or ALIVEAI_PATHS)",
                  "  found: the route answered (400/415/422: refused as intended, nothing done; 404 with an "
                  "answer unlike a missing route's: the probe id is unknown);",
                  "  wrong path: 404 like a missing route, or 405; auth: 401/403; other: anything else."]
        if self.proposals:
            lines.append("  Save the found paths with --save (or Settings > AliveAI > Check API > Use found paths).")
        return "\n".join(lines)


def _fmt(v: float | None, unit: str) -> str:
    return "-" if v is None else f"{v:.0f} {unit}" if unit == "ms" else f"{v:+.1f} {unit}"


# -- probes -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Probe:
    method: str
    path: str
    params: tuple[tuple[str, str], ...] = ()
    json: Any = None
    data: Any = None
    has_id: bool = False
    auth: bool = True


def probe_for(op: Operation) -> Probe:
    """The request for `op` that spends nothing and creates nothing (module docstring)."""
    from dataclasses import replace

    return replace(_probe_for(op), auth=op.auth)


def _probe_for(op: Operation) -> Probe:
    path, has_id = op.path, False
    for f in op.fields_in(PATH):
        path, has_id = path.replace("{" + f.name + "}", PROBE_ID), True
    params: list[tuple[str, str]] = []
    for f in op.fields_in(QUERY):
        if not f.required:
            continue
        if f.type == "integer":
            params.append((f.name, str(int(f.minimum or 0))))
        elif f.enum:
            params.append((f.name, f.enum[0]))
        else:
            params.append((f.name, PROBE_ID))
            has_id = True
    if op.method == "GET":
        return Probe(op.method, path, tuple(params), has_id=has_id)
    if op.multipart:   # JSON where multipart/form-data is expected: refused (415/400) before any file is read
        return Probe(op.method, path, tuple(params), json=[INVALID], has_id=has_id)
    if op.fields_in(BODY):
        enum = next((f for f in op.fields_in(BODY) if f.enum and f.required), None) or \
            next((f for f in op.fields_in(BODY) if f.enum), None)
        inner: Any = {enum.name: INVALID} if enum else INVALID
        return Probe(op.method, path, tuple(params), json=[inner], has_id=has_id)
    return Probe(op.method, path, tuple(params), has_id=has_id)


def _normal(message: str, path: str) -> str:
    """A 404 message without what varies with the request (the path, ids, numbers, timestamps)."""
    text = message.replace(path, "").replace(PROBE_ID, "").replace(MISSING_PATH, "")
    return re.sub(r"\d+", "", re.sub(r"/\S*", "", text)).strip().lower()


class Doctor:
    def __init__(self, client: Any):
        self.client = client
        self.transport = client.transport
        self._missing: str | None = None
        self._answers: dict[str, str] = {}
        self.routes: Mapping[str, tuple[str, str]] = client.settings.routes

    def send(self, probe: Probe, name: str) -> tuple[int | None, str]:
        """(status, API message) of one probe through the pack's transport; never raises for HTTP."""
        try:
            self.transport.request(probe.method, probe.path, params=list(probe.params) or None, json=probe.json,
                                   data=probe.data, operation=f"API check: {name}", auth=probe.auth)
            return 200, ""
        except AliveAIError as e:
            return e.status, e.api_message or e.message

    def shadows(self, probe: Probe) -> list[Operation]:
        """Other operations whose route template also matches the probe's path and method, e.g.
        DELETE /prompts/{promptId} for DELETE /prompts/pending: a 404 from them says nothing."""
        out = []
        for op in OPERATIONS:
            live = overrides.apply(op, self.routes)
            if not op.callable or live.method != probe.method or "{" not in live.path:
                continue
            pattern = re.escape(live.path)
            pattern = re.sub(r"\\\{[A-Za-z0-9_]+\\\}", "[^/]+", pattern)
            if re.fullmatch(pattern, probe.path) and probe_for(live).path != probe.path:
                out.append(live)
        return out

    def answer_of(self, op: Operation) -> str:
        """The normalised 404 answer of `op`'s own probe (cached), or a marker when not a 404."""
        if op.key not in self._answers:
            probe = probe_for(op)
            status, msg = self.send(probe, op.name)
            self._answers[op.key] = _normal(msg, probe.path) if status == 404 else "\0no 404"
        return self._answers[op.key]

    def missing_answer(self) -> str:
        if self._missing is None:
            status, msg = self.send(Probe("GET", MISSING_PATH), "missing route")
            self._missing = _normal(msg, MISSING_PATH) if status == 404 else "\0no 404"
        return self._missing

    def verdict(self, probe: Probe, status: int | None, message: str) -> tuple[str, str]:
        if status is None:
            return OTHER, message[:120]
        if status in (401, 403):
            return AUTH, message[:120]
        if status == 405:
            return MISSING, "method not allowed"
        if status == 404:
            if _normal(message, probe.path) == self.missing_answer():
                return MISSING, "404 like a route that does not exist"
            for other in self.shadows(probe):
                if self.answer_of(other) == _normal(message, probe.path):
                    return MISSING, (f"answered like {other.name} ({other.method} {other.path}) for an unknown id: "
                                     "that route takes this path")
            return FOUND, "answered 404 for the probe id (the id is unknown, the route exists)"
        if status in (400, 415, 422):
            return FOUND, ""
        if 200 <= status < 300:
            return FOUND, "" if probe.method == "GET" else "accepted (unexpected for a refused probe)"
        return OTHER, f"HTTP {status}: {message[:100]}"

    def check(self, op: Operation, routes: Mapping[str, tuple[str, str]], alternatives: bool = True) -> Result:
        live = overrides.apply(op, routes)
        probe = probe_for(live)
        status, msg = self.send(probe, op.name)
        verdict, detail = self.verdict(probe, status, msg)
        result = Result(op.key, op.name, live.method, live.path, status, verdict, detail,
                        overridden=live is not op)
        if verdict == MISSING and alternatives:
            for method, path in self.candidates(op, live):
                alt = overrides.apply(op, {op.key: (method, path)})
                p = probe_for(alt)
                s, m = self.send(p, op.name)
                result.tried.append(f"{method} {path}")
                if self.verdict(p, s, m)[0] == FOUND:
                    result.proposed = (method, path)
                    break
        return result

    @staticmethod
    def candidates(op: Operation, live: Operation) -> list[tuple[str, str]]:
        out = [(op.method, op.path)] if live is not op else []   # an override that broke: the table's own
        out += [c for c in overrides.ALTERNATIVES.get(op.key, ()) if overrides.params_of(c[1]) ==
                overrides.params_of(op.path)]
        if op.method != "GET":   # a moved method on the same path is a common guess error too
            out += [(m, op.path) for m in ("POST", "DELETE", "PUT") if m != op.method]
        return [c for c in dict.fromkeys(out) if c != (live.method, live.path)]

    def account(self, report: Report) -> None:
        """Me, timed, with the server's Date header for the clock skew."""
        me = overrides.apply(BY_KEY["me"], self.client.settings.routes)
        t0 = time.monotonic()
        try:
            headers = {"Accept": "application/json", "Authorization": self.transport.auth.header()}
            resp = self.transport.session.get(self.transport.url(me.path), headers=headers, allow_redirects=False,
                                              timeout=self.transport.timeout)
        except AliveAIError as e:
            report.auth = f"failed: {e}"
            return
        except Exception as e:  # noqa: BLE001 -- any transport failure is a line of the report, not a crash
            report.auth = f"no answer ({type(e).__name__})"
            return
        report.latency_ms = (time.monotonic() - t0) * 1000
        date = resp.headers.get("Date")
        if date:
            try:
                report.clock_skew_s = parsedate_to_datetime(date).timestamp() - time.time()
            except (TypeError, ValueError):
                pass
        if resp.status_code == 200:
            report.auth = "ok"
            try:
                body = resp.json()
            except ValueError:
                body = {}
            if isinstance(body, dict):   # never the apiKey Me returns: only who it is
                report.account = str(body.get("email") or body.get("username") or body.get("id") or "")[:80]
        elif resp.status_code in (401, 403):
            report.auth = f"refused (HTTP {resp.status_code}): check the API key or e-mail/password"
        else:
            report.auth = f"HTTP {resp.status_code} from {me.method} {me.path}"
        resp.close()

    def websockets(self, report: Report) -> None:
        from .client.prompt_socket import open_socket

        settings = self.client.settings
        prompt_op = BY_KEY["prompt_events"]
        url = settings.ws_url + prompt_op.path.replace("{promptId}", PROBE_ID)
        report.websocket = self._handshake(lambda: open_socket(url, self.transport.auth.header(), 10.0), url)
        user_op = BY_KEY["user_events"]
        if not (settings.email and settings.password) or settings.api_key:
            report.user_websocket = "skipped: its token comes from Login (set e-mail and password to check it)"
            return
        path = user_op.path.replace("{userId}", PROBE_ID)

        def connect():   # as the sidebar's queue connects: the same URL, header and no redirects
            from .client.user_socket import user_socket_url

            token = self.transport.auth.header().split(" ", 1)[1]
            return open_socket(user_socket_url(settings.ws_url, PROBE_ID, token), f"Bearer {token}", 10.0)
        report.user_websocket = self._handshake(connect, settings.ws_url + path)

    def _handshake(self, connect: Any, url: str) -> str:
        import websocket

        try:
            conn = connect()
        except websocket.WebSocketBadStatusException as e:
            status = getattr(e, "status_code", None)
            body = getattr(e, "resp_body", b"") or b""
            try:
                msg = json.loads(body).get("detail", "") if body else ""
            except (ValueError, AttributeError):
                msg = body.decode("utf-8", "replace")[:120] if isinstance(body, bytes) else ""
            if status == 404 and _normal(str(msg), url) != self.missing_answer():
                return "ok (handshake answered; the probe id is unknown, as intended)"
            if status in (401, 403):
                return f"refused (HTTP {status})"
            return f"failed (HTTP {status})"
        except AliveAIError as e:
            return f"failed: {e}"
        except Exception as e:  # noqa: BLE001 -- a failed handshake is a line of the report
            return f"failed ({type(e).__name__})"
        conn.close()
        return "ok (connected)"


def run(client: Any, *, alternatives: bool = True, sockets: bool = True) -> Report:
    """Check everything; reads only, writes nothing."""
    report = Report(client.settings.base_url)
    routes = client.settings.routes
    report.overrides = overrides.to_config(routes, BY_KEY)
    doctor = Doctor(client)
    doctor.account(report)
    if sockets:
        doctor.websockets(report)
    for op in OPERATIONS:
        if op.returns == EVENTS:
            continue
        report.results.append(doctor.check(op, routes, alternatives))
    return report


def save(report: Report, config_path: str | Path, keys: list[str] | None = None) -> dict[str, str]:
    """Store the proposed paths (all, or `keys`) as overrides in the config file's "paths"."""
    chosen = {k: v for k, v in report.proposals.items() if keys is None or k in keys}
    save_routes(config_path, chosen)
    return overrides.to_config(chosen, BY_KEY)


def save_routes(config_path: str | Path, chosen: Mapping[str, tuple[str, str]]) -> None:
    """Merge `chosen` {op_key: (METHOD, path)} into the config file's "paths" (checked, 0600, atomic)."""
    from .client.config import read_config_file, write_config_file

    overrides.parse(overrides.to_config(chosen, BY_KEY), "the paths to save", BY_KEY)
    current = read_config_file(config_path)
    paths = overrides.parse(current.get(overrides.CONFIG_KEY), "the config file", BY_KEY)
    paths.update(chosen)
    merged = overrides.to_config({k: v for k, v in paths.items() if v != (BY_KEY[k].method, BY_KEY[k].path)}, BY_KEY)
    write_config_file(config_path, {**current, overrides.CONFIG_KEY: merged or None})


def default_config_path() -> Path:
    """The config file ComfyUI's pack uses, as found without ComfyUI (ALIVEAI_CONFIG wins)."""
    import os

    explicit = os.environ.get("ALIVEAI_CONFIG")
    if explicit:
        return Path(explicit)
    from .comfy import bridge

    return bridge.config_path()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m nodes.doctor", description="Check the pack against the live "
                                "AliveAI API with your key: authentication, clock, websockets and the method and "
                                "path of every operation. Spends nothing, creates nothing, writes nothing unless "
                                "--save.")
    p.add_argument("--config", help="the pack's config file (default: ComfyUI's user dir, or ALIVEAI_CONFIG)")
    p.add_argument("--save", action="store_true", help="store the paths found for wrong ones as overrides")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--no-alternatives", action="store_true", help="do not try known alternative paths")
    args = p.parse_args(argv)
    from .client.client import AliveAIClient

    config = Path(args.config) if args.config else default_config_path()
    try:
        with AliveAIClient(config_path=config, retries=1, backoff_factor=0.2) as client:
            report = run(client, alternatives=not args.no_alternatives)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(report.as_json(), indent=2) if args.json else report.table())
    if args.save:
        saved = save(report, config)
        print(f"saved {len(saved)} path override(s) to {config}" if saved else "nothing to save", file=sys.stderr)
    return 0 if not report.wrong or report.proposals else 1


if __name__ == "__main__":
    sys.exit(main())
