"""Keeping a Sello account inside its request budget (30 calls a minute by default).

Every Sello response carries ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and
``X-RateLimit-Reset`` (platforms/sello.md §2). :class:`RateBudget` trusts them: while
the server says calls remain, requests go out at once; when none remain, the next
request waits until the reset. It never guesses a budget the server did not report,
so it works whether Sello counts a fixed or a sliding window:

* after a reset the first request goes out "blind" and its answer reports the new
  count, so with a fixed window the whole budget is available again, and with a
  sliding one the single freed slot is used and the next answer says to wait again;
* before any answer (a brand-new account budget) the documented 30 calls a minute
  apply, kept with a sliding log.

The Sello client sends one request at a time (parallel calls gain nothing at 30 a
minute), so each answer is the exact state of the account's budget. One budget is
shared per account inside the process (:func:`shared_budget`), so successive client
instances — one per sync — do not spend a budget the previous one already used up.

:class:`BudgetPacer` binds a budget to one client's sleep and has the interface
:class:`~app.channels.http_util.HttpSession` expects of its pacer (``acquire``,
``observe``, ``pause``).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from app.channels.errors import RateLimited
from app.channels.http_util import ClockFn, SleepFn, parse_retry_after

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 30  # Sello's documented default: 30 calls per minute
DEFAULT_WINDOW = 60.0
DEFAULT_MAX_WAIT = 120.0
# Added to every reset the server reports, on top of the value's rounding unit: the
# time between the server computing the value and answering.
RESET_MARGIN = 0.002
# A reset given in whole seconds may have been rounded down by up to a second.
WHOLE_SECOND_MARGIN = 1.0


@dataclass(frozen=True, slots=True)
class RateLimitState:
    """A snapshot of what the client knows about the account's budget.

    ``remaining`` and ``reset_in`` are None while unknown (nothing reported yet, or the
    reported window has passed). ``calls`` counts requests sent through this budget.
    """

    limit: int
    remaining: int | None
    reset_in: float | None
    window: float
    calls: int
    waited: float

    def available_now(self) -> int:
        """Calls that may go out without waiting (the whole limit once a window passed)."""
        return self.limit if self.remaining is None else max(0, self.remaining)


class RateBudget:
    """The server-reported budget of one Sello account."""

    def __init__(
        self,
        *,
        default_limit: int = DEFAULT_LIMIT,
        default_window: float = DEFAULT_WINDOW,
        max_wait: float = DEFAULT_MAX_WAIT,
        clock: ClockFn = time.monotonic,
        wall: ClockFn = time.time,
    ) -> None:
        if default_limit < 1 or default_window <= 0 or max_wait < 0:
            raise ValueError("a budget needs a positive limit, window and wait bound")
        self.limit = default_limit
        self.window = default_window
        self.max_wait = max_wait
        self.calls = 0
        self.waited = 0.0
        self._clock = clock
        self._wall = wall
        self._remaining: int | None = None
        self._reset_at: float | None = None
        self._blocked_until = 0.0
        self._reported = False  # has the server ever sent the headers?
        self._window_learned = False
        self._sent: deque[float] = deque()

    # --- HttpSession pacer interface -------------------------------------------------

    async def acquire(self, sleep: SleepFn) -> float:
        """Wait until one more call fits the budget; returns the seconds waited.

        Raises :class:`RateLimited` (with ``retry_after``) instead of waiting longer
        than ``max_wait``: the caller's outbox retries later rather than freezing.
        The wait is computed once and slept once, so a test sleep that does not
        really wait cannot make this spin.
        """
        now = self._clock()
        start, rolls_over = self._earliest_start(now)
        wait = start - now
        if wait > self.max_wait:
            raise RateLimited(
                f"Sello's request budget is used up for the next {math.ceil(wait)} seconds;"
                " the app will try again then",
                status=429,
                retry_after=wait,
            )
        if wait > 0:
            log.debug("Sello budget: waiting %.2fs for the next call", wait)
            await sleep(wait)
            self.waited += wait
        if rolls_over:
            # The window we waited for has been refilled: its old count is void and
            # the answer to this call reports the new one.
            self._remaining = None
            self._reset_at = None
        if self._remaining is not None:
            self._remaining -= 1
        self._sent.append(max(self._clock(), start))
        while len(self._sent) > self.limit:
            self._sent.popleft()
        self.calls += 1
        return max(0.0, wait)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Take the server's view of the budget from a response's headers."""
        limit = _int_header(headers, "x-ratelimit-limit")
        remaining = _int_header(headers, "x-ratelimit-remaining")
        raw_reset = headers.get("x-ratelimit-reset")
        reset_in = parse_retry_after(raw_reset, wall=self._wall) if raw_reset else None
        if limit is not None and limit > 0:
            self.limit = limit
        if remaining is None and reset_in is None:
            return
        self._reported = True
        now = self._clock()
        if reset_in is not None:
            reset_in += _margin(raw_reset)
            # The first answer of a window reports (almost) the whole window.
            self.window = max(self.window if self._window_learned else 0.0, reset_in)
            self._window_learned = True
            self._reset_at = now + reset_in
        if remaining is not None:
            self._remaining = max(0, remaining)

    def pause(self, seconds: float) -> None:
        """Hold every call for ``seconds`` from now (a 429's Retry-After)."""
        self._blocked_until = max(self._blocked_until, self._clock() + max(0.0, seconds))

    # --- reading ---------------------------------------------------------------------

    def state(self) -> RateLimitState:
        """What is known now; a reported window that has passed reads as unknown."""
        now = self._clock()
        remaining, reset_in = self._remaining, None
        if self._reset_at is not None:
            if now >= self._reset_at:
                remaining = None
            else:
                reset_in = self._reset_at - now
        return RateLimitState(
            limit=self.limit,
            remaining=remaining,
            reset_in=reset_in,
            window=self.window,
            calls=self.calls,
            waited=self.waited,
        )

    # --- internals -------------------------------------------------------------------

    def _earliest_start(self, now: float) -> tuple[float, bool]:
        start = max(now, self._blocked_until)
        if self._reset_at is not None and start >= self._reset_at:
            return start, True
        if self._remaining is not None and self._remaining <= 0:
            if self._reset_at is not None:
                return max(start, self._reset_at), True
            # Spent, with no reset reported: a whole window after our oldest call.
            oldest = self._sent[0] if self._sent else now
            return max(start, oldest + self.window), True
        if not self._reported and len(self._sent) >= self.limit:
            # The server has not reported yet: keep the documented budget ourselves.
            return max(start, self._sent[-self.limit] + self.window), False
        return start, False


class BudgetPacer:
    """One client's view of a (possibly shared) budget, with that client's sleep.

    This is the object handed to :class:`~app.channels.http_util.HttpSession` as its
    pacer: the budget decides how long to wait, the client's own sleep waits.
    """

    def __init__(self, budget: RateBudget, sleep: SleepFn) -> None:
        self.budget = budget
        self._sleep = sleep

    async def acquire(self) -> float:
        return await self.budget.acquire(self._sleep)

    def observe(self, headers: Mapping[str, str]) -> None:
        self.budget.observe(headers)

    def pause(self, seconds: float) -> None:
        self.budget.pause(seconds)


def _margin(raw: str | None) -> float:
    """Extra wait for a reset value that may have been rounded down.

    The value can be off by up to one unit of its last digit ("41.5" by 0.1 s, "42" or
    an HTTP date by a whole second); a couple of milliseconds more cover the time the
    server took between computing it and answering.
    """
    if raw is None:
        return RESET_MARGIN
    value = raw.strip()
    try:
        float(value)
    except ValueError:
        return WHOLE_SECOND_MARGIN + RESET_MARGIN  # an HTTP date has whole seconds
    _, dot, decimals = value.partition(".")
    digits = len(decimals) if dot and decimals.isdigit() else 0
    unit = 10.0**-digits if digits else WHOLE_SECOND_MARGIN
    return unit + RESET_MARGIN


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return int(float(raw.strip()))
    except ValueError:
        return None


# Budgets outlive clients on purpose: the engine builds a new client for every sync,
# and the account's window does not start over because of that. One entry per account
# (and clock) used in the process: a handful at most.
_SHARED: dict[tuple[str, str, object], RateBudget] = {}


def account_key(base_url: str, token: str) -> tuple[str, str]:
    """A key for one account that never holds the key itself (only a short digest)."""
    digest = hashlib.sha256(token.encode("utf-8")).hexdigest()[:16]
    return base_url.rstrip("/").lower(), digest


def shared_budget(
    base_url: str, token: str, *, clock: ClockFn = time.monotonic, max_wait: float
) -> RateBudget:
    """The process-wide budget of one account (per clock, so simulated time stays apart)."""
    key = (*account_key(base_url, token), clock)
    budget = _SHARED.get(key)
    if budget is None:
        budget = RateBudget(clock=clock, max_wait=max_wait)
        _SHARED[key] = budget
    else:
        budget.max_wait = max_wait
    return budget


def clear_shared_budgets() -> None:
    """Forget every account's budget (tests that restart servers on reused ports)."""
    _SHARED.clear()
