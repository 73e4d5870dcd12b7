"""RetailCRM's 10 requests a second belong to the account: clients share one pacer."""

from __future__ import annotations

import asyncio

from app.channels.retailcrm.client import RetailCrmClient
from app.channels.retailcrm.sandbox import RetailCrmSandbox


def most_in_one_second(times: list[float]) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, stamp in enumerate(times):
        while stamp - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_two_clients_of_one_account_never_exceed_ten_requests_a_second():
    with RetailCrmSandbox(seed=1, rate_per_second=10) as box:

        async def go() -> None:
            # Two syncs at once (say a sync and a drift check): separate client objects.
            one = RetailCrmClient(box.base_url, "", box.token)
            two = RetailCrmClient(box.base_url, "", box.token)
            assert one._session.pacer.pacer is two._session.pacer.pacer
            try:
                await asyncio.gather(
                    *(one.fetch_stores() for _ in range(14)),
                    *(two.fetch_stores() for _ in range(14)),
                )
            finally:
                await one.aclose()
                await two.aclose()

        asyncio.run(go())
        arrivals = [e["time"] for e in box.requests_to("/reference/stores")]
        assert len(arrivals) == 28
        assert box.breaches == []  # the sandbox answered no request with 503
        assert most_in_one_second(arrivals) <= 10


def test_other_accounts_and_other_loops_keep_their_own_pacers():
    with RetailCrmSandbox(seed=1) as box, RetailCrmSandbox(seed=2) as other:

        async def pacers() -> tuple[object, object, object]:
            a = RetailCrmClient(box.base_url, "", box.token)
            b = RetailCrmClient(other.base_url, "", other.token)
            c = RetailCrmClient(box.base_url, "", box.token)
            try:
                return a._session.pacer.pacer, b._session.pacer.pacer, c._session.pacer.pacer
            finally:
                for client in (a, b, c):
                    await client.aclose()

        first, other_account, same = asyncio.run(pacers())
        assert first is same and first is not other_account
        again, _, _ = asyncio.run(pacers())
        assert again is not first  # a new event loop: asyncio locks cannot cross loops
