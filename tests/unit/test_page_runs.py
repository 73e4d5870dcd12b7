"""page_runs: order pages written together when they come back to back, never held back."""

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.models import OrderPage, QuarantinedItem
from app.sync.engine import page_runs
from tests.conftest import make_order


def _page(first: int, count: int, refused: int = 0) -> OrderPage:
    return OrderPage(
        orders=[make_order(str(n)) for n in range(first, first + count)],
        quarantined=[
            QuarantinedItem("order", f"bad-{first}-{i}", "no id", {}) for i in range(refused)
        ],
    )


class Source:
    """An order-page stream with a delay before each page, and a record of its closing."""

    def __init__(self, pages: list[OrderPage], delays: list[float], fail_at: int | None = None):
        self.pages, self.delays, self.fail_at = pages, delays, fail_at
        self.closed = False
        self.asked = 0

    async def stream(self):
        try:
            for index, page in enumerate(self.pages):
                self.asked += 1
                await asyncio.sleep(self.delays[index])
                if index == self.fail_at:
                    raise ConnectionError("the platform went away")
                yield page
        finally:
            self.closed = True


async def _collect(source: Source, limit: int, wait: float) -> list[list[str]]:
    runs = []
    async for run in page_runs(source.stream(), limit, wait):
        runs.append([o.external_id for page in run for o in page.orders])
    return runs


def test_pages_that_come_back_to_back_are_written_together_up_to_the_limit():
    pages = [_page(n * 10, 10) for n in range(7)]
    runs = asyncio.run(_collect(Source(pages, [0.0] * 7), limit=25, wait=1.0))
    assert [len(r) for r in runs] == [30, 30, 10]
    assert [e for r in runs for e in r] == [o.external_id for p in pages for o in p.orders]


def test_refused_orders_count_towards_the_limit():
    pages = [_page(n * 10, 5, refused=5) for n in range(4)]
    runs = asyncio.run(_collect(Source(pages, [0.0] * 4), limit=20, wait=1.0))
    assert [len(r) for r in runs] == [10, 10]


def test_a_slow_page_does_not_hold_back_the_orders_already_here():
    pages = [_page(0, 10), _page(10, 10), _page(20, 10)]
    # The third page takes far longer than the wait: the first two go in before it comes.
    runs = asyncio.run(_collect(Source(pages, [0.0, 0.0, 0.3]), limit=1000, wait=0.02))
    assert [len(r) for r in runs] == [20, 10]


def test_an_error_comes_after_the_pages_before_it_are_written():
    pages = [_page(0, 10), _page(10, 10), _page(20, 10)]
    source = Source(pages, [0.0, 0.0, 0.0], fail_at=2)
    seen: list[list[str]] = []

    async def run() -> None:
        async for chunk in page_runs(source.stream(), 1000, 1.0):
            seen.append([o.external_id for page in chunk for o in page.orders])

    with pytest.raises(ConnectionError):
        asyncio.run(run())
    assert [len(r) for r in seen] == [20]
    assert source.closed


def test_a_writer_that_fails_stops_the_stream_and_closes_it():
    pages = [_page(n * 10, 10) for n in range(5)]
    source = Source(pages, [0.0, 0.0, 0.0, 0.5, 0.5])

    async def run() -> None:
        from contextlib import aclosing

        async with aclosing(page_runs(source.stream(), 20, 1.0)) as runs:
            async for _ in runs:
                raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        asyncio.run(run())
    assert source.closed
    assert source.asked <= 4  # the page asked for ahead was given up, nothing more


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 30), min_size=0, max_size=8),
    slow=st.lists(st.booleans(), min_size=8, max_size=8),
    limit=st.integers(1, 60),
)
def test_every_page_comes_out_once_in_order(sizes, slow, limit):
    pages, first = [], 0
    for size in sizes:
        pages.append(_page(first, size))
        first += size
    delays = [0.01 if s else 0.0 for s in slow[: len(pages)]]
    runs = asyncio.run(_collect(Source(pages, delays), limit=limit, wait=0.005))
    assert [e for r in runs for e in r] == [str(n) for n in range(first)]
    for run in runs[:-1]:
        assert len(run) < limit + 30  # a run closes at the first page reaching the limit
