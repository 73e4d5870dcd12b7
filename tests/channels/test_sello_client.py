"""SelloClient: request shapes, budget and errors (MockTransport, simulated time), then the
real client against the Sello sandbox over loopback HTTP.

No pytest-asyncio: each test drives its coroutine with ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import httpx
import pytest

from app.channels.base import ChannelClient
from app.channels.errors import (
    AuthFailed,
    NotFound,
    PayloadError,
    RateLimited,
    Rejected,
    ServerError,
)
from app.channels.sello.client import DEFAULT_BASE_URL, SelloClient
from app.channels.sello.planning import StockPushCandidate, plan_stock_pushes
from app.channels.sello.ratelimit import RateBudget, clear_shared_budgets
from app.channels.sello.sandbox import SelloSandbox
from app.channels.sello.seed import AWAITING, CANCELLED, PACKED, PAID, SHIPPED
from app.channels.sello.webhooks import refetch_hint
from app.core.models import ChannelListing, OrderPage, OrderPush, OrderStatus

KEY = "a1b2c3d4e5f6:0f9e8d7c6b5a4"  # a token:key pair, as live accounts use
S = OrderStatus


@pytest.fixture(autouse=True)
def fresh_budgets() -> Iterator[None]:
    """Sandboxes may reuse a port: never let one test inherit another's budget."""
    clear_shared_budgets()
    yield
    clear_shared_budgets()


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


class FakeTime:
    """A monotonic clock and a sleep that advances it instead of waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.now += seconds


Handler = Callable[[httpx.Request], httpx.Response]


def mock_client(handler: Handler, fake: FakeTime | None = None, **kwargs: Any) -> SelloClient:
    fake = fake or FakeTime()
    return SelloClient(
        "https://api.sello.test/v5",
        "shop",
        KEY,
        sleep=fake.sleep,
        clock=fake.clock,
        transport=httpx.MockTransport(handler),
        **kwargs,
    )


def list_item(order_id: int, updated: str = "2024-05-01T10:00:00.000Z", **extra: Any) -> dict:
    item = {
        "id": order_id,
        "number": order_id,
        "status_id": 2,
        "currency": "SEK",
        "total": 10,
        "updated_at": updated,
        "created_at": "2024-05-01T09:00:00.000Z",
        "is_paid": True,
        "is_active": True,
        "is_delivered": False,
        "is_deleted": False,
        "row_count": 1,
    }
    item.update(extra)
    return item


ROW = {"id": 9, "product_id": 5, "reference": "SKU-5", "title": "Thing", "quantity": 1, "price": 10}
STATUS_LIST = [
    {"id": "1", "title": "New", "is_paid": False, "is_active": True},
    {"id": "2", "title": "Paid", "is_paid": True, "is_active": True},
    {"id": "3", "title": "Sent", "is_paid": True, "is_delivered": True},
]


class Script:
    """A scripted Sello: answers by path, records every request."""

    def __init__(self, orders: list[dict] | None = None, **routes: Any) -> None:
        self.orders = orders or []
        self.routes = routes
        self.requests: list[httpx.Request] = []
        self.headers: dict[str, str] = {}

    def paths(self) -> list[str]:
        return [r.url.path.removeprefix("/v5") for r in self.requests]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path.removeprefix("/v5")
        if path in self.routes:
            answer = self.routes[path]
            return answer(request) if callable(answer) else httpx.Response(200, json=answer)
        if path == "/status":
            return httpx.Response(200, json=STATUS_LIST, headers=self.headers)
        if path == "/orders":
            offset = int(request.url.params["offset"])
            size = int(request.url.params["size"])
            page = self.orders[offset : offset + size]
            body = {"meta": {"total": len(self.orders)}, "orders": page}
            return httpx.Response(200, json=body, headers=self.headers)
        if path.startswith("/orders/"):
            order = next(o for o in self.orders if f"/orders/{o['id']}" == path)
            return httpx.Response(200, json={**order, "rows": [ROW]}, headers=self.headers)
        return httpx.Response(404, json={"message": "No such route"})


async def collect(pages: Any) -> list[Any]:
    return [page async for page in pages]


def orders_of(pages: list[OrderPage]) -> list[str]:
    return [order.external_id for page in pages for order in page.orders]


# --- basics ----------------------------------------------------------------------------


def test_client_meets_the_channel_protocol():
    client = SelloClient(DEFAULT_BASE_URL, "", KEY)
    try:
        assert isinstance(client, ChannelClient)
        assert client.platform == "sello"
        assert client.capabilities == {"orders", "listings", "stock_push", "progress", "cancel"}
        assert DEFAULT_BASE_URL == "https://api.sello.io/v5"
    finally:
        run(client.aclose())


def test_constructor_validates_key_and_status_map():
    with pytest.raises(ValueError):
        SelloClient(DEFAULT_BASE_URL, "", " ")
    with pytest.raises(ValueError):
        SelloClient(DEFAULT_BASE_URL, "", KEY, status_map={"2591260": "shipped-ish"})
    client = SelloClient(DEFAULT_BASE_URL, "", KEY, status_map={2591260: "dispatched"})
    assert client.status_map == {"2591260": S.DISPATCHED}
    run(client.aclose())


def test_headers_and_order_list_shape():
    script = Script([list_item(1)])

    async def go() -> list[OrderPage]:
        async with mock_client(script, language="sv") as client:
            return await collect(client.fetch_orders(None))

    assert orders_of(run(go())) == ["1"]
    first = script.requests[0]
    assert first.headers["Authorization"] == KEY  # raw key with its colon, no scheme
    assert first.headers["Accept-Language"] == "sv"
    assert first.url.path == "/v5/orders"
    assert dict(first.url.params) == {
        "size": "300",
        "offset": "0",
        "sort": "updated_at",
        "sort_direction": "desc",
    }
    assert script.paths() == ["/orders", "/orders/1", "/status"]


def test_paging_stops_at_the_watermark_and_skips_known_orders():
    # 700 orders, one changed per minute, newest first; the watermark is order 450's time.
    stamps = {i: f"2024-05-01T{(i // 60) % 24:02d}:{i % 60:02d}:00.000Z" for i in range(700)}
    orders = [list_item(1000 + i, stamps[i]) for i in reversed(range(700))]
    script = Script(orders)
    since = run_parse(stamps[450])
    known = {str(1000 + i): run_parse(stamps[i]) for i in range(440, 452)}

    async def go() -> list[OrderPage]:
        async with mock_client(script, overlap_seconds=600) as client:
            return await collect(client.fetch_orders(since, known=known))

    pages = run(go())
    # Changed within the overlap (10 minutes before the watermark) and not known.
    expected = [str(1000 + i) for i in reversed(range(440, 700)) if not 440 <= i < 452]
    assert orders_of(pages) == expected
    assert all(len(page.orders) <= 25 for page in pages)
    assert script.paths().count("/orders") == 1  # the first page already reached the cutoff
    assert len([p for p in script.paths() if p.startswith("/orders/")]) == len(expected)


def run_parse(stamp: str) -> float:
    from app.channels.sello.mapping import parse_timestamp

    value = parse_timestamp(stamp)
    assert value is not None
    return value


def test_rows_in_list_items_and_the_rows_endpoint_save_or_cost_calls():
    with_rows = list_item(1, rows=[ROW])
    empty_rows = list_item(2, rows=[])  # row_count 1: the empty list is not the truth
    no_rows_in_detail = list_item(3)
    script = Script(
        [with_rows, empty_rows, no_rows_in_detail],
        **{
            "/orders/3": {k: v for k, v in no_rows_in_detail.items()},
            "/orders/3/rows": [ROW],
        },
    )

    async def go() -> list[OrderPage]:
        async with mock_client(script) as client:
            return await collect(client.fetch_orders(None))

    assert orders_of(run(go())) == ["1", "2", "3"]
    assert script.paths() == ["/orders", "/status", "/orders/2", "/orders/3", "/orders/3/rows"]


def test_bad_orders_are_quarantined_and_the_pass_goes_on():
    bad = list_item(2, rows=[{**ROW, "quantity": "many"}])
    script = Script([list_item(1, rows=[ROW]), bad, {"number": 5}])

    async def go() -> list[OrderPage]:
        async with mock_client(script) as client:
            return await collect(client.fetch_orders(None))

    (page,) = run(go())
    assert [o.external_id for o in page.orders] == ["1"]
    assert [(q.external_id, q.kind) for q in page.quarantined] == [("2", "order"), ("?", "order")]
    assert "quantity is not a number" in page.quarantined[0].reason


def test_a_failure_mid_pass_hands_over_what_was_read_first():
    down = {"/orders/3": lambda _request: httpx.Response(503, json={"message": "down"})}
    script = Script([list_item(1), list_item(2), list_item(3), list_item(4)], **down)
    received: list[str] = []

    async def go() -> None:
        async with mock_client(script) as client:
            async for page in client.fetch_orders(None):
                received.extend(order.external_id for order in page.orders)

    with pytest.raises(ServerError):
        run(go())
    assert received == ["1", "2"]  # the detail calls already spent are not wasted
    assert "/orders/4" not in script.paths()


def test_an_unreadable_status_falls_back_to_the_order_flags():
    statuses = [{"id": "2", "title": "Paid", "is_paid": "perhaps"}, STATUS_LIST[2]]
    script = Script([list_item(1, rows=[ROW])], **{"/status": statuses})

    async def go() -> list[OrderPage]:
        async with mock_client(script) as client:
            return await collect(client.fetch_orders(None))

    ((order,),) = [page.orders for page in run(go())]
    assert (order.status, order.channel_state) == (S.CONFIRMED, "Status 2")


def test_product_list_with_and_without_the_envelope():
    products = [{"id": i, "private_reference": f"S{i}", "quantity": i} for i in range(1, 4)]
    bodies = [
        {"statusCode": 200, "data": {"meta": {"total": 3}, "products": products}},
        {"meta": {"total": 3}, "products": products},
    ]
    for body in bodies:
        script = Script(**{"/products": body})

        async def go(script: Script = script) -> list[list[ChannelListing]]:
            async with mock_client(script) as client:
                return await collect(client.fetch_listings())

        (page,) = run(go())
        assert [(item.external_id, item.sku, item.quantity) for item in page] == [
            ("1", "S1", 1.0),
            ("2", "S2", 2.0),
            ("3", "S3", 3.0),
        ]
        params = dict(script.requests[0].url.params)
        assert params == {"size": "100", "offset": "0", "sort": "created_at", "sort_direction": "asc"}  # fmt: skip


# --- the request budget (simulated time) ------------------------------------------------


def budget_script(headers_for: Callable[[int], dict[str, str]]) -> Script:
    script = Script()

    def account(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"id": "1"}, headers=headers_for(len(script.requests)))

    script.routes["/account"] = account
    return script


def calls(script: Script, fake: FakeTime, count: int, **kwargs: Any) -> SelloClient:
    client = mock_client(script, fake, **kwargs)

    async def go() -> None:
        async with client:
            for _ in range(count):
                await client.check_connection()

    run(go())
    return client


def test_a_spent_budget_waits_for_the_reported_reset():
    def headers(n: int) -> dict[str, str]:
        # Three calls a window; the window ends 5 s after its first call.
        return {
            "X-RateLimit-Limit": "3",
            "X-RateLimit-Remaining": str(max(0, 3 - n)),
            "X-RateLimit-Reset": "5.000",
        }

    fake = FakeTime()
    client = calls(budget_script(headers), fake, 4)
    assert fake.sleeps == [pytest.approx(5.003, abs=0.001)]  # reset + rounding unit + margin
    assert client.rate_limit.limit == 3
    assert client.rate_limit.calls == 4


def test_whole_second_and_epoch_resets_are_read_safely():
    fake = FakeTime()
    calls(budget_script(lambda n: {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "7"}), fake, 2)  # fmt: skip
    assert fake.sleeps == [pytest.approx(8.002)]  # "7" may have been rounded down by a second

    import time as real_time

    epoch = f"{real_time.time() + 12:.3f}"
    fake = FakeTime()
    calls(budget_script(lambda n: {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": epoch}), fake, 2)  # fmt: skip
    assert fake.sleeps == [pytest.approx(12.003, abs=0.05)]


def test_without_headers_the_documented_30_a_minute_apply():
    fake = FakeTime()
    calls(budget_script(lambda n: {}), fake, 31)
    assert fake.sleeps == [pytest.approx(60.0)]


def test_a_wait_longer_than_the_bound_is_rate_limited_for_the_outbox():
    fake = FakeTime()
    script = budget_script(lambda n: {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "300.0"})  # fmt: skip
    with pytest.raises(RateLimited) as caught:
        calls(script, fake, 2, max_wait=120)
    assert caught.value.retry_after == pytest.approx(300.1, abs=0.01)
    assert fake.sleeps == []


def test_a_429_is_waited_out_by_its_reset_and_the_call_repeated():
    script = Script()
    answers = iter(
        [
            httpx.Response(
                429,
                json={"message": "Too many requests"},
                headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "20.000"},
            ),
            httpx.Response(200, json={"id": "1", "company": "Shop"}),
        ]
    )
    script.routes["/account"] = lambda request: next(answers)
    fake = FakeTime()
    calls(script, fake, 1)
    assert sum(fake.sleeps) == pytest.approx(20.003, abs=0.6)  # backoff folded into the wait
    assert max(fake.sleeps) >= 19
    assert script.paths() == ["/account", "/account"]


def test_budgets_are_shared_by_clients_of_one_account():
    fake = FakeTime()
    script = budget_script(lambda n: {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "9.000"})  # fmt: skip
    first = calls(script, fake, 1)
    second = calls(script, fake, 1)  # a new client, as for the next sync
    assert first.budget is second.budget
    assert fake.sleeps == [pytest.approx(9.003)]
    other = mock_client(script, fake, budget=RateBudget(clock=fake.clock))
    assert other.budget is not first.budget
    run(other.aclose())


# --- errors ---------------------------------------------------------------------------------


def answer(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Handler:
    def handler(_request: httpx.Request) -> httpx.Response:
        if isinstance(body, str | bytes):
            return httpx.Response(status, content=body, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return handler


def connect(handler: Handler) -> Any:
    async def go() -> Any:
        async with mock_client(handler) as client:
            return await client.check_connection()

    return run(go())


def test_401_is_auth_failed_without_the_key():
    with pytest.raises(AuthFailed) as caught:
        connect(answer(401, {"message": f"bad key {KEY}"}))
    assert KEY not in str(caught.value) and "Create a new key" in caught.value.message


@pytest.mark.parametrize(
    ("status", "body", "error", "text"),
    [
        (404, {"message": "No such order found"}, NotFound, "No such order found"),
        (400, {"message": f"Unknown status_id 4 for {KEY}"}, Rejected, "Unknown status_id 4"),
        (422, {"error": "invalid"}, Rejected, "invalid"),
        (500, "<html>oops</html>", ServerError, "HTTP 500"),
        (
            200,
            {"errorType": "TypeError", "errorMessage": "x is undefined"},
            ServerError,
            "x is undefined",
        ),  # fmt: skip
        (200, "<html>maintenance</html>", PayloadError, "not JSON"),
        (200, [1, 2], PayloadError, "no account"),
    ],
)
def test_errors_are_readable_and_never_carry_the_key(status, body, error, text):
    with pytest.raises(error) as caught:
        connect(answer(status, body))
    assert text in caught.value.message
    assert KEY not in str(caught.value)


def test_server_errors_are_retried_within_bounds():
    attempts: list[int] = []

    def handler(_request: httpx.Request) -> httpx.Response:
        attempts.append(1)
        return httpx.Response(503, json={"message": "maintenance"})

    with pytest.raises(ServerError) as caught:
        connect(handler)
    assert caught.value.transient and len(attempts) == 7  # a read: one try, six retries


def test_unsupported_pushes_and_bad_ids_are_refused_without_a_request():
    script = Script()

    async def go(push: OrderPush) -> None:
        async with mock_client(script) as client:
            await client.push_order(push)

    with pytest.raises(Rejected, match="cannot send a 'tracking'"):
        run(go(OrderPush("tracking", "1", tracking_code="X")))
    with pytest.raises(Rejected, match="not a Sello order id"):
        run(go(OrderPush("cancel", "SO-1")))
    assert script.requests == []


def test_a_status_mapped_but_not_yet_read_is_looked_up_again():
    lists = iter([STATUS_LIST, [*STATUS_LIST, {"id": "4", "title": "Picked", "is_active": True}]])
    puts: list[dict] = []

    def order(request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            puts.append(json.loads(request.content))
        return httpx.Response(200, json={**list_item(7), "rows": [ROW]})

    script = Script(
        **{"/status": lambda _r: httpx.Response(200, json=next(lists)), "/orders/7": order}
    )

    async def go() -> None:
        async with mock_client(script, status_map={"4": S.DISPATCHED}) as client:
            await client.push_order(OrderPush("progress", "7", target=S.DISPATCHED))

    run(go())
    assert script.paths() == ["/orders/7", "/status", "/status", "/orders/7"]
    assert puts == [{"status_id": 4}]


# === against the sandbox over loopback HTTP ==========================================


def on(box: SelloSandbox, action: Callable[[SelloClient], Coroutine], **kwargs: Any) -> Any:
    """Run ``action`` with a fresh client (as the engine makes one per sync)."""
    kwargs.setdefault("sleep", asyncio.sleep)

    async def go() -> Any:
        async with SelloClient(box.base_url + "/v5", "Norrdoft", box.token, **kwargs) as client:
            return await action(client)

    return run(go())


def fetch(since: float | None = None, known: dict[str, float] | None = None) -> Callable:
    async def action(client: SelloClient) -> list[OrderPage]:
        return await collect(client.fetch_orders(since, known=known))

    return action


def push(order_push: OrderPush) -> Callable:
    async def action(client: SelloClient) -> None:
        await client.push_order(order_push)

    return action


@pytest.fixture
def fast_box() -> Iterator[SelloSandbox]:
    """A sandbox whose budget never gets in the way: for request-counting tests."""
    with SelloSandbox(seed=3, rate_limit=100_000, window_seconds=60, extra_orders=300) as box:
        yield box


def test_a_1000_order_import_uses_the_budget_fully_without_a_breach():
    limit, window = 30, 0.4
    with SelloSandbox(seed=2, rate_limit=limit, window_seconds=window, extra_orders=962) as box:
        assert len(box.orders) == 1000
        pages = on(box, fetch())
        imported = orders_of(pages)
        assert len(imported) == len(set(imported)) == 1000
        assert sum(len(page.quarantined) for page in pages) == 0
        assert box.limit_breaches == 0
        log = box.request_log
        assert all(entry["status"] == 200 for entry in log)
        windows = box.rate_windows
        # Calls per window, counted from the request log by time.
        per_window = [
            sum(1 for e in log if w.started_at <= e["time"] < w.started_at + window)
            for w in windows
        ]
        assert max(per_window) <= limit
        assert sum(per_window) == len(log) == 4 + 1000 + 1  # 4 list pages, 1000 orders, statuses
        # Used fraction of the allowed rate over every window but the last (partial) one.
        full = windows[:-1]
        span = windows[-1].start - windows[0].start
        used = sum(w.served for w in full) / (limit * span / window)
        assert used >= 0.9, (used, box.served_in_window)


def test_a_second_fetch_with_nothing_new_is_one_request(fast_box: SelloSandbox):
    first = on(fast_box, fetch())
    orders = [order for page in first for order in page.orders]
    assert len(orders) == len(fast_box.orders)
    since = max(order.updated_at for order in orders)
    known = {order.external_id: order.updated_at for order in orders}
    fast_box.clear_request_log()

    assert orders_of(on(fast_box, fetch(since, known))) == []
    assert [(e["method"], e["path"]) for e in fast_box.request_log] == [("GET", "/v5/orders")]


def test_a_status_changed_in_sello_is_seen_and_mapped(fast_box: SelloSandbox):
    orders = [order for page in on(fast_box, fetch()) for order in page.orders]
    since = max(order.updated_at for order in orders)
    known = {order.external_id: order.updated_at for order in orders}
    awaiting = next(o for o in orders if o.channel_state == "Awaiting payment")
    assert awaiting.status is S.REQUESTED
    fast_box.set_order_status(int(awaiting.external_id), SHIPPED)
    fast_box.clear_request_log()

    (page,) = on(fast_box, fetch(since, known))
    (changed,) = page.orders
    assert (changed.external_id, changed.status, changed.channel_state) == (
        awaiting.external_id,
        S.DELIVERED,
        "Shipped",
    )
    assert [e["path"] for e in fast_box.request_log] == [
        "/v5/orders",
        f"/v5/orders/{awaiting.external_id}",
        "/v5/status",
    ]
    # The merchant's mapping reads "Shipped" as dispatched.
    (again,) = on(fast_box, fetch(since, known), status_map={SHIPPED: "dispatched"})[0].orders
    assert again.status is S.DISPATCHED


def test_stock_pushes_are_one_quantity_update_per_product(fast_box: SelloSandbox):
    products = sorted(fast_box.products.values(), key=lambda p: p["id"])[:5]
    targets = [7, 0, 12.9, -3, 1]

    async def action(client: SelloClient) -> None:
        for product, quantity in zip(products, targets, strict=True):
            listing = ChannelListing(str(product["id"]), str(product["id"]), None, "", "", None)
            await client.push_stock(listing, quantity)

    on(fast_box, action)
    assert [fast_box.product_quantity(p["id"]) for p in products] == [7, 0, 12, 0, 1]
    puts = fast_box.requests_to("/products/", "PUT")
    assert [(e["path"], e["json"]) for e in puts] == [
        (f"/v5/products/{p['id']}", {"quantity": q})
        for p, q in zip(products, [7, 0, 12, 0, 1], strict=True)  # fmt: skip
    ]
    assert len(fast_box.request_log) == len(products)  # no reads: one call per product


def test_a_planned_catalogue_push_goes_out_wave_by_wave(fast_box: SelloSandbox):
    async def listings(client: SelloClient) -> list[ChannelListing]:
        return [item for page in await collect(client.fetch_listings()) for item in page]

    catalogue = on(fast_box, listings)
    assert {item.external_id for item in catalogue} == {str(p) for p in fast_box.products}
    candidates = [
        StockPushCandidate(item, (item.quantity or 0) + 1, changed_at=float(i))
        for i, item in enumerate(catalogue)
    ]
    waves = plan_stock_pushes(candidates, budget=7)
    assert [len(w) for w in waves] == [7, 7, 4]

    async def action(client: SelloClient) -> None:
        for wave in waves:
            for item in wave:
                await client.push_stock(item.listing, item.quantity)

    fast_box.clear_request_log()
    on(fast_box, action)
    assert len(fast_box.requests_to("/products/", "PUT")) == len(catalogue)
    for item in catalogue:
        assert fast_box.product_quantity(int(item.external_id)) == int(item.quantity or 0) + 1


def test_an_injected_429_is_waited_out_and_the_fetch_goes_on(fast_box: SelloSandbox):
    target = next(iter(fast_box.orders))
    fast_box.inject(
        {
            "path_contains": f"/orders/{target}",
            "status": 429,
            "body": {"message": "Too many requests"},
            "headers": {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "0.300"},
        }
    )
    fast_box.inject(
        {"path_contains": "/status", "status": 429, "headers": {"Retry-After": "1"}, "count": 1}
    )
    pages = on(fast_box, fetch())
    assert len(orders_of(pages)) == len(fast_box.orders)
    order_calls = fast_box.requests_to(f"/orders/{target}")
    status_calls = fast_box.requests_to("/status")
    assert [e["status"] for e in order_calls] == [429, 200]
    assert [e["status"] for e in status_calls] == [429, 200]
    # Waited for the reported reset (0.3 s) and for Retry-After (1 s) before repeating.
    assert order_calls[1]["time"] - order_calls[0]["time"] >= 0.3
    assert status_calls[1]["time"] - status_calls[0]["time"] >= 1.0
    assert fast_box.limit_breaches == 0  # injected answers are not the limiter's


def test_progress_and_cancel_read_before_they_write(fast_box: SelloSandbox):
    sale = fast_box.create_order([{"sku": "PVE002", "quantity": 1}], status_id=PAID)
    order_id = str(sale["id"])
    deliver = OrderPush("progress", order_id, target=S.DELIVERED)
    on(fast_box, push(deliver))
    on(fast_box, push(deliver))  # a retry after success
    assert fast_box.order_status(sale["id"]) == SHIPPED
    assert fast_box.orders[sale["id"]]["delivered_at"] is not None
    writes = fast_box.requests_to(f"/orders/{order_id}", "PUT")
    assert [e["json"] for e in writes] == [{"status_id": int(SHIPPED)}]
    with pytest.raises(Rejected, match="already delivered on Sello"):
        on(fast_box, push(OrderPush("cancel", order_id)))

    other = fast_box.create_order([{"sku": "CKO-100", "quantity": 1}], status_id=PAID)
    on(fast_box, push(OrderPush("cancel", str(other["id"]))))
    assert fast_box.order_status(other["id"]) == CANCELLED


def test_pushes_that_no_status_can_carry_are_refused_readably(fast_box: SelloSandbox):
    unpaid = fast_box.create_order([{"sku": "PVE001", "quantity": 1}], status_id=AWAITING)
    with pytest.raises(Rejected, match="unpaid on Sello"):
        on(fast_box, push(OrderPush("progress", str(unpaid["id"]), target=S.CONFIRMED)))
    paid = fast_box.create_order([{"sku": "PVE001", "quantity": 1}], status_id=PAID)
    dispatch = OrderPush("progress", str(paid["id"]), target=S.DISPATCHED)
    with pytest.raises(Rejected, match='no Sello status is mapped to "Dispatched"'):
        on(fast_box, push(dispatch))
    assert fast_box.requests_to(f"/orders/{paid['id']}", "PUT") == []
    on(fast_box, push(dispatch), status_map={PACKED: S.DISPATCHED})
    assert fast_box.order_status(paid["id"]) == PACKED
    with pytest.raises(NotFound):
        on(fast_box, push(OrderPush("cancel", "99")))


def test_connection_products_by_sku_and_webhook_refetch(fast_box: SelloSandbox):
    async def action(client: SelloClient) -> tuple:
        info = await client.check_connection()
        by_sku = await client.fetch_listing_by_sku("PVE002")
        by_id = await client.fetch_listing(by_sku.external_id)
        hint = refetch_hint(json.dumps({"id": next(iter(fast_box.orders))}), "orderUpdated")
        order = await client.fetch_order(hint.id)
        names = await client.fetch_integrations()
        return info, by_sku, by_id, order, names

    info, by_sku, by_id, order, names = on(fast_box, action)
    assert (info.name, info.account_id, info.currency) == ("Norrdoft Handel AB", "8346", "SEK")
    assert (by_sku.sku, by_sku.barcode) == ("PVE002", by_id.barcode)
    assert by_sku.external_id == by_id.external_id and by_sku.quantity == by_id.quantity
    assert order.external_id == str(next(iter(fast_box.orders))) and order.lines
    assert names["46162"] == "Tradera"

    async def missing(client: SelloClient) -> None:
        await client.fetch_listing_by_sku("NO-SUCH")

    with pytest.raises(NotFound):
        on(fast_box, missing)


def test_wrong_key_is_auth_failed_without_the_key(fast_box: SelloSandbox):
    async def action(client: SelloClient) -> None:
        await client.check_connection()

    async def go() -> None:
        async with SelloClient(fast_box.base_url, "", "nope:wrong") as client:
            await action(client)

    with pytest.raises(AuthFailed) as caught:
        run(go())
    assert "nope:wrong" not in str(caught.value)
