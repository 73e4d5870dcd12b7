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
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, unquote, urlsplit

log = logging.getLogger(__name__)

CONTROL_PREFIX = "/_sandbox/"
LOOPBACK = "127.0.0.1"

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
        status, headers, payload = self.server.owner._dispatch(request)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle


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

    def _log(self, request: Request, status: int, *, fault: bool) -> None:
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
            }
        )
        if self.max_log_entries and len(self.request_log) > self.max_log_entries:
            # Trim in bulk so long benchmarks do not pay a list shift per request.
            del self.request_log[: len(self.request_log) - self.max_log_entries // 2]

    # ---------------------------------------------------------------- dispatch
    def _dispatch(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        """Run one request through faults, hooks and the handler; returns the wire answer."""
        if request.path.startswith(CONTROL_PREFIX):
            with self.lock:
                return self._encode(self._run_control(request))

        with self.lock:
            fault = self._take_fault(request)
            if fault is not None:
                self._log(request, fault.status, fault=True)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            return self._encode(Response(fault.status, fault.body, dict(fault.headers)))

        with self.lock:
            response = self._run_api(request)
            self._log(request, response.status, fault=False)
            # Encode under the lock: bodies may reference live state dicts.
            return self._encode(response)

    def _run_api(self, request: Request) -> Response:
        route, params, path_known = self._match(request.method, request.path)
        if route is None or route.control:
            return self._no_route(request, path_known)
        request.route, request.params = route, params
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
        self.after_request(request, response)
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
