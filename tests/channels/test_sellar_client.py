"""SellarClient: request shapes and error handling (MockTransport), then the real client
against the Sellar sandbox over loopback HTTP.

No pytest-asyncio: each test drives its coroutine with ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from app.channels.base import ChannelClient
from app.channels.errors import (
    AccessDenied,
    AuthFailed,
    ConnectionFailed,
    NotFound,
    PayloadError,
    RateLimited,
    Rejected,
    ServerError,
)
from app.channels.sellar.client import (
    DEFAULT_BASE_URL,
    STAGING_BASE_URL,
    SellarClient,
)
from app.channels.sellar.mapping import webhook_order_id
from app.channels.sellar.sandbox import SellarSandbox
from app.core.models import (
    ChannelListing,
    ChannelOrder,
    OrderPage,
    OrderPush,
    OrderStatus,
    PaymentStatus,
)

KEY = "SLR.test-key-0123456789abcdef"
CARD_REFUSAL = "Sellar collects card payments itself; this order cannot be marked paid here"


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


async def no_sleep(_seconds: float) -> None:
    """Retries and pacing happen without waiting in these tests."""


async def collect(pages: Any) -> list[Any]:
    return [page async for page in pages]


def mock_client(handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any) -> SellarClient:
    return SellarClient(
        "https://api.sellar.test",
        "",
        KEY,
        sleep=no_sleep,
        transport=httpx.MockTransport(handler),
        **kwargs,
    )


def answer(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Any:
    def handler(_request: httpx.Request) -> httpx.Response:
        if isinstance(body, str | bytes):
            return httpx.Response(status, content=body, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return handler


def call(handler: Callable[[httpx.Request], httpx.Response], action: str) -> Any:
    """Run one client action against a scripted server."""

    async def go() -> Any:
        async with mock_client(handler) as client:
            if action == "shop":
                return await client.check_connection()
            if action == "orders":
                return await collect(client.fetch_orders(None))
            if action == "order":
                return await client.fetch_order("48213")
            if action == "invoice":
                return await client.push_order(OrderPush("invoice", "48213", invoice_number="I-1"))
            raise AssertionError(action)

    return run(go())


# --- basics --------------------------------------------------------------------------


def test_client_meets_the_channel_protocol():
    client = SellarClient(DEFAULT_BASE_URL, "", KEY)
    try:
        assert isinstance(client, ChannelClient)
        assert client.platform == "sellar"
        assert client.capabilities == {
            "orders", "listings", "stock_push", "progress", "invoice", "paid",
        }  # fmt: skip
        assert "cancel" not in client.capabilities  # the API has no cancel field
        assert client.progress_targets == {OrderStatus.DISPATCHED, OrderStatus.DELIVERED}
        assert client.page_size == 100
        assert client.overlap_seconds == 300
    finally:
        run(client.aclose())
    assert (DEFAULT_BASE_URL, STAGING_BASE_URL) == (
        "https://api.sellar.io",
        "https://api-staging.sellar.io",
    )


def test_constructor_validates_its_inputs():
    with pytest.raises(ValueError, match="key is required"):
        SellarClient(DEFAULT_BASE_URL, "", "  ")
    with pytest.raises(ValueError, match="supplier ID is a number"):
        SellarClient(DEFAULT_BASE_URL, "Kestrel Cross", KEY)
    client = SellarClient(DEFAULT_BASE_URL, " 311 ", KEY, page_size=500)
    try:
        assert (client.account, client.page_size) == ("311", 100)
    finally:
        run(client.aclose())


def test_order_request_shape():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"data": []})

    async def go() -> None:
        # A pasted "Bearer " prefix is tolerated.
        client = SellarClient(
            "https://api.sellar.test/",
            "",
            f"Bearer {KEY}",
            sleep=no_sleep,
            transport=httpx.MockTransport(handler),
        )
        async with client:
            await collect(client.fetch_orders(1_714_641_243.0))

    run(go())
    (request,) = seen
    assert request.method == "GET" and request.url.path == "/orders"
    query = parse_qs(urlsplit(str(request.url)).query)
    assert query == {"limit": ["100"], "offset": ["0"], "order[]": ['["updatedAt","DESC"]']}
    assert "order%5B%5D=%5B%22updatedAt%22%2C%22DESC%22%5D" in str(request.url)
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"].startswith("Stockbridge/")


def test_bad_orders_are_quarantined_and_the_page_goes_on():
    good = {"id": 1, "RetailerId": 9, "updatedAt": "2024-05-02T09:14:03Z",
            "OrderItems": [{"id": 10, "ProductId": 5, "quantity": 1}]}  # fmt: skip
    bad_quantity = good | {"id": 2, "OrderItems": [{"id": 20, "ProductId": 5, "quantity": "x"}]}
    handler = answer(200, {"data": [good, bad_quantity, {"RetailerId": 9}]})
    (page,) = call(handler, "orders")
    assert [order.external_id for order in page.orders] == ["1"]
    kept = [(q.kind, q.external_id) for q in page.quarantined]
    assert kept[0] == ("order", "2")
    # an order without an id is kept under a key made from its content
    assert kept[1][0] == "order" and kept[1][1].startswith("?") and len(kept[1][1]) == 13
    assert "quantity is not a number" in page.quarantined[0].reason
    assert page.quarantined[1].raw == {"RetailerId": 9}


def test_a_server_ignoring_offset_cannot_loop_forever():
    rows = [{"id": i, "RetailerId": 9, "updatedAt": "2024-05-02T09:14:03Z", "OrderItems": [{"id": i, "ProductId": 5, "quantity": 1}]} for i in range(100)]  # fmt: skip
    with pytest.raises(PayloadError, match="same page of orders twice"):
        call(answer(200, {"data": rows}), "orders")


# --- error handling ------------------------------------------------------------------


def test_401_is_auth_failed_without_the_key():
    with pytest.raises(AuthFailed) as caught:
        call(answer(401, {"statusCode": 401, "message": "Unauthorized"}), "shop")
    assert "the Sellar key was revoked or is wrong" in caught.value.message
    assert KEY not in str(caught.value) and caught.value.transient is False


@pytest.mark.parametrize(
    ("status", "body", "error", "text"),
    [
        (
            200,
            {"statusCode": 400, "message": "Update to order failed", "error": "Bad Request"},
            Rejected,
            "Update to order failed",
        ),  # fmt: skip
        (200, {"statusCode": 401, "message": "Unauthorized"}, AuthFailed, "revoked or is wrong"),
        (
            200,
            {"error": "Bad Request", "message": ["price must be an integer", "x"]},
            Rejected,
            "price must be an integer; x",
        ),  # fmt: skip
        (
            400,
            {"statusCode": 400, "message": "Order does not exist"},
            NotFound,
            "order 48213 does not exist on Sellar",
        ),  # fmt: skip
        (
            400,
            {"statusCode": 400, "message": ["limit must be an integer"]},
            Rejected,
            "limit must be an integer",
        ),  # fmt: skip
        (400, "<html>bad</html>", Rejected, "HTTP 400"),
        (403, {"message": "Forbidden resource"}, AccessDenied, "Forbidden resource"),
        (404, {"message": "Cannot GET /orders/48213"}, NotFound, "check the API address"),
        (422, {"message": "Unprocessable"}, Rejected, "Unprocessable"),
    ],
)
def test_error_envelopes_become_the_right_error(status, body, error, text):
    with pytest.raises(error) as caught:
        call(answer(status, body), "order")
    assert text in caught.value.message


def test_server_errors_surface_after_bounded_retries():
    attempts: list[int] = []

    def handler(_request: httpx.Request) -> httpx.Response:
        attempts.append(1)
        return httpx.Response(503, text="<html>maintenance</html>")

    with pytest.raises(ServerError) as caught:
        call(handler, "shop")
    assert caught.value.transient is True
    assert len(attempts) == 7  # a read: one try and six retries


def test_long_throttle_becomes_rate_limited():
    with pytest.raises(RateLimited) as caught:
        call(answer(429, {"message": "Too Many Requests"}, {"Retry-After": "900"}), "shop")
    assert caught.value.retry_after == 900


@pytest.mark.parametrize("body", ["<html>oops</html>", b"{not json", "[1, 2]", {"data": {}}])
def test_unreadable_answers_are_payload_errors(body):
    with pytest.raises(PayloadError):
        call(answer(200, body), "order" if isinstance(body, dict) else "shop")


def test_error_text_echoing_the_key_is_redacted():
    with pytest.raises(Rejected) as caught:
        call(answer(400, {"message": f"Bad key {KEY}"}), "order")
    assert KEY not in str(caught.value) and "***" in caught.value.message


def test_unsupported_push_kinds_are_rejected_without_a_request():
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json={"data": {}})

    async def go(kind: str) -> None:
        async with mock_client(handler) as client:
            await client.push_order(OrderPush(kind=kind, order_external_id="1"))

    for kind, words in (("tracking", "tracking codes"), ("return", "no returns"), ("x", "no order change")):  # fmt: skip
        with pytest.raises(Rejected, match=words):
            run(go(kind))

    async def bad_id() -> None:
        async with mock_client(handler) as client:
            await client.push_order(OrderPush("invoice", "SLR-12", invoice_number="I"))

    with pytest.raises(Rejected, match="not a Sellar order id"):
        run(bad_id())
    assert requests == []


# === against the sandbox over loopback HTTP ==========================================

Action = Callable[[SellarClient], Coroutine[Any, Any, Any]]


class Sleeps:
    """An injected sleep that records what the client wanted to wait, and waits not."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sandbox() -> Any:
    with SellarSandbox(seed=1) as twin:
        yield twin


def on(sandbox: SellarSandbox, action: Action, *, token: str | None = None, **kwargs: Any) -> Any:
    """Run ``action`` with a fresh client talking to the sandbox."""
    kwargs.setdefault("sleep", Sleeps())
    account = kwargs.pop("account", "")

    async def go() -> Any:
        async with SellarClient(sandbox.base_url, account, token or sandbox.token, **kwargs) as client:  # fmt: skip
            return await action(client)

    return run(go())


def all_orders(since: float | None = None) -> Action:
    async def action(client: SellarClient) -> list[OrderPage]:
        return await collect(client.fetch_orders(since))

    return action


def one_order(order_id: int | str) -> Action:
    async def action(client: SellarClient) -> ChannelOrder:
        return await client.fetch_order(order_id)

    return action


def push(order_push: OrderPush) -> Action:
    async def action(client: SellarClient) -> None:
        await client.push_order(order_push)

    return action


def flat(pages: list[OrderPage]) -> list[ChannelOrder]:
    return [order for page in pages for order in page.orders]


def keg_order(sandbox: SellarSandbox, payment: str = "manual", retailer: str = "The Anchor Inn") -> dict:  # fmt: skip
    keg = sandbox.product_by_sku("LIPA-KEG-30")["id"]
    return sandbox.place_order(
        sandbox.retailer_id(retailer), [{"product_id": keg, "quantity": 2}], payment
    )


def puts(sandbox: SellarSandbox, order_id: int) -> list[Any]:
    return [entry["json"] for entry in sandbox.requests_to(f"/orders/{order_id}", "PUT")]


def test_check_connection_names_the_supplier(sandbox):
    async def action(client: SellarClient) -> Any:
        return await client.check_connection()

    info = on(sandbox, action)
    assert (info.name, info.account_id, info.currency) == ("Kestrel Cross Brewery", "311", "GBP")
    assert info.extra["key_looks_right"] is True and info.extra["staging"] is False
    assert on(sandbox, action, account="311").account_id == "311"
    with pytest.raises(AccessDenied, match="belongs to supplier 311, not to supplier 312"):
        on(sandbox, action, account="312")


def test_full_import_brings_every_order_once_in_its_state(sandbox):
    pages = on(sandbox, all_orders(), page_size=4)
    orders = flat(pages)

    assert sorted(int(o.external_id) for o in orders) == sorted(sandbox.orders)
    assert len(orders) == len(sandbox.orders)
    assert all(not page.quarantined for page in pages)
    stages = {o.status for o in orders}
    assert stages == {
        OrderStatus.REQUESTED, OrderStatus.CONFIRMED, OrderStatus.DISPATCHED,
        OrderStatus.DELIVERED, OrderStatus.CANCELLED,
    }  # fmt: skip
    assert {o.payment_method for o in orders} == {"manual", "stripe", "checkout"}
    voided = next(o for o in orders if o.raw["voidedAt"])
    assert voided.status is OrderStatus.CANCELLED
    # 15 orders in pages of 4: four pages, then one read of the front.
    assert len(sandbox.requests_to("/orders", "GET")) == 5


def test_second_sync_stops_at_the_watermark(sandbox):
    first = flat(on(sandbox, all_orders(), page_size=4))
    since = max(order.updated_at for order in first)
    sandbox.clear_request_log()

    again = flat(on(sandbox, all_orders(since), page_size=4))

    assert len(sandbox.requests_to("/orders", "GET")) == 1
    known = {o.external_id: o.updated_at for o in first}
    assert again and all(known[o.external_id] == o.updated_at for o in again)
    assert all(o.updated_at >= since - 300 for o in again)
    without_overlap = flat(on(sandbox, all_orders(since), overlap_seconds=0))
    assert [o.updated_at for o in without_overlap] == [since]


def test_order_placed_after_a_sync_comes_with_the_next_one(sandbox):
    since = max(o.updated_at for o in flat(on(sandbox, all_orders())))
    placed = keg_order(sandbox)

    again = flat(on(sandbox, all_orders(since)))
    (order,) = [o for o in again if o.external_id == str(placed["id"])]
    assert order.status is OrderStatus.REQUESTED
    keg = sandbox.product_by_sku("LIPA-KEG-30")
    assert [(line.listing_id, line.sku, line.quantity) for line in order.lines] == [
        (str(keg["id"]), "LIPA-KEG-30", 2)
    ]
    assert order.customer is not None and order.customer.ref == f"retailer:{placed['RetailerId']}"


def test_paging_while_orders_change_imports_every_order_once(sandbox):
    """Orders further down change between page requests: each jumps to the front and
    pushes the rows behind it back by one. Nothing is skipped, nothing doubled."""
    newest_first = sorted(sandbox.orders.values(), key=lambda o: o["updatedAt"], reverse=True)
    ids = [o["id"] for o in newest_first]
    dispatched = next(i for i in ids[4:8] if sandbox.orders[i]["dispatchedAt"] and sandbox.orders[i]["paymentType"] == "manual")  # fmt: skip
    unpaid = next(i for i in ids[8:] if sandbox.orders[i]["deliveredAt"] and not sandbox.orders[i]["paidAt"])  # fmt: skip

    async def action(client: SellarClient) -> list[OrderPage]:
        pages = client.fetch_orders(None)
        got = [await anext(pages)]
        sandbox.deliver_order(dispatched)  # on page two: moves to the front
        got.append(await anext(pages))
        sandbox.pay_order(unpaid)  # on page three: moves to the front
        got += [page async for page in pages]
        return got

    orders = flat(on(sandbox, action, page_size=4))
    imported = [int(o.external_id) for o in orders]
    assert sorted(imported) == sorted(sandbox.orders)  # every order...
    assert len(imported) == len(set(imported))  # ...exactly once
    by_id = {int(o.external_id): o for o in orders}
    assert by_id[dispatched].status is OrderStatus.DELIVERED  # the newest version of each
    assert by_id[unpaid].payment_status is PaymentStatus.PAID


def test_the_ten_kegs_example_end_to_end(sandbox):
    keg = sandbox.product_by_sku("LIPA-KEG-30")
    listing = ChannelListing(str(keg["id"]), str(keg["id"]), None, "LIPA-KEG-30", "", None)
    placed = keg_order(sandbox)
    assert sandbox.product_stock(keg["id"]) == (10, 2, 8)
    order = on(sandbox, one_order(placed["id"]))
    assert (order.status, order.lines[0].quantity) == (OrderStatus.REQUESTED, 2)

    sandbox.confirm_order(placed["id"])
    assert sandbox.product_stock(keg["id"]) == (8, 0, 8)
    assert on(sandbox, one_order(placed["id"])).status is OrderStatus.CONFIRMED

    keg_order(sandbox)  # another request: 2 committed again

    async def action(client: SellarClient) -> None:
        await client.push_stock(
            listing, 6.9
        )  # the engine's available: on hand − committed − buffer

    on(sandbox, action)
    assert sandbox.product_stock(keg["id"]) == (8, 2, 6)
    (sent,) = sandbox.requests_to(f"/products/{keg['id']}", "PUT")
    assert sent["json"] == {"availableStock": 6}  # never together with stock


def test_stock_never_goes_below_zero_and_listings_match(sandbox):
    async def action(client: SellarClient) -> list[list[ChannelListing]]:
        return await collect(client.fetch_listings())

    pages = on(sandbox, action, page_size=8)
    listings = {item.external_id: item for page in pages for item in page}
    assert len(pages) == 3
    assert {key: (v.sku, v.quantity) for key, v in listings.items()} == {
        str(p["id"]): (p["sku"], p["availableStock"]) for p in sandbox.products.values()
    }
    cask = listings[str(sandbox.product_by_sku("HP-CASK-PIN")["id"])]
    assert (cask.product_id, cask.variant_id) == (cask.external_id, None)

    async def push_negative(client: SellarClient) -> None:
        await client.push_stock(cask, -3)

    on(sandbox, push_negative)
    assert sandbox.product_stock(int(cask.product_id)) == (0, 0, 0)


def test_cancellation_before_and_after_confirmation_as_the_client_sees_it(sandbox):
    keg = sandbox.product_by_sku("LIPA-KEG-30")["id"]
    early = keg_order(sandbox)
    sandbox.cancel_order(early["id"], "Ordered twice")
    seen = on(sandbox, one_order(early["id"]))
    assert seen.status is OrderStatus.CANCELLED
    assert seen.channel_state.startswith("Cancelled")

    late = keg_order(sandbox)
    sandbox.confirm_order(late["id"])
    assert on(sandbox, one_order(late["id"])).status is OrderStatus.CONFIRMED
    sandbox.cancel_order(late["id"])
    assert on(sandbox, one_order(late["id"])).status is OrderStatus.CANCELLED
    assert sandbox.product_stock(keg) == (10, 0, 10)

    # A cancel push is a no-op once Sellar shows it cancelled, a clear refusal otherwise.
    on(sandbox, push(OrderPush("cancel", str(late["id"]))))
    open_order = keg_order(sandbox)
    with pytest.raises(Rejected, match="cancel order .* in the Sellar app"):
        on(sandbox, push(OrderPush("cancel", str(open_order["id"]))))
    assert puts(sandbox, late["id"]) == puts(sandbox, open_order["id"]) == []


def test_invoice_number_is_written_once_and_never_overwritten(sandbox):
    order_id = keg_order(sandbox)["id"]
    invoice = OrderPush("invoice", str(order_id), invoice_number="KCB-3001")

    on(sandbox, push(invoice))
    sandbox.confirm_order(order_id)
    on(sandbox, push(invoice))  # the outbox retries: the same number is a no-op

    assert puts(sandbox, order_id) == [{"customInvoiceNumber": "KCB-3001"}]
    with pytest.raises(Rejected) as caught:
        on(sandbox, push(OrderPush("invoice", str(order_id), invoice_number="KCB-3002")))
    assert "already has invoice number KCB-3001" in caught.value.message
    assert len(puts(sandbox, order_id)) == 1
    assert sandbox.orders[order_id]["customInvoiceNumber"] == "KCB-3001"
    assert on(sandbox, one_order(order_id)).invoice_number == "KCB-3001"


def test_invoice_number_after_confirmation_while_empty(sandbox):
    order_id = keg_order(sandbox)["id"]
    sandbox.confirm_order(order_id)
    on(sandbox, push(OrderPush("invoice", str(order_id), invoice_number="KCB-3003")))
    assert sandbox.orders[order_id]["customInvoiceNumber"] == "KCB-3003"


def test_paid_is_refused_for_card_orders_and_sent_alone_for_manual_ones(sandbox):
    card = keg_order(sandbox, "stripe")
    sandbox.confirm_order(card["id"])
    with pytest.raises(Rejected) as caught:
        on(sandbox, push(OrderPush("paid", str(card["id"]))))
    assert caught.value.message == CARD_REFUSAL
    assert puts(sandbox, card["id"]) == []

    manual = keg_order(sandbox)
    with pytest.raises(Rejected, match="not confirmed yet"):
        on(sandbox, push(OrderPush("paid", str(manual["id"]))))
    sandbox.confirm_order(manual["id"])
    on(sandbox, push(OrderPush("paid", str(manual["id"]))))
    on(sandbox, push(OrderPush("paid", str(manual["id"]))))  # a retry sends nothing

    (body,) = puts(sandbox, manual["id"])
    assert list(body) == ["paidAt"] and body["paidAt"].endswith("Z")
    seen = on(sandbox, one_order(manual["id"]))
    assert (seen.payment_status, seen.payment_method) == (PaymentStatus.PAID, "manual")
    # A paid card order needs nothing from the app either.
    sandbox.pay_order(card["id"])
    on(sandbox, push(OrderPush("paid", str(card["id"]))))


def test_progress_sends_dispatched_then_delivered_once(sandbox):
    order_id = keg_order(sandbox)["id"]
    ref = str(order_id)
    with pytest.raises(Rejected, match="only in the Sellar app"):
        on(sandbox, push(OrderPush("progress", ref, target=OrderStatus.CONFIRMED)))
    with pytest.raises(Rejected, match="not confirmed yet"):
        on(sandbox, push(OrderPush("progress", ref, target=OrderStatus.DISPATCHED)))
    assert puts(sandbox, order_id) == []
    assert not sandbox.warnings  # confirmedAt is never written

    sandbox.confirm_order(order_id)
    on(sandbox, push(OrderPush("progress", ref, target=OrderStatus.CONFIRMED)))  # done already
    on(sandbox, push(OrderPush("progress", ref, target=OrderStatus.DELIVERED)))
    on(sandbox, push(OrderPush("progress", ref, target=OrderStatus.DISPATCHED)))  # behind: no-op
    on(sandbox, push(OrderPush("progress", ref, target=OrderStatus.DELIVERED)))

    assert [list(body) for body in puts(sandbox, order_id)] == [["dispatchedAt"], ["deliveredAt"]]
    assert on(sandbox, one_order(order_id)).status is OrderStatus.DELIVERED


def test_progress_of_a_cancelled_order_is_refused(sandbox):
    order_id = keg_order(sandbox)["id"]
    sandbox.cancel_order(order_id)
    with pytest.raises(Rejected, match="is cancelled"):
        on(sandbox, push(OrderPush("progress", str(order_id), target=OrderStatus.DISPATCHED)))


def test_an_order_from_an_unknown_retailer_maps_with_its_retailer_ref(sandbox):
    stranger = sandbox.add_retailer("The Pilchard Inn", connected=False)
    placed = sandbox.place_order(
        stranger["id"], [{"product_id": sandbox.product_by_sku("HP-CAN-24")["id"], "quantity": 1}]
    )

    async def customers(client: SellarClient) -> list[Any]:
        return [c for page in await collect(client.fetch_retailers()) for c in page]

    known = {c.ref for c in on(sandbox, customers)}
    order = on(sandbox, one_order(placed["id"]))
    assert order.customer is not None
    assert order.customer.ref == f"retailer:{stranger['id']}"
    assert order.customer.name == "The Pilchard Inn"
    assert order.customer.ref not in known  # not a customer yet: the merchant maps or creates
    assert f"retailer:{sandbox.retailer_id('The Anchor Inn')}" in known
    assert order.status is OrderStatus.REQUESTED and order.lines[0].quantity == 1


def test_key_rotation_makes_the_old_key_fail_without_showing_it(sandbox):
    old = sandbox.token
    sandbox.rotate_key()

    with pytest.raises(AuthFailed) as caught:
        on(sandbox, all_orders(), token=old)
    assert old not in str(caught.value) and old not in repr(caught.value.args)
    assert "revoked or is wrong" in caught.value.message
    assert flat(on(sandbox, all_orders()))  # the new key works


def test_an_error_envelope_in_a_200_answer_is_an_error(sandbox):
    order_id = keg_order(sandbox)["id"]
    sandbox.inject(
        {
            "path_contains": f"/orders/{order_id}",
            "method": "PUT",
            "status": 200,
            "body": {
                "statusCode": 400,
                "message": "Update to order failed",
                "error": "Bad Request",
            },
        }
    )
    with pytest.raises(Rejected, match="Update to order failed"):
        on(sandbox, push(OrderPush("invoice", str(order_id), invoice_number="KCB-1")))
    assert sandbox.orders[order_id]["customInvoiceNumber"] is None


def test_sandbox_refusals_come_back_as_rejected_with_sellars_words(sandbox):
    order_id = keg_order(sandbox)["id"]
    sandbox.confirm_order(order_id)
    # The client reads an empty number, then someone types one in Sellar before the write.
    sandbox.inject({"path_contains": f"/orders/{order_id}", "method": "GET", "status": 200,
                    "body": {"data": sandbox.order_payload(order_id) | {"customInvoiceNumber": ""}}})  # fmt: skip
    sandbox.orders[order_id]["customInvoiceNumber"] = "KCB-9"
    with pytest.raises(Rejected, match="only be set while it is empty"):
        on(sandbox, push(OrderPush("invoice", str(order_id), invoice_number="KCB-10")))


def test_unknown_orders_are_not_found(sandbox):
    with pytest.raises(NotFound, match="does not exist"):
        on(sandbox, one_order(99_999_999))
    with pytest.raises(NotFound):
        on(sandbox, push(OrderPush("paid", "99999999")))


def test_webhooks_register_once_and_point_at_orders_to_fetch(sandbox):
    url = "https://erp.example.test/hooks/sellar"

    async def register(client: SellarClient) -> Any:
        first = await client.register_webhook(url)
        second = await client.register_webhook(url)
        return first, second, await client.list_webhooks()

    first, second, listed = on(sandbox, register)
    assert [h.type for h in first] == ["order.created", "order.updated"]
    assert first == second == listed
    assert len(sandbox.requests_to("/webhooks", "POST")) == 2

    placed = keg_order(sandbox)
    event = sandbox.webhook_events[-1]
    assert (event["type"], event["urls"]) == ("order.created", [url])
    delivery = json.dumps({"type": event["type"], "data": sandbox.order_payload(event["orderId"])})
    order = on(sandbox, one_order(webhook_order_id(delivery)))
    assert order.external_id == str(placed["id"])

    async def unregister(client: SellarClient) -> Any:
        await client.delete_webhook(first[0].id)
        await client.delete_webhook(first[0].id)  # already gone: fine
        return await client.list_webhooks()

    assert [h.type for h in on(sandbox, unregister)] == ["order.updated"]
    with pytest.raises(ValueError, match="http"):
        on(sandbox, lambda client: client.register_webhook("ftp://erp.example.test"))


def test_throttle_waits_for_retry_after_and_goes_on(sandbox):
    sandbox.inject(
        {"path_contains": "/orders", "status": 429, "body": {"statusCode": 429},
         "headers": {"Retry-After": "7"}}
    )  # fmt: skip
    sleeps = Sleeps()
    assert on(sandbox, one_order(48201), sleep=sleeps).external_id == "48201"
    assert sleeps.calls == [pytest.approx(7, abs=0.1)]


def test_unreachable_server_is_connection_failed_without_the_key():
    twin = SellarSandbox()
    base_url = twin.start()
    key = twin.token
    twin.stop()

    async def go() -> None:
        async with SellarClient(base_url, "", key, sleep=Sleeps(), timeout=2) as client:
            await client.check_connection()

    with pytest.raises(ConnectionFailed) as caught:
        run(go())
    assert key not in str(caught.value)


def test_deleting_a_webhook_at_a_wrong_address_is_not_silent():
    with pytest.raises(NotFound, match="check the API address"):
        run(_delete_hook(answer(404, {"message": "Cannot DELETE /webhooks/17"})))
    run(_delete_hook(answer(400, {"statusCode": 400, "message": "Webhook does not exist"})))


async def _delete_hook(handler: Callable[[httpx.Request], httpx.Response]) -> None:
    async with mock_client(handler) as client:
        await client.delete_webhook("17")
