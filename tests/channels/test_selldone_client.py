"""SelldoneClient: request shapes and error handling (MockTransport), then the real
client against the Selldone sandbox over loopback HTTP.

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
    NotFound,
    PayloadError,
    RateLimited,
    Rejected,
    ServerError,
)
from app.channels.selldone.client import (
    DEFAULT_BASE_URL,
    ERP_SCOPES,
    SelldoneClient,
    erp_token_link,
)
from app.core.models import ChannelListing, OrderPage, OrderPush, OrderStatus

TOKEN = "erp-token-0123456789abcdef"
SHOP = 3817


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


async def no_sleep(_seconds: float) -> None:
    """Retries and pacing happen without waiting in these tests."""


async def collect(pages: Any) -> list[Any]:
    return [page async for page in pages]


def mock_client(
    handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any
) -> SelldoneClient:
    return SelldoneClient(
        "https://api.selldone.test",
        SHOP,
        TOKEN,
        sleep=no_sleep,
        transport=httpx.MockTransport(handler),
        **kwargs,
    )


def basket(basket_id: int, *, updated: int = 1_741_944_000, **extra: Any) -> dict[str, Any]:
    data = {
        "id": basket_id,
        "type": "PHYSICAL",
        "status": "Payed",
        "delivery_state": "CheckQueue",
        "price": "10.00",
        "currency": "EUR",
        "updated_at": updated,
        "items": [{"id": basket_id * 10, "product_id": 1, "variant_id": None, "count": 1}],
        "buyer": None,
    }
    data.update(extra)
    return data


def call(handler: Callable[[httpx.Request], httpx.Response], action: str) -> Any:
    """Run one client action against a scripted server."""

    async def go() -> Any:
        async with mock_client(handler) as client:
            if action == "shop":
                return await client.check_connection()
            if action == "orders":
                return await collect(client.fetch_orders(None))
            if action == "stock":
                listing = ChannelListing("7", "7", None, "SKU", "Thing", 1)
                return await client.push_stock(listing, 3)
            raise AssertionError(action)

    return run(go())


# --- basics --------------------------------------------------------------------------


def test_client_meets_the_channel_protocol():
    client = SelldoneClient(DEFAULT_BASE_URL, SHOP, TOKEN)
    try:
        assert isinstance(client, ChannelClient)
        assert client.platform == "selldone"
        assert client.capabilities == {
            "orders", "listings", "stock_push", "progress",
            "partial_confirm", "tracking", "cancel", "return",
        }  # fmt: skip
    finally:
        run(client.aclose())


def test_constructor_validates_its_inputs():
    with pytest.raises(ValueError):
        SelldoneClient(DEFAULT_BASE_URL, SHOP, "")
    with pytest.raises(ValueError):
        SelldoneClient(DEFAULT_BASE_URL, "my-shop", TOKEN)


def test_erp_token_link_asks_for_every_scope_the_app_uses():
    link = erp_token_link()
    assert link.startswith("https://selldone.com/auth/erp?scopes[]=selldone:identification&")
    assert link.count("scopes[]=") == len(ERP_SCOPES) == 6
    assert "scopes[]=backoffice:product:write" in link
    assert erp_token_link(["backoffice:order:read"], locale_host="zh") == (
        "https://zh.selldone.com/auth/erp?scopes[]=backoffice:order:read"
    )
    assert erp_token_link(["a:b"], locale_host="de.selldone.com").startswith(
        "https://de.selldone.com/auth/erp?"
    )


def test_order_request_shape_and_overlap():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"orders": [], "total": 0})

    async def go() -> None:
        async with mock_client(handler, page_size=500, overlap_seconds=120) as client:
            await collect(client.fetch_orders(1_741_944_000.7))

    run(go())
    (request,) = seen
    query = parse_qs(urlsplit(str(request.url)).query)
    assert request.url.path == f"/shops/{SHOP}/process-center/baskets-PHYSICAL"
    assert query["statuses[]"] == ["Payed", "COD"]
    assert query["with[]"] == ["items", "buyer", "products"]
    assert query["limit"] == ["250"]  # capped at Selldone's maximum
    assert query["offset"] == ["0"]
    assert query["updated_at"] == [str(1_741_944_000 - 120)]
    assert (query["sortBy"], query["sortDesc"]) == (["id"], ["false"])
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Accept"] == "application/json"


def test_paging_steps_back_when_orders_leave_the_filter():
    """Order 1 stops matching between two pages: order 3 slides back and is still read."""
    orders = {1: basket(1), 2: basket(2), 3: basket(3), 4: basket(4), 5: basket(5)}
    offsets: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        limit = int(request.url.params["limit"])
        offsets.append(offset)
        if len(offsets) == 2:
            orders.pop(1)  # e.g. paid order cancelled while we page
        matching = [orders[key] for key in sorted(orders)]
        return httpx.Response(
            200, json={"orders": matching[offset : offset + limit], "total": len(matching)}
        )

    async def go() -> list[OrderPage]:
        async with mock_client(handler, page_size=2) as client:
            return await collect(client.fetch_orders(None))

    pages = run(go())
    ids = [order.external_id for page in pages for order in page.orders]
    assert sorted(ids) == ["1", "2", "3", "4", "5"]
    assert len(ids) == len(set(ids))  # re-read orders that did not change are not repeated
    assert offsets == [0, 2, 1, 3]


def test_bad_baskets_are_quarantined_and_the_page_goes_on():
    def handler(_request: httpx.Request) -> httpx.Response:
        bad_count = basket(2)
        bad_count["items"][0]["count"] = "many"
        body = {
            "orders": [basket(1), bad_count, basket(3, type="VIRTUAL"), {"status": "Payed"}],
            "total": 4,
        }
        return httpx.Response(200, json=body)

    (page,) = call(handler, "orders")
    assert [order.external_id for order in page.orders] == ["1"]
    assert [(q.kind, q.external_id) for q in page.quarantined] == [
        ("order", "2"),
        ("order", "3"),
        ("order", "?"),
    ]
    assert "count is not a number" in page.quarantined[0].reason
    assert "not a PHYSICAL" in page.quarantined[1].reason
    assert page.quarantined[2].raw == {"status": "Payed"}


# --- error handling ------------------------------------------------------------------


def answer(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Any:
    def handler(_request: httpx.Request) -> httpx.Response:
        if isinstance(body, str | bytes):
            return httpx.Response(status, content=body, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return handler


def test_validation_errors_are_joined_readably():
    body = {
        "message": "The given data was invalid.",
        "errors": {"quantity": ["The quantity must be at least 0.", "It must be a number."]},
    }
    with pytest.raises(Rejected) as caught:
        call(answer(422, body), "stock")
    assert caught.value.message == "quantity: The quantity must be at least 0. It must be a number."


def test_error_true_with_http_200_is_a_failure():
    body = {"error": True, "error_msg": "Product is not physical.", "code": 47}
    with pytest.raises(Rejected, match="Product is not physical"):
        call(answer(200, body), "stock")


def test_success_false_is_a_failure():
    with pytest.raises(Rejected):
        call(answer(200, {"success": False}), "stock")


@pytest.mark.parametrize(
    "body",
    [
        {"error": True, "error_msg": "Token has no access.", "code": 201},
        {"error": True, "error_msg": "nope", "code": "201"},
        {"error": True, "error_msg": "missing_scope backoffice:product:write"},
    ],
)
def test_access_errors_become_access_denied(body):
    with pytest.raises(AccessDenied):
        call(answer(200, body), "stock")


def test_403_names_the_missing_permission():
    body = {"error": True, "error_msg": "token_has_no_access", "code": 201}
    with pytest.raises(AccessDenied) as caught:
        call(answer(403, body), "orders")
    assert "backoffice:order:read" in caught.value.message


def test_401_is_auth_failed_without_the_token():
    with pytest.raises(AuthFailed) as caught:
        call(answer(401, {"message": "Unauthenticated."}), "shop")
    assert "revoked or is wrong" in caught.value.message
    assert TOKEN not in str(caught.value)


def test_404_is_not_found():
    with pytest.raises(NotFound, match="Shop not found"):
        call(answer(404, {"error": True, "error_msg": "Shop not found."}), "shop")


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
        call(answer(429, {"message": "Too Many Attempts."}, {"Retry-After": "900"}), "shop")
    assert caught.value.retry_after == 900


@pytest.mark.parametrize("body", ["<html>oops</html>", b"{not json", "[1, 2]"])
def test_unreadable_answers_are_payload_errors(body):
    with pytest.raises(PayloadError):
        call(answer(200, body), "shop")


def test_error_text_echoing_the_token_is_redacted():
    body = {"error": True, "error_msg": f"Bad token {TOKEN}"}
    with pytest.raises(Rejected) as caught:
        call(answer(200, body), "stock")
    assert TOKEN not in str(caught.value)


def test_unsupported_push_kinds_are_rejected_without_a_request():
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json={})

    async def go(kind: str) -> None:
        async with mock_client(handler) as client:
            await client.push_order(OrderPush(kind=kind, order_external_id="1"))

    for kind in ("paid", "invoice", "teleport"):
        with pytest.raises(Rejected, match="Selldone has no"):
            run(go(kind))
    assert requests == []


def test_bare_basket_answer_is_accepted_for_reads():
    """GET basket may answer ``{"basket": {...}}`` or the bare basket."""
    posted: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json=basket(9, delivery_state="OrderConfirm"))
        posted.append(json.loads(request.content))
        return httpx.Response(200, json={"delivery_state": posted[-1]["state"], "changed": True})

    async def go() -> None:
        async with mock_client(handler) as client:
            push = OrderPush("progress", "9", target=OrderStatus.CONFIRMED)
            await client.push_order(push)  # already confirmed: nothing to send
            assert posted == []
            await client.push_order(OrderPush("progress", "9", target=OrderStatus.DISPATCHED))

    run(go())
    assert [body["state"] for body in posted] == ["PreparingOrder", "SentOrder"]
    assert all(set(body) == {"state", "list", "delivery_info"} for body in posted)


def test_a_step_the_server_did_not_take_is_a_failure():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json={"basket": basket(9)})
        return httpx.Response(200, json={"delivery_state": "CheckQueue", "changed": False})

    async def go() -> None:
        async with mock_client(handler) as client:
            await client.push_order(OrderPush("progress", "9", target=OrderStatus.CONFIRMED))

    with pytest.raises(Rejected, match="kept order 9 at CheckQueue"):
        run(go())


# === against the sandbox over loopback HTTP ==========================================

from app.channels.errors import ConnectionFailed  # noqa: E402
from app.channels.selldone.sandbox import SelldoneSandbox  # noqa: E402

Action = Callable[[SelldoneClient], Coroutine[Any, Any, Any]]


class Sleeps:
    """An injected sleep that records what the client wanted to wait, and waits not."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sandbox() -> Any:
    with SelldoneSandbox(seed=1) as twin:
        yield twin


def on(sandbox: SelldoneSandbox, action: Action, *, token: str | None = None, **kwargs: Any) -> Any:
    """Run ``action`` with a fresh client talking to the sandbox."""
    kwargs.setdefault("sleep", Sleeps())

    async def go() -> Any:
        client = SelldoneClient(sandbox.base_url, sandbox.shop_id, token or sandbox.token, **kwargs)
        async with client:
            return await action(client)

    return run(go())


def all_orders(since: float | None = None) -> Action:
    async def action(client: SelldoneClient) -> list[OrderPage]:
        return await collect(client.fetch_orders(since))

    return action


def push(order_push: OrderPush) -> Action:
    async def action(client: SelldoneClient) -> None:
        await client.push_order(order_push)

    return action


def catalogue(sandbox: SelldoneSandbox) -> tuple[dict, dict, dict]:
    """A physical product with variants and two plain ones with SKUs, from the seed."""
    physical = [p for p in sandbox.products.values() if p["type"] == "PHYSICAL"]
    varied = next(p for p in physical if p["product_variants"])
    plain = [p for p in physical if not p["product_variants"] and p["sku"] and not p["unit_float"]]
    return varied, plain[0], plain[1]


def listing_of(product: dict, variant: dict | None = None) -> ChannelListing:
    pid = str(product["id"])
    vid = str(variant["id"]) if variant else None
    return ChannelListing(f"{pid}:{vid}" if vid else pid, pid, vid, "", "", None)


def new_order(sandbox: SelldoneSandbox, **kwargs: Any) -> dict[str, Any]:
    """Play the buyer: three lines (a variant, two plain products) unless told otherwise."""
    varied, plain, other = catalogue(sandbox)
    items = kwargs.pop(
        "items",
        [
            {"product_id": varied["id"], "variant_id": varied["product_variants"][0]["id"], "count": 2},
            {"product_id": plain["id"], "variant_id": None, "count": 1},
            {"product_id": other["id"], "variant_id": None, "count": 1},
        ],
    )  # fmt: skip
    return sandbox.create_order(items, **kwargs)


def test_check_connection_reads_the_shop(sandbox):
    async def action(client: SelldoneClient) -> Any:
        return await client.check_connection()

    info = on(sandbox, action)
    assert (info.name, info.account_id, info.currency) == ("Nordwolle Outdoor", "3817", "EUR")


def test_full_import_equals_the_paid_physical_orders(sandbox):
    pages = on(sandbox, all_orders(), page_size=10)

    expected = {b["id"]: len(b["items"]) for b in sandbox.physical_orders(("Payed", "COD"))}
    imported = {int(o.external_id): len(o.lines) for page in pages for o in page.orders}
    assert imported == expected
    assert all(not page.quarantined for page in pages)
    assert len(sandbox.requests_to("baskets-PHYSICAL", "GET")) == -(-len(expected) // 10)


def test_second_sync_makes_one_request_and_brings_nothing_new(sandbox):
    first = [o for page in on(sandbox, all_orders()) for o in page.orders]
    since = max(order.updated_at for order in first)
    sandbox.clear_request_log()

    again = [o for page in on(sandbox, all_orders(since)) for o in page.orders]

    assert len(sandbox.requests_to("baskets-PHYSICAL", "GET")) == 1
    # The overlap window may bring back recently changed orders, but only those.
    known = {o.external_id: o.updated_at for o in first}
    assert all(known.get(o.external_id) == o.updated_at for o in again)
    assert all(o.updated_at > since - 120 for o in again)
    query = sandbox.requests_to("baskets-PHYSICAL")[0]["query"]
    assert query["updated_at"] == str(int(since) - 120)


def test_second_sync_without_overlap_yields_nothing(sandbox):
    first = [o for page in on(sandbox, all_orders()) for o in page.orders]
    since = max(order.updated_at for order in first)
    assert on(sandbox, all_orders(since), overlap_seconds=0) == []


def test_order_placed_after_a_sync_comes_with_the_next_one(sandbox):
    first = [o for page in on(sandbox, all_orders()) for o in page.orders]
    placed = new_order(sandbox, status="COD")

    again = [o for page in on(sandbox, all_orders(max(o.updated_at for o in first))) for o in page.orders]  # fmt: skip
    (order,) = [o for o in again if o.external_id == str(placed["id"])]
    varied, plain, other = catalogue(sandbox)
    variant = varied["product_variants"][0]
    assert order.status is OrderStatus.REQUESTED
    assert [line.listing_id for line in order.lines] == [
        f"{varied['id']}:{variant['id']}",
        str(plain["id"]),
        str(other["id"]),
    ]
    assert order.lines[0].sku == variant["sku"]
    assert order.lines[1].sku == plain["sku"]


def test_partial_confirm_sends_exactly_the_chosen_items(sandbox):
    basket = new_order(sandbox)
    first, _, third = (item["id"] for item in basket["items"])

    on(
        sandbox,
        push(
            OrderPush(
                "progress",
                str(basket["id"]),
                target=OrderStatus.CONFIRMED,
                fulfil_line_ids=[str(first), str(third)],
            )
        ),
    )

    (call_,) = sandbox.requests_to(f"/baskets/{basket['id']}/state", "POST")
    assert call_["json"] == {"state": "OrderConfirm", "list": [first, third], "delivery_info": None}
    checks = {item["id"]: item["check"] for item in sandbox.orders[basket["id"]]["items"]}
    assert checks == {first: True, basket["items"][1]["id"]: False, third: True}


def test_confirm_with_a_line_of_another_order_is_refused_before_sending(sandbox):
    basket = new_order(sandbox)
    with pytest.raises(Rejected, match="has no line 1"):
        on(
            sandbox,
            push(OrderPush("progress", str(basket["id"]), OrderStatus.CONFIRMED, ["1"])),
        )
    assert sandbox.state_calls(basket["id"]) == []


def test_dispatch_from_the_queue_walks_every_step_once(sandbox):
    basket = new_order(sandbox)
    dispatched = OrderPush("progress", str(basket["id"]), target=OrderStatus.DISPATCHED)

    on(sandbox, push(dispatched))
    assert sandbox.state_calls(basket["id"]) == ["OrderConfirm", "PreparingOrder", "SentOrder"]
    assert sandbox.orders[basket["id"]]["delivery_state"] == "SentOrder"
    preparing = sandbox.requests_to(f"/baskets/{basket['id']}/state", "POST")[1]["json"]
    assert preparing["delivery_info"] == basket["delivery_info"]

    on(sandbox, push(dispatched))  # the outbox retries: nothing more is sent
    on(sandbox, push(OrderPush("progress", str(basket["id"]), target=OrderStatus.CONFIRMED)))
    assert sandbox.state_calls(basket["id"]) == ["OrderConfirm", "PreparingOrder", "SentOrder"]

    on(sandbox, push(OrderPush("progress", str(basket["id"]), target=OrderStatus.DELIVERED)))
    assert sandbox.state_calls(basket["id"])[-1] == "ToCustomer"
    assert len(sandbox.state_calls(basket["id"])) == 4


def test_error_true_with_http_200_raises_rejected(sandbox):
    sandbox.inject(
        {
            "path_contains": "/quantity",
            "status": 200,
            "body": {
                "error": True,
                "error_msg": "Inventory is locked by a stock count.",
                "code": 77,
            },
        }
    )

    _, plain, _ = catalogue(sandbox)

    async def action(client: SelldoneClient) -> None:
        await client.push_stock(listing_of(plain), 9)

    with pytest.raises(Rejected, match="Inventory is locked"):
        on(sandbox, action)


def test_revoked_token_raises_auth_failed_without_the_token(sandbox):
    token = sandbox.issue_token()
    sandbox.revoke_token(token)

    async def action(client: SelldoneClient) -> Any:
        return await client.check_connection()

    with pytest.raises(AuthFailed) as caught:
        on(sandbox, action, token=token)
    assert token not in str(caught.value)
    assert token not in repr(caught.value.args)
    assert "revoked" in caught.value.message


def test_token_without_product_write_names_the_permission(sandbox):
    token = sandbox.issue_token(["backoffice:order:read", "backoffice:product:read"])

    _, plain, _ = catalogue(sandbox)

    async def action(client: SelldoneClient) -> None:
        await client.push_stock(listing_of(plain), 1)

    with pytest.raises(AccessDenied, match="backoffice:product:write"):
        on(sandbox, action, token=token)


def test_stock_push_sets_variant_and_plain_product_quantities(sandbox):
    varied, plain, other = catalogue(sandbox)
    variant = varied["product_variants"][0]

    async def action(client: SelldoneClient) -> None:
        await client.push_stock(listing_of(varied, variant), 17)
        await client.push_stock(listing_of(plain), 5)
        await client.push_stock(listing_of(other), -4)

    on(sandbox, action)
    assert sandbox.product_quantity(varied["id"], variant["id"]) == 17
    assert sandbox.product_quantity(plain["id"]) == 5
    assert sandbox.product_quantity(other["id"]) == 0  # never below zero
    pushed = [e["json"] for e in sandbox.requests_to("/quantity", "POST")]
    assert pushed == [{"quantity": 17}, {"quantity": 5}, {"quantity": 0}]


def test_tracking_push_is_stored_and_not_repeated(sandbox):
    basket = new_order(sandbox)
    tracking = OrderPush(
        "tracking",
        str(basket["id"]),
        tracking_code="00340434161094042557",
        tracking_url="https://www.dhl.de/track?piececode=00340434161094042557",
    )

    on(sandbox, push(tracking))
    on(sandbox, push(tracking))

    info = sandbox.orders[basket["id"]]["delivery_info"]
    assert info["tracking_code"] == "00340434161094042557"
    assert info["tracking_url"].endswith("00340434161094042557")
    assert len(sandbox.requests_to(f"/baskets/{basket['id']}/tracking", "PUT")) == 1
    orders = [o for page in on(sandbox, all_orders()) for o in page.orders]
    (order,) = [o for o in orders if o.external_id == str(basket["id"])]
    assert order.tracking_code == "00340434161094042557"


def test_cancel_push_gives_the_stock_back(sandbox):
    _, plain, _ = catalogue(sandbox)
    before = sandbox.product_quantity(plain["id"])
    basket = new_order(sandbox, items=[{"product_id": plain["id"], "variant_id": None, "count": 2}])
    assert sandbox.product_quantity(plain["id"]) == before - 2

    cancel = OrderPush("cancel", str(basket["id"]), reason="LackOfInventory")
    on(sandbox, push(cancel))
    on(sandbox, push(cancel))

    assert sandbox.product_quantity(plain["id"]) == before
    assert sandbox.orders[basket["id"]]["reject"] == "LackOfInventory"
    assert len(sandbox.requests_to(f"/baskets/{basket['id']}/reject", "PUT")) == 1
    orders = [o for page in on(sandbox, all_orders()) for o in page.orders]
    (order,) = [o for o in orders if o.external_id == str(basket["id"])]
    assert order.status is OrderStatus.CANCELLED


def test_cancel_with_a_free_text_reason_uses_shop_owner_fault(sandbox):
    basket = new_order(sandbox)
    on(sandbox, push(OrderPush("cancel", str(basket["id"]), reason="customer changed mind")))
    assert sandbox.orders[basket["id"]]["reject"] == "ShopOwnerFault"


def test_return_of_a_sent_order_and_refusal_once_delivered(sandbox):
    basket = new_order(sandbox)
    order_id = str(basket["id"])
    on(sandbox, push(OrderPush("progress", order_id, target=OrderStatus.DISPATCHED)))

    on(sandbox, push(OrderPush("return", order_id)))
    on(sandbox, push(OrderPush("return", order_id)))  # a retry after success sends nothing
    assert sandbox.orders[basket["id"]]["delivery_state"] == "PreparingOrder"
    assert len(sandbox.requests_to(f"/baskets/{order_id}/delivery-returned", "POST")) == 1

    on(sandbox, push(OrderPush("progress", order_id, target=OrderStatus.DELIVERED)))
    with pytest.raises(Rejected, match="only accepts returns of sent orders"):
        on(sandbox, push(OrderPush("return", order_id)))


def test_progress_of_a_cancelled_order_is_refused(sandbox):
    basket = new_order(sandbox)
    on(sandbox, push(OrderPush("cancel", str(basket["id"]))))
    with pytest.raises(Rejected, match="cancelled"):
        on(sandbox, push(OrderPush("progress", str(basket["id"]), OrderStatus.CONFIRMED)))
    assert sandbox.state_calls(basket["id"]) == []


def test_unknown_order_is_not_found(sandbox):
    with pytest.raises(NotFound, match="Order not found"):
        on(sandbox, push(OrderPush("progress", "99999999", OrderStatus.CONFIRMED)))


def test_listings_include_variants_with_their_skus(sandbox):
    async def action(client: SelldoneClient) -> list[list[ChannelListing]]:
        return await collect(client.fetch_listings())

    pages = on(sandbox, action, page_size=8)
    listings = {item.external_id: item for page in pages for item in page}

    expected: dict[str, tuple[str, float]] = {}
    for product in sandbox.products.values():
        if product["type"] != "PHYSICAL":
            continue
        if product["product_variants"]:
            for variant in product["product_variants"]:
                expected[f"{product['id']}:{variant['id']}"] = (variant["sku"] or "", variant["quantity"])  # fmt: skip
        else:
            expected[str(product["id"])] = (product["sku"] or "", product["quantity"])
    assert {key: (v.sku, v.quantity) for key, v in listings.items()} == expected
    varied, plain, _ = catalogue(sandbox)
    variant = varied["product_variants"][0]
    as_variant = listings[f"{varied['id']}:{variant['id']}"]
    assert (as_variant.variant_id, as_variant.sku) == (str(variant["id"]), variant["sku"])
    assert listings[str(plain["id"])].variant_id is None
    assert str(varied["id"]) not in listings  # a product with variants is not a listing itself
    assert len(pages) > 1


def test_throttle_waits_for_retry_after_and_goes_on(sandbox):
    sandbox.inject(
        {
            "path_contains": "/shops/me/",
            "status": 429,
            "body": {"message": "Too Many Attempts."},
            "headers": {"Retry-After": "7"},
        }
    )
    sleeps = Sleeps()

    async def action(client: SelldoneClient) -> Any:
        return await client.check_connection()

    assert on(sandbox, action, sleep=sleeps).name == "Nordwolle Outdoor"
    assert sleeps.calls == [pytest.approx(7, abs=0.1)]
    assert [e["status"] for e in sandbox.requests_to("/shops/me/")] == [429, 200]


def test_server_errors_are_retried_then_reported(sandbox):
    sandbox.inject({"path_contains": "/shops/me/", "status": 503, "count": 10})

    async def action(client: SelldoneClient) -> Any:
        return await client.check_connection()

    with pytest.raises(ServerError):
        on(sandbox, action)
    assert len(sandbox.requests_to("/shops/me/")) == 7  # a read: one try and six retries


def test_unreachable_server_is_connection_failed_without_token():
    twin = SelldoneSandbox()
    base_url = twin.start()
    token = twin.token
    twin.stop()

    async def go() -> None:
        async with SelldoneClient(base_url, 3817, token, sleep=Sleeps(), timeout=2) as client:
            await client.check_connection()

    with pytest.raises(ConnectionFailed) as caught:
        run(go())
    assert token not in str(caught.value)
