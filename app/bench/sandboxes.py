"""Platform twins served from processes of their own, timed, for the benchmarks.

A real platform answers from another machine; a twin running as a thread of the
benchmark would compete with the app for the interpreter lock and blur every figure.
:class:`SandboxProcess` starts one twin per child process on 127.0.0.1 and talks to it
over HTTP only (its ``/_sandbox/`` control routes): the request log, the rate-limit
state and the time the twin spent answering.

The child wraps the twin class in a subclass that times every API request inside the
twin (routing, the handler, encoding the answer), so a scenario can report its own
wall time next to the time the platform itself took. The child stops when its standard
input closes, so it never outlives the benchmark that started it.

Run directly: ``python -m app.bench.sandboxes selldone '{"extra_orders": 1000}'``.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

STARTUP_TIMEOUT = 600.0  # 100,000 generated orders take a while on a slow machine
CONTROL = "/_sandbox/bench"


class SandboxError(RuntimeError):
    pass


def sandbox_class(target: str) -> type:
    """A twin class from a registry key ("selldone") or a ``module:Class`` path."""
    if ":" in target:
        module, _, name = target.partition(":")
        return getattr(importlib.import_module(module), name)
    from app.channels import registry

    return registry.platform(target).sandbox_class()


def accepted_options(cls: type, options: dict[str, Any]) -> dict[str, Any]:
    """The options ``cls`` takes; others are dropped (twins differ in what they offer)."""
    params = inspect.signature(cls.__init__).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return dict(options)
    return {k: v for k, v in options.items() if k in params}


class SandboxProcess:
    """One twin in a child process. Use as a context manager, or start() / stop()."""

    def __init__(self, target: str, options: dict[str, Any] | None = None) -> None:
        self.target = target
        self.options = dict(options or {})
        self.info: dict[str, Any] = {}
        self._proc: subprocess.Popen[bytes] | None = None
        self._http: httpx.Client | None = None
        self._stderr_path: Path | None = None

    # -- lifecycle ----------------------------------------------------------------------
    def start(self, timeout: float = STARTUP_TIMEOUT) -> SandboxProcess:
        import tempfile

        handle, name = tempfile.mkstemp(prefix="sandbox-", suffix=".log")
        self._stderr_path = Path(name)
        try:
            self._proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "app.bench.sandboxes",
                    self.target,
                    json.dumps(self.options),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=handle,
            )
        finally:
            os.close(handle)  # the child holds its own copy
        # Read the one line the child prints once it serves, in a thread so a child that
        # hangs cannot hang the benchmark.
        line: list[bytes] = []
        reader = threading.Thread(
            target=lambda: line.append(self._proc.stdout.readline()),  # type: ignore[union-attr]
            daemon=True,
        )
        reader.start()
        reader.join(timeout)
        if not line or not line[0].strip():
            tail = self.stderr_tail()
            self.stop()
            raise SandboxError(f"the {self.target} sandbox did not start: {tail}")
        self.info = json.loads(line[0])
        self._http = httpx.Client(base_url=self.info["root_url"], timeout=120.0)
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.stdin is not None:
                proc.stdin.close()  # the child's signal to stop
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        finally:
            if proc.stdout is not None:
                proc.stdout.close()
            if self._stderr_path is not None:
                self._stderr_path.unlink(missing_ok=True)

    def __enter__(self) -> SandboxProcess:
        return self.start() if self._proc is None else self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stderr_tail(self, limit: int = 2000) -> str:
        if self._stderr_path is None or not self._stderr_path.exists():
            return ""
        return self._stderr_path.read_text(encoding="utf-8", errors="replace")[-limit:]

    # -- what the child told us ---------------------------------------------------------
    @property
    def base_url(self) -> str:
        """Where the API is (the twin's ``start()`` answer; some serve under a prefix)."""
        return str(self.info["base_url"])

    @property
    def token(self) -> str:
        return str(self.info["token"])

    @property
    def account(self) -> str:
        return str(self.info.get("shop_id") or self.info.get("account") or "")

    # -- control routes -----------------------------------------------------------------
    def control(
        self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        """Call a ``/_sandbox/`` route (not logged, not limited); returns the JSON answer."""
        if self._http is None:
            raise SandboxError("the sandbox is not running")
        response = self._http.request(method, path, json=body, params=params)
        if response.status_code >= 400:
            raise SandboxError(
                f"{method} {path}: HTTP {response.status_code} {response.text[:300]}"
            )
        return response.json() if response.content else None

    def requests(self, path_contains: str = "", method: str | None = None) -> list[dict[str, Any]]:
        """The twin's request log (API calls only), oldest first."""
        params: dict[str, Any] = {"path_contains": path_contains}
        if method:
            params["method"] = method
        return list(self.control("GET", "/_sandbox/requests", params=params)["requests"])

    def clear_requests(self) -> None:
        self.control("DELETE", "/_sandbox/requests")

    def serving(self) -> dict[str, Any]:
        """Requests answered and seconds spent answering them, in total and per route."""
        return dict(self.control("GET", f"{CONTROL}/serving"))

    def reset_serving(self) -> None:
        self.control("DELETE", f"{CONTROL}/serving")

    def state(self) -> dict[str, Any]:
        """Rate-limit bookkeeping the twin offers (breach counter, windows), if any."""
        return dict(self.control("GET", f"{CONTROL}/state"))


# ------------------------------------------------------------------------------ child
def timed(cls: type) -> type:
    """A subclass of twin ``cls`` that times the API requests it answers."""

    class Timed(cls):  # type: ignore[misc, valid-type]
        def __init__(self, **options: Any) -> None:
            super().__init__(**options)
            self._bench_lock = threading.Lock()
            self._bench_routes: dict[str, list[float]] = {}
            self.add_route("GET", rf"{CONTROL}/serving", self._bench_serving)
            self.add_route("DELETE", rf"{CONTROL}/serving", self._bench_reset)
            self.add_route("GET", rf"{CONTROL}/state", self._bench_state)

        def _dispatch(self, request: Any) -> Any:
            if request.path.startswith("/_sandbox/"):
                return super()._dispatch(request)
            started = time.perf_counter()
            answer = super()._dispatch(request)
            took = time.perf_counter() - started
            route = getattr(request, "route", None)
            key = route.pattern.pattern if route is not None else request.path
            with self._bench_lock:
                entry = self._bench_routes.setdefault(key, [0, 0.0])
                entry[0] += 1
                entry[1] += took
            return answer

        def _bench_serving(self, _request: Any) -> dict[str, Any]:
            with self._bench_lock:
                routes = {
                    k: {"requests": v[0], "seconds": v[1]} for k, v in self._bench_routes.items()
                }
            return {
                "requests": sum(r["requests"] for r in routes.values()),
                "seconds": sum(r["seconds"] for r in routes.values()),
                "routes": routes,
            }

        def _bench_reset(self, _request: Any) -> dict[str, Any]:
            with self._bench_lock:
                self._bench_routes.clear()
            return {"success": True}

        def _bench_state(self, _request: Any) -> dict[str, Any]:
            state: dict[str, Any] = {}
            names = ("limit_breaches", "served_in_window", "rate_limit", "window_seconds")
            for name in (*names, "rate_per_second"):
                value = getattr(self, name, None)
                if isinstance(value, int | float | list | str) and not isinstance(value, bool):
                    state[name] = value
            breaches = getattr(self, "breaches", None)
            if isinstance(breaches, list):  # twins that list each refused request
                state["limit_breaches"] = len(breaches)
            windows = getattr(self, "rate_windows", None)
            if isinstance(windows, list):
                state["rate_windows"] = [
                    dataclasses.asdict(w) if dataclasses.is_dataclass(w) else w for w in windows
                ]
            return state

    Timed.__name__ = f"Timed{cls.__name__}"
    return Timed


def serve(target: str, options: dict[str, Any]) -> None:
    """Child process: start the twin, print how to reach it, serve until stdin closes."""
    cls = sandbox_class(target)
    box = timed(cls)(**accepted_options(cls, options))
    api_url = box.start()
    info: dict[str, Any] = {
        "base_url": api_url or box.base_url,
        "root_url": f"http://127.0.0.1:{box.port}",  # the /_sandbox/ control routes
        "token": box.token,
    }
    for name in ("shop_id", "account", "account_id", "site"):
        value = getattr(box, name, None)
        if isinstance(value, int | str) and value != "":
            info[name] = value
    print(json.dumps(info), flush=True)
    try:
        sys.stdin.read()  # returns when the parent closes our stdin (or dies)
    finally:
        box.stop()


if __name__ == "__main__":
    serve(sys.argv[1], json.loads(sys.argv[2]) if len(sys.argv) > 2 else {})
