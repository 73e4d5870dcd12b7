"""RetailCRM mapping, wire helpers and inventory bookkeeping: pure functions, no I/O."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.channels.errors import PayloadError
from app.channels.retailcrm import inventory as inv
from app.channels.retailcrm.inventory import InventoryEntry
from app.channels.retailcrm.mapping import (
    error_text,
    format_date,
    format_datetime,
    listings_from_product,
    module_state_from_payload,
    order_from_payload,
    order_status,
    parse_datetime,
    payment_status,
    product_group_from_payload,
    store_from_payload,
)
from app.channels.retailcrm.pacing import ArrivalPacer
from app.channels.retailcrm.wire import Form, json_field, normalise_base_url, php_params
from app.core.models import OrderStatus, PaymentStatus

MOSCOW = ZoneInfo("Europe/Moscow")

# The order GET fixture of the reference (§8.1), trimmed to what the mapping reads.
ORDER = {
    "id": 6722,
    "externalId": "web-17",
    "number": "6722A",
    "site": "moysklad",
    "status": "assembling",
    "createdAt": "2024-05-02 10:00:00",
    "statusUpdatedAt": "2024-05-03 09:30:00",
    "currency": "RUB",
    "firstName": "Anna",
    "lastName": "Sokolova",
    "email": "anna@example.ru",
    "phone": "+79161234567",
    "customer": {"type": "customer", "id": 401, "externalId": "c-1"},
    "delivery": {"code": "courier", "address": {"index": "101000", "city": "Moscow"}},
    "items": [
        {"id": 3647, "quantity": 2, "initialPrice": 390, "discountTotal": 40,
         "offer": {"id": 20282, "externalId": "tgG", "xmlId": "tgG", "article": "TEA-1",
                   "name": "Tea", "displayName": "Tea 100 g"}},
    ],
    "payments": {"17": {"id": 17, "type": "bank-card", "status": "not-paid", "amount": 700}},
    "totalSumm": 700,
    "shipped": False,
    "shipmentStore": "main12",
    "customFields": [],
}  # fmt: skip

# The products fixture of the reference (§7.3, PHP StoreTest::testProducts).
PRODUCT = {
    "id": 828272, "externalId": "38311", "article": "38311", "type": "product",
    "name": "Test Product", "groups": [{"id": 4050, "externalId": "368"}], "active": True,
    "quantity": 0, "markable": False, "updatedAt": "2024-01-02 03:04:05",
    "offers": [{"id": 1941833, "externalId": "38311", "xmlId": "38311", "article": "38311",
                "name": "Test #1", "price": 624, "purchasePrice": 272.64, "quantity": 0,
                "barcode": "4601", "active": True}],
}  # fmt: skip


# --- the account address and the wire --------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "account", "expected"),
    [
        ("", "shop", "https://shop.retailcrm.ru/api/v5"),
        ("", "shop.retailcrm.ru", "https://shop.retailcrm.ru/api/v5"),
        ("", " https://shop.retailcrm.ru/ ", "https://shop.retailcrm.ru/api/v5"),
        ("", "https://shop.retailcrm.ru/orders/123/edit", "https://shop.retailcrm.ru/api/v5"),
        ("", "https://shop.simla.com/api/v4", "https://shop.simla.com/api/v5"),
        ("https://{account}.retailcrm.ru/api/v5", "shop", "https://shop.retailcrm.ru/api/v5"),
        ("https://{account}.retailcrm.ru/api/v5", "demo.retailcrm.pro", "https://demo.retailcrm.pro/api/v5"),
        ("http://127.0.0.1:8123/api/v5", "ignored", "http://127.0.0.1:8123/api/v5"),
        ("http://127.0.0.1:8123", "", "http://127.0.0.1:8123/api/v5"),
        ("https://crm.example/proxy/api/v5/", "", "https://crm.example/proxy/api/v5"),
    ],
)  # fmt: skip
def test_the_account_address_is_normalised(base_url, account, expected):
    assert normalise_base_url(base_url, account) == expected


@pytest.mark.parametrize(
    ("base_url", "account", "words"),
    [
        ("", "", "enter the RetailCRM account address"),
        ("", "http://shop.retailcrm.ru", "https://"),
        ("", "ftp://shop.retailcrm.ru", "not a RetailCRM account address"),
    ],
)
def test_bad_addresses_are_refused_in_plain_words(base_url, account, words):
    with pytest.raises(ValueError, match=words):
        normalise_base_url(base_url, account)


def test_filters_use_php_bracket_notation_with_numeric_booleans():
    pairs = php_params(
        {"filter": {"ids": [1, 2], "details": True, "active": False, "site": None,
                    "customFields": {"colour": "red"}}, "limit": 100, "page": 2}
    )  # fmt: skip
    assert pairs == [
        ("filter[ids][]", "1"),
        ("filter[ids][]", "2"),
        ("filter[details]", "1"),
        ("filter[active]", "0"),
        ("filter[customFields][colour]", "red"),
        ("limit", "100"),
        ("page", "2"),
    ]


def test_form_bodies_carry_compact_json_in_named_fields():
    body = Form({"site": "shop", "offers": json_field([{"externalId": "Ж 1"}]), "by": None})
    fields = parse_qsl(body.encode().decode("ascii"))
    assert fields == [("site", "shop"), ("offers", '[{"externalId":"\\u0416 1"}]')]
    assert json.loads(fields[1][1]) == [{"externalId": "Ж 1"}]
    assert b"+" in body.encode()  # the space travels as '+', as PHP expects


# --- dates ---------------------------------------------------------------------------


def test_dates_are_read_and_written_in_the_account_zone():
    seconds = parse_datetime("2024-05-02 10:00:00", MOSCOW)
    assert seconds == 1714633200.0  # 07:00 UTC
    assert format_datetime(seconds, MOSCOW) == "2024-05-02 10:00:00"
    assert format_datetime(seconds) == "2024-05-02 07:00:00"
    assert format_date(1714600000, MOSCOW) == "2024-05-02"
    assert parse_datetime("2024-05-02", MOSCOW) == parse_datetime("2024-05-02 00:00:00", MOSCOW)
    assert parse_datetime("", MOSCOW) is None and parse_datetime(None) is None
    with pytest.raises(PayloadError, match="createdAt is not a date"):
        parse_datetime("yesterday", MOSCOW, "createdAt")


# --- orders --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("group", "shipped", "expected"),
    [
        ("new", False, OrderStatus.REQUESTED),
        ("approval", False, OrderStatus.REQUESTED),
        ("assembling", False, OrderStatus.CONFIRMED),
        ("assembling", True, OrderStatus.DISPATCHED),
        ("new", True, OrderStatus.DISPATCHED),
        ("delivery", False, OrderStatus.DISPATCHED),
        ("complete", True, OrderStatus.DELIVERED),
        ("cancel", False, OrderStatus.CANCELLED),
        ("cancel", True, OrderStatus.RETURNED),
    ],
)
def test_the_lifecycle_comes_from_the_status_group_and_the_shipped_flag(group, shipped, expected):
    assert order_status(group, shipped=shipped) is expected


def test_an_unknown_status_group_is_refused():
    with pytest.raises(PayloadError, match="status group 'limbo'"):
        order_status("limbo")


def test_an_order_maps_to_local_words():
    order = order_from_payload(ORDER, group="assembling", tz=MOSCOW, currency="EUR")
    assert (order.external_id, order.number, order.status) == ("6722", "6722A", OrderStatus.CONFIRMED)  # fmt: skip
    assert order.channel_state == "assembling"
    assert (order.total, order.currency, order.payment_status) == (700.0, "RUB", PaymentStatus.UNPAID)  # fmt: skip
    assert order.payment_method == "bank-card"
    assert order.created_at == parse_datetime("2024-05-02 10:00:00", MOSCOW)
    assert order.updated_at == parse_datetime("2024-05-03 09:30:00", MOSCOW)
    (line,) = order.lines
    assert (line.external_id, line.listing_id, line.sku, line.name) == ("3647", "20282", "TEA-1", "Tea 100 g")  # fmt: skip
    assert (line.quantity, line.unit_price) == (2.0, 350.0)
    assert order.customer is not None
    assert (order.customer.ref, order.customer.name, order.customer.postcode) == ("401", "Anna Sokolova", "101000")  # fmt: skip
    assert order.receiver["city"] == "Moscow"
    assert order.raw is ORDER


def test_history_stamps_and_site_currency_fill_in():
    bare = {k: v for k, v in ORDER.items() if k != "currency"}
    later = parse_datetime("2024-06-01 00:00:00", MOSCOW)
    order = order_from_payload(bare, group="new", updated_at=later, tz=MOSCOW, currency="EUR")
    assert order.updated_at == later and order.currency == "EUR"


def test_corporate_customers_are_kept_apart_from_people():
    corporate = ORDER | {"customer": {"type": "customer_corporate", "id": 401}}
    order = order_from_payload(corporate, group="new")
    assert order.customer is not None and order.customer.ref == "corporate:401"
    assert order_from_payload(ORDER | {"customer": []}, group="new").customer is None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"id": None}, "order id is missing"),
        ({"createdAt": None, "statusUpdatedAt": None}, "order 6722 has no date"),
        (
            {"items": [{"id": 1, "quantity": "two", "offer": {"id": 5}}]},
            "item 1 quantity is not a number",
        ),  # fmt: skip
        ({"items": [{"id": 1, "quantity": 1, "offer": {}}]}, "item 1 offer id is missing"),
    ],
)
def test_unreadable_orders_name_the_field(change, reason):
    with pytest.raises(PayloadError, match=reason):
        order_from_payload(ORDER | change, group="new")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({}, PaymentStatus.UNPAID),
        ({"fullPaidAt": "2024-05-02 11:00:00"}, PaymentStatus.PAID),
        ({"payments": {"1": {"status": "paid", "amount": 700}}}, PaymentStatus.PAID),
        ({"payments": [{"status": "paid", "amount": 300}]}, PaymentStatus.UNPAID),
        ({"payments": {"1": {"status": "returned", "amount": 700}}}, PaymentStatus.REFUNDED),
        ({"payments": []}, PaymentStatus.UNPAID),
    ],
)
def test_payment_status(change, expected):
    assert payment_status(ORDER | change) is expected


# --- catalogue, stores, modules, errors ------------------------------------------------


def test_each_offer_is_a_listing_with_its_shop_and_warehouse_ids():
    (listing,) = listings_from_product(PRODUCT)
    assert (listing.external_id, listing.product_id, listing.variant_id) == ("1941833", "828272", "1941833")  # fmt: skip
    assert (listing.sku, listing.name, listing.quantity, listing.barcode) == ("38311", "Test #1", 0.0, "4601")  # fmt: skip
    assert listing.raw["externalId"] == "38311" and listing.raw["xmlId"] == "38311"
    assert listing.raw["purchasePrice"] == 272.64
    assert listing.updated_at == parse_datetime("2024-01-02 03:04:05")


def test_a_single_offer_without_article_takes_the_products():
    offer = PRODUCT["offers"][0] | {"article": ""}
    (listing,) = listings_from_product(PRODUCT | {"offers": [offer]})
    assert listing.sku == "38311"
    two = PRODUCT | {"offers": [offer, offer | {"id": 2}]}
    assert [item.sku for item in listings_from_product(two)] == ["", ""]  # ambiguous: none


def test_stores_groups_and_modules():
    store = store_from_payload({"code": "main", "name": "Main", "inventoryType": "available"})
    assert (store.code, store.inventory_type, store.active) == ("main", "available", True)
    with pytest.raises(PayloadError, match="no code"):
        store_from_payload({"name": "x"})
    group = product_group_from_payload({"id": 3679, "parentId": 3677, "name": "Tea", "site": "s"})
    assert (group.id, group.parent_id, group.name) == ("3679", "3677", "Tea")
    state = module_state_from_payload(
        {"code": "sb", "active": True, "integrations": {"store": {"actions": [{"code": "a"}]}}}
    )
    assert state.registered and state.store_actions == [{"code": "a"}]
    assert not module_state_from_payload({"code": "sb", "active": True}).registered
    assert not module_state_from_payload({"code": "sb", "integrations": {"store": {}}}).registered


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"errorMsg": "Not found"}, "Not found"),
        ({"errorMsg": "Validation error", "errors": {"children[createdAtFrom]": "This value is not valid."}},
         "Validation error (children[createdAtFrom]: This value is not valid.)"),
        ({"errorMsg": "Errors", "errors": ["items[0].offer.id: Offer with id 123 not found."]},
         "Errors (items[0].offer.id: Offer with id 123 not found.)"),
        ("<html>", ""),
    ],
)  # fmt: skip
def test_error_envelopes_read_as_one_line(body, expected):
    assert error_text(body) == expected


# --- inventory bookkeeping -------------------------------------------------------------


def test_available_values_follow_the_store_type():
    assert inv.wire_available(5.0) == 5 and isinstance(inv.wire_available(5.0), int)
    assert inv.wire_available(1.25) == 1.25
    assert inv.wire_available(-3) == 0
    assert inv.wire_available(7, "available") == 1 and inv.wire_available(0, "available") == 0
    with pytest.raises(ValueError, match="finite"):
        inv.wire_available(float("nan"))
    assert inv.wire_price(10.456) == 10.46 and inv.wire_price(None) is None


def test_entries_are_validated():
    with pytest.raises(ValueError, match="one of id, externalId, xmlId"):
        InventoryEntry("A1", "main", 1, by="sku")
    with pytest.raises(ValueError, match="offer ids are numbers"):
        InventoryEntry("A1", "main", 1, by="id")
    with pytest.raises(ValueError, match="store code"):
        InventoryEntry("A1", " ", 1)


def test_upload_offers_group_stores_per_offer_and_the_last_entry_wins():
    entries = [
        InventoryEntry("A1", "main", 5, 10.5),
        InventoryEntry("3001", "main", 2, by="id"),
        InventoryEntry("A1", "north", 0),
        InventoryEntry("A1", "main", 6, 11),
        InventoryEntry("X1", "supplier", 4, by="xmlId"),
    ]
    offers = inv.upload_offers(entries, {"supplier": "available"})
    assert offers == [
        {"externalId": "A1", "stores": [{"code": "main", "available": 6, "purchasePrice": 11},
                                        {"code": "north", "available": 0}]},
        {"id": 3001, "stores": [{"code": "main", "available": 2}]},
        {"xmlId": "X1", "stores": [{"code": "supplier", "available": 1}]},
    ]  # fmt: skip


def test_uploads_are_cut_into_batches_of_at_most_250():
    offers = [{"id": n, "stores": []} for n in range(1000)]
    sizes = [len(batch) for batch in inv.batches(offers)]
    assert sizes == [250, 250, 250, 250]
    assert [len(b) for b in inv.batches(offers[:251])] == [250, 1]
    assert inv.batches([]) == []
    with pytest.raises(ValueError, match="1 to 250"):
        inv.batches(offers, 251)


def test_not_found_offers_are_named_as_they_were_sent():
    sent = [{"id": 5, "stores": []}, {"externalId": "A1", "stores": []}]
    rows = [{"id": 5}, {"externalId": "A1", "xmlId": "q"}, {"externalId": "stranger"}]
    assert inv.not_found_ids(rows, sent) == ["5", "A1"]
    assert inv.not_found_ids(None, sent) == []


def test_only_changed_entries_are_sent_again():
    first = [InventoryEntry("A1", "main", 5, 10.0), InventoryEntry("B2", "main", 3)]
    assert inv.changed_entries(first, {}) == first
    state = inv.sent_state({}, first)
    assert inv.changed_entries(first, state) == []
    assert inv.changed_entries([InventoryEntry("A1", "main", 5.0001, 10.0)], state) == []
    moved = InventoryEntry("A1", "main", 4, 10.0)
    repriced = InventoryEntry("A1", "main", 5, 10.5)
    no_price = InventoryEntry("A1", "main", 5)  # leaves the cost alone: unchanged
    assert inv.changed_entries([moved, InventoryEntry("B2", "main", 3)], state) == [moved]
    assert inv.changed_entries([repriced], state) == [repriced]
    assert inv.changed_entries([no_price], state) == []
    # A flag store sends 1 for any positive stock: 3 → 7 changes nothing there.
    flags = {"supplier": "available"}
    flagged = inv.sent_state({}, [InventoryEntry("A1", "supplier", 3)], store_types=flags)
    assert inv.changed_entries([InventoryEntry("A1", "supplier", 7)], flagged, flags) == []


def test_sent_state_skips_unknown_offers_and_keeps_old_prices():
    state = inv.sent_state({}, [InventoryEntry("A1", "main", 5, 10.0)])
    after = inv.sent_state(
        state, [InventoryEntry("A1", "main", 6), InventoryEntry("ZZ", "main", 1)], ["ZZ"]
    )
    assert after == {("externalId", "A1", "main"): (6.0, 10.0)}
    assert state == {("externalId", "A1", "main"): (5.0, 10.0)}  # the old dict is untouched


def test_inventory_reads_become_levels_per_store():
    row = {"id": 1818323, "externalId": "1", "xmlId": "1", "site": "aliexpress",
           "quantity": 7, "stores": [{"store": "main", "quantity": 5, "purchasePrice": 100},
                                     {"store": "north", "quantity": 2}]}  # fmt: skip
    main, north = inv.levels_from_offer(row)
    assert (main.offer_id, main.store, main.quantity, main.purchase_price) == ("1818323", "main", 5.0, 100.0)  # fmt: skip
    assert (north.store, north.purchase_price, north.external_id) == ("north", None, "1")
    assert inv.levels_from_offer(row | {"stores": []}) == []
    with pytest.raises(PayloadError, match="names no store"):
        inv.levels_from_offer(row | {"stores": [{"quantity": 1}]})


entry_strategy = st.builds(
    InventoryEntry,
    offer=st.text(alphabet="abcXYZ0123-", min_size=1, max_size=4).filter(str.strip),
    store=st.sampled_from(["main", "north", "supplier"]),
    available=st.floats(min_value=-5, max_value=500, allow_nan=False),
    purchase_price=st.one_of(st.none(), st.floats(min_value=0, max_value=1e5)),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(entry_strategy, max_size=600))
def test_batches_carry_every_offer_once_and_a_sent_state_leaves_nothing_to_send(entries):
    offers = inv.upload_offers(entries)
    chunks = inv.batches(offers)
    assert all(1 <= len(chunk) <= inv.MAX_OFFERS_PER_UPLOAD for chunk in chunks)
    flat = [offer["externalId"] for chunk in chunks for offer in chunk]
    assert sorted(flat) == sorted({entry.offer.strip() for entry in entries})
    assert len(chunks) == -(-len(offers) // 250)
    assert inv.changed_entries(entries, inv.sent_state({}, entries)) == []


# --- pacing --------------------------------------------------------------------------


class FakeTime:
    """A clock that moves only when the pacer sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_the_pacer_counts_requests_from_their_answers():
    fake = FakeTime()
    pacer = ArrivalPacer(10, 1.0, sleep=fake.sleep, clock=fake.clock)

    async def go() -> None:
        for _ in range(10):
            assert await pacer.acquire() == 0.0
        fake.now += 0.3  # the ten arrive late and are answered at 100.3
        for _ in range(10):
            pacer.finished()
        await pacer.acquire()  # released one window after the *answers*, not the releases

    asyncio.run(go())
    assert fake.slept == [pytest.approx(1.0)] and fake.now == pytest.approx(101.3)


def test_requests_in_flight_hold_their_slots_until_answered():
    fake = FakeTime()
    pacer = ArrivalPacer(2, 1.0, sleep=fake.sleep, clock=fake.clock)

    async def go() -> list[str]:
        events: list[str] = []
        await pacer.acquire()
        await pacer.acquire()

        async def third() -> None:
            await pacer.acquire()
            events.append("third released")

        task = asyncio.create_task(third())
        await asyncio.sleep(0)
        events.append("still waiting")
        pacer.finished()  # one answer: its slot counts for a window from now
        await task
        return events

    assert asyncio.run(go()) == ["still waiting", "third released"]
    assert fake.slept == [pytest.approx(1.0)]


def test_a_pause_holds_the_next_request():
    fake = FakeTime()
    pacer = ArrivalPacer(10, 1.0, sleep=fake.sleep, clock=fake.clock)
    pacer.pause(2.5)
    asyncio.run(pacer.acquire())
    assert fake.slept == [2.5]
    with pytest.raises(ValueError, match="positive window"):
        ArrivalPacer(0, 1.0)
