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
"""

from __future__ import annotations

import asyncio
import logging
import time
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

    async def acquire(self) -> float:
        """Wait until one more request may go out; returns the seconds waited."""
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
                await self._sleep(wait)
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
