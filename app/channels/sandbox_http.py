"""A small loopback HTTP server that platform sandboxes ("twins") are built on.

Each platform twin subclasses :class:`SandboxHTTPServer`, registers its routes with
:meth:`SandboxHTTPServer.add_route` and overrides :meth:`before_request` /
:meth:`after_request` for authentication, rate limiting and headers. The base gives
every twin the same tooling:

* a real ``ThreadingHTTPServer`` on 127.0.0.1 (port 0 picks a free port), started in a
  daemon thread (:meth:`start`) or blocking (:meth:`serve_forever`);
* regex routing on method + path, PHP-style query parsing (``a[]=1&a[]=2`` is a list);
* JSON bodies in and out, a request log readable from Python and over HTTP;
* a deterministic fault queue (the next N requests whose path contains X answer with a
  canned status/body/headers), e.g. to produce a 500, a 429 or a 200 carrying an
  application-level error;
* a seeded :class:`~app.channels.faults.FaultPlan` (:meth:`SandboxHTTPServer.set_fault_plan`,
  ``/_sandbox/fault-plan``): error statuses, 429s, resets, truncated and malformed
  bodies, latency, timeouts and reordered list pages at chosen rates, before the twin
  runs a request or after it applied it (the answer is lost);
* a request log that keeps apart what the *client saw* (``status``, ``fault``,
  ``fault_kind``) and what the twin *applied* (``handled``, ``handler_status``,
  ``applied``, ``answer``), plus :meth:`SandboxHTTPServer.record_application` for twins
  that want to name their applied writes, so tests can prove each push landed once;
* a sliding-window rate limiter helper and one re-entrant lock guarding all state.

Control routes live under ``/_sandbox/``: they are never rate limited, faulted,
authenticated or written to the request log, because they are the test harness talking
to the twin, not the product talking to the platform.

Only the standard library is used so the twin can ship inside the desktop app.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import random
import re
import select
import socket
import struct
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, Self
from urllib.parse import parse_qsl, unquote, urlsplit

from app.channels.faults import (
    AFTER_KINDS,
    READ_METHODS,
    FaultDecision,
    FaultPlan,
    FaultSpecError,
)

log = logging.getLogger(__name__)

CONTROL_PREFIX = "/_sandbox/"
LOOPBACK = "127.0.0.1"
# List keys a reorder fault looks for when an answer holds several lists.
_LIST_KEYS = ("data", "orders", "products", "items", "results", "rows", "records")
_STATUS_WORDS = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}

# Request headers copied into the request log. Authorization is masked (see
# ``_mask_authorization``) because request logs are shown in the demo UI.
LOGGED_HEADERS = ("accept", "content-type", "authorization", "user-agent", "x-localization")

_BRACKET_KEY = re.compile(r"^(?P<name>[^\[\]]+)\[(?P<sub>[^\[\]]*)\]$")


class HTTPError(Exception):
    """Raised by handlers (or hooks) to answer immediately with ``status`` and ``body``."""

    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None):
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


@dataclass
class Response:
    """What a handler returns. ``body`` dict/list → JSON, str → text, bytes → raw, None → empty."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    """One parsed request as handlers see it."""

    method: str
    path: str
    query: dict[str, Any]
    headers: dict[str, str]  # lower-cased names
    raw_body: bytes
    client_ip: str
    params: dict[str, str] = field(default_factory=dict)  # named regex groups of the route
    route: Route | None = None
    context: dict[str, Any] = field(default_factory=dict)  # scratch space for hooks
    _json: Any = None
    _json_parsed: bool = False

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    @property
    def json(self) -> Any:
        """The JSON body (None when empty). Invalid JSON raises HTTPError 400."""
        if not self._json_parsed:
            self._json = parse_json_body(self.raw_body)
            self._json_parsed = True
        return self._json

    def query_list(self, name: str) -> list[Any] | None:
        """A bracket array from the query (``name[]=…``); a scalar becomes a one-item list."""
        value = self.query.get(name)
        if value is None:
            return None
        return value if isinstance(value, list) else [value]


Handler = Callable[[Request], Response | dict | list]


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    meta: dict[str, Any]
    control: bool


def parse_json_body(raw: bytes) -> Any:
    """Decode a request body; empty → None, anything unparsable → HTTPError 400."""
    if not raw or not raw.strip():
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HTTPError(
            400,
            {"message": f"The request body is not valid JSON: {exc}", "error": "invalid_json"},
        ) from exc


def parse_query(query_string: str) -> dict[str, Any]:
    """Parse a query string the way PHP/Laravel does for the cases APIs actually use.

    ``a[]=1&a[]=2`` and ``a[0]=1&a[1]=2`` → ``{"a": ["1", "2"]}``; ``a[x]=1`` →
    ``{"a": {"x": "1"}}``; a repeated plain key keeps the last value (PHP semantics, so
    a client that forgets the brackets is caught rather than silently helped).
    """
    result: dict[str, Any] = {}
    for key, value in parse_qsl(query_string, keep_blank_values=True):
        match = _BRACKET_KEY.match(key)
        if match is None:
            result[key] = value
            continue
        name, sub = match.group("name"), match.group("sub")
        if sub == "" or sub.isdigit():
            current = result.get(name)
            if not isinstance(current, list):
                current = []
                result[name] = current
            current.append(value)
        else:
            current = result.get(name)
            if not isinstance(current, dict):
                current = {}
                result[name] = current
            current[sub] = value
    return result


def _mask_authorization(value: str) -> str:
    scheme, _, credential = value.partition(" ")
    if not credential:
        return "****"
    return f"{scheme} ****{credential[-4:]}"


class RateLimiter:
    """Per-key sliding window: at most ``limit`` hits in any ``window`` seconds.

    ``limit`` of 0 or less disables limiting. The clock is injectable for tests.
    """

    def __init__(
        self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ):
        self.limit = limit
        self.window = window
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}

    def hit(self, key: str) -> tuple[bool, int, float]:
        """Record one attempt. Returns ``(allowed, remaining, retry_after_seconds)``.

        A refused attempt is not recorded, so a client that backs off for
        ``retry_after`` seconds is guaranteed to get through.
        """
        if self.limit <= 0:
            return True, 0, 0.0
        now = self._clock()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return False, 0, max(0.0, hits[0] + self.window - now)
        hits.append(now)
        return True, self.limit - len(hits), 0.0

    def reset(self, key: str | None = None) -> None:
        if key is None:
            self._hits.clear()
        else:
            self._hits.pop(key, None)


@dataclass
class Fault:
    """A canned answer for the next ``count`` API requests whose path contains ``path_contains``."""

    path_contains: str = ""
    status: int = 500
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    count: int = 1
    method: str | None = None
    delay: float = 0.0  # seconds to wait before answering (outside the lock)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fault:
        unknown = set(data) - {
            "path_contains",
            "status",
            "body",
            "headers",
            "count",
            "method",
            "delay",
        }
        if unknown:
            raise ValueError(f"unknown fault keys: {sorted(unknown)}")
        status = data.get("status", 500)
        count = data.get("count", 1)
        delay = data.get("delay", 0.0)
        if not isinstance(status, int) or not 100 <= status <= 599:
            raise ValueError("fault status must be an HTTP status code")
        if not isinstance(count, int) or count < 1:
            raise ValueError("fault count must be a positive integer")
        if not isinstance(delay, int | float) or delay < 0:
            raise ValueError("fault delay must be a non-negative number")
        headers = data.get("headers") or {}
        if not isinstance(headers, dict):
            raise ValueError("fault headers must be an object")
        method = data.get("method")
        return cls(
            path_contains=str(data.get("path_contains", "")),
            status=status,
            body=data.get("body"),
            headers={str(k): str(v) for k, v in headers.items()},
            count=count,
            method=method.upper() if isinstance(method, str) else None,
            delay=float(delay),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "path_contains": self.path_contains,
            "status": self.status,
            "body": self.body,
            "headers": self.headers,
            "count": self.count,
            "method": self.method,
            "delay": self.delay,
        }


@dataclass
class WireAnswer:
    """What goes back on the socket for one request.

    ``action`` is ``send`` (a normal answer), ``truncate`` (headers with the full
    Content-Length, half the body, then a close), ``reset`` (no answer, the connection
    is reset) or ``hang`` (no answer until the client closes or ``hang_seconds`` pass,
    then the connection is reset).
    """

    status: int
    headers: dict[str, str]
    payload: bytes
    action: Literal["send", "truncate", "reset", "hang"] = "send"
    hang_seconds: float = 0.0


class _ThreadingServer(ThreadingHTTPServer):
    daemon_threads = True
    # Keep-alive connections park handler threads in a blocking read; joining them on
    # close would hang stop(). The owner shuts those sockets down explicitly instead.
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], owner: SandboxHTTPServer):
        self.owner = owner
        super().__init__(address, _RequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients dropping connections is normal in tests; keep stderr clean.
        log.debug("connection error from %s", client_address, exc_info=True)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: benchmarks reuse connections
    # Headers and body leave in two writes; with Nagle on, the client's delayed ACK adds
    # ~40 ms to every keep-alive response.
    disable_nagle_algorithm = True
    server_version = "SandboxHTTP/1.0"
    sys_version = ""
    server: _ThreadingServer

    def setup(self) -> None:
        super().setup()
        self.server.owner._track_connection(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._track_connection(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Silence the stdlib's per-request stderr line; the owner keeps its own log."""

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size_line = self.rfile.readline().split(b";", 1)[0].strip()
                size = int(size_line or b"0", 16)
                if size == 0:
                    # Consume optional trailers up to the blank line.
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self) -> None:
        body = self._read_body()
        split = urlsplit(self.path)
        request = Request(
            method=self.command.upper(),
            path=unquote(split.path) or "/",
            query=parse_query(split.query),
            headers={k.lower(): v for k, v in self.headers.items()},
            raw_body=body,
            client_ip=self.client_address[0],
        )
        answer = self.server.owner._dispatch(request)
        if answer.action == "reset":
            self._reset()
            return
        if answer.action == "hang":
            self._hang(answer.hang_seconds)
            self._reset()
            return
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.payload)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if answer.action == "truncate":
            # Half the promised body, then an orderly close: the client reads headers
            # that promise more than ever arrives.
            self.wfile.write(answer.payload[: len(answer.payload) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(answer.payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

    def _reset(self) -> None:
        """Drop the connection with a TCP reset (linger 0) instead of an answer."""
        self.close_connection = True
        linger = struct.pack("HH" if sys.platform == "win32" else "ii", 1, 0)
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        with contextlib.suppress(OSError):
            self.connection.close()

    def _hang(self, seconds: float) -> None:
        """Say nothing until the client gives up (closes) or ``seconds`` pass.

        Bounded on purpose: a client without a timeout must not pin a server thread
        forever. :meth:`SandboxHTTPServer.stop` shuts the socket down, which ends the
        wait at once.
        """
        conn = self.connection
        deadline = time.monotonic() + max(0.0, seconds)
        while (left := deadline - time.monotonic()) > 0:
            try:
                readable, _, _ = select.select([conn], [], [], min(0.05, left))
            except (OSError, ValueError):
                return
            if not readable:
                continue
            try:
                if not conn.recv(1, socket.MSG_PEEK):
                    return  # the client closed its end: it gave up waiting
            except OSError:
                return
            # Bytes from the client while we hang (it cannot pipeline over httpx, but
            # a raw socket might): leave them unread and keep waiting, without spinning.
            time.sleep(min(0.05, max(0.0, left)))


class SandboxHTTPServer:
    """Base class of every platform twin. Subclasses add routes in ``__init__``."""

    def __init__(self, *, port: int = 0, max_log_entries: int = 200_000) -> None:
        self.port = port
        self.base_url = ""
        self.lock = threading.RLock()
        self.request_log: list[dict[str, Any]] = []
        self.max_log_entries = max_log_entries
        self._routes: list[Route] = []
        self._faults: list[Fault] = []
        self._fault_plan: FaultPlan | None = None
        self._fault_seen: dict[str, int] = {}  # request fingerprint → times seen
        self._fault_stats: Counter[str] = Counter()
        self._shifted_lists: set[tuple[str, str, str]] = set()
        # Writes a twin named with record_application; see there.
        self.applications: list[dict[str, Any]] = []
        self._local = threading.local()
        self._httpd: _ThreadingServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        self._add_generic_control_routes()

    # ----------------------------------------------------------------- routing
    def add_route(self, method: str, pattern: str, handler: Handler, **meta: Any) -> None:
        """Register ``handler`` for ``method`` on paths fully matching regex ``pattern``.

        Named groups become ``request.params``. Paths under ``/_sandbox/`` are control
        routes. ``meta`` is free-form data the subclass hooks read via ``request.route``.
        """
        self._routes.append(
            Route(
                method=method.upper(),
                pattern=re.compile(pattern),
                handler=handler,
                meta=meta,
                control=pattern.lstrip("^").startswith(CONTROL_PREFIX),
            )
        )

    def _match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        """Find the route; the bool says whether the path exists under another method."""
        path_known = False
        for route in self._routes:
            match = route.pattern.fullmatch(path)
            if match is None:
                continue
            if route.method == method:
                return route, match.groupdict(), True
            path_known = True
        return None, {}, path_known

    # ------------------------------------------------------------------- hooks
    def before_request(self, request: Request) -> Response | None:
        """Called (under the lock) for matched API routes before the handler.

        Return a Response (or raise HTTPError) to answer without running the handler.
        """
        return None

    def after_request(self, request: Request, response: Response) -> None:
        """Called (under the lock) for every matched API route's response, errors included."""

    # ------------------------------------------------------------------ faults
    def inject(self, fault: dict[str, Any] | Fault) -> None:
        """Queue a fault. Faults are consumed first-in first-out among those that match."""
        parsed = fault if isinstance(fault, Fault) else Fault.from_dict(fault)
        with self.lock:
            self._faults.append(parsed)

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()

    def pending_faults(self) -> list[dict[str, Any]]:
        with self.lock:
            return [f.as_dict() for f in self._faults]

    def _take_fault(self, request: Request) -> Fault | None:
        for fault in self._faults:
            if fault.path_contains in request.path and fault.method in (None, request.method):
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    # -------------------------------------------------------------- fault plan
    def set_fault_plan(self, plan: FaultPlan | str | None) -> FaultPlan | None:
        """Start injecting faults by ``plan`` (a FaultPlan or its compact spec).

        ``None``, ``"off"`` or a plan without rates or delay stops injecting. Counters
        start again from zero, so the same seed replays the same faults.
        """
        if isinstance(plan, str):
            plan = FaultPlan.parse(plan)
        if plan is not None and not plan.active:
            plan = None
        with self.lock:
            self._fault_plan = plan
            self._fault_seen.clear()
            self._fault_stats.clear()
            self._shifted_lists.clear()
        return plan

    def clear_fault_plan(self) -> None:
        self.set_fault_plan(None)

    @property
    def fault_plan(self) -> FaultPlan | None:
        return self._fault_plan

    def fault_stats(self) -> dict[str, int]:
        """Faults injected by the current plan, by kind (only those that took effect)."""
        with self.lock:
            return dict(self._fault_stats)

    def _decide(self, plan: FaultPlan, request: Request) -> FaultDecision | None:
        """The plan's verdict for this request (under the lock)."""
        if not plan.rates or not plan.matches(request.method, request.path):
            return None
        if plan.max_faults is not None and sum(self._fault_stats.values()) >= plan.max_faults:
            return None
        query = json.dumps(request.query, sort_keys=True, separators=(",", ":"))
        fingerprint = f"{request.method} {request.path}?{query}"
        seen = self._fault_seen.get(fingerprint, 0)
        self._fault_seen[fingerprint] = seen + 1
        return plan.decide(request.method, request.path, query, seen)

    # ----------------------------------------------------------- applications
    def record_application(self, kind: str, key: str, **details: Any) -> None:
        """Note that the twin applied a write, e.g. ``("state", "4012:SentOrder")``.

        Called from a handler, the record is kept only if the handler's answer is 2xx
        (a refused request applied nothing); the fault layer may still lose that answer
        on the way back, which is exactly the case tests want to count. Called outside
        a request (the twin's Python API), it is kept at once.
        """
        entry = {"kind": kind, "key": key, "details": details, "time": time.time()}
        pending = getattr(self._local, "pending", None)
        with self.lock:
            if pending is not None:
                pending.append(entry)
            else:
                self.applications.append(entry)

    def applications_of(self, kind: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(a) for a in self.applications if kind in (None, a["kind"])]

    def application_counts(self, kind: str) -> Counter[str]:
        """How many times each key of ``kind`` was applied (exactly-once proofs)."""
        return Counter(a["key"] for a in self.applications_of(kind))

    def applied_writes(
        self, path_contains: str = "", method: str | None = None
    ) -> list[dict[str, Any]]:
        """Logged write requests the twin answered 2xx, whatever the client then saw."""
        return [e for e in self.requests_to(path_contains, method) if e.get("applied")]

    # ------------------------------------------------------------- request log
    def requests_to(self, path_contains: str, method: str | None = None) -> list[dict[str, Any]]:
        """Logged API requests whose path contains ``path_contains`` (and method, if given)."""
        wanted = method.upper() if method else None
        with self.lock:
            return [
                entry
                for entry in self.request_log
                if path_contains in entry["path"] and wanted in (None, entry["method"])
            ]

    def clear_request_log(self) -> None:
        with self.lock:
            self.request_log.clear()

    def _log(
        self,
        request: Request,
        status: int,
        *,
        fault: bool,
        fault_kind: str | None = None,
        handler_status: int | None = None,
        answer: Any = None,
    ) -> None:
        """Append one API request to the log.

        ``status`` and ``fault`` are what the client saw (``status`` 0: no HTTP answer,
        the connection was reset or timed out; ``fault``: the answer was not the twin's
        own). ``handler_status`` is what the twin answered when it ran the request
        (None: it never ran); ``applied`` is a write the twin answered 2xx; ``answer``
        is the twin's JSON answer to a write, kept for exactly-once proofs.
        """
        try:
            # A separate parse so later state changes can never alter a logged body.
            body = parse_json_body(request.raw_body)
        except HTTPError:
            body = None
        headers = {}
        for name in LOGGED_HEADERS:
            value = request.headers.get(name)
            if value is not None:
                headers[name] = _mask_authorization(value) if name == "authorization" else value
        handled = handler_status is not None
        self.request_log.append(
            {
                "method": request.method,
                "path": request.path,
                "query": request.query,
                "json": body,
                "status": status,
                "headers": headers,
                "time": time.time(),
                "fault": fault,
                "fault_kind": fault_kind,
                "handled": handled,
                "handler_status": handler_status,
                "applied": handled
                and request.method not in READ_METHODS
                and 200 <= (handler_status or 0) < 300,
                "answer": answer,
            }
        )
        if self.max_log_entries and len(self.request_log) > self.max_log_entries:
            # Trim in bulk so long benchmarks do not pay a list shift per request.
            del self.request_log[: len(self.request_log) - self.max_log_entries // 2]

    # ---------------------------------------------------------------- dispatch
    def _dispatch(self, request: Request) -> WireAnswer:
        """Run one request through faults, hooks and the handler; returns the wire answer."""
        if request.path.startswith(CONTROL_PREFIX):
            with self.lock:
                return WireAnswer(*self._encode(self._run_control(request)))

        with self.lock:
            fault = self._take_fault(request)
            if fault is not None:
                self._log(request, fault.status, fault=True, fault_kind="queued")
            plan = self._fault_plan
            decision = self._decide(plan, request) if plan is not None else None
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            return WireAnswer(
                *self._encode(Response(fault.status, fault.body, dict(fault.headers)))
            )

        # Waits happen outside the lock: a slow answer must not stall other clients.
        if plan is not None and plan.delay_ms:
            time.sleep(plan.delay_ms / 1000.0)
        if decision is not None and decision.kind == "latency":
            time.sleep(plan.latency_ms / 1000.0 if plan is not None else 0.0)
        if decision is not None and _lands_before(decision):
            assert plan is not None
            return self._fault_before(request, plan, decision)

        with self.lock:
            response = self._run_api(request)
            reordered = self._reorder(request, response, decision)
            status, headers, payload = self._encode(response)
            answer = _json_or_none(payload) if request.method not in READ_METHODS else None
            wire = WireAnswer(status, headers, payload)
            # What is left of the decision here: latency (already waited), truncate or
            # malformed (they need the real answer), a reorder, or a *lost* answer: the
            # twin applied the request, the client gets an error or silence instead.
            kind: str | None = "reorder" if reordered else None
            if decision is not None and decision.kind != "reorder":
                kind = decision.kind
            if kind is not None and kind != "latency" and plan is not None:
                wire = self._fault_after(wire, plan, kind, decision)
            if kind is not None:
                self._fault_stats[kind] += 1
            self._log(
                request,
                0 if wire.action in ("reset", "hang") else wire.status,
                fault=kind not in (None, "latency"),
                fault_kind=kind,
                handler_status=status,
                answer=answer,
            )
            return wire

    def _fault_before(
        self, request: Request, plan: FaultPlan, decision: FaultDecision
    ) -> WireAnswer:
        """A fault answered instead of running the request (nothing was applied)."""
        if decision.kind in ("reset", "timeout"):
            wire = WireAnswer(0, {}, b"", "reset" if decision.kind == "reset" else "hang")
            wire.hang_seconds = plan.timeout_s
        else:
            wire = WireAnswer(*self._encode(_fault_response(int(decision.kind), plan)))
        with self.lock:
            self._fault_stats[decision.kind] += 1
            self._log(
                request,
                wire.status,
                fault=True,
                fault_kind=decision.kind,
            )
        return wire

    @staticmethod
    def _fault_after(
        wire: WireAnswer, plan: FaultPlan, kind: str, decision: FaultDecision | None
    ) -> WireAnswer:
        """Spoil the twin's real answer on its way back (the request *was* run)."""
        if kind == "reorder":
            return wire  # the body itself was already reordered
        if kind == "truncate":
            if len(wire.payload) < 2:  # nothing to cut: the closest fault is a reset
                return WireAnswer(0, {}, b"", "reset")
            return WireAnswer(wire.status, wire.headers, wire.payload, "truncate")
        if kind == "malformed":
            roll = decision.roll if decision is not None else 0
            return WireAnswer(wire.status, _json_headers(wire.headers), _garble(wire.payload, roll))
        if kind == "reset":
            return WireAnswer(0, {}, b"", "reset")
        if kind == "timeout":
            return WireAnswer(0, {}, b"", "hang", plan.timeout_s)
        status, headers, payload = SandboxHTTPServer._encode(_fault_response(int(kind), plan))
        return WireAnswer(status, headers, payload)

    def _reorder(
        self, request: Request, response: Response, decision: FaultDecision | None
    ) -> bool:
        """Apply a reorder fault to a list answer; True when the client sees a change.

        ``shift`` models a row inserted in front of the list between two page reads:
        from that page on, every page of the pass starts one row earlier (the row at the
        boundary comes twice) and a reported total grows by one, so nothing is lost. A
        request at offset 0 starts a new pass. ``shuffle`` permutes the page's rows, as
        a server does with rows whose sort keys tie.
        """
        if request.method != "GET" or not 200 <= response.status < 300 or request.route is None:
            return False
        offset = _int_or_none(request.query.get("offset"))
        rest = {k: v for k, v in request.query.items() if k != "offset"}
        pass_key = (request.method, request.path, json.dumps(rest, sort_keys=True))
        if not offset:
            self._shifted_lists.discard(pass_key)
        wants = decision.mode if decision is not None and decision.kind == "reorder" else ""
        if wants == "shift" and offset:
            self._shifted_lists.add(pass_key)
        if pass_key in self._shifted_lists and offset:
            return self._shift(request, response, offset)
        if wants:  # a shuffle, or a shift that has no earlier row to show
            return _shuffle(response, decision.roll if decision is not None else 0)
        return False

    def _shift(self, request: Request, response: Response, offset: int) -> bool:
        assert request.route is not None
        earlier = Request(
            method=request.method,
            path=request.path,
            query=dict(request.query, offset=str(offset - 1)),
            headers=request.headers,
            raw_body=request.raw_body,
            client_ip=request.client_ip,
            params=dict(request.params),
            route=request.route,
            context=dict(request.context),
        )
        try:
            shifted = self._call(request.route, earlier)
        except Exception:  # the page one row back cannot be built: leave this one as is
            log.debug("reorder shift failed for %s", request.path, exc_info=True)
            return False
        found = _list_of(response.body)
        moved = _list_of(shifted.body)
        if found is None or moved is None or shifted.status != response.status:
            return False
        response.body = _with_list(response.body, found[0], moved[1])
        if isinstance(response.body, dict) and isinstance(response.body.get("total"), int):
            response.body["total"] += 1  # the phantom row in front counts too
        return True

    def _run_api(self, request: Request) -> Response:
        route, params, path_known = self._match(request.method, request.path)
        if route is None or route.control:
            return self._no_route(request, path_known)
        request.route, request.params = route, params
        self._local.pending = []
        try:
            response = self.before_request(request)
            if response is None:
                request.json  # noqa: B018 - parse now: malformed JSON is a 400 on every route
                response = self._call(route, request)
        except HTTPError as exc:
            response = Response(exc.status, exc.body, exc.headers)
        except Exception:  # a bug in a twin must surface as a 500, not a dropped socket
            log.exception("sandbox handler failed: %s %s", request.method, request.path)
            response = Response(500, {"message": "Server Error"})
        finally:
            pending, self._local.pending = self._local.pending, None
        self.after_request(request, response)
        if 200 <= response.status < 300:
            for entry in pending:
                entry.update(method=request.method, path=request.path)
                self.applications.append(entry)
        return response

    def _run_control(self, request: Request) -> Response:
        route, params, path_known = self._match(request.method, request.path)
        if route is None or not route.control:
            return self._no_route(request, path_known)
        request.route, request.params = route, params
        try:
            request.json  # noqa: B018 - malformed JSON is a 400 on every route
            return self._call(route, request)
        except HTTPError as exc:
            return Response(exc.status, exc.body, exc.headers)
        except (ValueError, KeyError, TypeError) as exc:
            # Control routes map Python-API argument errors to a readable 422.
            return Response(422, {"error": True, "error_msg": str(exc)})

    @staticmethod
    def _call(route: Route, request: Request) -> Response:
        result = route.handler(request)
        return result if isinstance(result, Response) else Response(200, result)

    @staticmethod
    def _no_route(request: Request, path_known: bool) -> Response:
        if path_known:
            return Response(
                405,
                {
                    "message": f"The {request.method} method is not supported for route {request.path}."
                },
            )
        return Response(
            404, {"message": f"The route {request.path.lstrip('/')} could not be found."}
        )

    @staticmethod
    def _encode(response: Response) -> tuple[int, dict[str, str], bytes]:
        headers = dict(response.headers)
        body = response.body
        if body is None:
            payload = b""
        elif isinstance(body, bytes):
            payload = body
            headers.setdefault("Content-Type", "application/octet-stream")
        elif isinstance(body, str):
            payload = body.encode("utf-8")
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        else:
            payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
            headers.setdefault("Content-Type", "application/json")
        return response.status, headers, payload

    # ----------------------------------------------------- generic control API
    def _add_generic_control_routes(self) -> None:
        self.add_route("GET", r"/_sandbox/health", lambda _r: {"ok": True})
        self.add_route("POST", r"/_sandbox/faults", self._ctl_add_fault)
        self.add_route("GET", r"/_sandbox/faults", lambda _r: {"faults": self.pending_faults()})
        self.add_route("DELETE", r"/_sandbox/faults", self._ctl_clear_faults)
        self.add_route("GET", r"/_sandbox/requests", self._ctl_requests)
        self.add_route("DELETE", r"/_sandbox/requests", self._ctl_clear_requests)
        self.add_route("POST", r"/_sandbox/fault-plan", self._ctl_set_fault_plan)
        self.add_route("GET", r"/_sandbox/fault-plan", self._ctl_get_fault_plan)
        self.add_route("DELETE", r"/_sandbox/fault-plan", self._ctl_clear_fault_plan)

    def _ctl_add_fault(self, request: Request) -> Response:
        body = request.json
        if not isinstance(body, dict):
            raise HTTPError(422, {"error": True, "error_msg": "fault must be a JSON object"})
        self.inject(body)
        return Response(201, {"success": True, "faults": self.pending_faults()})

    def _ctl_clear_faults(self, _request: Request) -> dict[str, Any]:
        self.clear_faults()
        return {"success": True}

    def _ctl_requests(self, request: Request) -> dict[str, Any]:
        path_contains = request.query.get("path_contains", "")
        method = request.query.get("method") or None
        entries = self.requests_to(str(path_contains), str(method) if method else None)
        return {"requests": entries, "total": len(entries)}

    def _ctl_clear_requests(self, _request: Request) -> dict[str, Any]:
        self.clear_request_log()
        return {"success": True}

    def _ctl_set_fault_plan(self, request: Request) -> dict[str, Any]:
        try:
            plan = self.set_fault_plan(FaultPlan.from_dict(request.json))
        except FaultSpecError as exc:
            raise HTTPError(422, {"error": True, "error_msg": str(exc)}) from None
        return {"success": True} | self._fault_plan_view(plan)

    def _ctl_get_fault_plan(self, _request: Request) -> dict[str, Any]:
        return self._fault_plan_view(self._fault_plan)

    def _ctl_clear_fault_plan(self, _request: Request) -> dict[str, Any]:
        stats = self.fault_stats()
        self.clear_fault_plan()
        return {"success": True, "stats": stats}

    def _fault_plan_view(self, plan: FaultPlan | None) -> dict[str, Any]:
        return {
            "plan": plan.as_dict() if plan is not None else None,
            "spec": plan.to_spec() if plan is not None else "off",
            "stats": self.fault_stats(),
        }

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> str:
        """Bind 127.0.0.1:<port> and serve in a daemon thread; returns the base URL."""
        if self._httpd is not None:
            return self.base_url
        self._httpd = _ThreadingServer((LOOPBACK, self.port), self)
        self.port = self._httpd.server_address[1]
        self.base_url = f"http://{LOOPBACK}:{self.port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self.base_url

    def serve_forever(self) -> None:
        """Start if needed, then block until :meth:`stop` is called or Ctrl-C."""
        self.start()
        thread = self._thread
        try:
            while thread is not None and thread.is_alive():
                thread.join(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop serving, drop open keep-alive connections and free the port."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._httpd = self._thread = None
        httpd.shutdown()
        with self._conn_lock:
            connections = list(self._connections)
            self._connections.clear()
        for conn in connections:
            with contextlib.suppress(OSError):  # already closed by the peer
                conn.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    @property
    def running(self) -> bool:
        return self._httpd is not None

    def _track_connection(self, conn: socket.socket, *, add: bool) -> None:
        with self._conn_lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _lands_before(decision: FaultDecision) -> bool:
    """Whether a fault answers instead of running the request."""
    if decision.kind in AFTER_KINDS or decision.kind == "latency":
        return False
    return not decision.lost


def _fault_response(status: int, plan: FaultPlan) -> Response:
    """The canned answer of an injected error status (a JSON body most readers accept)."""
    word = _STATUS_WORDS.get(status, "Error")
    body = {"message": f"{word} (injected fault)", "statusCode": status, "error": word}
    headers: dict[str, str] = {}
    if status == 429:
        wait = retry_after_seconds(plan.retry_after_s) if plan.retry_after_s > 0 else 0
        headers = {
            "Retry-After": str(wait),
            "X-RateLimit-Limit": "60",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(int(time.time()) + wait),
        }
    return Response(status, body, headers)


def _json_headers(headers: dict[str, str]) -> dict[str, str]:
    # The garbage still claims to be JSON: that is what makes it a trap for a client.
    return {k: v for k, v in headers.items() if k.lower() != "content-type"} | {
        "Content-Type": "application/json"
    }


def _garble(payload: bytes, roll: int) -> bytes:
    """A body that is not JSON, in one of the shapes broken servers really send."""
    variant = roll % 3
    if variant == 0 and len(payload) > 1:
        return payload[: len(payload) // 2]  # JSON cut mid-way, Content-Length honest
    if variant == 1:
        return b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    return b'{"data": [' + b"\x00" * 3 + b"]"


def _json_or_none(payload: bytes) -> Any:
    if not payload:
        return None
    try:
        return json.loads(payload)
    except (UnicodeDecodeError, ValueError):
        return None


def _int_or_none(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _list_of(body: Any) -> tuple[str | None, list[Any]] | None:
    """``(key, items)`` of the list a list answer carries (key None: the body is a list)."""
    if isinstance(body, list):
        return None, body
    if not isinstance(body, dict):
        return None
    lists = [key for key, value in body.items() if isinstance(value, list)]
    if len(lists) == 1:
        return lists[0], body[lists[0]]
    for key in _LIST_KEYS:
        if key in lists:
            return key, body[key]
    return None


def _with_list(body: Any, key: str | None, items: list[Any]) -> Any:
    # A copy: handler bodies may share containers with the twin's live state.
    if key is None:
        return list(items)
    return dict(body) | {key: list(items)}


def _shuffle(response: Response, roll: int) -> bool:
    found = _list_of(response.body)
    if found is None or len(found[1]) < 2:
        return False
    items = list(found[1])
    rng = random.Random(roll)
    for _ in range(8):  # a permutation equal to the original is no fault: draw again
        rng.shuffle(items)
        if items != found[1]:
            break
    else:
        return False
    response.body = _with_list(response.body, found[0], items)
    return True


def retry_after_seconds(seconds: float) -> int:
    """Whole seconds for a Retry-After header: never 0 while a wait is still needed."""
    return max(1, math.ceil(seconds))


def as_list(value: Any) -> list[Any]:
    """Normalise a query value that may be scalar, list or missing into a list."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, Iterable) and not isinstance(value, str | bytes | dict):
        return list(value)
    return [value]
