"""Offline tests of the shared HTTP helpers: pacing, retries, transport errors.

Time is simulated: a fake clock that the injected sleep advances, so a minute of
pacing runs in microseconds.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from app.channels.errors import ConnectionFailed
from app.channels.http_util import (
    HttpSession,
    RequestPacer,
    RetryPolicy,
    parse_retry_after,
    redact,
    transport_error,
)

TOKEN = "sk-live-very-secret-token-123"


class FakeTime:
    """A monotonic clock and a sleep that advances it instead of waiting."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


def max_in_any_window(times: list[float], window: float) -> int:
    return max(sum(1 for t in times if start <= t < start + window) for start in times)


# --- pacer ---------------------------------------------------------------------------


def test_pacer_never_lets_a_burst_exceed_the_budget():
    fake = FakeTime()
    pacer = RequestPacer(5, 10.0, sleep=fake.sleep, clock=fake.clock)

    async def burst() -> list[float]:
        sent = []
        for _ in range(17):
            await pacer.acquire()
            sent.append(fake.now)
        return sent

    sent = run(burst())
    assert max_in_any_window(sent, 10.0) == 5
    # The first five go at once; later ones wait only as long as the window demands.
    assert sent[:5] == [1000.0] * 5
    assert sent[5] == pytest.approx(1010.0)
    assert sent[-1] == pytest.approx(1030.0)


def test_pacer_concurrent_callers_share_the_budget():
    fake = FakeTime()
    pacer = RequestPacer(3, 60.0, sleep=fake.sleep, clock=fake.clock)
    sent: list[float] = []

    async def one() -> None:
        await pacer.acquire()
        sent.append(fake.now)

    async def many() -> None:
        await asyncio.gather(*(one() for _ in range(7)))

    run(many())
    assert max_in_any_window(sorted(sent), 60.0) == 3
    assert len(sent) == 7


def test_pacer_min_interval_spaces_requests():
    fake = FakeTime()
    pacer = RequestPacer(100, 60.0, min_interval=0.2, sleep=fake.sleep, clock=fake.clock)

    async def three() -> list[float]:
        times = []
        for _ in range(3):
            await pacer.acquire()
            times.append(fake.now)
        return times

    assert run(three()) == pytest.approx([1000.0, 1000.2, 1000.4])


def test_pacer_waits_for_server_reset_when_remaining_is_zero():
    fake = FakeTime()
    pacer = RequestPacer(80, 60.0, sleep=fake.sleep, clock=fake.clock, wall=lambda: 5_000.0)

    async def scenario() -> float:
        await pacer.acquire()
        # Someone else (the merchant's dashboard) spent the shared budget.
        pacer.observe(httpx.Headers({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "12"}))
        return await pacer.acquire()

    assert run(scenario()) == pytest.approx(12.0)


def test_pacer_reads_epoch_reset_against_wall_clock():
    fake = FakeTime()
    pacer = RequestPacer(80, 60.0, sleep=fake.sleep, clock=fake.clock, wall=lambda: 1_700_000_000)

    async def scenario() -> float:
        pacer.observe({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1700000007"})
        return await pacer.acquire()

    assert run(scenario()) == pytest.approx(7.0)


def test_pacer_counts_down_server_remaining_without_reset():
    fake = FakeTime()
    pacer = RequestPacer(80, 60.0, sleep=fake.sleep, clock=fake.clock)

    async def scenario() -> list[float]:
        await pacer.acquire()  # at 1000
        pacer.observe({"x-ratelimit-remaining": "1"})
        waits = [await pacer.acquire()]  # uses the last unit of budget, no wait
        waits.append(await pacer.acquire())  # budget spent: wait for our window to roll
        return waits

    assert run(scenario()) == pytest.approx([0.0, 60.0])


def test_pacer_pause_holds_requests():
    fake = FakeTime()
    pacer = RequestPacer(80, 60.0, sleep=fake.sleep, clock=fake.clock)
    pacer.pause(3.5)
    assert run(pacer.acquire()) == pytest.approx(3.5)


def test_pacer_with_a_sleep_that_does_not_wait_does_not_spin():
    calls: list[float] = []

    async def instant(seconds: float) -> None:
        calls.append(seconds)

    pacer = RequestPacer(1, 60.0, sleep=instant)

    async def two() -> None:
        await pacer.acquire()
        await pacer.acquire()

    run(two())
    assert len(calls) == 1 and calls[0] == pytest.approx(60.0, abs=0.5)


def test_pacer_rejects_nonsense_budgets():
    with pytest.raises(ValueError):
        RequestPacer(0, 60.0)


# --- small helpers -------------------------------------------------------------------


def test_parse_retry_after_forms():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    later = datetime(2030, 1, 1, 0, 0, 30, tzinfo=UTC)
    wall = datetime(2030, 1, 1, tzinfo=UTC).timestamp
    assert parse_retry_after(format_datetime(later, usegmt=True), wall=wall) == pytest.approx(30)


def test_backoff_grows_exponentially_with_bounded_jitter():
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)
    rng = random.Random(7)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0)]:
        delays = [policy.backoff(attempt, rng) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jitter really varies


def test_redact_removes_secrets():
    assert redact(f"bad token {TOKEN}!", [TOKEN, ""]) == "bad token ***!"


# --- session: retries ----------------------------------------------------------------


class Script:
    """A MockTransport handler answering from a list, recording each request."""

    def __init__(self, *answers: httpx.Response | Exception | Callable[[], Any]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def session(script: Script, fake: FakeTime, **kwargs: Any) -> HttpSession:
    kwargs.setdefault("retry", RetryPolicy(max_retries=3, base_delay=0.5, max_delay=4.0))
    return HttpSession(
        "https://api.example.test",
        headers={"Authorization": f"Bearer {TOKEN}"},
        pacer=RequestPacer(80, 60.0, sleep=fake.sleep, clock=fake.clock),
        sleep=fake.sleep,
        transport=httpx.MockTransport(script),
        secrets=[TOKEN],
        rng=random.Random(1),
        **kwargs,
    )


def send(http: HttpSession, method: str = "GET", **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        try:
            return await http.request(method, "/things", **kwargs)
        finally:
            await http.aclose()

    return run(go())


def test_server_errors_are_retried_with_backoff_then_succeed():
    fake = FakeTime()
    script = Script(httpx.Response(503), httpx.Response(502), httpx.Response(200, json={"ok": 1}))
    response = send(session(script, fake))

    assert response.status_code == 200
    assert len(script.requests) == 3
    assert 0.25 <= fake.sleeps[0] <= 0.5 and 0.5 <= fake.sleeps[1] <= 1.0


def test_server_errors_stop_after_the_retry_bound():
    fake = FakeTime()
    script = Script(httpx.Response(504))
    response = send(session(script, fake), "PUT", json={})

    assert response.status_code == 504  # handed to the platform client to judge
    assert len(script.requests) == 4  # first try + 3 retries
    script = Script(httpx.Response(504))
    assert send(session(script, fake)).status_code == 504
    assert len(script.requests) == 7  # a read: first try + 6 retries


def test_throttle_waits_for_retry_after_then_retries():
    fake = FakeTime()
    script = Script(httpx.Response(429, headers={"Retry-After": "9"}), httpx.Response(200, json={}))
    response = send(session(script, fake))

    assert response.status_code == 200
    assert len(script.requests) == 2
    assert fake.sleeps == [pytest.approx(9.0)]


def test_throttle_asking_for_too_long_is_returned_not_waited():
    fake = FakeTime()
    script = Script(httpx.Response(429, headers={"Retry-After": "3600"}))
    response = send(session(script, fake))

    assert response.status_code == 429
    assert len(script.requests) == 1
    assert fake.sleeps == []


def test_throttle_retries_are_bounded():
    fake = FakeTime()
    script = Script(httpx.Response(429, headers={"Retry-After": "1"}))
    response = send(session(script, fake, retry=RetryPolicy(max_throttle_retries=2)))
    assert response.status_code == 429
    assert len(script.requests) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_client_errors_are_not_retried(status):
    fake = FakeTime()
    script = Script(httpx.Response(status))
    assert send(session(script, fake)).status_code == status
    assert len(script.requests) == 1


def test_a_read_is_retried_on_a_plain_500_within_its_own_bound():
    fake = FakeTime()
    script = Script(httpx.Response(500), httpx.Response(500), httpx.Response(200, json={}))
    assert send(session(script, fake)).status_code == 200
    assert len(script.requests) == 3
    fake = FakeTime()
    script = Script(httpx.Response(500))
    policy = RetryPolicy(max_retries=3, max_read_retries=5, base_delay=0.5, max_delay=4.0)
    assert send(session(script, fake, retry=policy)).status_code == 500
    assert len(script.requests) == 6  # first try + 5 read retries
    assert fake.sleeps[-1] <= 4.0  # backoff capped


def test_a_read_with_a_garbled_body_is_asked_again_within_the_read_bound():
    fake = FakeTime()
    cut = httpx.Response(200, content=b'{"data": [\x00\x00')
    script = Script(
        cut, httpx.Response(200, content=b"<html>oops</html>"), httpx.Response(200, json={"ok": 1})
    )
    assert send(session(script, fake)).json() == {"ok": 1}
    assert len(script.requests) == 3
    fake = FakeTime()
    script = Script(cut)
    policy = RetryPolicy(max_retries=3, max_read_retries=4, base_delay=0.5, max_delay=4.0)
    assert send(session(script, fake, retry=policy)).content == cut.content  # the caller decides
    assert len(script.requests) == 5  # first try + 4 read retries
    fake = FakeTime()
    script = Script(httpx.Response(204), httpx.Response(200, json={}))
    assert send(session(script, fake)).status_code == 204  # an empty answer is not garbled
    assert len(script.requests) == 1


@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_a_write_with_a_garbled_answer_is_not_sent_again(method):
    fake = FakeTime()
    script = Script(httpx.Response(200, content=b"{cut"), httpx.Response(200, json={}))
    assert send(session(script, fake), method, json={}).content == b"{cut"
    assert len(script.requests) == 1


@pytest.mark.parametrize("method", ["PUT", "DELETE", "POST"])
def test_a_write_is_not_retried_on_a_plain_500(method):
    # A 500 may come after the write was applied; only the gateway errors are retried
    # for idempotent writes, and nothing for POST.
    fake = FakeTime()
    script = Script(httpx.Response(500), httpx.Response(200))
    assert send(session(script, fake), method, json={}).status_code == 500
    assert len(script.requests) == 1


def test_post_is_not_retried_after_a_gateway_error():
    fake = FakeTime()
    script = Script(httpx.Response(502), httpx.Response(200))
    assert send(session(script, fake), "POST", json={"a": 1}).status_code == 502
    assert len(script.requests) == 1


def test_post_marked_idempotent_is_retried():
    fake = FakeTime()
    script = Script(httpx.Response(503), httpx.Response(200))
    response = send(session(script, fake), "POST", json={"q": 3}, idempotent=True)
    assert response.status_code == 200
    assert [r.content for r in script.requests] == [b'{"q":3}', b'{"q":3}']


def test_post_is_retried_when_the_connection_never_opened():
    fake = FakeTime()
    script = Script(httpx.ConnectError("Connection refused"), httpx.Response(200))
    assert send(session(script, fake), "POST", json={}).status_code == 200
    assert len(script.requests) == 2


def test_post_is_not_retried_after_a_read_timeout():
    fake = FakeTime()
    script = Script(httpx.ReadTimeout("timed out"), httpx.Response(200))
    with pytest.raises(ConnectionFailed):
        send(session(script, fake), "POST", json={})
    assert len(script.requests) == 1


# --- session: transport errors -------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "words"),
    [
        (
            httpx.ConnectError(f"refused for Bearer {TOKEN}"),
            "could not connect to api.example.test",
        ),
        (httpx.ConnectTimeout("slow"), "within 30 seconds"),
        (httpx.ReadTimeout("slow"), "did not answer within 30 seconds"),
        (httpx.RemoteProtocolError("peer closed"), "closed the connection unexpectedly"),
        (httpx.ReadError("reset"), "network problem"),
    ],
)
def test_transport_failures_become_connection_failed_without_token(exc, words):
    fake = FakeTime()
    script = Script(exc)
    with pytest.raises(ConnectionFailed) as caught:
        send(session(script, fake))

    assert words in caught.value.message
    assert TOKEN not in str(caught.value)
    assert caught.value.transient is True
    assert len(script.requests) == 4  # GET is retried within the bound


def test_transport_error_redacts_detail():
    error = transport_error(httpx.ConnectError(f"x {TOKEN}"), "h", 5.0, [TOKEN])
    assert TOKEN not in error.message and "***" in error.message


def test_session_always_sets_a_timeout():
    http = HttpSession("https://api.example.test", timeout=12.0)
    try:
        timeout = http._client.timeout
        assert (timeout.read, timeout.connect) == (12.0, 10.0)
    finally:
        run(http.aclose())
    with pytest.raises(ValueError):
        HttpSession("https://api.example.test", timeout=0)


def test_session_paces_every_attempt():
    fake = FakeTime()
    script = Script(httpx.Response(200))
    http = HttpSession(
        "https://api.example.test",
        pacer=RequestPacer(2, 60.0, sleep=fake.sleep, clock=fake.clock),
        sleep=fake.sleep,
        transport=httpx.MockTransport(script),
    )

    async def three() -> None:
        for _ in range(3):
            await http.request("GET", "/x")
        await http.aclose()

    run(three())
    assert fake.sleeps == [pytest.approx(60.0)]
