"""Keeping RetailCRM under "10 requests per second from one IP", counted where it counts.

RetailCRM counts requests as they *arrive* (platforms/retailcrm.md §5) and answers the
eleventh of a second with 503. A pacer that counts from the moment it *releases* a
request lets the eleventh out too early whenever earlier ones are slow to arrive: in
tests, ten requests on fresh connections reached the server 0.2 s after release, and
the eleventh, released one window after them, arrived 0.88 s after the first.

:class:`ArrivalPacer` therefore lets a request hold its slot from release until its
answer comes back (by then the server has certainly seen it), and for one window from
that moment. At most ``limit`` requests can then arrive in any window, whatever the
network does. It has the interface :class:`~app.channels.http_util.HttpSession`
expects of a pacer (``acquire``, ``observe``, ``pause``) plus :meth:`finished`, which
the session calls when an attempt ends, answered or failed.

The limit belongs to the account, not to one client object: the engine builds a new
client for every sync, and a drift check or a callback may run beside a sync. So
:func:`shared_pacer` hands every client of one account (base URL and key) on one event
loop the same pacer, each client waiting with its own ``sleep``
(:class:`AccountPacer`), the way Sello shares its budget.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import weakref
from collections import deque
from collections.abc import Mapping

from app.channels.http_util import ClockFn, SleepFn

log = logging.getLogger(__name__)


class ArrivalPacer:
    """At most ``limit`` requests reach the server in any ``window`` seconds.

    A request whose end is never reported (it failed before it was sent) stops
    counting after ``stale_after`` seconds, so a lost notice cannot block for ever.
    Time-based waits are computed once and slept once, so a test sleep that does not
    really wait cannot make :meth:`acquire` spin.
    """

    def __init__(
        self,
        limit: int = 10,
        window: float = 1.0,
        *,
        sleep: SleepFn = asyncio.sleep,
        clock: ClockFn = time.monotonic,
        stale_after: float = 120.0,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a pacer needs at least one request per positive window")
        self.limit = limit
        self.window = window
        self.stale_after = stale_after
        self._sleep = sleep
        self._clock = clock
        self._in_flight: deque[float] = deque()  # release times of unanswered requests
        self._done: deque[float] = deque()  # answer times, oldest first
        self._blocked_until = 0.0
        self._lock = asyncio.Lock()
        self._freed = asyncio.Event()

    async def acquire(self, sleep: SleepFn | None = None) -> float:
        """Wait until one more request may go out; returns the seconds waited.

        ``sleep`` overrides the pacer's own (each client of a shared pacer waits with
        its own, so a test's instant sleep stays in that test's client).
        """
        sleep = sleep or self._sleep
        async with self._lock:
            self._prune(self._clock())
            # Every slot held by a request on its way: only an answer frees one.
            while len(self._in_flight) >= self.limit:
                self._freed.clear()
                timeout = max(0.01, self._in_flight[0] + self.stale_after - self._clock())
                try:
                    await asyncio.wait_for(self._freed.wait(), timeout)
                except TimeoutError:
                    log.debug("pacing: a request's end was never reported; its slot is freed")
                self._prune(self._clock())
            now = self._clock()
            busy = self._prune(now)
            start = max(now, self._blocked_until)
            if busy >= self.limit:
                # The oldest answered requests must leave the window until one slot is
                # free; requests in flight keep theirs whatever happens meanwhile.
                start = max(start, self._done[busy - self.limit] + self.window)
            wait = start - now
            if wait > 0:
                log.debug("pacing: waiting %.2fs before the next request", wait)
                await sleep(wait)
            self._in_flight.append(max(self._clock(), start))
            return max(0.0, wait)

    def finished(self) -> None:
        """One request ended (answered or failed): its slot counts from now on."""
        if self._in_flight:
            self._in_flight.popleft()
        self._done.append(self._clock())
        self._freed.set()

    def observe(self, headers: Mapping[str, str]) -> None:
        """RetailCRM reports no budget headers; its 503s are handled by the session."""

    def pause(self, seconds: float) -> None:
        """Hold every request for ``seconds`` from now (the server said to back off)."""
        self._blocked_until = max(self._blocked_until, self._clock() + max(0.0, seconds))

    def _prune(self, now: float) -> int:
        """Forget answers older than a window and stale releases; returns the slots in use."""
        while self._done and self._done[0] <= now - self.window:
            self._done.popleft()
        while self._in_flight and self._in_flight[0] <= now - self.stale_after:
            self._in_flight.popleft()
        return len(self._done) + len(self._in_flight)


class AccountPacer:
    """One client's handle on its account's shared :class:`ArrivalPacer`, with its sleep.

    Has the pacer interface :class:`~app.channels.retailcrm.wire.CrmSession` expects.
    """

    def __init__(self, pacer: ArrivalPacer, sleep: SleepFn = asyncio.sleep) -> None:
        self.pacer = pacer
        self._sleep = sleep

    async def acquire(self) -> float:
        return await self.pacer.acquire(self._sleep)

    def finished(self) -> None:
        self.pacer.finished()

    def observe(self, headers: Mapping[str, str]) -> None:
        self.pacer.observe(headers)

    def pause(self, seconds: float) -> None:
        self.pacer.pause(seconds)


# Pacers outlive clients on purpose (one client per sync; the server's window does not
# start over because of that). asyncio locks belong to one event loop, so pacers are
# kept per loop; a loop that ends takes its pacers with it.
_SHARED: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[tuple[str, str, object], ArrivalPacer]
] = weakref.WeakKeyDictionary()


def account_key(base_url: str, token: str) -> tuple[str, str]:
    """A key for one account that never holds the API key itself (only a short digest)."""
    digest = hashlib.sha256(token.encode("utf-8")).hexdigest()[:16]
    return base_url.rstrip("/").lower(), digest


def shared_pacer(
    base_url: str,
    token: str,
    *,
    limit: int,
    window: float,
    clock: ClockFn = time.monotonic,
    stale_after: float = 120.0,
) -> ArrivalPacer:
    """The pacer every client of this account shares on the current event loop.

    A client built outside a running loop gets a pacer of its own: asyncio binds a
    lock to the first loop that waits on it, so such a pacer cannot be shared safely.
    """
    try:
        pool = _SHARED.setdefault(asyncio.get_running_loop(), {})
    except RuntimeError:
        return ArrivalPacer(limit, window, clock=clock, stale_after=stale_after)
    key = (*account_key(base_url, token), clock)
    pacer = pool.get(key)
    if pacer is None:
        pacer = pool[key] = ArrivalPacer(limit, window, clock=clock, stale_after=stale_after)
    else:
        pacer.stale_after = max(pacer.stale_after, stale_after)
    return pacer
