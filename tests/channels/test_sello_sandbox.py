"""The Sello sandbox twin over real loopback HTTP (plain httpx, no product code)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.channels.sello.sandbox import FixedWindowLimiter, SelloSandbox
from app.channels.sello.seed import AWAITING, CANCELLED, PAID, SHIPPED, TRADERA


@pytest.fixture
def box() -> Iterator[SelloSandbox]:
    with SelloSandbox(seed=1, rate_limit=1000, window_seconds=60) as sandbox:
        yield sandbox


def client_for(sandbox: SelloSandbox, key: str | None = None) -> httpx.Client:
    headers = {"Accept": "application/json"}
    if key != "":
        headers["Authorization"] = key or sandbox.token
    return httpx.Client(base_url=sandbox.base_url + "/v5", headers=headers, timeout=10)


@pytest.fixture
def api(box: SelloSandbox) -> Iterator[httpx.Client]:
    with client_for(box) as client:
        yield client


def product_with_sku(box: SelloSandbox, sku: str) -> dict[str, Any]:
    return min((p for p in box.products.values() if p["private_reference"] == sku), key=lambda p: p["id"])  # fmt: skip


# --- authentication and the rate limit --------------------------------------------------


def test_the_raw_key_is_required(box: SelloSandbox):
    assert ":" in box.token  # live keys are often token:key pairs
    for key in ("", "wrong-key", f"Bearer {box.token}"):
        with client_for(box, key) as client:
            answer = client.get("/account")
        assert answer.status_code == 401
        assert "API key" in answer.json()["message"]
        assert answer.headers["X-RateLimit-Limit"] == "1000"
    with client_for(box) as client:
        assert client.get("/account").json()["company"] == "Norrdoft Handel AB"


def test_paths_work_with_and_without_the_v5_prefix(box: SelloSandbox):
    with httpx.Client(base_url=box.base_url, headers={"Authorization": box.token}) as client:
        assert client.get("/status").status_code == 200
        assert client.get("/v5/status").status_code == 200
        assert client.get("/v6/status").status_code == 404


def test_rate_limit_headers_breach_and_refill():
    # A window long enough that six calls fit in it even on a slow machine.
    with SelloSandbox(rate_limit=5, window_seconds=1.0) as box, client_for(box) as api:
        answers = [api.get("/status") for _ in range(6)]
        assert [a.status_code for a in answers] == [200] * 5 + [429]
        assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["4", "3", "2", "1", "0", "0"]  # fmt: skip
        resets = [float(a.headers["X-RateLimit-Reset"]) for a in answers]
        assert all(0 < r <= 1.0 for r in resets)
        assert resets == sorted(resets, reverse=True)
        refused = answers[-1]
        assert refused.headers["Retry-After"] == "1"
        assert "5 calls per 1 seconds" in refused.json()["message"]
        assert box.limit_breaches == 1
        time.sleep(resets[-1] + 0.01)
        again = api.get("/status")
        assert (again.status_code, again.headers["X-RateLimit-Remaining"]) == (200, "4")
        assert box.served_in_window == [5, 1]
        assert [w.refused for w in box.rate_windows] == [1, 0]
        box.reset_rate_limit()
        assert (box.served_in_window, box.limit_breaches) == ([], 0)


def test_epoch_reset_format():
    with SelloSandbox(rate_limit=5, window_seconds=60, reset_format="epoch") as box:
        with client_for(box) as api:
            reset = float(api.get("/status").headers["X-RateLimit-Reset"])
        assert time.time() + 55 < reset <= time.time() + 60.01


def test_fixed_window_limiter_opens_a_window_at_the_first_call_after_the_last():
    now = [100.0]
    limiter = FixedWindowLimiter(2, 10.0, clock=lambda: now[0])
    assert limiter.hit("a") == (True, 1, 10.0)
    now[0] = 104.0
    assert limiter.hit("a") == (True, 0, 6.0)
    assert limiter.hit("a") == (False, 0, 6.0)
    now[0] = 111.0  # the window ended at 110; the next opens now, not at 110
    assert limiter.hit("a") == (True, 1, 10.0)
    assert [(w.served, w.refused) for w in limiter.windows("a")] == [(2, 1), (1, 0)]


def test_control_routes_and_injected_faults_do_not_count():
    with SelloSandbox(rate_limit=2, window_seconds=60) as box, client_for(box) as api:
        box.inject({"path_contains": "/status", "status": 429, "headers": {"Retry-After": "1"}})
        assert api.get("/status").status_code == 429  # injected, not the limiter
        with httpx.Client(base_url=box.base_url) as control:
            for _ in range(5):
                assert control.get("/_sandbox/rate").status_code == 200
        assert [api.get("/status").status_code for _ in range(3)] == [200, 200, 429]
        assert box.limit_breaches == 1
        with httpx.Client(base_url=box.base_url) as control:
            rate = control.get("/_sandbox/rate").json()
        assert (rate["limit"], rate["limit_breaches"], rate["served_in_window"]) == (2, 1, [2])
        assert len(box.request_log) == 4  # control calls are not logged


# --- orders --------------------------------------------------------------------------------


def test_order_list_paging_sorting_and_totals(box: SelloSandbox, api: httpx.Client):
    total = len(box.orders)
    first = api.get("/orders").json()
    assert first["meta"]["total"] == total
    assert len(first["orders"]) == 10  # documented default size
    assert [o["id"] for o in first["orders"]] == sorted(box.orders, reverse=True)[:10]
    assert "rows" not in first["orders"][0]  # list items are a limited set
    clamped = api.get("/orders", params={"size": 500}).json()["orders"]
    assert len(clamped) == min(total, 300)
    by_update = api.get(
        "/orders", params={"sort": "updated_at", "sort_direction": "desc", "size": 300}
    ).json()["orders"]
    keys = [(o["updated_at"], o["id"]) for o in by_update]
    assert keys == sorted(keys, reverse=True)
    page2 = api.get(
        "/orders", params={"sort": "updated_at", "size": 5, "offset": 5, "sort_direction": "desc"}
    ).json()["orders"]
    assert page2 == by_update[5:10]
    ascending = api.get("/orders", params={"sort": "number", "sort_direction": "asc"}).json()
    assert [o["number"] for o in ascending["orders"]] == sorted(o["number"] for o in box.orders.values())[:10]  # fmt: skip
    for params in ({"sort": "id_desc"}, {"sort_direction": "up"}, {"size": 0}, {"offset": -1}):
        assert api.get("/orders", params=params).status_code == 400


def test_order_filters_and_search(box: SelloSandbox, api: httpx.Client):
    def ids(params: dict[str, Any]) -> set[int]:
        answer = api.get("/orders", params={"size": 300, **params})
        assert answer.status_code == 200, answer.text
        return {o["id"] for o in answer.json()["orders"]}

    orders = box.orders.values()
    assert ids({"filter[is_paid]": "true"}) == {o["id"] for o in orders if o["is_paid"]}
    assert ids({"filter[is_active]": "0"}) == {o["id"] for o in orders if not o["is_active"]}
    assert ids({"filter[status_id]": SHIPPED}) == {
        o["id"] for o in orders if o["status_id"] == int(SHIPPED)
    }
    assert ids({"filter[integration_id]": TRADERA, "filter[customer_country_code]": "se"}) == {
        o["id"]
        for o in orders
        if o["integration_id"] == TRADERA and o["customer_country_code"] == "SE"
    }
    one = next(iter(orders))
    assert one["id"] in ids({"search": one["market_reference"] or str(one["number"])})
    assert ids({"search": "Muhrén"}) == {
        o["id"] for o in orders if o["customer_last_name"] == "Muhrén"
    }
    for params in ({"filter[updated_at]": "1"}, {"filter[is_paid]": "maybe"}, {"filter[id][]": "1"}):  # fmt: skip
        assert api.get("/orders", params=params).status_code == 400


def test_single_order_has_rows_and_the_rows_endpoint(box: SelloSandbox, api: httpx.Client):
    order_id = next(iter(box.orders))
    detail = api.get(f"/orders/{order_id}").json()
    assert detail["rows"] and detail["row_count"] == len(detail["rows"])
    row = detail["rows"][0]
    assert {"id", "product_id", "reference", "title", "quantity", "price", "tax"} <= set(row)
    assert api.get(f"/orders/{order_id}/rows").json() == detail["rows"]
    assert api.get("/orders/1").status_code == 404
    assert api.get("/orders/1").json() == {"message": "No such order found"}


def test_rows_in_list_variant():
    with SelloSandbox(rate_limit=1000, rows_in_list=True) as box, client_for(box) as api:
        item = api.get("/orders").json()["orders"][0]
        assert item["rows"] == box.orders[item["id"]]["rows"]


def test_status_change_sets_flags_delivered_at_and_updated_at(box, api):
    order = box.create_order([{"sku": "PVE002", "quantity": 1}], status_id=AWAITING)
    before = order["updated_at"]
    time.sleep(1.05)  # updated_at has whole-second resolution
    answer = api.put(f"/orders/{order['id']}", json={"status_id": SHIPPED, "weight": 1})
    assert answer.status_code == 200
    changed = answer.json()
    assert (changed["status_id"], changed["is_paid"], changed["is_delivered"]) == (
        int(SHIPPED),
        True,
        True,
    )
    assert changed["is_active"] is False and changed["delivered_at"] is not None
    assert changed["updated_at"] > before
    assert changed["weight"] == order["weight"]  # not an updatable attribute: ignored
    stamp = changed["updated_at"]
    again = api.put(f"/orders/{order['id']}", json={"status_id": int(SHIPPED)}).json()
    assert again["updated_at"] == stamp  # nothing changed, nothing moves
    back = api.put(f"/orders/{order['id']}", json={"status_id": PAID}).json()
    assert (back["is_delivered"], back["delivered_at"]) == (False, None)
    assert api.put(f"/orders/{order['id']}", json={"status_id": 42}).status_code == 400


def test_bulk_change_and_created_orders(box: SelloSandbox, api: httpx.Client):
    created = api.post(
        "/orders",
        json={
            "integration_id": 0,
            "status_id": AWAITING,
            "currency": "sek",
            "customer_email": "x@example.se",
        },  # fmt: skip
    )
    assert created.status_code == 201
    new_id = created.json()["id"]
    order = box.orders[new_id]
    assert (order["currency"], order["row_count"], order["customer_email"]) == ("SEK", 0, "x@example.se")  # fmt: skip
    assert api.post("/orders", json={"integration_id": 0, "currency": "SEK"}).status_code == 400
    other = next(iter(box.orders))
    bulk = api.put("/orders", json={"orders": [new_id, other], "changes": {"status_id": CANCELLED}})
    assert bulk.status_code == 200
    assert {box.order_status(new_id), box.order_status(other)} == {CANCELLED}
    assert api.put("/orders", json={"orders": [1], "changes": {"notes": "x"}}).status_code == 404


# --- statuses, account, integrations --------------------------------------------------------


def test_statuses_and_integrations(api: httpx.Client):
    statuses = api.get("/status").json()
    assert all(isinstance(s["id"], str) for s in statuses)
    deleted = next(s for s in statuses if s["is_deleted"])
    assert not (deleted["is_paid"] or deleted["is_active"] or deleted["is_delivered"])
    assert api.get(f"/status/{PAID}").json()["title"] == "Payment received"
    assert api.get("/status/1").status_code == 404
    integrations = api.get("/integrations").json()
    assert {i["display_name"] for i in integrations} >= {"Tradera", "CDON", "Fyndiq"}
    assert api.get(f"/integrations/{TRADERA}").json()["market_id"] == 1


# --- products ------------------------------------------------------------------------------


def test_product_list_envelope_paging_and_groups(box: SelloSandbox, api: httpx.Client):
    body = api.get("/products", params={"size": 500}).json()
    assert body["statusCode"] == 200
    data = body["data"]
    assert data["meta"]["total"] == len(box.products) == len(data["products"])
    group = next(g for g in data["groups"] if len(g["products"]) == 3)
    assert group["main_product"] == min(group["products"])
    listed = data["products"][0]
    assert "manufacturer_no" not in listed and "folder_name" in listed
    by_created = api.get(
        "/products", params={"sort": "created_at", "sort_direction": "asc", "size": 4, "offset": 4}
    ).json()["data"]["products"]
    everything = sorted(box.products.values(), key=lambda p: (p["created_at"], p["id"]))
    assert [p["id"] for p in by_created] == [p["id"] for p in everything[4:8]]
    assert api.get("/products", params={"sort": "prices.46162.store"}).status_code == 200
    assert api.get("/products", params={"sort": "colour"}).status_code == 400


def test_unwrapped_product_list_variant():
    with SelloSandbox(rate_limit=1000, wrap_products=False) as box, client_for(box) as api:
        body = api.get("/products").json()
        assert "statusCode" not in body and len(body["products"]) == len(box.products)


def test_product_filters_and_search(box: SelloSandbox, api: httpx.Client):
    def skus(params: dict[str, Any]) -> list[str]:
        answer = api.get("/products", params=params)
        assert answer.status_code == 200, answer.text
        return sorted(p["private_reference"] for p in answer.json()["data"]["products"])

    products = box.products.values()
    assert skus({"filter[quantity]": "lt 3"}) == sorted(
        p["private_reference"] for p in products if p["quantity"] < 3
    )
    assert skus({"filter[quantity]": "gt 20", "filter[folder_id]": "1032762"}) == sorted(
        p["private_reference"] for p in products if p["quantity"] > 20 and p["folder_id"] == 1032762
    )
    assert skus({"filter[private_reference]": "CKO-100"}) == ["CKO-100", "CKO-100"]
    assert skus({f"filter[integrations.{TRADERA}.active]": "false"}) == sorted(
        p["private_reference"] for p in products if not p["integrations"][str(TRADERA)]["active"]
    )
    assert skus({"search": "versace"}) == ["PVE001", "PVE002", "PVE003"]
    assert api.get("/products", params={"filter[colour]": "red"}).status_code == 400


def test_single_product_by_id_and_sku(box: SelloSandbox, api: httpx.Client):
    product = product_with_sku(box, "PVE002")
    by_id = api.get(f"/products/{product['id']}").json()
    assert by_id == api.get("/products/sku/PVE002").json()
    assert "folder_name" not in by_id and by_id["manufacturer_no"] == "M-PVE002"
    assert by_id["prices"][str(TRADERA)]["currency"] == "SEK"
    assert by_id["prices"]["46170"]["NO"]["currency"] == "NOK"
    duplicate = api.get("/products/sku/CKO-100").json()
    assert duplicate["id"] == product_with_sku(box, "CKO-100")["id"]  # the lower id
    assert api.get("/products/sku/NOPE").status_code == 404
    assert api.get("/products/sku/A%2FB").status_code == 404


def test_quantity_updates(box: SelloSandbox, api: httpx.Client):
    product = product_with_sku(box, "HBB-050")
    answer = api.put(f"/products/{product['id']}", json={"quantity": "12"})
    assert answer.status_code == 200 and answer.json()["quantity"] == 12
    assert box.product_quantity(product["id"]) == 12
    assert api.put("/products/sku/HBB-050", json={"quantity": 3}).json()["quantity"] == 3
    for bad in (-1, 2.5, "lots", None, True):
        reply = api.put(f"/products/{product['id']}", json={"quantity": bad})
        assert reply.status_code == 400, bad
    assert box.product_quantity(product["id"]) == 3
    assert api.put("/products/1", json={"quantity": 1}).status_code == 404


# --- seeding and the control API -----------------------------------------------------------


def test_seed_is_deterministic_and_covers_the_account():
    with SelloSandbox(seed=7) as one, SelloSandbox(seed=7) as two, SelloSandbox(seed=8) as three:
        assert one.token == two.token != three.token

        def shape(box: SelloSandbox) -> list[tuple]:
            return [
                (o["id"], o["status_id"], o["integration_id"], o["total"], len(o["rows"]))
                for o in box.orders.values()
            ]

        assert shape(one) == shape(two) != shape(three)
    statuses = {o["status_id"] for o in one.orders.values()}
    assert statuses == {int(s) for s in one.statuses}
    markets = {o["integration_id"] for o in one.orders.values()}
    assert markets >= {0, *one.integrations}


def test_extra_orders_are_generated_quickly():
    started = time.monotonic()
    with SelloSandbox(extra_orders=2000) as box:
        assert len(box.orders) == 2000 + len(SelloSandbox().orders)
    assert time.monotonic() - started < 5


def test_a_sale_takes_stock_and_the_control_api_mirrors_python(box: SelloSandbox):
    product = product_with_sku(box, "CKO-100")
    before = box.product_quantity(product["id"])
    with httpx.Client(base_url=box.base_url) as control:
        created = control.post(
            "/_sandbox/orders",
            json={
                "rows": [{"product_id": product["id"], "quantity": 2, "price": 300}],
                "integration_id": TRADERA,
                "market_reference": "114799999",
                "customer": {"first_name": "Eva", "email": "eva@example.se"},
            },
        )
        assert created.status_code == 201
        order = created.json()
        assert (order["market"], order["market_reference"], order["total"]) == (1, "114799999", 649.0)  # fmt: skip
        assert order["rows"][0]["tradera_order_id"] == 114799999
        assert box.product_quantity(product["id"]) == before - 2
        moved = control.post(f"/_sandbox/orders/{order['id']}/status", json={"status_id": SHIPPED})
        assert moved.json()["is_delivered"] is True
        assert control.post("/_sandbox/orders", json={"rows": []}).status_code == 422
        stock = control.put(f"/_sandbox/products/{product['id']}/quantity", json={"quantity": 40})
        assert stock.json()["quantity"] == 40
        summary = control.get("/_sandbox/summary").json()
        assert summary["orders"]["total"] == len(box.orders)
    with pytest.raises(ValueError, match="unknown status_id"):
        box.set_order_status(order["id"], "1")
    with pytest.raises(ValueError, match="whole number of 0 or more"):
        box.set_product_quantity(product["id"], -1)
    assert box.product_quantity(product["id"]) == 40
    assert box.request_log == []
