"""RetailCrmClient: request shapes and error handling (MockTransport), then the client
as the account's warehouse system against the RetailCRM sandbox over loopback HTTP,
with the official ``retailcrm`` client as an independent reader.

No pytest-asyncio: each test drives its coroutine with ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import calendar
import json
import time
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import httpx
import pytest
import retailcrm

from app.channels.base import BatchStockClient, ChannelClient
from app.channels.errors import (
    AccessDenied,
    AuthFailed,
    NotFound,
    PayloadError,
    RateLimited,
    Rejected,
    ServerError,
)
from app.channels.retailcrm import inventory as inv
from app.channels.retailcrm.callback import CallbackReceiver
from app.channels.retailcrm.client import NO_CALLBACKS_BASE_URL, RetailCrmClient
from app.channels.retailcrm.inventory import InventoryEntry
from app.channels.retailcrm.sandbox import RetailCrmSandbox
from app.core.models import ChannelListing, OrderPush, OrderStatus

KEY = "k3yK3yk3yK3yk3yK3yk3yK3yk3yK3y12"
DISPATCH = OrderStatus.DISPATCHED


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


async def no_sleep(_seconds: float) -> None:
    """Pacing and retries without waiting (scripted servers only)."""


def mock_client(handler: Callable[[httpx.Request], httpx.Response], **kw: Any) -> RetailCrmClient:
    return RetailCrmClient(
        "", "shop", KEY, sleep=no_sleep, transport=httpx.MockTransport(handler), **kw
    )


def scripted(*answers: tuple[int, Any]) -> tuple[list[httpx.Request], Callable]:
    """A server answering ``answers`` in turn (the last one forever), recording requests."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status, body = answers[min(len(seen), len(answers)) - 1]
        if isinstance(body, str):
            return httpx.Response(status, text=body, headers={"Content-Type": "text/html"})
        return httpx.Response(status, json=body)

    return seen, handler


def form_of(request: httpx.Request) -> dict[str, str]:
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    return dict(parse_qsl(request.content.decode("ascii")))


def listing(offer_id: int | str) -> ChannelListing:
    return ChannelListing(str(offer_id), "1", str(offer_id), "SKU", "Offer", None)


# --- the protocol and the wire ---------------------------------------------------------


def test_client_meets_both_protocols():
    client = RetailCrmClient("", "shop.retailcrm.ru", KEY)
    try:
        assert isinstance(client, ChannelClient) and isinstance(client, BatchStockClient)
        assert client.platform == "retailcrm"
        assert client.capabilities == {"orders", "listings", "stock_push", "stock_batch", "progress"}  # fmt: skip
        assert client.progress_targets == {OrderStatus.DISPATCHED}
        assert client.base_url == "https://shop.retailcrm.ru/api/v5"
        assert client._session.timeout == 30.0  # every request has a timeout
    finally:
        run(client.aclose())


def test_constructor_validates_its_inputs():
    with pytest.raises(ValueError, match="API key is required"):
        RetailCrmClient("", "shop", " ")
    with pytest.raises(ValueError, match="20, 50, 100"):
        RetailCrmClient("", "shop", KEY, page_size=250)
    with pytest.raises(ValueError, match="account address"):
        RetailCrmClient("", "", KEY)


def test_reads_send_the_key_header_and_bracket_filters_with_a_timeout():
    seen, handler = scripted((200, {"success": True, "pagination": {"totalPageCount": 1}, "offers": []}))  # fmt: skip

    async def go() -> None:
        async with mock_client(handler, site="shop-1") as client:
            await client.fetch_inventories("main")

    run(go())
    (request,) = seen
    assert request.url.path == "/api/v5/store/inventories"
    assert request.headers["X-API-KEY"] == KEY and "apiKey" not in str(request.url)
    assert parse_qs(urlsplit(str(request.url)).query) == {
        "filter[details]": ["1"], "filter[sites][]": ["shop-1"], "limit": ["100"], "page": ["1"],
    }  # fmt: skip
    assert all(request.extensions["timeout"].values())


def test_upload_posts_a_form_with_json_offers_and_the_site():
    seen, handler = scripted((200, {"success": True, "processedOffersCount": 2}))
    entries = [InventoryEntry("A 1", "main", 5, 10.5), InventoryEntry("B2", "north", 0)]

    async def go() -> Any:
        async with mock_client(handler, site="shop-1") as client:
            return await client.upload_inventories(entries)

    result = run(go())
    assert result == inv.UploadResult(sent=2, batches=1, not_found=[], processed=2)
    (request,) = seen
    assert request.method == "POST" and request.url.path == "/api/v5/store/inventories/upload"
    form = form_of(request)
    assert list(form) == ["site", "offers"] and form["site"] == "shop-1"
    assert json.loads(form["offers"]) == [
        {"externalId": "A 1", "stores": [{"code": "main", "available": 5, "purchasePrice": 10.5}]},
        {"externalId": "B2", "stores": [{"code": "north", "available": 0}]},
    ]


@pytest.mark.parametrize(
    ("status", "body", "error", "words"),
    [
        (
            403,
            {"success": False, "errorMsg": 'Wrong "apiKey" value.'},
            AuthFailed,
            "rejected the API key",
        ),  # fmt: skip
        (
            403,
            {"success": False, "errorMsg": '"apiKey" is missing.'},
            AuthFailed,
            "rejected the API key",
        ),  # fmt: skip
        (
            403,
            {"success": False, "errorMsg": "Access denied."},
            AccessDenied,
            "may not read or change the list of stores",
        ),  # fmt: skip
        (
            404,
            {"success": False, "errorMsg": "Account does not exist."},
            NotFound,
            "no RetailCRM account at shop.retailcrm.ru",
        ),  # fmt: skip
        (405, "<html><body>405 Not Allowed</body></html>", NotFound, "no RetailCRM account"),
        (
            404,
            {"success": False, "errorMsg": "API method not found"},
            NotFound,
            "does not answer like the RetailCRM API v5",
        ),  # fmt: skip
        (
            400,
            {"success": False, "errorMsg": "Validation error", "errors": {"filter[x]": "Bad."}},
            Rejected,
            "Validation error (filter[x]: Bad.)",
        ),  # fmt: skip
        (200, {"success": False, "errorMsg": "Something is off"}, Rejected, "Something is off"),
        (500, {"success": False}, ServerError, "HTTP 500"),
        (200, "<html>ok</html>", PayloadError, "not a JSON object"),
    ],
)
def test_errors_become_readable_channel_errors(status, body, error, words):
    _seen, handler = scripted((status, body))

    async def go() -> None:
        async with mock_client(handler) as client:
            await client.fetch_stores()

    with pytest.raises(error) as caught:
        run(go())
    assert words in caught.value.message and KEY not in str(caught.value)


def test_503_is_retried_then_reported_as_rate_limiting():
    html = "<html><head><title>503 Service Temporarily Unavailable</title></head></html>"
    seen, handler = scripted((503, html))

    async def go() -> None:
        async with mock_client(handler) as client:
            await client.fetch_stores()

    with pytest.raises(RateLimited, match="at most 10 per second") as caught:
        run(go())
    assert caught.value.transient and len(seen) == 7  # a read: one try and six waits


def test_a_bad_product_is_quarantined_and_the_catalogue_goes_on():
    good = {"id": 1, "offers": [{"id": 11, "article": "A"}, {"id": 12, "article": "B"}]}
    bad = {"id": 2, "offers": [{"id": 21, "quantity": "lots"}]}
    _seen, handler = scripted(
        (200, {"success": True, "pagination": {"totalPageCount": 1}, "products": [good, bad]})
    )

    async def go() -> tuple[list, list]:
        async with mock_client(handler) as client:
            batches = [batch async for batch in client.fetch_listings()]
            return batches, client.quarantined_listings

    (batch,), quarantined = run(go())
    assert [item.external_id for item in batch] == ["11", "12"]
    assert [(q.kind, q.external_id) for q in quarantined] == [("listing", "2")]


def test_module_state_is_none_until_registered_but_a_missing_account_still_fails():
    async def state(handler: Callable) -> Any:
        async with mock_client(handler) as client:
            return await client.module_state()

    seen, never = scripted((404, {"success": False, "errorMsg": "Not found"}))
    assert run(state(never)) is None
    assert seen[0].url.path == "/api/v5/integration-modules/stockbridge"
    _seen, no_account = scripted((404, {"success": False, "errorMsg": "Account does not exist."}))
    with pytest.raises(NotFound, match="no RetailCRM account"):
        run(state(no_account))


def test_pushes_other_than_shipment_are_refused_without_a_request():
    seen, handler = scripted((200, {"success": True}))

    async def go(push: OrderPush) -> None:
        async with mock_client(handler, store_code="main") as client:
            await client.push_order(push)

    with pytest.raises(Rejected, match="only shipments"):
        run(go(OrderPush("tracking", "5001", tracking_code="X")))
    with pytest.raises(Rejected, match="only mark RetailCRM orders shipped"):
        run(go(OrderPush("progress", "5001", target=OrderStatus.DELIVERED)))
    assert seen == []


def test_stock_needs_a_store_to_go_to():
    seen, handler = scripted((200, {"success": True}))

    async def go() -> None:
        async with mock_client(handler) as client:
            await client.push_stock_batch([(listing(3001), 4)])

    with pytest.raises(Rejected, match="choose which RetailCRM store"):
        run(go())
    assert seen == []


# --- against the sandbox ---------------------------------------------------------------


def sandbox_client(box: RetailCrmSandbox, **kw: Any) -> RetailCrmClient:
    return RetailCrmClient(box.base_url, "", box.token, **kw)


def test_registration_then_a_1000_offer_upload_in_four_requests():
    with RetailCrmSandbox(seed=2, extra_offers=1000) as box:
        offer_ids = sorted(box.offers)[:1000]
        entries = [
            InventoryEntry(str(offer_id), "main" if n % 3 else "north", n % 17, 50 + n % 9, by="id")
            for n, offer_id in enumerate(offer_ids)
        ]

        async def go() -> tuple[Any, Any, Any, list]:
            async with sandbox_client(box, store_code="main") as client:
                registration = await client.register_module(None)
                state = await client.module_state()
                last_sent: dict = {}
                todo = inv.changed_entries(entries, last_sent)
                result = await client.upload_inventories(todo)
                last_sent = inv.sent_state(last_sent, todo, result.not_found)
                again = await client.upload_inventories(inv.changed_entries(entries, last_sent))
                levels = await client.fetch_inventories("main")
                return registration, state, (result, again), levels

        registration, state, (result, again), levels = run(go())
        assert registration.created and registration.client_id and not registration.callbacks
        assert registration.base_url == NO_CALLBACKS_BASE_URL
        assert state is not None and state.registered
        assert box.module["clientId"] == registration.client_id
        assert box.module["integrations"] == {"store": {"actions": []}}
        assert "logo" not in box.module  # optional, and Stockbridge has no public logo URL
        assert (result.sent, result.batches, result.not_found, result.processed) == (1000, 4, [], 1000)  # fmt: skip
        assert box.upload_requests == [250, 250, 250, 250]
        assert (again.sent, again.batches) == (0, 0)  # nothing changed: nothing sent
        assert len(box.requests_to("/store/inventories/upload")) == 4
        for entry in entries:
            assert box.stock(int(entry.offer), entry.store) == (
                entry.available,
                entry.purchase_price,
            )
        mine = {level.offer_id: level for level in levels}
        for entry in entries:
            if entry.store == "main":
                assert (mine[entry.offer].quantity, mine[entry.offer].purchase_price) == (entry.available, entry.purchase_price)  # fmt: skip
        # The official client, an independent reader, sees the same numbers. It shares
        # 127.0.0.1 (the limit is per IP) and does not pace itself: let a second pass.
        time.sleep(1.0)
        official = retailcrm.v5(box.root_url, box.token)
        seen: dict[tuple[str, str], tuple[float, float]] = {}
        for page in range(1, 12):
            answer = official.inventories({"details": 1}, limit=100, page=page).get_response()
            for offer in answer["offers"]:
                for store in offer["stores"]:
                    seen[(str(offer["id"]), store["store"])] = (store["quantity"], store["purchasePrice"])  # fmt: skip
            time.sleep(0.11)  # the official client does not pace itself
        assert not box.breaches
        for entry in entries:
            assert seen[(entry.offer, entry.store)] == (entry.available, entry.purchase_price)


def test_push_stock_batch_uses_the_default_store_and_names_unknown_offers():
    with RetailCrmSandbox(seed=1) as box:
        known = sorted(box.offers)[0]

        async def go() -> list[str]:
            async with sandbox_client(box, store_code="north") as client:
                missing = await client.push_stock_batch([(listing(known), 6), (listing(999999), 1)])
                with pytest.raises(NotFound, match="no offer 999999"):
                    await client.push_stock(listing(999999), 2)
                return missing

        assert run(go()) == ["999999"]
        assert box.stock(known, "north")[0] == 6
        (sent,) = json.loads(box.requests_to("/upload")[0]["form"]["offers"])[:1]
        assert sent == {
            "id": known,
            "stores": [{"code": "north", "available": 6}],
        }  # cost untouched


def test_dispatching_an_order_records_the_shipment_once():
    with RetailCrmSandbox(seed=1) as box:
        order = next(o for o in box.orders.values() if o["status"] == "assembling")
        push = OrderPush("progress", str(order["id"]), target=DISPATCH)

        async def go() -> None:
            async with sandbox_client(box, store_code="main") as client:
                await client.register_module(None)
                await client.push_order(push)
                await client.push_order(push)  # a retry: read first, nothing sent

        run(go())
        stored = box.orders[order["id"]]
        assert (stored["shipped"], stored["shipmentStore"]) == (True, "main")
        assert stored["shipmentDate"] == time.strftime("%Y-%m-%d", time.gmtime())
        (edit,) = box.requests_to("/edit", "POST")[1:]  # after the registration
        assert edit["path"] == f"/api/v5/orders/{order['id']}/edit"  # a manager's order: by id
        assert edit["form"]["by"] == "id" and edit["form"]["site"] == order["site"]


def test_a_shop_order_is_shipped_by_its_external_id():
    with RetailCrmSandbox(seed=1) as box:
        order = next(o for o in box.orders.values() if o.get("externalId") and o["status"] == "new")

        async def go() -> dict:
            async with sandbox_client(box, store_code="north") as client:
                await client.register_module(None)
                return await client.ship_order(str(order["id"]))

        saved = run(go())
        assert saved["shipped"] is True and saved["shipmentStore"] == "north"
        edit = box.requests_to("/edit", "POST")[-1]
        assert edit["path"] == f"/api/v5/orders/{order['externalId']}/edit"
        assert edit["form"]["by"] == "externalId"
        assert json.loads(edit["form"]["order"]) == {
            "shipped": True, "shipmentStore": "north", "shipmentDate": saved["shipmentDate"],
        }  # fmt: skip


def test_an_unregistered_module_cannot_ship_and_says_why():
    with RetailCrmSandbox(seed=1) as box:
        order = next(o for o in box.orders.values() if o["status"] == "assembling")

        async def go() -> None:
            async with sandbox_client(box, store_code="main") as client:
                await client.push_order(OrderPush("progress", str(order["id"]), target=DISPATCH))

        with pytest.raises(Rejected) as caught:
            run(go())
        message = caught.value.message
        assert "only a registered warehouse system may do that" in message
        assert "Register Stockbridge as the warehouse system" in message
        assert "RetailCRM said:" in message and caught.value.transient is False
        assert box.orders[order["id"]]["shipped"] is False


def test_a_cancelled_order_is_not_shipped():
    with RetailCrmSandbox(seed=1) as box:
        order = next(o for o in box.orders.values() if o["status"] == "cancel-other")

        async def go() -> None:
            async with sandbox_client(box, store_code="main") as client:
                await client.register_module(None)
                await client.push_order(OrderPush("progress", str(order["id"]), target=DISPATCH))

        with pytest.raises(Rejected, match="is cancelled; it cannot be shipped"):
            run(go())
        assert box.requests_to("/orders/", "POST") == []


def test_history_paging_misses_nothing_while_orders_change_between_pages():
    with RetailCrmSandbox(seed=4, extra_orders=50) as box:
        start = box.history[20]["id"]
        late_status: dict[str, str] = {}

        async def go() -> tuple[dict[str, Any], list[int]]:
            latest: dict[str, Any] = {}
            cursors: list[int] = []
            async with sandbox_client(box, page_size=20) as client:
                async for page, last in client.fetch_order_history(start):
                    cursors.append(last)
                    for order in page.orders:
                        latest[order.external_id] = order
                    if len(cursors) == 2:
                        # Between pages: a manager moves an order already read, and a
                        # shop sends a new one.
                        moved = next(iter(latest))
                        box.set_order_status(int(moved), "send-to-delivery")
                        made = box.create_order([(3001, 1)], external_id="late-1")
                        late_status[moved] = "send-to-delivery"
                        late_status[str(made["id"])] = "new"
                assert client.history_cursor == cursors[-1]
            return latest, cursors

        latest, cursors = run(go())
        assert cursors == sorted(cursors) and cursors[-1] == box.history[-1]["id"]
        changed = {str(e["order"]["id"]) for e in box.history if e["id"] > start}
        assert set(latest) == changed  # every order with a change after the cursor
        for order_id, status in late_status.items():
            assert latest[order_id].channel_state == status
        assert latest[next(iter(late_status))].status is OrderStatus.DISPATCHED
        assert len(box.requests_to("/orders/history")) == len(cursors)


def test_first_import_then_history_catches_what_changed_meanwhile():
    with RetailCrmSandbox(seed=5, extra_orders=30) as box:

        async def go() -> tuple[set[str], int | None, list[tuple[str, str]]]:
            async with sandbox_client(box, page_size=20) as client:
                imported: set[str] = set()
                async for page in client.fetch_orders(None):
                    imported |= {order.external_id for order in page.orders}
                    if len(imported) <= 20:  # during the import: a change to page one
                        box.set_order_status(max(box.orders), "complete")
                cursor = client.history_cursor
            async with sandbox_client(box, history_since_id=cursor) as client:
                later = [
                    (o.external_id, o.channel_state)
                    async for page in client.fetch_orders(12345.0)  # ignored: the cursor wins
                    for o in page.orders
                ]
            return imported, cursor, later

        imported, cursor, later = run(go())
        assert imported == {str(order_id) for order_id in box.orders}
        assert cursor is not None and cursor < box.history[-1]["id"]
        assert (str(max(box.orders)), "complete") in later
        assert not box.requests_to("startDate")  # the cursor, not a date, was used


def test_since_becomes_a_start_date_without_a_cursor():
    with RetailCrmSandbox(seed=1) as box:
        newest = box.history[-1]["createdAt"]

        async def go() -> list[str]:
            async with sandbox_client(box, overlap_seconds=0) as client:
                since = calendar.timegm(time.strptime(newest, "%Y-%m-%d %H:%M:%S"))
                return [o.external_id async for p in client.fetch_orders(since) for o in p.orders]

        found = run(go())
        assert found == [str(box.history[-1]["order"]["id"])]
        (request,) = box.requests_to("/orders/history")
        assert request["query"]["filter"] == {"startDate": newest}


def test_orders_map_with_groups_learned_from_the_account():
    with RetailCrmSandbox(seed=1) as box:

        async def go() -> list:
            async with sandbox_client(box) as client:
                orders = [o async for page in client.fetch_orders(None) for o in page.orders]
                one = await client.fetch_order(orders[0].external_id)
                return [orders, one]

        orders, one = run(go())
        by_state = {o.channel_state: o.status for o in orders}
        assert by_state["awaiting-stock"] is OrderStatus.REQUESTED  # a custom code
        assert by_state["assembling"] is OrderStatus.CONFIRMED
        assert by_state["delivering"] is OrderStatus.DISPATCHED
        assert by_state["complete"] is OrderStatus.DELIVERED
        assert by_state["return"] is OrderStatus.RETURNED
        assert by_state["cancel-other"] is OrderStatus.CANCELLED
        assert all(o.currency == "RUB" and o.lines and o.customer for o in orders)
        assert one.external_id == orders[0].external_id
        assert len(box.requests_to("/orders/statuses")) == 1  # learned once, then cached


def test_catalogue_stores_groups_and_connection():
    with RetailCrmSandbox(seed=1) as box:

        async def go() -> tuple:
            async with sandbox_client(box) as client:
                listings = [item async for batch in client.fetch_listings() for item in batch]
                return (listings, await client.fetch_stores(), await client.fetch_product_groups(),
                        await client.check_connection())  # fmt: skip

        listings, stores, groups, shop = run(go())
        assert {item.external_id for item in listings} == {str(i) for i in box.offers}
        earl = next(item for item in listings if item.raw["externalId"] == "earl-100")
        assert earl.sku == "TEA-EARL-100" and earl.name == "Чай Эрл Грей 100 г"
        assert [s.code for s in stores] == ["main", "north", "showroom", "supplier"]
        assert stores[-1].inventory_type == "available"
        assert [g.name for g in groups] == ["Tea", "Coffee", "Teaware", "Black tea"]
        assert groups[3].parent_id == groups[0].id
        assert (shop.name, shop.currency) == ("Leaf & Bean", "RUB")
        assert shop.extra["module_registered"] is False and len(shop.extra["stores"]) == 4


def test_ten_requests_a_second_are_respected_over_a_burst():
    with RetailCrmSandbox(seed=1, rate_per_second=10) as box:

        async def go() -> float:
            async with sandbox_client(box) as client:
                started = time.monotonic()
                await asyncio.gather(*(client.fetch_stores() for _ in range(25)))
                return time.monotonic() - started

        elapsed = run(go())
        assert box.breaches == []
        assert len(box.requests_to("/reference/stores")) == 25
        assert elapsed >= 2.0  # 25 requests at ten per (padded) second


def test_a_503_is_waited_out():
    with RetailCrmSandbox(seed=1) as box:
        box.inject({"path_contains": "/store/inventories/upload", "status": 503, "count": 2,
                    "body": "<html>503 Service Temporarily Unavailable</html>"})  # fmt: skip
        waits: list[float] = []

        async def recording_sleep(seconds: float) -> None:
            waits.append(seconds)
            await asyncio.sleep(min(seconds, 0.05))

        async def go() -> Any:
            async with sandbox_client(box, sleep=recording_sleep) as client:
                return await client.upload_inventories([InventoryEntry("assam-100", "main", 3)])

        result = run(go())
        assert result.processed == 1 and result.not_found == []
        assert [e["status"] for e in box.requests_to("/upload")] == [503, 503, 200]
        assert sum(1 for w in waits if w >= 0.5) >= 2  # backed off before each retry
        assert box.stock(box.offer_by_article("TEA-ASSAM-100")["id"], "main")[0] == 3


def test_callbacks_register_and_the_receiver_answers_with_stock():
    with RetailCrmSandbox(seed=1) as box:
        asked: list[list[dict]] = []

        def handler(offers: list[dict]) -> list[InventoryEntry]:
            asked.append(offers)
            return [InventoryEntry(o["externalId"], "main", 7, 12.5) for o in offers]

        async def go() -> Any:
            async with sandbox_client(box) as client:
                with pytest.raises(ValueError, match="call points"):
                    await client.register_module("https://tunnel.example/sb")
                return await client.register_module(
                    "https://tunnel.example/sb/",
                    logo_url="https://tunnel.example/sb/logo.svg",
                    call_points=["order.create"],
                )

        registration = run(go())
        assert registration.callbacks and registration.created
        assert box.module["baseUrl"] == "https://tunnel.example/sb"
        assert box.module["logo"] == "https://tunnel.example/sb/logo.svg"
        assert box.module["integrations"]["store"]["actions"] == [
            {"code": "inventoriesUpload", "url": "/inventories", "callPoints": ["order.create"]}
        ]
        with CallbackReceiver(handler, client_id=registration.client_id) as receiver:
            url = receiver.start() + "/inventories"
            assert url.startswith("http://127.0.0.1:")
            offers = json.dumps([{"externalId": "assam-100", "site": "leaf-and-bean"}])
            good = httpx.post(url, data={"clientId": registration.client_id, "offers": offers})
            multipart = httpx.post(url, files={"clientId": (None, registration.client_id), "offers": (None, offers)})  # fmt: skip
            wrong = httpx.post(url, data={"clientId": "guess", "offers": offers})
            missing = httpx.post(url, data={"offers": offers})
            elsewhere = httpx.post(url[: -len("/inventories")] + "/other", data={"clientId": registration.client_id})  # fmt: skip
        assert good.status_code == 200 and multipart.status_code == 200
        assert good.json() == {"success": True, "offers": [
            {"externalId": "assam-100", "stores": [{"code": "main", "available": 7, "purchasePrice": 12.5}]}
        ]}  # fmt: skip
        assert (wrong.status_code, missing.status_code, elsewhere.status_code) == (403, 403, 404)
        assert wrong.json() == {"success": False, "errorMsg": "Wrong clientId"}
        assert len(asked) == 2  # refused calls never reach the handler
        assert not receiver.running


def test_a_failing_handler_still_answers_the_crm():
    def handler(_offers: list[dict]) -> list[InventoryEntry]:
        raise RuntimeError("ledger locked")

    receiver = CallbackReceiver(handler, client_id="secret")
    status, body = receiver.answer("application/x-www-form-urlencoded", b"clientId=secret&offers=%5B%5D")  # fmt: skip
    assert status == 500 and "ledger locked" in body["errorMsg"] and body["success"] is False
    bad = receiver.answer("application/x-www-form-urlencoded", b"clientId=secret&offers=%7B")
    assert bad[0] == 400
    with pytest.raises(ValueError, match="clientId"):
        CallbackReceiver(handler, client_id=" ")
