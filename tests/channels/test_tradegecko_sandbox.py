"""The TradeGecko sandbox twin over real loopback HTTP (plain httpx, no product code)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from app.channels.tradegecko.sandbox import TradeGeckoSandbox
from app.channels.tradegecko.webhooks import verify_signature


@pytest.fixture
def box() -> Iterator[TradeGeckoSandbox]:
    with TradeGeckoSandbox(seed=1) as sandbox:
        yield sandbox


def client_for(sandbox: TradeGeckoSandbox, token: str | None = None) -> httpx.Client:
    headers = {"Accept": "application/json"}
    if token != "":
        headers["Authorization"] = f"Bearer {token or sandbox.token}"
    return httpx.Client(base_url=sandbox.base_url, headers=headers, timeout=10)


@pytest.fixture
def api(box: TradeGeckoSandbox) -> Iterator[httpx.Client]:
    with client_for(box) as client:
        yield client


def variant_id(box: TradeGeckoSandbox, sku: str) -> int:
    return box.variants_by_sku(sku)[0]["id"]


def company_id(box: TradeGeckoSandbox, name: str) -> int:
    return next(c["id"] for c in box.companies.values() if c["name"] == name)


def shipping_of(box: TradeGeckoSandbox, company: int) -> int:
    return next(a["id"] for a in box.addresses.values() if a["company_id"] == company)


def new_order(api: httpx.Client, box: TradeGeckoSandbox, **changes: Any) -> httpx.Response:
    kauri = company_id(box, "Kauri Cove Café")
    body = {
        "company_id": kauri,
        "shipping_address_id": shipping_of(box, kauri),
        "issued_at": "2024-05-02",
        "status": "active",
        "order_line_items": [{"variant_id": variant_id(box, "HP-MH-250"), "quantity": "2"}],
    } | changes
    return api.post("/orders", json={"order": body})


# ---------------------------------------------------------------- seeded account
def test_seeded_merchant_has_what_a_stock_master_must_cope_with(box: TradeGeckoSandbox):
    variants = list(box.variants.values())
    assert len(box.stock_locations()) == 2
    skus = [v["sku"] for v in variants]
    assert skus.count("HP-BW-M") == 2 and "" in skus  # duplicate and missing SKU
    assert any(not v["manage_stock"] for v in variants)
    assert any(v["keep_selling"] for v in variants)
    assert any(v["max_online"] is not None for v in variants)
    assert any(v["status"] == "archived" for v in variants)
    assert min(box.stock(v["id"], loc)[0] for v in variants for loc in box.stock_locations()) < 0
    kinds = {c["company_type"] for c in box.companies.values()}
    assert kinds == {"business", "consumer", "supplier"}
    # Historic orders hold stock: SO0002 at the shop, SO0003 (packed) at the warehouse.
    auckland, wellington = box.stock_locations()
    assert box.stock(variant_id(box, "HP-MH-500"), wellington) == (6.0, 2.0)
    assert box.stock(variant_id(box, "HP-KB-50"), auckland) == (30.0, 1.0)
    again = TradeGeckoSandbox(seed=1)
    assert (again.token, again.client_id) == (box.token, box.client_id)
    assert TradeGeckoSandbox(seed=2).token != box.token
    assert len(box.token) == 64 and int(box.token, 16) >= 0


# ---------------------------------------------------------------- auth and envelopes
def test_missing_or_wrong_tokens_are_401(box: TradeGeckoSandbox):
    for token in ("", "0" * 64):
        with client_for(box, token) as client:
            answer = client.get("/variants")
        assert answer.status_code == 401
        assert answer.json()["type"] == "Unauthorized"
        assert "invalid_token" in answer.headers["WWW-Authenticate"]
        assert "X-Rate-Limit-Remaining" not in answer.headers


def test_envelopes_headers_and_the_documented_variant_shape(
    api: httpx.Client, box: TradeGeckoSandbox
):
    listing = api.get("/variants", params={"limit": 3})
    assert listing.status_code == 200
    assert listing.headers["Content-Type"] == "application/json; charset=utf-8"
    assert listing.headers["X-Request-Id"] and listing.headers["X-Rate-Limit-Limit"] == "300"
    body = listing.json()
    assert set(body) == {"variants", "meta"} and len(body["variants"]) == 3
    assert body["meta"]["total"] == 13  # the archived variant is hidden by default
    honey = variant_id(box, "HP-MH-500")
    shown = api.get(f"/variants/{honey}").json()["variant"]
    assert shown["product_name"] == "Manuka Honey" and shown["name"] == "500g"
    assert shown["stock_on_hand"] == "31" and shown["committed_stock"] == "2"
    assert [loc["location_id"] for loc in shown["locations"]] == box.stock_locations()
    assert (
        shown["locations"][1]["stock_on_hand"] == "6" and shown["locations"][1]["committed"] == "2"
    )
    assert shown["retail_price"] == "32.0" and shown["prices"]["retail"] == "32.0"
    # Trailing slashes and the .json suffix reach the same routes.
    assert api.get(f"/variants/{honey}.json").json() == api.get(f"/variants/{honey}/").json()
    missing = api.get("/variants/999999")
    assert missing.status_code == 404 and missing.json()["type"] == "Not Found"


def test_pagination_headers_limits_and_bounds(api: httpx.Client):
    first = api.get("/variants", params={"limit": 5})
    paging = json.loads(first.headers["X-Pagination"])
    assert paging == {
        "total_records": 13,
        "total_pages": 3,
        "first_page": True,
        "last_page": False,
        "out_of_bounds": False,
        "offset": 0,
    }
    assert 'rel="next"' in first.headers["Link"] and 'rel="last"' in first.headers["Link"]
    last = api.get("/variants", params={"limit": 5, "page": 3})
    assert (
        len(last.json()["variants"]) == 3 and json.loads(last.headers["X-Pagination"])["last_page"]
    )
    beyond = api.get("/variants", params={"limit": 5, "page": 9})
    assert (
        beyond.json()["variants"] == []
        and json.loads(beyond.headers["X-Pagination"])["out_of_bounds"]
    )
    count = api.get("/variants", params={"limit": 0})
    assert (
        count.json()["variants"] == []
        and json.loads(count.headers["X-Pagination"])["total_records"] == 13
    )
    too_many = api.get("/variants", params={"limit": 251})
    assert too_many.status_code == 400 and "250" in too_many.json()["message"]
    default = api.get("/variants")
    assert len(default.json()["variants"]) == 13  # under the default limit of 50


def test_filters_combine_and_accept_arrays_or_comma_lists(
    api: httpx.Client, box: TradeGeckoSandbox
):
    a, b = variant_id(box, "HP-MH-250"), variant_id(box, "HP-KB-50")
    by_array = api.get("/variants", params=[("ids[]", a), ("ids[]", b)]).json()["variants"]
    by_comma = api.get("/variants", params={"ids": f"{a},{b}"}).json()["variants"]
    assert {v["id"] for v in by_array} == {v["id"] for v in by_comma} == {a, b}
    twins = api.get("/variants", params={"sku": "HP-BW-M"}).json()["variants"]
    assert len(twins) == 2
    archived = api.get("/variants", params={"status": "archived"}).json()["variants"]
    assert [v["sku"] for v in archived] == ["HP-FT-N"]
    blank = api.get("/variants", params={"sku": "", "limit": 100}).json()["variants"]
    assert len(blank) == 13  # blank filter values are ignored
    oldest = api.get("/variants", params={"order": "created_at asc"}).json()["variants"]
    assert [v["id"] for v in oldest] == sorted(v["id"] for v in oldest)
    assert api.get("/variants", params={"order": "sku up"}).status_code == 400
    suppliers = api.get("/companies", params=[("company_type[]", "supplier")]).json()["companies"]
    assert [c["name"] for c in suppliers] == ["Waitemata Packaging Ltd"]
    by_email = api.get("/companies", params={"email": "ORDERS@kauricove.example"}).json()[
        "companies"
    ]
    assert [c["name"] for c in by_email] == ["Kauri Cove Café"]


def test_updated_at_min_finds_variants_whose_stock_moved(api: httpx.Client, box: TradeGeckoSandbox):
    mark = time.time()
    honey = variant_id(box, "HP-MH-1000")
    box.set_stock(honey, box.stock_locations()[1], 9)
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(mark - 1)) + ".000Z"
    changed = api.get("/variants", params={"updated_at_min": since}).json()["variants"]
    assert [v["id"] for v in changed] == [honey]
    assert changed[0]["locations"][1]["stock_on_hand"] == "9"
    event = box.webhook_events[-1]
    assert (event["event"], event["object_id"]) == ("variant.stock_level_update", honey)
    assert verify_signature(event["body"], event["signature"], box.app_secret)
    assert json.loads(event["body"])["resource_url"].endswith(f"/variants/{honey}.json")
    bad = api.get("/variants", params={"updated_at_min": "last tuesday"})
    assert bad.status_code == 400


# ---------------------------------------------------------------- orders
def test_create_commits_stock_and_answers_201_with_location(
    api: httpx.Client, box: TradeGeckoSandbox
):
    honey = variant_id(box, "HP-MH-250")
    auckland = box.stock_locations()[0]
    created = new_order(api, box, reference_number="SB-1")
    assert created.status_code == 201
    order = created.json()["order"]
    assert created.headers["Location"] == f"{box.base_url}/orders/{order['id']}"
    assert (order["order_number"], order["status"], order["packed_status"]) == (
        "SO0006",
        "active",
        "unpacked",
    )
    assert order["total"] == "37.0" and order["source_id"] == "42"
    assert box.stock(honey, auckland) == (40.0, 2.0)
    assert box.creates_applied == 1
    found = api.get("/orders", params={"reference_number": "SB-1"}).json()["orders"]
    assert [o["id"] for o in found] == [order["id"]]
    assert (
        "order_line_items" not in api.get("/orders", params={"include": "order_line_items"}).json()
    )
    shown = api.get(f"/orders/{order['id']}", params={"include": "order_line_items,company"}).json()
    assert [line["quantity"] for line in shown["order_line_items"]] == ["2.0"]
    assert shown["companies"][0]["name"] == "Kauri Cove Café"


def test_embedded_company_and_address_are_created_with_the_order(
    api: httpx.Client, box: TradeGeckoSandbox
):
    body = {
        "issued_at": "2018-06-01",
        "order_line_items": [{"variant_id": variant_id(box, "HP-KB-50"), "quantity": 1}],
        "shipping_address": {"label": "Office", "address1": "123 TG Street"},
        "company": {"name": "TG Company", "company_type": "consumer"},
    }
    order = api.post("/orders/", json={"order": body}).json()["order"]
    assert order["status"] == "draft"  # the default when no status is sent
    company = box.companies[order["company_id"]]
    assert company["name"] == "TG Company"
    assert order["billing_address_id"] == order["shipping_address_id"]
    assert box.addresses[order["shipping_address_id"]]["company_id"] == company["id"]


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"issued_at": None}, {"issued_at": ["can't be blank"]}),
        (
            {"order_line_items": [{"variant_id": 999999, "quantity": "1"}]},
            {"order_line_items.variant_id": ["is invalid"]},
        ),
        (
            {"order_line_items": [{"variant_id": "x", "quantity": "0"}]},
            {
                "order_line_items.variant_id": ["is invalid"],
                "order_line_items.quantity": ["must be greater than 0"],
            },
        ),
        (
            {"currency_iso": "EUR"},
            {"currency_iso": ["does not match any currency of the account (EUR)"]},
        ),
        (
            {"company_id": None, "shipping_address_id": None, "company": {"name": "X"}},
            {"company.company_type": ["can't be blank"], "shipping_address": ["can't be blank"]},
        ),
        ({"status": "shipped"}, {"status": ["is not included in the list"]}),
    ],
)
def test_validation_failures_are_422_with_field_messages(
    api: httpx.Client, box: TradeGeckoSandbox, changes, errors
):
    answer = new_order(api, box, **changes)
    assert answer.status_code == 422
    assert answer.json() == {"errors": errors}
    assert answer.headers["Cache-Control"] == "no-cache"
    assert box.creates_applied == 0


def test_missing_root_key_is_400(api: httpx.Client):
    answer = api.post("/orders", json={"company_id": 1})
    assert answer.status_code == 400
    assert answer.json()["message"] == "param is missing or the value is empty: order"


def test_actions_follow_the_documented_lifecycle_and_move_stock(
    api: httpx.Client, box: TradeGeckoSandbox
):
    honey = variant_id(box, "HP-MH-250")
    auckland = box.stock_locations()[0]
    order = new_order(api, box).json()["order"]
    act = lambda name, body=None: api.post(f"/orders/{order['id']}/actions/{name}", json=body)  # noqa: E731
    refused = act("pack")
    assert refused.status_code == 422
    assert refused.json() == {"errors": {"base": ["Finalise the order before it is packed"]}}
    assert (
        api.put(f"/orders/{order['id']}", json={"order": {"status": "finalized"}}).status_code
        == 204
    )
    invoiced = act("invoice").json()["order"]
    assert invoiced["invoice_status"] == "invoiced" and invoiced["invoice_numbers"]
    assert act("invoice").json()["errors"]["base"] == ["This order has been fully invoiced"]
    paid = act("pay", {"payment": {"payment_method_name": "Credit Card"}}).json()["order"]
    assert paid["payment_status"] == "paid"
    packed = act("pack", {"fulfillment": {"tracking_number": "NZP123"}}).json()["order"]
    assert packed["packed_status"] == "packed" and box.stock(honey, auckland) == (40.0, 2.0)
    assert box.webhook_events[-1]["event"] == "fulfillment.create"
    shipped = act("fulfill").json()["order"]  # the guide's other spelling works too
    assert (shipped["status"], shipped["fulfillment_status"]) == ("fulfilled", "shipped")
    assert box.stock(honey, auckland) == (38.0, 0.0)
    assert act("fulfil").status_code == 422
    fulfillments = api.get("/fulfillments", params={"order_id": order["id"]}).json()
    assert [f["status"] for f in fulfillments["fulfillments"]] == ["fulfilled"]
    assert fulfillments["fulfillments"][0]["tracking_number"] == "NZP123"
    assert [i["quantity"] for i in fulfillments["fulfillment_line_items"]] == ["2.0"]


def test_returns_come_back_when_received(api: httpx.Client, box: TradeGeckoSandbox):
    honey = variant_id(box, "HP-MH-250")
    auckland = box.stock_locations()[0]
    order = new_order(api, box, status="finalized").json()["order"]
    api.post(f"/orders/{order['id']}/actions/fulfil")
    line = box.order_line_items[order["order_line_item_ids"][0]]
    too_many = api.post(
        "/fulfillment_returns",
        json={
            "fulfillment_return": {
                "order_id": order["id"],
                "fulfillment_return_line_items": [
                    {"order_line_item_id": line["id"], "quantity": 3}
                ],
            }
        },
    )
    assert too_many.status_code == 422
    created = api.post(
        "/fulfillment_returns",
        json={
            "fulfillment_return": {
                "order_id": order["id"],
                "fulfillment_return_line_items": [
                    {"order_line_item_id": line["id"], "quantity": 2}
                ],
            }
        },
    )
    assert created.status_code == 201
    record = created.json()["fulfillment_return"]
    assert (record["status"], record["credit_note_number"], record["location_id"]) == (
        "returning",
        "CN0001",
        auckland,
    )
    assert box.stock(honey, auckland) == (38.0, 0.0)  # not back until received
    assert (
        api.put(
            f"/fulfillment_returns/{record['id']}",
            json={"fulfillment_return": {"status": "received"}},
        ).status_code
        == 204
    )
    assert box.stock(honey, auckland) == (40.0, 0.0)
    assert api.get(f"/orders/{order['id']}").json()["order"]["return_status"] == "returned"


def test_untracked_variants_never_move(api: httpx.Client, box: TradeGeckoSandbox):
    gift = variant_id(box, "HP-GC-25")
    auckland = box.stock_locations()[0]
    order = new_order(
        api, box, status="finalized", order_line_items=[{"variant_id": gift, "quantity": 3}]
    ).json()["order"]
    api.post(f"/orders/{order['id']}/actions/fulfil")
    assert box.stock(gift, auckland) == (0.0, 0.0)


def test_address_update_answers_200_and_labels_are_unique(
    api: httpx.Client, box: TradeGeckoSandbox
):
    kauri = company_id(box, "Kauri Cove Café")
    taken = api.post(
        "/addresses", json={"address": {"company_id": kauri, "label": "Billing", "address1": "x"}}
    )
    assert taken.status_code == 422 and taken.json() == {
        "errors": {"label": ["has already been taken"]}
    }
    address = shipping_of(box, kauri)
    answer = api.put(f"/addresses/{address}", json={"address": {"address2": "Door 2"}})
    assert answer.status_code == 200 and answer.json()["address"]["address2"] == "Door 2"


# ---------------------------------------------------------------- idempotency and drops
def test_idempotency_key_replays_the_first_answer(api: httpx.Client, box: TradeGeckoSandbox):
    key = {"Idempotency-Key": "8a1f2c7e-order-1"}
    kauri = company_id(box, "Kauri Cove Café")
    body = {
        "order": {
            "company_id": kauri,
            "shipping_address_id": shipping_of(box, kauri),
            "issued_at": "2024-05-02",
            "order_line_items": [{"variant_id": variant_id(box, "HP-MH-250"), "quantity": "1"}],
        }
    }
    first = api.post("/orders", json=body, headers=key)
    second = api.post("/orders", json=body, headers=key)
    assert first.status_code == second.status_code == 201
    assert first.json()["order"]["id"] == second.json()["order"]["id"]
    assert second.headers["Location"] == first.headers["Location"]
    assert box.creates_applied == 1
    elsewhere = api.post(
        "/companies", json={"company": {"name": "X", "company_type": "business"}}, headers=key
    )
    assert elsewhere.status_code == 422 and "idempotency_key" in elsewhere.json()["errors"]
    # A refusal is not stored: the corrected request under the same key goes through.
    bad_key = {"Idempotency-Key": "8a1f2c7e-order-2"}
    refused = api.post(
        "/orders", json={"order": body["order"] | {"issued_at": None}}, headers=bad_key
    )
    assert refused.status_code == 422
    assert api.post("/orders", json=body, headers=bad_key).status_code == 201
    assert box.creates_applied == 2


def test_a_dropped_create_is_applied_without_an_answer(api: httpx.Client, box: TradeGeckoSandbox):
    box.drop_next_create()
    with pytest.raises(httpx.RemoteProtocolError):
        new_order(api, box, reference_number="SB-drop")
    assert box.creates_applied == 1
    assert [o["reference_number"] for o in box.orders.values()].count("SB-drop") == 1
    assert new_order(api, box).status_code == 201  # only the next create is dropped


def test_a_stalled_create_times_the_client_out(box: TradeGeckoSandbox):
    box.drop_next_create(stall=1.0)
    headers = {"Authorization": f"Bearer {box.token}"}
    slow = httpx.Client(base_url=box.base_url, headers=headers, timeout=0.3)
    with slow, pytest.raises(httpx.ReadTimeout):
        new_order(slow, box)
    assert box.creates_applied == 1


# ---------------------------------------------------------------- rate limit
def test_rate_limit_is_a_fixed_window_with_headers_and_429():
    with TradeGeckoSandbox(rate_limit=3, window_seconds=60.0) as box, client_for(box) as api:
        answers = [api.get("/locations") for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert [a.headers["X-Rate-Limit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
        reset = int(answers[-1].headers["X-Rate-Limit-Reset"])
        assert reset % 60 == 0 and 0 < reset - time.time() <= 60
        assert "Retry-After" not in answers[-1].headers
        assert answers[-1].json()["type"] == "Too Many Requests"
        # Another application's token would have its own budget; the same app's
        # privileged tokens share it.
        with client_for(box, box.issue_privileged_token()) as same_app:
            assert same_app.get("/locations").status_code == 429


def test_the_window_resets():
    with TradeGeckoSandbox(rate_limit=2, window_seconds=0.5) as box, client_for(box) as api:
        for _attempt in range(5):  # a window boundary may fall inside a burst: try again
            if [api.get("/locations").status_code for _ in range(3)][-1] == 429:
                break
        else:
            pytest.fail("three quick requests never met the limit of two")
        time.sleep(0.55)
        assert api.get("/locations").status_code == 200


# ---------------------------------------------------------------- OAuth
def _authorize(box: TradeGeckoSandbox, redirect_uri: str, state: str = "s-1") -> httpx.Response:
    return httpx.get(
        f"{box.base_url}/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": box.client_id,
            "redirect_uri": redirect_uri,
            "state": state,
        },
    )


def _token(box: TradeGeckoSandbox, **form: str) -> httpx.Response:
    body = {"client_id": box.client_id, "client_secret": box.client_secret} | form
    return httpx.post(f"{box.base_url}/oauth/token", json=body)


def test_authorization_code_and_rotating_refresh_tokens(box: TradeGeckoSandbox):
    redirect = "http://127.0.0.1:8765/callback"
    answer = _authorize(box, redirect)
    assert answer.status_code == 302
    target = urlsplit(answer.headers["Location"])
    query = parse_qs(target.query)
    assert f"{target.scheme}://{target.netloc}{target.path}" == redirect and query["state"] == [
        "s-1"
    ]
    code = query["code"][0]
    assert (
        _token(
            box, grant_type="authorization_code", code=code, redirect_uri="http://127.0.0.1:9/x"
        ).status_code
        == 400
    )
    first = _token(box, grant_type="authorization_code", code=code, redirect_uri=redirect)
    tokens = first.json()
    assert first.status_code == 200
    assert (tokens["expires_in"], tokens["scope"], tokens["token_type"]) == (
        7200,
        "public",
        "bearer",
    )
    assert len(tokens["access_token"]) == 64 and tokens["refresh_token"]
    assert (
        _token(box, grant_type="authorization_code", code=code, redirect_uri=redirect).json()[
            "error"
        ]
        == "invalid_grant"
    )
    with client_for(box, tokens["access_token"]) as api:
        assert api.get("/accounts/current").status_code == 200
    renewed = _token(box, grant_type="refresh_token", refresh_token=tokens["refresh_token"]).json()
    assert renewed["refresh_token"] != tokens["refresh_token"]
    reused = _token(box, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_request"
    with (
        client_for(box, tokens["access_token"]) as old,
        client_for(box, renewed["access_token"]) as new,
    ):
        assert old.get("/accounts/current").status_code == 401
        assert new.get("/accounts/current").status_code == 200
    form = httpx.post(
        f"{box.base_url}/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": renewed["refresh_token"],
            "client_id": box.client_id,
            "client_secret": box.client_secret,
        },
    )
    assert form.status_code == 200  # the gem's form encoding is accepted too
    assert (
        _token(
            box, client_secret="wrong", grant_type="refresh_token", refresh_token="x"
        ).status_code
        == 401
    )


def test_authorize_refuses_strangers_and_reports_denial(box: TradeGeckoSandbox):
    assert _authorize(box, "https://evil.example/callback").status_code == 400
    wrong_client = httpx.get(
        f"{box.base_url}/oauth/authorize",
        params={"client_id": "nope", "redirect_uri": "http://127.0.0.1:1/cb"},
    )
    assert wrong_client.status_code == 400 and "Location" not in wrong_client.headers
    box.authorize_decision = "deny"
    denied = parse_qs(
        urlsplit(_authorize(box, "http://127.0.0.1:8765/cb").headers["Location"]).query
    )
    assert denied == {"error": ["access_denied"], "state": ["s-1"]}


def test_expired_access_tokens_are_refused(box: TradeGeckoSandbox):
    code = parse_qs(urlsplit(_authorize(box, "http://127.0.0.1:1/cb").headers["Location"]).query)[
        "code"
    ][0]
    access = _token(
        box, grant_type="authorization_code", code=code, redirect_uri="http://127.0.0.1:1/cb"
    ).json()["access_token"]
    box.expire_access_tokens()
    with client_for(box, access) as api:
        answer = api.get("/variants")
    assert answer.status_code == 401 and answer.json()["message"] == "The access token expired"
    with client_for(box) as privileged:  # privileged tokens never expire
        assert privileged.get("/variants").status_code == 200


def test_control_routes_are_unauthenticated_and_unlogged(box: TradeGeckoSandbox):
    honey = variant_id(box, "HP-MH-250")
    answer = httpx.post(
        f"{box.base_url}/_sandbox/stock",
        json={"variant_id": honey, "location_id": box.stock_locations()[0], "quantity": 5},
    )
    assert answer.json() == {"stock_on_hand": 5.0, "committed": 0.0}
    summary = httpx.get(f"{box.base_url}/_sandbox/summary").json()
    assert summary["account"] == "Harbour & Pine Provisions" and summary["creates_applied"] == 0
    assert box.request_log == []
