"""The Selldone sandbox twin over real loopback HTTP (plain httpx, no product code)."""

from __future__ import annotations

import calendar
import time
from collections.abc import Iterator

import httpx
import pytest

from app.channels.sandbox_http import RateLimiter, parse_query
from app.channels.selldone.sandbox import SelldoneSandbox
from app.channels.selldone.seed import DELIVERY_STATES

SHOP = 3817
ORDERS = f"/shops/{SHOP}/process-center/baskets-PHYSICAL"


def basket_url(basket_id: int, suffix: str = "") -> str:
    return f"/shops/{SHOP}/process-center/baskets/{basket_id}{suffix}"


@pytest.fixture
def box() -> Iterator[SelldoneSandbox]:
    with SelldoneSandbox(seed=1) as sandbox:
        yield sandbox


def make_client(sandbox: SelldoneSandbox, token: str | bool | None = None) -> httpx.Client:
    """A client with the sandbox's token, another ``token``, or none at all (False)."""
    headers = {"Accept": "application/json"}
    if token is not False:
        headers["Authorization"] = f"Bearer {token or sandbox.token}"
    return httpx.Client(base_url=sandbox.base_url, headers=headers, timeout=10)


@pytest.fixture
def api(box: SelldoneSandbox) -> Iterator[httpx.Client]:
    with make_client(box) as client:
        yield client


def product_by_sku(box: SelldoneSandbox, sku: str) -> dict:
    return next(p for p in box.products.values() if p["sku"] == sku)


def two_line_order(box: SelldoneSandbox, **kwargs) -> dict:
    socks = product_by_sku(box, "SOCK-MER")
    gaiter = product_by_sku(box, "NECK-MER")
    return box.create_order(
        [
            {
                "product_id": socks["id"],
                "variant_id": socks["product_variants"][0]["id"],
                "count": 2,
            },
            {"product_id": gaiter["id"], "variant_id": None, "count": 1},
        ],
        **kwargs,
    )


def post_state(api: httpx.Client, basket_id: int, state: str, **body) -> httpx.Response:
    payload = {"state": state, "list": None, "delivery_info": None} | body
    return api.post(basket_url(basket_id, "/state"), json=payload)


def price_rule_holds(basket: dict) -> bool:
    items = sum(item["count"] * item["price"] for item in basket["items"])
    return round(items - basket["discount"] + basket["delivery_price"], 2) == basket["price"]


# ---------------------------------------------------------------- generic base
def test_query_parser_keeps_php_arrays():
    parsed = parse_query("statuses[]=Payed&statuses[]=COD&with[0]=items&a[x]=1&limit=5&limit=7")
    assert parsed == {
        "statuses": ["Payed", "COD"],
        "with": ["items"],
        "a": {"x": "1"},
        "limit": "7",
    }


def test_rate_limiter_window_slides():
    now = [0.0]
    limiter = RateLimiter(2, 60, clock=lambda: now[0])
    assert limiter.hit("k")[:2] == (True, 1)
    assert limiter.hit("k")[:2] == (True, 0)
    allowed, _, retry = limiter.hit("k")
    assert not allowed and retry == pytest.approx(60)
    now[0] = 60.5
    assert limiter.hit("k")[0]


def test_bad_json_is_400_and_unknown_route_404(api: httpx.Client):
    bad = api.post(
        basket_url(1, "/state"), content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert bad.status_code == 400 and "not valid JSON" in bad.json()["message"]
    assert api.get(f"/shops/{SHOP}/nothing-here").status_code == 404
    assert api.delete(ORDERS).status_code == 405


# ---------------------------------------------------------------- seeded shop
def test_seeded_shop_is_realistic_and_deterministic(box: SelldoneSandbox):
    products = list(box.products.values())
    assert 18 <= len(products) <= 25
    skus = [p["sku"] for p in products if not p["product_variants"]]
    skus += [v["sku"] for p in products for v in p["product_variants"]]
    assert "" in skus and len(skus) != len(set(skus))  # an empty and a duplicate SKU
    assert any(2 <= len(p["product_variants"]) <= 4 for p in products)
    assert any(p["mpn"] for p in products) and any(p["gtin"] for p in products)
    for product in products:
        if product["product_variants"]:
            assert product["quantity"] == sum(v["quantity"] for v in product["product_variants"])
    orders = [box.orders[i] for i in box.orders]
    assert {o["status"] for o in orders} == {"Open", "Reserved", "Payed", "Canceled", "COD"}
    paid = [o for o in orders if o["status"] in ("Payed", "COD")]
    assert {o["delivery_state"] for o in paid} == set(DELIVERY_STATES)
    assert any(o["reject"] for o in paid)
    assert any(o["buyer"] is None and o["user_id"] is None for o in orders)
    assert any(o["buyer"] and o["customer"]["user_id"] == o["user_id"] for o in orders)
    assert all(price_rule_holds(o) and o["type"] == "PHYSICAL" for o in orders)
    again = SelldoneSandbox(seed=1)
    assert [o["price"] for o in again.physical_orders()] == [
        o["price"] for o in box.physical_orders()
    ]


# ---------------------------------------------------------------- auth
def test_missing_unknown_and_revoked_tokens_are_401(box: SelldoneSandbox):
    for token in (False, "not-a-token"):
        with make_client(box, token) as client:
            answer = client.get(ORDERS)
            assert answer.status_code == 401
            assert answer.json() == {"message": "Unauthenticated."}
    spare = box.issue_token()
    with make_client(box, spare) as client:
        assert client.get(ORDERS).status_code == 200
        box.revoke_token(spare)
        assert client.get(ORDERS).status_code == 401


def test_missing_scope_and_other_shop_are_403(box: SelldoneSandbox, api: httpx.Client):
    denied = {"error": True, "error_msg": "token_has_no_access", "code": 201}
    reader = box.issue_token(["backoffice:order:read"])
    with make_client(box, reader) as client:
        assert client.get(ORDERS).status_code == 200
        answer = client.post(
            basket_url(next(iter(box.orders)), "/state"), json={"state": "OrderConfirm"}
        )
        assert (answer.status_code, answer.json()) == (403, denied)
        assert (
            client.post(f"/shops/{SHOP}/products/1/quantity", json={"quantity": 1}).status_code
            == 403
        )
    other = api.get("/shops/9999/process-center/baskets-PHYSICAL")
    assert (other.status_code, other.json()) == (403, denied)
    assert api.get(f"/shops/me/{SHOP}").json()["shop"]["currency"] == "EUR"


# ---------------------------------------------------------------- listing
def test_default_statuses_sort_and_total(box: SelldoneSandbox, api: httpx.Client):
    body = api.get(ORDERS, params={"limit": 250}).json()
    assert {o["status"] for o in body["orders"]} == {"Payed", "COD"}
    assert body["total"] == len(body["orders"]) == len(box.physical_orders())
    keys = [(o["reserved_at"], o["id"]) for o in body["orders"]]
    assert keys == sorted(keys, reverse=True)
    assert all(o["reserved_at"].endswith(".000000Z") for o in body["orders"])
    opened = api.get(ORDERS, params={"statuses[]": ["Open"]}).json()
    assert opened["total"] and {o["status"] for o in opened["orders"]} == {"Open"}
    assert api.get(f"/shops/{SHOP}/process-center/baskets-VIRTUAL").json() == {
        "orders": [],
        "total": 0,
    }
    scalar = api.get(ORDERS, params={"statuses": "Payed"})
    assert scalar.status_code == 422 and "statuses" in scalar.json()["errors"]


def test_paging_limits_and_total(api: httpx.Client):
    too_big = api.get(ORDERS, params={"limit": 251})
    assert too_big.status_code == 422
    assert too_big.json()["errors"]["limit"] == ["The limit field must not be greater than 250."]
    assert api.get(ORDERS, params={"limit": 0}).status_code == 422
    seen, offset = [], 0
    while True:
        page = api.get(ORDERS, params={"offset": offset, "limit": 7}).json()
        seen += [o["id"] for o in page["orders"]]
        offset += 7
        if offset >= page["total"]:
            break
    assert len(seen) == len(set(seen)) == page["total"]
    ascending = api.get(ORDERS, params={"sortBy": "id", "sortDesc": "false", "limit": 250}).json()
    assert [o["id"] for o in ascending["orders"]] == sorted(seen)


def test_relations_only_when_asked(api: httpx.Client):
    bare = api.get(ORDERS, params={"limit": 250}).json()["orders"]
    assert not any({"items", "buyer", "customer", "payment"} & set(o) for o in bare)
    items = api.get(ORDERS, params={"with[]": ["items"]}).json()["orders"]
    assert all(o["items"] and "product" not in o["items"][0] for o in items)
    full = api.get(
        ORDERS, params={"with[]": ["items", "buyer", "products", "payment"], "limit": 250}
    )
    orders = full.json()["orders"]
    for order in orders:
        assert "buyer" in order and "customer" in order and "payment" in order
        for item in order["items"]:
            assert item["product"]["id"] == item["product_id"]
            assert (item["variant"] or {}).get("id") == item["variant_id"]
    assert any(o["buyer"] is None for o in orders) and any(o["buyer"] for o in orders)


def test_updated_at_filter_is_seconds_and_strictly_after(box: SelldoneSandbox, api: httpx.Client):
    orders = api.get(ORDERS, params={"limit": 250}).json()["orders"]
    newest = max(orders, key=lambda o: o["updated_at"])
    stamp = calendar.timegm(time.strptime(newest["updated_at"][:19], "%Y-%m-%dT%H:%M:%S"))
    after = api.get(ORDERS, params={"updated_at": stamp, "limit": 250}).json()
    assert newest["id"] not in {o["id"] for o in after["orders"]}
    before = api.get(ORDERS, params={"updated_at": stamp - 1, "limit": 250}).json()
    assert newest["id"] in {o["id"] for o in before["orders"]}
    target = next(o for o in orders if o["delivery_state"] == "CheckQueue" and not o["reject"])
    assert post_state(api, target["id"], "OrderConfirm").status_code == 200
    changed = api.get(ORDERS, params={"updated_at": int(time.time()) - 1}).json()
    assert target["id"] in {o["id"] for o in changed["orders"]}
    assert api.get(ORDERS, params={"updated_at": "yesterday"}).status_code == 422


# ---------------------------------------------------------------- fulfilment
def test_state_machine_forward_repeat_skip(box: SelldoneSandbox, api: httpx.Client):
    basket = two_line_order(box)
    first = post_state(api, basket["id"], "OrderConfirm")
    assert first.status_code == 200
    assert first.json()["changed"] is True and first.json()["updated"] == 2
    assert all(item["check"] for item in first.json()["items"])
    repeat = post_state(api, basket["id"], "OrderConfirm")
    assert repeat.status_code == 200 and repeat.json()["changed"] is False
    skip = post_state(api, basket["id"], "SentOrder")
    assert skip.status_code == 422 and skip.json()["error"] is True and skip.json()["code"]
    packed = {"weight": 1.2, "volume": {"width": 20, "length": 30, "height": 10}, "type": "Cargo"}
    prep = post_state(api, basket["id"], "PreparingOrder", delivery_info=packed)
    assert prep.json() == {"delivery_state": "PreparingOrder", "changed": True}
    assert box.orders[basket["id"]]["delivery_info"]["type"] == "Cargo"
    assert post_state(api, basket["id"], "SentOrder").json()["changed"] is True
    done = post_state(api, basket["id"], "ToCustomer").json()
    assert done["delivery_state"] == "ToCustomer" and done["delivery_at"].endswith("Z")
    back = post_state(api, basket["id"], "OrderConfirm")
    assert back.status_code == 422
    assert box.state_calls(basket["id"]) == [
        "OrderConfirm", "OrderConfirm", "SentOrder", "PreparingOrder", "SentOrder", "ToCustomer", "OrderConfirm",
    ]  # fmt: skip
    assert post_state(api, basket["id"], "Shipped").status_code == 422
    assert api.post(basket_url(1, "/state"), json={"state": "OrderConfirm"}).status_code == 404


def test_non_strict_sandbox_allows_forward_jumps():
    with SelldoneSandbox(strict_states=False) as sandbox, make_client(sandbox) as client:
        basket = two_line_order(sandbox)
        assert post_state(client, basket["id"], "SentOrder").status_code == 200
        assert post_state(client, basket["id"], "OrderConfirm").status_code == 422


def test_partial_confirm_checks_only_listed_items(box: SelldoneSandbox, api: httpx.Client):
    basket = two_line_order(box)
    keep, drop = (item["id"] for item in basket["items"])
    unknown = post_state(api, basket["id"], "OrderConfirm", list=[keep, 999])
    assert unknown.status_code == 422 and "list.1" in unknown.json()["errors"]
    answer = post_state(api, basket["id"], "OrderConfirm", list=[keep]).json()
    assert answer["updated"] == 1
    checks = {item["id"]: item["check"] for item in answer["items"]}
    assert checks == {keep: True, drop: False}
    assert [i["check"] for i in box.orders[basket["id"]]["items"]] == [True, False]


def test_only_paid_unrejected_orders_advance(box: SelldoneSandbox, api: httpx.Client):
    reserved = two_line_order(box, status="Reserved")
    answer = post_state(api, reserved["id"], "OrderConfirm")
    assert answer.status_code == 422 and answer.json()["error"] is True
    paid = two_line_order(box)
    api.put(basket_url(paid["id"], "/reject"), json={"reject": "LackOfInventory", "express": False})
    assert post_state(api, paid["id"], "OrderConfirm").status_code == 422


def test_delivery_returned_only_from_sent_order(box: SelldoneSandbox, api: httpx.Client):
    basket = two_line_order(box)
    url = basket_url(basket["id"], "/delivery-returned")
    assert api.post(url, json={}).status_code == 422
    for state in ("OrderConfirm", "PreparingOrder", "SentOrder"):
        assert post_state(api, basket["id"], state).status_code == 200
    answer = api.post(url, json={"state": None, "list": None, "delivery_info": None})
    assert answer.json() == {"delivery_state": "PreparingOrder", "changed": True}
    assert box.orders[basket["id"]]["delivery_state"] == "PreparingOrder"


def test_tracking_is_validated_and_kept_in_delivery_info(box: SelldoneSandbox, api: httpx.Client):
    basket = two_line_order(box)
    url = basket_url(basket["id"], "/tracking")
    for bad in ("not a url", "ftp://example.com/x", "https://x.de/" + "a" * 600):
        answer = api.put(url, json={"tracking_url": bad})
        assert answer.status_code == 422 and list(answer.json()["errors"]) == ["tracking_url"]
    before = box.orders[basket["id"]]["updated_at"]
    good = {"tracking_code": "00340434161094042557", "tracking_url": "https://www.dhl.de/track?p=1"}
    answer = api.put(url, json=good).json()
    assert answer["success"] is True and answer["tracking_code"] == good["tracking_code"]
    assert answer["delivery_info"]["tracking_url"] == good["tracking_url"]
    stored = box.orders[basket["id"]]
    assert stored["delivery_info"]["tracking_code"] == good["tracking_code"]
    assert stored["updated_at"] >= before
    # Packaging data sent later must not wipe the tracking data.
    post_state(api, basket["id"], "OrderConfirm")
    post_state(api, basket["id"], "PreparingOrder", delivery_info={"weight": 2.0})
    assert box.orders[basket["id"]]["delivery_info"]["tracking_code"] == good["tracking_code"]


def test_reject_restores_stock_and_undo_takes_it_again(box: SelldoneSandbox, api: httpx.Client):
    socks = product_by_sku(box, "SOCK-MER")
    variant_id = socks["product_variants"][0]["id"]
    start = box.product_quantity(socks["id"], variant_id)
    basket = two_line_order(box)
    assert box.product_quantity(socks["id"], variant_id) == start - 2
    url = basket_url(basket["id"], "/reject")
    bad = api.put(url, json={"reject": "NoReason", "express": False})
    assert bad.status_code == 422 and "reject" in bad.json()["errors"]
    answer = api.put(url, json={"reject": "LackOfInventory", "express": True}).json()
    assert answer["success"] and answer["reject"] == "LackOfInventory" and answer["reject_at"]
    assert box.product_quantity(socks["id"], variant_id) == start
    assert socks["quantity"] == sum(v["quantity"] for v in socks["product_variants"])
    assert api.delete(url).json()["reject"] is None
    assert box.product_quantity(socks["id"], variant_id) == start - 2
    for state in ("OrderConfirm", "PreparingOrder", "SentOrder", "ToCustomer"):
        post_state(api, basket["id"], state)
    late = api.put(url, json={"reject": "ShopOwnerFault", "express": False})
    assert late.status_code == 422 and late.json()["error"] is True


def test_buyer_cancel_restores_stock(box: SelldoneSandbox):
    gaiter = product_by_sku(box, "NECK-MER")
    start = box.product_quantity(gaiter["id"])
    basket = box.create_order(
        [{"product_id": gaiter["id"], "variant_id": None, "count": 3}], status="Open"
    )
    assert box.product_quantity(gaiter["id"]) == start
    box.set_order_status(basket["id"], "COD")
    assert box.product_quantity(gaiter["id"]) == start - 3
    box.set_order_status(basket["id"], "Canceled")
    assert box.product_quantity(gaiter["id"]) == start


# ---------------------------------------------------------------- products
def test_quantity_endpoints_and_sum_rule(box: SelldoneSandbox, api: httpx.Client):
    socks = product_by_sku(box, "SOCK-MER")
    variant = socks["product_variants"][1]
    base = f"/shops/{SHOP}/products/{socks['id']}"
    answer = api.post(f"{base}/variants/{variant['id']}/quantity", json={"quantity": 120})
    assert answer.json() == {"success": True, "quantity": 120}
    assert box.product_quantity(socks["id"]) == sum(
        v["quantity"] for v in socks["product_variants"]
    )
    refused = api.post(f"{base}/quantity", json={"quantity": 5})
    assert refused.status_code == 422 and refused.json()["error"] is True
    for bad in (-1, "many", True, None):
        answer = api.post(f"{base}/variants/{variant['id']}/quantity", json={"quantity": bad})
        assert answer.status_code == 422 and "quantity" in answer.json()["errors"]
    assert api.post(f"{base}/variants/1/quantity", json={"quantity": 1}).status_code == 404
    fleece = product_by_sku(box, "FLEECE-RAW")
    answer = api.post(f"/shops/{SHOP}/products/{fleece['id']}/quantity", json={"quantity": 7.5})
    assert answer.json()["quantity"] == 7.5 and box.product_quantity(fleece["id"]) == 7.5
    detail = api.get(f"/shops/{SHOP}/products/{socks['id']}/admin").json()
    assert detail["product"]["product_variants"][1]["quantity"] == 120
    assert detail["orderQue"] == 0 and detail["product_data"] is None


def test_product_list_paging_filters_and_iso_updated_at(box: SelldoneSandbox, api: httpx.Client):
    url = f"/shops/{SHOP}/products/all-admin"
    first = api.get(url, params={"with_total": "true", "limit": 5}).json()
    assert first["total"] == len(box.products) and len(first["products"]) == 5
    assert first["folders"] == [] and "product_variants" not in first["products"][0]
    assert "total" not in api.get(url).json()
    assert len(api.get(url, params={"limit": 250}).json()["products"]) == len(box.products)
    assert api.get(url, params={"limit": 251}).status_code == 422
    found = api.get(url, params={"search": "sock-mer-gry", "with_product_variants": "true"}).json()
    assert [p["sku"] for p in found["products"]] == ["SOCK-MER"]
    assert found["products"][0]["product_variants"]
    closed = api.get(url, params={"statuses[]": ["Close"], "with_total": "1"}).json()
    assert closed["total"] == 1
    cutoff = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 2))
    gaiter = product_by_sku(box, "NECK-MER")
    api.post(f"/shops/{SHOP}/products/{gaiter['id']}/quantity", json={"quantity": 9})
    fresh = api.get(url, params={"updated_at": cutoff, "with_total": "true"}).json()
    assert [p["id"] for p in fresh["products"]] == [gaiter["id"]]
    assert api.get(url, params={"updated_at": int(time.time())}).status_code == 422


def test_single_order_customers_and_shop(box: SelldoneSandbox, api: httpx.Client):
    basket = two_line_order(box, buyer={"name": "Greta Lind", "email": "greta@example.se"})
    detail = api.get(basket_url(basket["id"])).json()["basket"]
    assert detail["id"] == basket["id"] and detail["buyer"]["name"] == "Greta Lind"
    assert detail["items"][0]["product"]["sku"] == "SOCK-MER"
    missing = api.get(basket_url(1))
    assert missing.status_code == 404 and missing.json()["error"] is True
    customers = api.get(f"/shops/{SHOP}/customers", params={"search": "greta"}).json()
    assert customers["total"] == 1 and customers["customers"][0]["email"] == "greta@example.se"
    assert api.get(f"/shops/{SHOP}/customers").json()["total"] == len(box.customers)


# ---------------------------------------------------------------- limits, faults, control
def test_rate_limit_answers_429_with_retry_after():
    with SelldoneSandbox(rate_limit_per_minute=5) as sandbox, make_client(sandbox) as client:
        remaining = [int(client.get(ORDERS).headers["X-RateLimit-Remaining"]) for _ in range(5)]
        assert remaining == [4, 3, 2, 1, 0]
        limited = client.get(ORDERS)
        assert limited.status_code == 429
        assert limited.json() == {"message": "Too Many Attempts."}
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert limited.headers["X-RateLimit-Limit"] == "5"
        assert client.get("/_sandbox/summary").status_code == 200  # control: never limited
        other = sandbox.issue_token()  # the budget is per token
        assert client.get(ORDERS, headers={"Authorization": f"Bearer {other}"}).status_code == 200


def test_fault_injection(box: SelldoneSandbox, api: httpx.Client):
    app_error = {"error": True, "error_msg": "Temporary problem.", "code": 500}
    box.inject({"path_contains": "baskets-PHYSICAL", "status": 200, "body": app_error, "count": 1})
    faulted = api.get(ORDERS)
    assert (faulted.status_code, faulted.json()) == (200, app_error)
    assert "orders" in api.get(ORDERS).json()
    fault = {"path_contains": "/state", "status": 503, "body": "upstream down", "count": 2,
             "headers": {"Retry-After": "3"}}  # fmt: skip
    assert api.post("/_sandbox/faults", json=fault).status_code == 201
    basket = two_line_order(box)
    for _ in range(2):
        answer = post_state(api, basket["id"], "OrderConfirm")
        assert answer.status_code == 503 and answer.headers["Retry-After"] == "3"
        assert answer.text == "upstream down"
    assert post_state(api, basket["id"], "OrderConfirm").status_code == 200
    api.post("/_sandbox/faults", json={"status": 500, "count": 5})
    assert api.delete("/_sandbox/faults").status_code == 200
    assert api.get(ORDERS).status_code == 200
    logged = api.get("/_sandbox/requests", params={"path_contains": "/state"}).json()["requests"]
    assert [entry["fault"] for entry in logged] == [True, True, False]
    assert logged[-1]["json"]["state"] == "OrderConfirm"
    assert logged[-1]["headers"]["authorization"].startswith("Bearer ****")
    assert box.token not in str(logged)
    assert api.post("/_sandbox/faults", json={"status": 99}).status_code == 422


def test_control_endpoints(box: SelldoneSandbox, api: httpx.Client):
    socks = product_by_sku(box, "SOCK-MER")
    order = {"items": [{"product_id": socks["id"], "variant_id": socks["product_variants"][2]["id"], "count": 1}],
             "status": "COD"}  # fmt: skip
    created = api.post("/_sandbox/orders", json=order)
    assert created.status_code == 201 and created.json()["status"] == "COD"
    basket_id = created.json()["id"]
    assert basket_id in {o["id"] for o in box.physical_orders()}
    assert api.post("/_sandbox/orders", json={"items": []}).status_code == 422
    moved = api.post(f"/_sandbox/orders/{basket_id}/status", json={"status": "Canceled"})
    assert moved.json()["status"] == "Canceled"
    token = api.post("/_sandbox/tokens", json={"scopes": ["backoffice:order:read"]}).json()["token"]
    with make_client(box, token) as reader:
        assert reader.get(ORDERS).status_code == 200
        assert api.delete(f"/_sandbox/tokens/{token}").status_code == 200
        assert reader.get(ORDERS).status_code == 401
    summary = api.get("/_sandbox/summary").json()
    assert summary["orders"]["total"] == len(box.orders)
    assert summary["orders"]["by_status"]["Canceled"] >= 1 and summary["products"] == len(
        box.products
    )


def test_extra_orders_list_correctly():
    started = time.perf_counter()
    sandbox = SelldoneSandbox(extra_orders=2000, lines_per_order=3)
    assert time.perf_counter() - started < 5
    seeded = len(SelldoneSandbox().physical_orders())
    with sandbox, make_client(sandbox) as client:
        ids: list[int] = []
        lines = 0
        offset, total = 0, None
        while total is None or offset < total:
            params = {"offset": offset, "limit": 250, "with[]": ["items", "buyer", "products"]}
            page = client.get(ORDERS, params=params).json()
            total = page["total"]
            for order in page["orders"]:
                assert order["status"] in ("Payed", "COD") and price_rule_holds(order)
                assert all(item["product"]["id"] == item["product_id"] for item in order["items"])
                lines += len(order["items"])
            ids += [o["id"] for o in page["orders"]]
            offset += 250
        assert total == seeded + 2000 == len(ids) == len(set(ids))
        assert 2.5 <= lines / total <= 3.5
        # A generated order becomes a normal stored order once touched, and stays correct.
        target = next(
            o
            for o in sandbox.physical_orders()
            if o["delivery_state"] == "CheckQueue" and not o["reject"]
        )
        assert post_state(client, target["id"], "OrderConfirm").status_code == 200
        fresh = client.get(basket_url(target["id"])).json()["basket"]
        assert fresh["delivery_state"] == "OrderConfirm" and all(i["check"] for i in fresh["items"])
        assert sandbox.orders[target["id"]]["delivery_state"] == "OrderConfirm"
