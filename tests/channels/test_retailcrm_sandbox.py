"""The RetailCRM sandbox twin over real loopback HTTP: plain httpx, replayed captures of
the official Python client (platforms/retailcrm.md §3), and the official ``retailcrm``
client itself. No product code."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import retailcrm

from app.channels.retailcrm.sandbox import RetailCrmSandbox, parse_php_query
from app.channels.retailcrm.seed import SITE, STORES

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def box() -> Iterator[RetailCrmSandbox]:
    with RetailCrmSandbox(seed=1, rate_per_second=0) as sandbox:
        yield sandbox


@pytest.fixture
def api(box: RetailCrmSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=box.base_url, headers={"X-API-KEY": box.token}, timeout=10) as c:
        yield c


@pytest.fixture
def official(box: RetailCrmSandbox) -> Any:
    return retailcrm.v5(box.root_url, box.token)


def register(api: httpx.Client, **change: Any) -> httpx.Response:
    module = {"code": "stockbridge", "name": "Stockbridge", "baseUrl": "https://wms.example",
              "clientId": "client-1", "integrations": {"store": {"actions": []}}} | change  # fmt: skip
    return api.post(
        "/integration-modules/stockbridge/edit", data={"integrationModule": json.dumps(module)}
    )


def upload(api: httpx.Client, offers: Any, **fields: str) -> httpx.Response:
    return api.post("/store/inventories/upload", data={**fields, "offers": json.dumps(offers)})


# ---------------------------------------------------------------- account and envelope
def test_seeded_account_is_deterministic_and_realistic():
    with RetailCrmSandbox(seed=7) as first, RetailCrmSandbox(seed=7) as again:
        assert first.token == again.token and first.inventories == again.inventories
    with RetailCrmSandbox(seed=8) as other:
        assert other.token != first.token
    groups = {first.state.statuses[o["status"]]["group"] for o in first.orders.values()}
    assert groups == {"new", "approval", "assembling", "delivery", "complete", "cancel"}
    assert any(o["shipped"] for o in first.orders.values())
    assert any("externalId" not in o for o in first.orders.values())  # manager-made orders
    assert any(not o["article"] for o in first.offers.values())
    assert first.module is None
    # History replays the orders: one "created" entry each, ids following time.
    ids = [entry["id"] for entry in first.history]
    assert ids == sorted(set(ids))
    stamps = [entry["createdAt"] for entry in first.history]
    assert stamps == sorted(stamps)
    assert sum(1 for e in first.history if e.get("created")) == len(first.orders)


def test_extra_offers_and_orders_grow_the_account():
    with RetailCrmSandbox(seed=1, extra_offers=30, extra_orders=5) as bigger:
        assert len(bigger.offers) == 12 + 30 and len(bigger.orders) == 12 + 5


def test_answers_are_json_envelopes_from_nginx(api: httpx.Client):
    answer = api.get("/reference/stores")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json; charset=UTF-8"
    assert answer.headers["server"] == "nginx"
    body = answer.json()
    assert body["success"] is True and [s["code"] for s in body["stores"]] == [s["code"] for s in STORES]  # fmt: skip
    missing = api.get("/no/such/method")
    assert missing.status_code == 404 and missing.json() == {"success": False, "errorMsg": "API method not found"}  # fmt: skip
    assert api.delete("/reference/stores").status_code == 405
    sites = api.get("/reference/sites").json()["sites"]
    assert sites[SITE]["currency"] == "RUB"  # sites are an object keyed by code


@pytest.mark.parametrize(
    ("headers", "url", "status", "message"),
    [
        ({}, "/reference/stores", 403, '"apiKey" is missing.'),
        ({"X-API-KEY": "wrong"}, "/reference/stores", 403, 'Wrong "apiKey" value.'),
        ({"x-api-key": "{key}"}, "/reference/stores", 200, None),
        ({}, "/reference/stores?apiKey={key}", 200, None),
    ],
)
def test_the_key_travels_in_a_header_of_any_case_or_the_query(box, headers, url, status, message):
    headers = {k: v.format(key=box.token) for k, v in headers.items()}
    answer = httpx.get(box.base_url + url.format(key=box.token), headers=headers)
    assert answer.status_code == status
    if message:
        assert answer.json() == {"success": False, "errorMsg": message}


def test_the_old_php_client_posts_multipart_with_the_key_in_the_body(box: RetailCrmSandbox):
    offers = json.dumps([{"externalId": "assam-100", "stores": [{"code": "main", "available": 9}]}])
    answer = httpx.post(
        box.base_url + "/store/inventories/upload",
        files={"apiKey": (None, box.token), "offers": (None, offers)},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["processedOffersCount"] == 1
    assert box.stock(box.offer_by_article("TEA-ASSAM-100")["id"], "main")[0] == 9
    assert box.requests_to("/upload")[-1]["form"]["apiKey"] == box.token


# ---------------------------------------------------------------- queries
def test_php_queries_nest_and_tolerate_every_clients_array_style():
    assert parse_php_query("filter%5Bsites%5D%5B%5D=a&filter%5Bsites%5D%5B%5D=b") == {"filter": {"sites": ["a", "b"]}}  # fmt: skip
    assert parse_php_query("filter[sites][0]=a&filter[sites][1]=b") == {"filter": {"sites": ["a", "b"]}}  # fmt: skip
    assert parse_php_query("filter[ids]=1&filter[ids]=2") == {"filter": {"ids": ["1", "2"]}}
    assert parse_php_query("filter=None&limit=20&page=1") == {"filter": "None", "limit": "20", "page": "1"}  # fmt: skip
    assert parse_php_query("filter[a][b]=x+y&q=%3A") == {"filter": {"a": {"b": "x y"}}, "q": ":"}


@pytest.mark.parametrize(
    "query",
    [
        # Captured from retailcrm==5.3.0 (§3.1): booleans as True, filter=None default.
        "filter%5Bdetails%5D=True&filter%5BofferExternalId%5D=assam-100&limit=20&page=1",
        "filter%5Bdetails%5D=1&filter%5BofferExternalId%5D%5B%5D=assam-100&limit=20&page=1",
        "filter%5Bdetails%5D=1&filter%5BofferExternalId%5D%5B0%5D=assam-100&limit=20&page=1",
    ],
)
def test_inventory_filters_read_the_same_in_every_encoding(api: httpx.Client, query: str):
    body = api.get(f"/store/inventories?{query}").json()
    (offer,) = body["offers"]
    assert offer["externalId"] == "assam-100" and {s["store"] for s in offer["stores"]} == {s["code"] for s in STORES}  # fmt: skip


def test_lists_page_with_the_documented_pagination(api: httpx.Client, box: RetailCrmSandbox):
    everything = api.get("/store/inventories?filter=None&limit=20&page=1").json()
    assert everything["pagination"] == {"limit": 20, "totalCount": 12, "currentPage": 1, "totalPageCount": 1}  # fmt: skip
    assert "stores" not in everything["offers"][0]  # only with details
    beyond = api.get("/store/inventories", params={"limit": 20, "page": 3}).json()
    assert beyond["offers"] == [] and beyond["pagination"]["currentPage"] == 3
    wrong = api.get("/store/inventories", params={"limit": 25})
    assert wrong.status_code == 400 and "limit" in wrong.json()["errors"]
    groups = api.get("/store/product-groups").json()
    assert [g["name"] for g in groups["productGroup"]] == ["Tea", "Coffee", "Teaware", "Black tea"]
    products = api.get("/store/products", params={"limit": 50}).json()
    assert sum(len(p["offers"]) for p in products["products"]) == len(box.offers)


# ---------------------------------------------------------------- inventories upload
def test_upload_sets_stock_and_cost_and_reports_unknown_offers(api, box):
    offer = box.offer_by_article("TEA-ASSAM-100")
    answer = upload(api, [
        {"externalId": "assam-100", "stores": [{"code": "main", "available": 5, "purchasePrice": 10.5}]},
        {"id": offer["id"] + 1, "stores": [{"code": "north", "available": 0}]},
        {"xmlId": "nowhere", "stores": [{"code": "main", "available": 1}]},
        {"externalId": "teapot-white", "stores": [{"code": "supplier", "available": 17}]},
    ], site=SITE)  # fmt: skip
    assert answer.status_code == 200
    assert answer.json() == {"success": True, "processedOffersCount": 3, "notFoundOffers": [{"xmlId": "nowhere"}]}  # fmt: skip
    assert box.stock(offer["id"], "main") == (5, 10.5) and offer["purchasePrice"] == 10.5
    assert box.stock(offer["id"] + 1, "north")[0] == 0
    # A store of inventory type "available" records the fact of availability.
    assert box.stock(box.offer_by_article("POT-CER-W")["id"], "supplier")[0] == 1
    assert box.upload_requests == [4]


GOOD = {"externalId": "assam-250", "stores": [{"code": "main", "available": 99}]}


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"externalId": "assam-100", "available": 5}, "offers[1].stores"),  # §7.2: a 400
        ({"stores": [{"code": "main", "available": 1}]}, "offers[1]"),
        (
            {"externalId": "assam-100", "stores": [{"code": "moon", "available": 1}]},
            "offers[1].stores[0].code",
        ),  # fmt: skip
        (
            {"externalId": "assam-100", "stores": [{"code": "main", "available": -1}]},
            "offers[1].stores[0].available",
        ),  # fmt: skip
        (
            {"externalId": "assam-100", "stores": [{"code": "main", "available": True}]},
            "offers[1].stores[0].available",
        ),  # fmt: skip
        ({"externalId": "assam-100", "stores": [{"code": "main"}]}, "offers[1].stores[0]"),
    ],
)
def test_malformed_uploads_are_refused_whole(api, box, bad, field):
    before = json.dumps(box.inventories, sort_keys=True)
    answer = upload(api, [GOOD, bad])
    body = answer.json()
    assert answer.status_code == 400 and body["success"] is False
    assert body["errorMsg"] == "Errors in the input parameters"
    assert list(body["errors"]) == [field]
    assert json.dumps(box.inventories, sort_keys=True) == before  # the good offer neither
    assert box.upload_requests == []


def test_more_than_250_offers_are_refused(api, box):
    offers = [GOOD | {"externalId": f"x{n}"} for n in range(251)]
    answer = upload(api, offers)
    assert answer.status_code == 400
    assert answer.json()["errors"] == {"offers": "This collection should contain 250 elements or less."}  # fmt: skip
    assert upload(api, offers[:250]).json()["notFoundOffers"][249] == {"externalId": "x249"}
    assert box.upload_requests == [250]


def test_upload_without_offers_names_the_missing_parameter(api: httpx.Client):
    answer = api.post("/store/inventories/upload", data={"site": SITE})
    assert answer.status_code == 400
    assert answer.json() == {"success": False, "errorMsg": "Parameter 'offers' is missing"}


def test_byte_for_byte_captures_of_the_official_client_are_understood(box: RetailCrmSandbox):
    """Bodies exactly as retailcrm==5.3.0 sent them (spaced JSON, '+' for spaces)."""
    headers = {"X-API-KEY": box.token} | FORM
    body = (
        f"site={SITE}&offers=%5B%7B%22externalId%22%3A+%22assam-100%22%2C+%22stores%22%3A+%5B%7B%22code%22"
        "%3A+%22main%22%2C+%22available%22%3A+5%2C+%22purchasePrice%22%3A+10.5%7D%5D%7D%5D"
    )
    answer = httpx.post(box.base_url + "/store/inventories/upload", content=body, headers=headers)
    assert answer.json()["processedOffersCount"] == 1
    assert box.stock(box.offer_by_article("TEA-ASSAM-100")["id"], "main") == (5, 10.5)
    module = (
        "integrationModule=%7B%22code%22%3A+%22my-wms%22%2C+%22integrationCode%22%3A+%22my-wms%22%2C+"
        "%22active%22%3A+true%2C+%22name%22%3A+%22My+WMS%22%2C+%22clientId%22%3A+%22client-1%22%2C+"
        "%22baseUrl%22%3A+%22https%3A%2F%2Fwms.example%22%2C+%22integrations%22%3A+%7B%22store%22%3A+"
        "%7B%22actions%22%3A+%5B%7B%22code%22%3A+%22inventoriesUpload%22%2C+%22url%22%3A+%22%2Finventories"
        "%22%2C+%22callPoints%22%3A+%5B%22orderCreate%22%5D%7D%5D%7D%7D%7D"
    )
    created = httpx.post(box.base_url + "/integration-modules/my-wms/edit", content=module, headers=headers)  # fmt: skip
    assert created.status_code == 201 and created.json() == {"success": True, "info": []}
    assert (
        box.state.modules["my-wms"]["integrations"]["store"]["actions"][0]["url"] == "/inventories"
    )


# ---------------------------------------------------------------- the integration module
def test_module_edit_creates_then_updates_and_get_hides_the_client_id(api, box):
    assert api.get("/integration-modules/stockbridge").status_code == 404
    assert register(api).status_code == 201
    assert register(api, name="Stockbridge WMS").status_code == 200
    module = api.get("/integration-modules/stockbridge").json()["integrationModule"]
    assert module["name"] == "Stockbridge WMS" and module["active"] is True
    assert "clientId" not in module and box.module["clientId"] == "client-1"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"baseUrl": ""}, "integrationModule[baseUrl]"),
        ({"clientId": None, "name": " "}, "integrationModule[name]"),
        ({"integrations": {"store": {"actions": [{"code": "inventoriesUpload", "url": "/inv"}]}}},
         "integrationModule[integrations][store][actions][0][callPoints]"),
    ],
)  # fmt: skip
def test_module_registration_is_validated(api, change, field):
    answer = register(api, **change)
    assert answer.status_code == 400 and field in answer.json()["errors"]


# ---------------------------------------------------------------- orders and shipment
def test_shipped_is_editable_only_with_a_registered_warehouse(api, box):
    order = next(o for o in box.orders.values() if o["status"] == "assembling")
    change = {"order": json.dumps({"shipped": True, "shipmentStore": "main", "shipmentDate": "2024-05-02"}),  # fmt: skip
              "by": "id"}  # fmt: skip
    refused = api.post(f"/orders/{order['id']}/edit", data=change)
    assert refused.status_code == 400
    assert "warehouse system is registered" in refused.json()["errors"]["shipped"]
    assert order["shipped"] is False and "shipmentStore" not in order  # nothing applied
    register(api, active=False)
    assert api.post(f"/orders/{order['id']}/edit", data=change).status_code == 400
    register(api, active=True)
    before = len(box.history)
    accepted = api.post(f"/orders/{order['id']}/edit", data=change)
    assert accepted.status_code == 200 and accepted.json()["order"]["shipped"] is True
    fields = [(e["field"], e["newValue"]) for e in box.history[before:]]
    assert fields == [("shipped", True), ("shipment_store", {"code": "main"}), ("shipment_date", "2024-05-02")]  # fmt: skip


def test_orders_are_found_by_external_id_by_default_and_by_id_on_request(api, box):
    shop_order = next(o for o in box.orders.values() if o.get("externalId"))
    assert api.get(f"/orders/{shop_order['externalId']}").json()["order"]["id"] == shop_order["id"]
    assert api.get(f"/orders/{shop_order['id']}", params={"by": "id"}).json()["order"]["id"] == shop_order["id"]  # fmt: skip
    assert api.get(f"/orders/{shop_order['id']}").status_code == 404  # an id is no externalId
    assert api.get(f"/orders/{shop_order['externalId']}", params={"site": "other"}).status_code == 404  # fmt: skip
    assert api.get("/orders/1", params={"by": "number"}).status_code == 400


def test_order_edits_validate_everything_first(api, box):
    register(api)
    order = next(o for o in box.orders.values() if o["status"] == "new")
    bad = {"shipped": True, "shipmentStore": "moon", "shipmentDate": "02.05.2024"}
    answer = api.post(f"/orders/{order['id']}/edit", data={"order": json.dumps(bad), "by": "id"})
    assert answer.status_code == 400
    assert set(answer.json()["errors"]) == {"shipmentStore", "shipmentDate"}
    assert order["shipped"] is False


def test_history_pages_by_since_id_and_statuses_tell_groups(api, box):
    first = api.get("/orders/history", params={"limit": 20}).json()
    assert first["pagination"]["totalCount"] == len(box.history) and "generatedAt" in first
    last = first["history"][-1]["id"]
    after = api.get("/orders/history", params={"filter[sinceId]": last, "limit": 100}).json()
    assert [e["id"] for e in after["history"]] == [e["id"] for e in box.history if e["id"] > last]
    created = next(e for e in first["history"] if e.get("created"))
    assert created["order"]["items"]  # a creation entry holds the whole order
    order = box.create_order([(3001, 1)], status="new")
    box.set_order_status(order["id"], "awaiting-stock")
    newest = api.get("/orders/history", params={"filter[sinceId]": box.history[-3]["id"]}).json()
    assert [e.get("field") for e in newest["history"]] == [None, "status"]
    statuses = api.get("/orders/statuses", params={"ids[]": [order["id"]]}).json()
    assert statuses["orders"] == [{"id": order["id"], "externalId": None, "status": "awaiting-stock", "group": "approval"}]  # fmt: skip


# ---------------------------------------------------------------- limits and faults
@pytest.mark.parametrize("style", ["html", "json"])
def test_more_than_ten_requests_a_second_get_503(style: str):
    limited = RetailCrmSandbox(rate_per_second=10, rate_limit_body=style)
    with limited, httpx.Client(base_url=limited.start(), headers={"X-API-KEY": limited.token}) as c:
        answers = [c.get("/reference/stores") for _ in range(14)]
    refused = [a for a in answers if a.status_code == 503]
    assert [a.status_code for a in answers[:10]] == [200] * 10 and len(refused) >= 1
    assert len(limited.breaches) == len(refused) and refused[0].headers["retry-after"]
    if style == "html":
        assert "503 Service Temporarily Unavailable" in refused[0].text
    else:
        assert refused[0].json()["success"] is False


def test_injected_faults_answer_first(api, box):
    box.inject({"path_contains": "/store/inventories", "status": 503, "count": 1})
    assert api.get("/store/inventories").status_code == 503
    assert api.get("/store/inventories").status_code == 200
    assert [e["fault"] for e in box.requests_to("/store/inventories")] == [True, False]


# ---------------------------------------------------------------- the official client
def test_the_official_client_drives_the_sandbox(official: Any, box: RetailCrmSandbox):
    stores = official.stores()
    assert stores.is_successful() and len(stores.get_response()["stores"]) == len(STORES)
    offers = official.inventories(limit=100).get_response()["offers"]  # sends filter=None
    assert len(offers) == len(box.offers)
    assert box.requests_to("/store/inventories")[-1]["query"]["filter"] == "None"
    detailed = official.inventories(
        {"offerExternalId": "assam-100", "details": True}
    ).get_response()
    assert detailed["offers"][0]["stores"][0]["store"] == "main"
    response = official.inventories_upload(
        [{"externalId": "earl-100", "stores": [{"code": "main", "available": 4, "purchasePrice": 151}]}],
        site=SITE,
    )  # fmt: skip
    assert response.get_response()["processedOffersCount"] == 1
    assert box.stock(box.offer_by_article("TEA-EARL-100")["id"], "main") == (4, 151)
    assert official.products({}, limit=20).is_successful()
    assert official.product_groups().get_response()["productGroup"]
    history = official.orders_history({"sinceId": 10}, limit=20).get_response()
    assert history["history"][0]["id"] == 11


def test_the_official_client_ships_orders_once_registered(official: Any, box: RetailCrmSandbox):
    order = next(o for o in box.orders.values() if o.get("externalId") and o["status"] == "new")
    edit = {"externalId": order["externalId"], "shipped": True, "shipmentStore": "north",
            "shipmentDate": "2024-05-02", "comment": "Ж"}  # fmt: skip
    refused = official.order_edit(edit, site=SITE)
    assert refused.get_status_code() == 400 and not refused.is_successful()
    assert "warehouse system" in refused.get_errors()["shipped"]
    module = {"code": "stockbridge", "integrationCode": "stockbridge", "active": True,
              "name": "Stockbridge", "clientId": "c-1", "baseUrl": "https://wms.example",
              "integrations": {"store": {"actions": []}}}  # fmt: skip
    assert official.integration_module_edit(module).get_status_code() == 201
    assert official.integration_module("stockbridge").get_response()["integrationModule"]["code"] == "stockbridge"  # fmt: skip
    shipped = official.order_edit(edit, site=SITE)
    assert shipped.is_successful() and box.orders[order["id"]]["shipmentStore"] == "north"
    assert "order edit: field 'comment' ignored" in box.warnings  # noted, not refused
    by_id = official.order(order["id"], "id").get_response()["order"]
    assert by_id["shipped"] is True and by_id["shipmentDate"] == "2024-05-02"


# ---------------------------------------------------------------- control routes and CLI
def test_control_routes_play_the_shop_and_the_manager(box: RetailCrmSandbox):
    with httpx.Client(base_url=box.root_url) as harness:
        made = harness.post("/_sandbox/orders", json={"items": [{"offer_id": 3001, "quantity": 2}]})
        assert made.status_code == 201
        order_id = made.json()["order"]["id"]
        moved = harness.post(f"/_sandbox/orders/{order_id}/status", json={"status": "assembling"})
        assert moved.json()["order"]["status"] == "assembling"
        assert harness.post(f"/_sandbox/orders/{order_id}/status", json={"status": "x"}).status_code == 422  # fmt: skip
        summary = harness.get("/_sandbox/summary").json()
    assert summary["orders"] == 13 and summary["module"] is False
    assert box.requests_to("/_sandbox") == []  # the harness is not logged


def test_the_cli_can_serve_it():
    sandbox = RetailCrmSandbox(seed=3, port=0, extra_orders=2)
    url = sandbox.start()
    try:
        assert url.endswith("/api/v5") and sandbox.root_url + "/api/v5" == url
        assert httpx.get(url + "/reference/stores", headers={"X-API-KEY": sandbox.token}).status_code == 200  # fmt: skip
    finally:
        sandbox.stop()
    started = time.monotonic()
    sandbox.stop()  # a second stop is harmless
    assert time.monotonic() - started < 1
