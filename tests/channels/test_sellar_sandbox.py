"""The Sellar sandbox twin over real loopback HTTP (plain httpx, no product code)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.channels.sandbox_http import Request, SandboxHTTPServer
from app.channels.sellar.sandbox import SellarSandbox

NEWEST_FIRST = '["updatedAt","DESC"]'


@pytest.fixture
def box() -> Iterator[SellarSandbox]:
    with SellarSandbox(seed=1) as sandbox:
        yield sandbox


def make_client(sandbox: SellarSandbox, token: str | bool | None = None) -> httpx.Client:
    """A client with the sandbox's key, another ``token``, or none at all (False)."""
    headers = {"Accept": "application/json"}
    if token is not False:
        headers["Authorization"] = f"Bearer {token or sandbox.token}"
    return httpx.Client(base_url=sandbox.base_url, headers=headers, timeout=10)


@pytest.fixture
def api(box: SellarSandbox) -> Iterator[httpx.Client]:
    with make_client(box) as client:
        yield client


def keg(box: SellarSandbox) -> int:
    """The developer guide's keg: 10 in stock, nothing committed."""
    return box.product_by_sku("LIPA-KEG-30")["id"]


def order_of_two_kegs(box: SellarSandbox, payment: str = "manual") -> dict[str, Any]:
    return box.place_order(
        box.retailer_id("The Anchor Inn"), [{"product_id": keg(box), "quantity": 2}], payment
    )


def put_order(api: httpx.Client, order_id: int, body: Any) -> httpx.Response:
    return api.put(f"/orders/{order_id}", json=body)


def all_orders(api: httpx.Client, limit: int = 7, sort: str = NEWEST_FIRST) -> list[dict]:
    rows, offset = [], 0
    while True:
        page = api.get("/orders", params={"limit": limit, "offset": offset, "order[]": sort})
        assert page.status_code == 200
        data = page.json()["data"]
        rows += data
        if len(data) < limit:
            return rows
        offset += limit


# ---------------------------------------------------------------- seeded account
def test_seeded_brewery_is_realistic_and_deterministic(box: SellarSandbox):
    orders = list(box.orders.values())
    stages = {
        "requested": lambda o: not o["confirmedAt"] and not o["cancelledAt"] and not o["voidedAt"],
        "confirmed": lambda o: o["confirmedAt"] and not o["dispatchedAt"] and not o["cancelledAt"],
        "finalised": lambda o: o["finalizedAt"] and not o["dispatchedAt"],
        "dispatched": lambda o: o["dispatchedAt"] and not o["deliveredAt"],
        "delivered": lambda o: o["deliveredAt"],
        "cancelled before confirmation": lambda o: o["cancelledAt"] and not o["confirmedAt"],
        "cancelled after confirmation": lambda o: o["cancelledAt"] and o["confirmedAt"],
        "voided": lambda o: o["voidedAt"],
    }
    for stage, test in stages.items():
        assert any(test(o) for o in orders), stage
    assert {o["paymentType"] for o in orders} == {"manual", "stripe", "checkout"}
    assert {o["paymentStatus"] for o in orders} >= {"open", "paid", "void"}
    assert any(o["customInvoiceNumber"] for o in orders)
    assert any(o["confirmedAt"] and not o["customInvoiceNumber"] for o in orders)
    skus = [p["sku"] for p in box.products.values()]
    assert "" in skus and len(skus) != len(set(skus))  # an empty and a duplicate SKU
    assert any(sku != sku.upper() for sku in skus)  # a lower-case near miss
    containers = {p["containerType"] for p in box.products.values()}
    assert {"keg", "cask", "can", "bottle"} <= containers
    for product in box.products.values():
        assert product["stock"] == product["availableStock"] + product["committedStock"]
    assert box.product_stock(keg(box)) == (10, 0, 10)
    kinds = {r["type"] for r in box.retailers.values()}
    assert {"pub", "offLicense"} <= kinds
    assert box.token.startswith("SLR.")
    again = SellarSandbox(seed=1)
    assert again.token == box.token
    assert [o["price"] for o in again.orders.values()] == [o["price"] for o in orders]
    assert SellarSandbox(seed=2).token != box.token


def test_order_prices_add_up(box: SellarSandbox):
    for order in box.orders.values():
        subtotal = sum(item["quantity"] * item["price"] for item in order["OrderItems"])
        net = subtotal - order["discountAmount"] + order["deliveryCharge"]
        assert order["price"] == round(net * (100 + order["vatPercentage"]) / 100)


# ---------------------------------------------------------------- auth and errors
def test_missing_wrong_and_rotated_keys_are_401(box: SellarSandbox):
    for token in (False, "SLR.not-the-key"):
        with make_client(box, token) as client:
            answer = client.get("/orders")
            assert answer.status_code == 401
            assert answer.json() == {
                "statusCode": 401,
                "message": "Unauthorized",
                "error": "Unauthorized",
            }
    old = box.token
    with make_client(box, old) as client:
        assert client.get("/products").status_code == 200
        new = box.rotate_key()
        assert new != old and new.startswith("SLR.")
        assert client.get("/products").status_code == 401
    with make_client(box, new) as client:
        assert client.get("/products").status_code == 200


def test_unknown_ids_are_400_not_404(api: httpx.Client):
    for path in ("/orders/999999", "/products/999999"):
        answer = api.get(path)
        assert answer.status_code == 400
        assert answer.json()["error"] == "Bad Request"
        assert "does not exist" in answer.json()["message"]
    assert api.get("/orders/abc").json()["message"] == (
        "Validation failed (numeric string is expected)"
    )
    assert api.delete("/webhooks/424242").status_code == 400
    missing = api.get("/nothing-here")
    assert (missing.status_code, missing.json()["message"]) == (404, "Cannot GET /nothing-here")


def test_bad_json_is_400(api: httpx.Client, box: SellarSandbox):
    order_id = next(iter(box.orders))
    answer = api.put(
        f"/orders/{order_id}", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400


# ---------------------------------------------------------------- paging and sort
def test_envelope_paging_and_no_total(box: SellarSandbox, api: httpx.Client):
    first = api.get("/orders").json()
    assert set(first) == {"data"}  # no metadata, no total (v2 schema)
    assert len(first["data"]) == min(25, len(box.orders))
    rows = all_orders(api, limit=4)
    assert sorted(o["id"] for o in rows) == sorted(box.orders)
    past = api.get("/orders", params={"offset": 500})
    assert past.json() == {"data": []}
    for bad in ({"limit": 0}, {"limit": 101}, {"limit": "ten"}, {"offset": -1}):
        answer = api.get("/orders", params=bad)
        assert answer.status_code == 400, bad
        assert answer.json()["statusCode"] == 400


def test_orders_sort_newest_change_first_by_default(box: SellarSandbox, api: httpx.Client):
    rows = all_orders(api)
    stamps = [o["updatedAt"] for o in rows]
    assert stamps == sorted(stamps, reverse=True)
    assert all(stamp.endswith("Z") and len(stamp) == 24 for stamp in stamps)
    oldest = rows[-1]["id"]
    box.confirm_order(next(o["id"] for o in rows if not o["confirmedAt"]))
    assert all_orders(api)[-1]["id"] == oldest
    changed = all_orders(api)[0]
    assert changed["confirmedAt"] is not None  # the change moved it to the front


def test_other_sorts_and_bad_sort_values(api: httpx.Client):
    created = all_orders(api, sort='["createdAt","ASC"]')
    assert [o["createdAt"] for o in created] == sorted(o["createdAt"] for o in created)
    confirmed = all_orders(api, sort='["confirmedAt","DESC"]')
    firsts = [o["confirmedAt"] for o in confirmed]
    nulls = firsts.count(None)
    assert nulls and firsts[:nulls] == [None] * nulls  # NULLs first when descending
    rest = firsts[nulls:]
    assert rest == sorted(rest, reverse=True)
    for bad in ('["price","DESC"]', '["updatedAt","SIDEWAYS"]', "updatedAt", '"updatedAt"'):
        assert api.get("/orders", params={"order[]": bad}).status_code == 400, bad
    plain = api.get("/orders", params={"order": NEWEST_FIRST})  # forgot the brackets
    assert plain.status_code == 400
    # Undocumented filters are ignored: they must not narrow the list.
    ignored = api.get("/orders", params={"updatedSince": "2099-01-01", "limit": 100}).json()
    assert len(ignored["data"]) == len(all_orders(api))


# ---------------------------------------------------------------- stock rules
def test_the_developer_guides_ten_kegs(box: SellarSandbox, api: httpx.Client):
    product_id = keg(box)
    assert box.product_stock(product_id) == (10, 0, 10)

    order = order_of_two_kegs(box)
    assert box.product_stock(product_id) == (10, 2, 8)
    shown = api.get(f"/products/{product_id}").json()["data"]
    assert (shown["stock"], shown["committedStock"], shown["availableStock"]) == (10, 2, 8)
    assert shown["Parent"]["name"] == "Lighthouse IPA"

    box.confirm_order(order["id"])
    assert box.product_stock(product_id) == (8, 0, 8)
    box.confirm_order(order["id"])  # the button pressed twice changes nothing
    assert box.product_stock(product_id) == (8, 0, 8)


def test_cancel_releases_before_and_restores_after_confirmation(box: SellarSandbox):
    product_id = keg(box)
    requested = order_of_two_kegs(box)
    box.cancel_order(requested["id"], "Wrong beer")
    assert box.product_stock(product_id) == (10, 0, 10)
    assert box.orders[requested["id"]]["cancellationReason"] == "Wrong beer"

    confirmed = order_of_two_kegs(box)
    box.confirm_order(confirmed["id"])
    box.cancel_order(confirmed["id"])
    assert box.product_stock(product_id) == (10, 0, 10)

    dispatched = order_of_two_kegs(box)
    box.confirm_order(dispatched["id"])
    box.dispatch_order(dispatched["id"])
    with pytest.raises(ValueError, match="before they are dispatched"):
        box.cancel_order(dispatched["id"])
    assert box.product_stock(product_id) == (8, 0, 8)


def test_orders_cannot_exceed_available_stock_unless_backordered(box: SellarSandbox):
    anchor = box.retailer_id("The Anchor Inn")
    with pytest.raises(ValueError, match="only 10 of Lighthouse IPA - 30L Keg available"):
        box.place_order(anchor, [{"product_id": keg(box), "quantity": 11}])
    lager = box.product_by_sku("TWL-KEG-50")
    assert lager["canBackorder"]
    total, committed, _ = box.product_stock(lager["id"])
    box.place_order(anchor, [{"product_id": lager["id"], "quantity": 20}])
    assert box.product_stock(lager["id"]) == (total, committed + 20, total - committed - 20)
    assert total - committed - 20 < 0  # oversold on purpose: the buyer may backorder


def test_stock_put_takes_exactly_one_of_stock_and_available(box: SellarSandbox, api: httpx.Client):
    product_id = keg(box)
    order_of_two_kegs(box)  # 10 total, 2 committed, 8 available

    answer = api.put(f"/products/{product_id}", json={"availableStock": 18})
    assert answer.status_code == 200
    data = answer.json()["data"]
    assert (data["stock"], data["committedStock"], data["availableStock"]) == (20, 2, 18)
    assert api.put(f"/products/{product_id}", json={"stock": 20}).status_code == 200
    assert box.product_stock(product_id) == (20, 2, 18)

    for bad in (
        {"stock": 5, "availableStock": 5},
        {},
        {"availableStock": -1},
        {"availableStock": "5"},
        {"availableStock": 2.5},
        {"availableStock": True},
        {"name": "Renamed"},
    ):
        refused = api.put(f"/products/{product_id}", json=bad)
        assert refused.status_code == 400, bad
    assert box.product_stock(product_id) == (20, 2, 18)


# ---------------------------------------------------------------- order write rules
def test_invoice_number_is_free_before_and_write_once_after_confirmation(
    box: SellarSandbox, api: httpx.Client
):
    order_id = order_of_two_kegs(box)["id"]
    assert put_order(api, order_id, {"customInvoiceNumber": "INV-1"}).status_code == 200
    answer = put_order(api, order_id, {"customInvoiceNumber": "INV-2"})
    assert answer.json()["data"]["customInvoiceNumber"] == "INV-2"

    box.confirm_order(order_id)
    for value in ("INV-3", "INV-2"):
        refused = put_order(api, order_id, {"customInvoiceNumber": value})
        assert refused.status_code == 400
        assert "only be set while it is empty" in refused.json()["message"]
    assert box.orders[order_id]["customInvoiceNumber"] == "INV-2"

    other = order_of_two_kegs(box)["id"]
    box.confirm_order(other)
    assert put_order(api, other, {"customInvoiceNumber": "INV-9"}).status_code == 200
    assert put_order(api, other, {"customInvoiceNumber": "INV-9"}).status_code == 400


def test_paid_at_alone_and_for_manual_orders_only(box: SellarSandbox, api: httpx.Client):
    manual = order_of_two_kegs(box)["id"]
    when = "2024-05-20T00:00:00.000Z"
    unconfirmed = put_order(api, manual, {"paidAt": when})
    assert unconfirmed.status_code == 400 and "confirmed" in unconfirmed.json()["message"]
    box.confirm_order(manual)
    crowded = put_order(api, manual, {"paidAt": when, "customInvoiceNumber": "X"})
    assert crowded.status_code == 400
    assert "only field" in crowded.json()["message"]
    paid = put_order(api, manual, {"paidAt": when}).json()["data"]
    assert (paid["paidAt"], paid["paymentStatus"]) == (when, "paid")

    card = order_of_two_kegs(box, "stripe")["id"]
    box.confirm_order(card)
    refused = put_order(api, card, {"paidAt": when})
    assert refused.status_code == 400
    assert "Sellar manages the payment" in refused.json()["message"]
    assert box.orders[card]["paidAt"] is None


def test_progress_writes_and_their_limits(box: SellarSandbox, api: httpx.Client):
    order_id = order_of_two_kegs(box)["id"]
    early = put_order(api, order_id, {"dispatchedAt": "2024-05-06T10:31:00Z"})
    assert early.status_code == 400 and "not confirmed" in early.json()["message"]
    box.confirm_order(order_id)
    mixed = put_order(
        api, order_id, {"dispatchedAt": "2024-05-06T10:31:00Z", "deliveryPlannedAt": "2024-05-07"}
    )
    assert mixed.status_code == 400
    planned = put_order(api, order_id, {"dispatchPlannedAt": "2024-05-06T08:00:00Z"})
    assert planned.json()["data"]["dispatchPlannedAt"] == "2024-05-06T08:00:00.000Z"
    sent = put_order(api, order_id, {"dispatchedAt": "2024-05-06T11:31:00+01:00"})
    assert sent.json()["data"]["dispatchedAt"] == "2024-05-06T10:31:00.000Z"
    assert put_order(api, order_id, {"deliveredAt": "tomorrow"}).status_code == 400
    assert put_order(api, order_id, {"deliveredAt": "2024-05-07T13:05:00Z"}).status_code == 200
    late = put_order(api, order_id, {"dispatchedAt": "2024-05-06T10:31:00Z"})
    assert late.status_code == 400 and "delivered" in late.json()["message"]
    for bad in ({"price": 1}, {"cancelledAt": "2024-05-06T10:31:00Z"}, {}, [1]):
        assert put_order(api, order_id, bad).status_code == 400, bad


def test_cancelled_orders_take_no_writes(box: SellarSandbox, api: httpx.Client):
    order_id = order_of_two_kegs(box)["id"]
    box.cancel_order(order_id)
    refused = put_order(api, order_id, {"customInvoiceNumber": "INV-1"})
    assert refused.status_code == 400 and "cancelled" in refused.json()["message"]


def test_confirmed_at_is_accepted_but_flagged(box: SellarSandbox, api: httpx.Client):
    order_id = order_of_two_kegs(box)["id"]
    answer = put_order(api, order_id, {"confirmedAt": "2024-05-03T08:00:00Z"})
    assert answer.status_code == 200
    assert answer.json()["data"]["confirmedAt"] == "2024-05-03T08:00:00.000Z"
    assert box.product_stock(keg(box)) == (8, 0, 8)
    assert box.warnings == [f"order {order_id}: undocumented field confirmedAt was written"]
    assert (
        put_order(
            api,
            order_id,
            {"confirmedAt": "2024-05-03T08:00:00Z", "dispatchedAt": "2024-05-04T08:00:00Z"},
        ).status_code
        == 400
    )


def test_orders_embed_items_products_retailer_and_supplier(box: SellarSandbox, api: httpx.Client):
    placed = order_of_two_kegs(box)
    data = api.get(f"/orders/{placed['id']}").json()["data"]
    assert data == placed
    (item,) = data["OrderItems"]
    assert item["ProductId"] == item["Product"]["id"] == keg(box)
    assert item["Product"]["Parent"]["abv"] == 5.6
    assert data["Retailer"]["Business"]["name"] == "The Anchor Inn"
    assert data["RetailerId"] == data["Retailer"]["id"]
    assert data["Supplier"]["Business"]["name"] == "Kestrel Cross Brewery"
    assert (data["paymentType"], data["paymentStatus"], data["paidAt"]) == ("manual", "open", None)
    checkout = order_of_two_kegs(box, "checkout")
    assert checkout["paymentStatus"] == "paid" and checkout["paidAt"] == checkout["createdAt"]


# ---------------------------------------------------------------- customers, products
def test_connections_list_customers_but_not_marketplace_buyers(
    box: SellarSandbox, api: httpx.Client
):
    rows = api.get("/supplier-retailer-connections", params={"limit": 100, "offset": 0})
    connections = rows.json()["data"]
    retailer_ids = {c["RetailerId"] for c in connections}
    assert box.retailer_id("The Lugger") not in retailer_ids  # ordered, never connected
    assert {c["approved"] for c in connections} == {True, False}
    first = connections[0]
    assert first["Retailer"]["id"] == first["RetailerId"]
    assert first["Supplier"]["Business"]["name"] == "Kestrel Cross Brewery"
    assert any(o["RetailerId"] == box.retailer_id("The Lugger") for o in box.orders.values())


def test_products_are_items_with_their_parent(box: SellarSandbox, api: httpx.Client):
    page = api.get("/products", params={"limit": 5, "offset": 0}).json()["data"]
    assert [p["id"] for p in page] == sorted(box.products)[:5]
    first = page[0]
    assert first["Parent"]["id"] == first["ParentId"]
    assert first["Parent"]["stock"] == sum(
        p["stock"] for p in box.products.values() if p["ParentId"] == first["ParentId"]
    )


# ---------------------------------------------------------------- webhooks
def test_webhook_subscriptions(box: SellarSandbox, api: httpx.Client):
    url = "https://erp.example.test/hooks/sellar"
    created = api.post("/webhooks", json={"type": "order.created", "url": url})
    assert created.status_code == 201
    hook = created.json()["data"]
    assert set(hook) == {"id", "type", "url", "createdAt", "deletedAt"}
    assert api.post("/webhooks", json={"type": "order.updated", "url": url}).status_code == 201
    for bad in ({"type": "order.deleted", "url": url}, {"type": "order.created", "url": "ftp://x"}):
        assert api.post("/webhooks", json=bad).status_code == 400
    assert len(api.get("/webhooks").json()["data"]) == 2

    box.webhook_events.clear()
    order = order_of_two_kegs(box)
    box.confirm_order(order["id"])
    assert [(e["type"], e["orderId"], e["urls"]) for e in box.webhook_events] == [
        ("order.created", order["id"], [url]),
        ("order.updated", order["id"], [url]),
    ]

    deleted = api.delete(f"/webhooks/{hook['id']}")
    assert deleted.status_code == 200 and deleted.json()["data"]["deletedAt"]
    assert api.delete(f"/webhooks/{hook['id']}").status_code == 400
    assert [h["type"] for h in api.get("/webhooks").json()["data"]] == ["order.updated"]


class _Receiver(SandboxHTTPServer):
    """A tiny webhook endpoint that keeps what it was sent."""

    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[Any] = []
        self.add_route("POST", r"/hook", self._hook)

    def _hook(self, request: Request) -> dict[str, Any]:
        self.bodies.append(request.json)
        return {"ok": True}


def test_webhooks_are_delivered_when_switched_on():
    with _Receiver() as receiver, SellarSandbox(deliver_webhooks=True) as box:
        with make_client(box) as api:
            url = f"{receiver.base_url}/hook"
            assert (
                api.post("/webhooks", json={"type": "order.created", "url": url}).status_code == 201
            )
        order = order_of_two_kegs(box)
        deadline = time.monotonic() + 5
        while not box.webhook_deliveries and time.monotonic() < deadline:
            time.sleep(0.02)
    (body,) = receiver.bodies
    assert body["type"] == "order.created" and body["data"]["id"] == order["id"]
    assert box.webhook_deliveries == [{"url": url, "orderId": order["id"], "status": 200}]


# ---------------------------------------------------------------- control and tooling
def test_control_endpoints_play_retailer_and_supplier(box: SellarSandbox):
    with httpx.Client(base_url=box.base_url, timeout=10) as control:  # no key needed
        placed = control.post(
            "/_sandbox/orders",
            json={
                "retailer_id": box.retailer_id("Bottle & Brine"),
                "items": [{"product_id": keg(box), "quantity": 2}],
                "payment": "stripe",
            },
        )
        assert placed.status_code == 201
        order_id = placed.json()["data"]["id"]
        stock = control.get(f"/_sandbox/products/{keg(box)}/stock").json()
        assert stock == {"total": 10, "committed": 2, "available": 8}
        assert control.post(f"/_sandbox/orders/{order_id}/confirm").status_code == 200
        paid = control.post(f"/_sandbox/orders/{order_id}/pay").json()["data"]
        assert paid["paymentStatus"] == "paid"  # the buyer paid the Stripe invoice
        voided = control.post(f"/_sandbox/orders/{order_id}/void").json()["data"]
        assert voided["voidedAt"] and box.product_stock(keg(box)) == (10, 0, 10)
        bad = control.post("/_sandbox/orders", json={"retailer_id": 1, "items": []})
        assert bad.status_code == 422
        assert control.post("/_sandbox/orders/1/confirm").status_code == 404
        new = control.post("/_sandbox/retailers", json={"name": "The Pilchard", "connected": False})
        assert new.status_code == 201
        old = box.token
        token = control.post("/_sandbox/key/rotate").json()["token"]
        assert token == box.token != old
        summary = control.get("/_sandbox/summary").json()
        assert summary["orders"] == len(box.orders) and summary["by_stage"]["voided"] >= 2
    assert box.requests_to("/_sandbox/") == []  # the harness is not in the request log


def test_place_order_accepts_beer_and_item_ids(box: SellarSandbox):
    anchor = box.retailer_id("The Anchor Inn")
    item = box.product_by_sku("HP-KEG-30")
    by_pair = box.place_order(
        anchor, [{"product_id": item["ParentId"], "variant_id": item["id"], "quantity": 1}]
    )
    assert by_pair["OrderItems"][0]["ProductId"] == item["id"]
    with pytest.raises(ValueError, match="several items"):
        box.place_order(anchor, [{"product_id": item["ParentId"], "quantity": 1}])
    mixed = box.product_by_sku("MIX-12")  # the only item of its beer
    single = box.place_order(anchor, [{"product_id": mixed["ParentId"], "quantity": 1}])
    assert single["OrderItems"][0]["ProductId"] == mixed["id"]
    with pytest.raises(ValueError, match="not available"):
        box.place_order(anchor, [{"product_id": box.product_by_sku("WW-CASK-FIR")["id"]}])


def test_faults_answer_canned_responses_and_are_logged(box: SellarSandbox, api: httpx.Client):
    box.inject({"path_contains": "/orders", "status": 503, "body": {"message": "busy"}})
    assert api.get("/orders").status_code == 503
    assert api.get("/orders").status_code == 200
    assert [e["fault"] for e in box.requests_to("/orders")] == [True, False]
    logged = box.requests_to("/orders")[1]
    assert logged["headers"]["authorization"].startswith("Bearer ****")
    assert box.token not in json.dumps(box.request_log)


def test_rate_limit_is_off_by_default_and_can_be_switched_on():
    with SellarSandbox(rate_limit_per_minute=2) as box, make_client(box) as api:
        assert [api.get("/products").status_code for _ in range(3)] == [200, 200, 429]
        assert int(api.get("/products").headers["Retry-After"]) >= 1


def test_extra_orders_page_past_the_limit():
    with SellarSandbox(extra_orders=120) as box, make_client(box) as api:
        assert len(box.orders) == 135
        rows = all_orders(api, limit=100)
        assert len(rows) == len({o["id"] for o in rows}) == 135
        extra = [
            o for o in box.orders.values() if (o["customInvoiceNumber"] or "").startswith("KCB-1")
        ]
        assert len(extra) == 120 and all(o["deliveredAt"] for o in extra)
        assert box.product_stock(keg(box)) == (10, 0, 10)  # history does not move today's stock
