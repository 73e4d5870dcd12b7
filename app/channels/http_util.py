"""Async HTTP plumbing shared by every channel client.

Three pieces, each usable on its own:

- :class:`RequestPacer` keeps a client under a platform's request budget
  ("N requests per window") and listens to the rate-limit headers the server sends.
- :class:`RetryPolicy` says which failures are worth another try and how long to wait.
- :class:`HttpSession` ties them to one ``httpx.AsyncClient``: every request is paced,
  transient failures are retried within bounds, and transport exceptions become
  :class:`~app.channels.errors.ConnectionFailed` with a message that names the host and
  never a token.

Interpreting the *content* of responses (status codes, error envelopes) is left to each
platform's client: platforms disagree too much for a shared rule to help.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from app.channels.errors import ConnectionFailed

log = logging.getLogger(__name__)

SleepFn = Callable[[float], Awaitable[Any]]
ClockFn = Callable[[], float]

# Retry-After / reset values above this are Unix epochs, below it a delay in seconds.
_EPOCH_THRESHOLD = 1_000_000_000
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret (token, key) in ``text`` by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def parse_retry_after(value: str | None, *, wall: ClockFn = time.time) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delay seconds or an HTTP date)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        return max(0.0, when.timestamp() - wall())
    if seconds > _EPOCH_THRESHOLD:  # some servers send an epoch where a delay belongs
        return max(0.0, seconds - wall())
    return max(0.0, seconds)


class RequestPacer:
    """Keeps at most ``max_requests`` requests inside any ``window`` seconds.

    A sliding log of send times is exact: it never lets a burst exceed the budget,
    whichever way the platform counts its own window (fixed or sliding). On top of that
    the pacer obeys the server: a ``pause`` (from Retry-After) and an exhausted
    ``X-RateLimit-Remaining`` hold every later request until the server's reset.

    Each :meth:`acquire` computes its wait once and sleeps once, so an injected sleep
    that does not really wait (tests) can never spin.
    """

    def __init__(
        self,
        max_requests: int,
        window: float = 60.0,
        *,
        min_interval: float = 0.0,
        sleep: SleepFn = asyncio.sleep,
        clock: ClockFn = time.monotonic,
        wall: ClockFn = time.time,
    ) -> None:
        if max_requests < 1 or window <= 0:
            raise ValueError("a pacer needs at least one request per positive window")
        self.max_requests = max_requests
        self.window = window
        self.min_interval = min_interval
        self._sleep = sleep
        self._clock = clock
        self._wall = wall
        self._sent: deque[float] = deque()
        self._blocked_until = 0.0
        self._server_remaining: int | None = None
        self._server_reset_at: float | None = None
        self._lock = asyncio.Lock()

    async def acquire(self) -> float:
        """Wait until one more request fits the budget; returns the seconds waited."""
        async with self._lock:
            now = self._clock()
            start = self._earliest_start(now)
            wait = start - now
            if wait > 0:
                log.debug("pacing: waiting %.2fs before the next request", wait)
                await self._sleep(wait)
            # Record the planned time even if the sleep returned early, so the log
            # reflects the budget we meant to keep.
            sent_at = max(self._clock(), start)
            self._sent.append(sent_at)
            if self._server_remaining is not None:
                self._server_remaining -= 1
            return max(0.0, wait)

    def _earliest_start(self, now: float) -> float:
        start = max(now, self._blocked_until)
        if self._server_reset_at is not None and start >= self._server_reset_at:
            # The server's window has rolled over since it last reported: its old
            # count no longer applies.
            self._server_remaining = None
            self._server_reset_at = None
        if self._server_remaining is not None and self._server_remaining <= 0:
            if self._server_reset_at is not None:
                start = max(start, self._server_reset_at)
            else:
                # Spent budget with no reset time: our oldest request leaving the
                # window is the best estimate; a 429 with Retry-After corrects it.
                start = max(start, (self._sent[0] if self._sent else now) + self.window)
            self._server_remaining = None
            self._server_reset_at = None
        while self._sent and self._sent[0] <= start - self.window:
            self._sent.popleft()
        if len(self._sent) >= self.max_requests:
            start = max(start, self._sent[-self.max_requests] + self.window)
        if self._sent and self.min_interval > 0:
            start = max(start, self._sent[-1] + self.min_interval)
        return start

    def pause(self, seconds: float) -> None:
        """Hold every request for ``seconds`` from now (the server said to back off)."""
        self._blocked_until = max(self._blocked_until, self._clock() + max(0.0, seconds))

    def observe(self, headers: Mapping[str, str]) -> None:
        """Learn the server's own view of the budget from a response's headers."""
        remaining = _int_header(headers, "x-ratelimit-remaining")
        if remaining is None:
            return
        self._server_remaining = remaining
        reset = _float_header(headers, "x-ratelimit-reset")
        if reset is None:
            reset = parse_retry_after(headers.get("retry-after"), wall=self._wall)
        elif reset > _EPOCH_THRESHOLD:
            reset = max(0.0, reset - self._wall())
        self._server_reset_at = None if reset is None else self._clock() + reset


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = _float_header(headers, name)
    return None if value is None else int(value)


def _float_header(headers: Mapping[str, str], name: str) -> float | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return float(raw.strip())
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounds for retrying transient failures.

    ``max_retries`` covers server errors and network failures; ``max_throttle_retries``
    covers 429 answers. A server asking for a longer wait than ``max_retry_after`` gets
    its answer passed back to the caller instead of freezing the app.

    Reads (GET, HEAD, OPTIONS) change nothing, so every server error in
    ``read_retry_statuses`` — a plain 500 too, often one overloaded worker — is worth
    up to ``max_read_retries`` more tries: a read that fails ends the whole sync pass,
    which then starts again from its first page.
    """

    max_retries: int = 3
    max_throttle_retries: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 120.0
    retry_statuses: frozenset[int] = frozenset({502, 503, 504})
    max_read_retries: int = 6
    read_retry_statuses: frozenset[int] = frozenset({500, 502, 503, 504})

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Delay before retry number ``attempt`` (1-based): exponential, with jitter.

        The jitter keeps the upper half of the exponential step so that several clients
        failing together spread out without any retry becoming too eager.
        """
        ceiling = min(self.max_delay, self.base_delay * (2 ** max(0, attempt - 1)))
        return ceiling * (rng or random).uniform(0.5, 1.0)


def _garbled(response: httpx.Response) -> bool:
    """A successful answer whose body is there but is not JSON."""
    if not 200 <= response.status_code < 300 or not response.content.strip():
        return False
    try:
        response.json()
    except ValueError:
        return True
    return False


def transport_error(
    exc: httpx.TransportError, host: str, timeout: float, secrets: Iterable[str] = ()
) -> ConnectionFailed:
    """Turn an httpx transport exception into a readable, token-free ConnectionFailed."""
    detail = redact(str(exc), secrets).strip()
    if isinstance(exc, httpx.ConnectTimeout):
        message = f"could not connect to {host} within {timeout:g} seconds"
    elif isinstance(exc, httpx.ConnectError):
        message = f"could not connect to {host}: check the network connection and address"
    elif isinstance(exc, httpx.PoolTimeout):
        message = f"too many requests to {host} are waiting for a connection"
    elif isinstance(exc, httpx.TimeoutException):
        message = f"{host} did not answer within {timeout:g} seconds"
    elif isinstance(exc, httpx.RemoteProtocolError):
        message = f"{host} closed the connection unexpectedly"
    else:
        message = f"network problem while talking to {host}"
    if detail:
        message = f"{message} ({detail})"
    return ConnectionFailed(message, details={"kind": type(exc).__name__})


def _never_sent(exc: httpx.TransportError) -> bool:
    """True when the request cannot have reached the server, so any method may retry."""
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


class HttpSession:
    """One paced, retrying ``httpx.AsyncClient`` for one account on one platform.

    ``request`` returns the final ``httpx.Response`` whatever its status: after the
    retries allowed by the policy a 429 or 5xx response comes back for the platform
    client to turn into its error. Only transport failures raise here.
    """

    def __init__(
        self,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        pacer: RequestPacer | None = None,
        retry: RetryPolicy | None = None,
        sleep: SleepFn = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
        secrets: Iterable[str] = (),
        rng: random.Random | None = None,
    ) -> None:
        if timeout <= 0:
            raise ValueError("a positive timeout is required")
        self.timeout = timeout
        self.pacer = pacer
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._secrets = tuple(s for s in secrets if s)
        self._rng = rng or random.Random()
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers=dict(headers or {}),
            # Connecting should fail fast; a slow answer may legitimately take longer.
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
            follow_redirects=False,
        )
        self.host = self._client.base_url.host or base_url

    async def aclose(self) -> None:
        await self._client.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """Send one logical request, pacing and retrying it within the policy.

        ``idempotent`` defaults from the method (POST is not). A non-idempotent request
        is retried only when it provably never left (connection refused) or when the
        server throttled it, since a timeout after sending may mean it was applied.
        """
        method = method.upper()
        if idempotent is None:
            idempotent = method in _IDEMPOTENT_METHODS
        read = idempotent and method in _READ_METHODS
        statuses = self.retry.read_retry_statuses if read else self.retry.retry_statuses
        status_retries = self.retry.max_read_retries if read else self.retry.max_retries
        request = self._client.build_request(
            method, path, params=params, json=json, headers=headers
        )
        failures = 0
        throttles = 0
        while True:
            if self.pacer is not None:
                await self.pacer.acquire()
            try:
                response = await self._client.send(request)
            except httpx.TransportError as exc:
                error = transport_error(exc, self.host, self.timeout, self._secrets)
                if failures < self.retry.max_retries and (idempotent or _never_sent(exc)):
                    failures += 1
                    delay = self.retry.backoff(failures, self._rng)
                    log.info("%s %s: %s; retry %d in %.1fs", method, path, error, failures, delay)
                    await self._sleep(delay)
                    continue
                raise error from exc
            if self.pacer is not None:
                self.pacer.observe(response.headers)
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            status = response.status_code
            if status == 429 and throttles < self.retry.max_throttle_retries:
                wait = retry_after if retry_after is not None else self.retry.backoff(throttles + 1)
                if wait <= self.retry.max_retry_after:
                    throttles += 1
                    log.info("%s %s: throttled, waiting %.1fs", method, path, wait)
                    await self._wait(wait)
                    continue
            elif status in statuses and idempotent and failures < status_retries:
                failures += 1
                delay = self.retry.backoff(failures, self._rng)
                if retry_after is not None and retry_after <= self.retry.max_retry_after:
                    delay = max(delay, retry_after)
                log.info("%s %s: HTTP %d; retry %d in %.1fs", method, path, status, failures, delay)
                await self._wait(delay)
                continue
            elif read and failures < status_retries and _garbled(response):
                # Every platform answers JSON: a 2xx read that is cut short or not JSON
                # was spoilt on the way; asking again is as safe as after a 500.
                failures += 1
                delay = self.retry.backoff(failures, self._rng)
                log.info("%s %s: garbled answer; retry %d in %.1fs", method, path, failures, delay)
                await self._wait(delay)
                continue
            return response

    async def _wait(self, seconds: float) -> None:
        # Through the pacer when there is one, so concurrent requests hold back too.
        if self.pacer is not None:
            self.pacer.pause(seconds)
        else:
            await self._sleep(seconds)
