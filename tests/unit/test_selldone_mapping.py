"""Offline tests of the Selldone payload ↔ domain mapping."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from app.channels.errors import PayloadError
from app.channels.selldone import mapping
from app.channels.selldone.mapping import (
    listing_id_for_item,
    listings_from_product,
    order_from_basket,
    parse_timestamp,
)
from app.core.models import OrderStatus, PaymentStatus

# The example basket of the reference (§3), field for field.
EXAMPLE_BASKET: dict[str, Any] = {
    "id": 48215,
    "label": None,
    "shop_id": 3817,
    "user_id": 902114,
    "customer_id": 55120,
    "code": None,
    "type": "PHYSICAL",
    "stack": 0,
    "status": "Payed",
    "reject": None,
    "reject_at": None,
    "receiver_info": {
        "name": "Anna Schmidt",
        "phone": "+4930123456",
        "country": "DE",
        "state": "Berlin",
        "state_code": "BE",
        "city": "Berlin",
        "address": "Torstraße 140",
        "no": "140",
        "unit": "3. OG",
        "postal": "10119",
        "message": "Please ring twice",
        "location": {"lat": 52.5297, "lng": 13.4015},
        "pickup": False,
    },
    "delivery_info": {
        "type": "PostFast",
        "distance": 12.4,
        "distance_unit": "km",
        "volume": {"width": 30, "length": 40, "height": 15},
        "weight": 2.4,
        "days": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"],
        "time_spans": ["Morning", "Evening"],
        "custom": False,
        "connect_delivery": 0,
        "inbound_delivery": 2,
        "outbound_delivery": 0,
        "vendor_delivery": 0,
        "date": None,
    },
    "delivery_price": 4.9,
    "delivery_state": "CheckQueue",
    "delivery_at": None,
    "billing": None,
    "tax": None,
    "tax_shipping": None,
    "tax_included": None,
    "discount": 5.0,
    "price": 59.8,
    "currency": "EUR",
    "payment_id": 77310,
    "payment_type": "stripe",
    "reserved_at": "2025-03-14T09:21:07.000000Z",
    "updated_at": "2025-03-14T09:22:41.000000Z",
    "items": [
        {
            "id": 231877,
            "basket_id": 48215,
            "product_id": 6120,
            "variant_id": 18044,
            "count": 2,
            "price": 19.95,
            "currency": "EUR",
            "dis": 2.0,
            "check": False,
            "created_at": "2025-03-14T09:18:52.000000Z",
            "updated_at": "2025-03-14T09:21:07.000000Z",
            "product": {
                "id": 6120,
                "shop_id": 3817,
                "type": "PHYSICAL",
                "title": "Merino Crew Socks",
                "sku": "SOCK-MER",
                "mpn": None,
                "gtin": None,
                "price": 21.95,
                "currency": "EUR",
                "quantity": 138,
                "status": "Open",
            },
            "variant": {
                "id": 18044,
                "product_id": 6120,
                "sku": "SOCK-MER-BLK-42",
                "mpn": "MX-4402",
                "gtin": "4006381333931",
                "color": "#101010",
                "volume": "42-45",
                "pricing": False,
                "quantity": 58,
                "enable": True,
            },
        },
        {
            "id": 231878,
            "basket_id": 48215,
            "product_id": 7004,
            "variant_id": None,
            "count": 1,
            "price": 20.0,
            "currency": "EUR",
            "dis": 0,
            "check": False,
            "product": {
                "id": 7004,
                "shop_id": 3817,
                "type": "PHYSICAL",
                "title": "Wool Wash 250 ml",
                "sku": "WASH-250",
                "mpn": "WW250",
                "gtin": None,
                "quantity": 41,
                "status": "Open",
            },
            "variant": None,
        },
    ],
    "buyer": {
        "id": 902114,
        "name": "Anna Schmidt",
        "email": "anna.schmidt@example.de",
        "phone": "+4930123456",
    },
    "customer": {
        "id": 55120,
        "user_id": 902114,
        "name": "Anna Schmidt",
        "email": "anna.schmidt@example.de",
        "phone": "+4930123456",
    },
    "basket_item_returns": [],
}

UPDATED_AT = datetime(2025, 3, 14, 9, 22, 41, tzinfo=UTC).timestamp()
RESERVED_AT = datetime(2025, 3, 14, 9, 21, 7, tzinfo=UTC).timestamp()


def basket(**changes: Any) -> dict[str, Any]:
    """A deep copy of the example basket with top-level fields replaced."""
    copied = copy.deepcopy(EXAMPLE_BASKET)
    copied.update(changes)
    return copied


def refused(payload: Any) -> str:
    with pytest.raises(PayloadError) as caught:
        order_from_basket(payload)
    return caught.value.message


# --- the example order ---------------------------------------------------------------


def test_example_basket_maps_every_field():
    order = order_from_basket(basket())

    assert order.external_id == "48215"
    assert order.number == "SM-48215"
    assert order.status is OrderStatus.REQUESTED
    assert order.payment_status is PaymentStatus.PAID
    assert order.total == pytest.approx(59.8)
    assert order.currency == "EUR"
    assert order.updated_at == UPDATED_AT
    assert order.created_at == RESERVED_AT
    assert order.channel_state == "Payed/CheckQueue"
    assert order.receiver["postal"] == "10119"
    assert order.raw["id"] == 48215
    assert (order.tracking_code, order.tracking_url) == ("", "")


def test_example_lines_take_codes_from_variant_or_product():
    socks, wash = order_from_basket(basket()).lines

    assert socks.external_id == "231877"
    assert socks.listing_id == "6120:18044"
    assert (socks.sku, socks.mpn, socks.barcode) == ("SOCK-MER-BLK-42", "MX-4402", "4006381333931")
    assert socks.quantity == 2
    assert socks.unit_price == pytest.approx(19.95)
    assert socks.name == "Merino Crew Socks (Black / 42-45)"

    assert wash.listing_id == "7004"
    assert (wash.sku, wash.mpn, wash.barcode) == ("WASH-250", "WW250", "")
    assert wash.name == "Wool Wash 250 ml"


def test_registered_buyer_becomes_user_customer():
    customer = order_from_basket(basket()).customer

    assert customer is not None
    assert customer.ref == "user:902114"
    assert customer.name == "Anna Schmidt"
    assert customer.email == "anna.schmidt@example.de"
    assert customer.phone == "+4930123456"
    assert customer.postcode == "10119"
    assert customer.guest is False


def test_buyer_id_is_used_when_user_id_is_missing():
    customer = order_from_basket(basket(user_id=None)).customer
    assert customer is not None and customer.ref == "user:902114"


def test_label_is_the_order_number_when_set():
    assert order_from_basket(basket(label="WEB-2025-0042")).number == "WEB-2025-0042"
    assert order_from_basket(basket(label="")).number == "SM-48215"


# --- guests --------------------------------------------------------------------------


def test_guest_with_customer_row_is_referenced_by_customer_id():
    order = order_from_basket(basket(buyer=None, user_id=None))

    assert order.customer is not None
    assert order.customer.ref == "customer:55120"
    assert order.customer.guest is True
    assert order.customer.name == "Anna Schmidt"
    assert order.customer.phone == "+4930123456"
    assert order.customer.postcode == "10119"


def test_guest_without_customer_is_referenced_by_basket():
    payload = basket(user_id=None, customer_id=None, guest_email="g@example.org")
    del payload["buyer"]
    del payload["customer"]
    customer = order_from_basket(payload).customer

    assert customer is not None
    assert customer.ref == "guest:48215"
    assert customer.guest is True
    assert customer.email == "g@example.org"
    assert customer.name == "Anna Schmidt"


# --- status and payment --------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "state", "expected", "payment"),
    [
        ("Payed", "CheckQueue", OrderStatus.REQUESTED, PaymentStatus.PAID),
        ("Payed", "OrderConfirm", OrderStatus.CONFIRMED, PaymentStatus.PAID),
        ("Payed", "PreparingOrder", OrderStatus.CONFIRMED, PaymentStatus.PAID),
        ("Payed", "SentOrder", OrderStatus.DISPATCHED, PaymentStatus.PAID),
        ("Payed", "ToCustomer", OrderStatus.DELIVERED, PaymentStatus.PAID),
        ("COD", "CheckQueue", OrderStatus.REQUESTED, PaymentStatus.ON_DELIVERY),
        ("COD", "OrderConfirm", OrderStatus.CONFIRMED, PaymentStatus.ON_DELIVERY),
        ("COD", "PreparingOrder", OrderStatus.CONFIRMED, PaymentStatus.ON_DELIVERY),
        ("COD", "SentOrder", OrderStatus.DISPATCHED, PaymentStatus.ON_DELIVERY),
        ("COD", "ToCustomer", OrderStatus.DELIVERED, PaymentStatus.PAID),
        ("Canceled", "CheckQueue", OrderStatus.CANCELLED, PaymentStatus.UNPAID),
        ("Canceled", "SentOrder", OrderStatus.CANCELLED, PaymentStatus.UNPAID),
    ],
)
def test_status_and_delivery_state_combinations(status, state, expected, payment):
    order = order_from_basket(basket(status=status, delivery_state=state))

    assert order.status is expected
    assert order.payment_status is payment
    assert order.channel_state == f"{status}/{state}"


@pytest.mark.parametrize("state", mapping.DELIVERY_STATES)
def test_rejected_order_is_cancelled_whatever_its_step(state):
    order = order_from_basket(basket(delivery_state=state, reject="LackOfInventory"))

    assert order.status is OrderStatus.CANCELLED
    assert order.payment_status is PaymentStatus.PAID  # a refund cannot be inferred
    assert order.channel_state == f"Payed/{state}/rejected"


@pytest.mark.parametrize("status", ["Open", "Reserved"])
def test_unpaid_basket_is_not_an_order(status):
    assert "not a paid order" in refused(basket(status=status))


def test_missing_delivery_state_waits_in_the_queue():
    assert order_from_basket(basket(delivery_state=None)).status is OrderStatus.REQUESTED


def test_unknown_status_and_state_are_refused():
    assert "unknown status 'Pending'" in refused(basket(status="Pending"))
    assert "unknown delivery_state 'Lost'" in refused(basket(delivery_state="Lost"))


# --- tolerance of real payload variations --------------------------------------------


def test_numbers_as_strings_are_read():
    payload = basket(id="48215", price="59.80", tax="3.5", tax_shipping="0.5", tax_included=False)
    payload["items"][0].update(
        id="231877", product_id="6120", variant_id="18044", count="2", price="19.95"
    )
    order = order_from_basket(payload)

    assert order.external_id == "48215"
    assert order.total == pytest.approx(63.8)
    assert order.lines[0].quantity == 2.0
    assert order.lines[0].unit_price == pytest.approx(19.95)
    assert order.lines[0].listing_id == "6120:18044"


def test_tax_is_not_added_twice_when_included():
    order = order_from_basket(basket(tax=9.55, tax_shipping=0.0, tax_included=True))
    assert order.total == pytest.approx(59.8)


def test_count_adjustment_changes_the_quantity():
    payload = basket()
    payload["items"][0]["count_adjustment"] = -1
    payload["items"][1]["count_adjustment"] = None
    socks, wash = order_from_basket(payload).lines
    assert (socks.quantity, wash.quantity) == (1.0, 1.0)


def test_lines_without_product_or_variant_objects_have_empty_codes():
    payload = basket()
    for item in payload["items"]:
        item.pop("product")
        item.pop("variant")
    socks, wash = order_from_basket(payload).lines

    assert (socks.sku, socks.listing_id, socks.name) == ("", "6120:18044", "")
    assert (wash.sku, wash.listing_id) == ("", "7004")


@pytest.mark.parametrize("code", [None, 731, "G-731"])
def test_guest_code_may_be_int_or_string(code):
    assert order_from_basket(basket(code=code)).external_id == "48215"


def test_tracking_comes_from_delivery_info():
    payload = basket()
    payload["delivery_info"]["tracking_code"] = "00340434161094042557"
    payload["delivery_info"]["tracking_url"] = "https://track.example/00340434161094042557"
    order = order_from_basket(payload)

    assert order.tracking_code == "00340434161094042557"
    assert order.tracking_url == "https://track.example/00340434161094042557"


def test_null_receiver_and_delivery_info_are_tolerated():
    order = order_from_basket(basket(receiver_info=None, delivery_info=None))
    assert order.receiver == {}
    assert order.customer is not None and order.customer.postcode == ""


# --- malformed baskets ---------------------------------------------------------------


def test_missing_id_is_refused():
    payload = basket()
    del payload["id"]
    assert refused(payload) == "order id is missing"


def test_non_object_basket_is_refused():
    assert refused(["not", "a", "basket"]) == "order is not an object"


def test_missing_items_names_the_request_fix():
    payload = basket()
    del payload["items"]
    assert "without items" in refused(payload)


@pytest.mark.parametrize("items", [{"231877": {}}, "231877", 5])
def test_items_not_a_list_is_refused(items):
    assert refused(basket(items=items)) == "order 48215 items is not a list"


def test_empty_items_is_refused():
    assert refused(basket(items=[])) == "order 48215 has no lines"


def test_line_without_product_id_is_refused():
    payload = basket()
    payload["items"][1]["product_id"] = None
    assert refused(payload) == "order 48215 line 231878 has no product_id"


def test_line_without_count_is_refused():
    payload = basket()
    del payload["items"][0]["count"]
    assert refused(payload) == "order 48215 line 231877 has no count"


@pytest.mark.parametrize("count", ["two", [], {"n": 2}, True])
def test_non_numeric_count_is_refused(count):
    payload = basket()
    payload["items"][0]["count"] = count
    assert "order 48215 line 231877 count is not a number" in refused(payload)


def test_negative_quantity_is_refused():
    payload = basket()
    payload["items"][0]["count_adjustment"] = -3
    assert "negative quantity" in refused(payload)


def test_line_without_id_is_refused():
    payload = basket()
    del payload["items"][0]["id"]
    assert refused(payload) == "order 48215 line 1 id is missing"


def test_non_physical_basket_is_refused():
    assert "VIRTUAL order, not a PHYSICAL one" in refused(basket(type="VIRTUAL"))


def test_bad_dates_are_refused():
    assert "updated_at is not a date" in refused(basket(updated_at="yesterday"))
    assert refused(basket(updated_at=None, reserved_at=None)) == "order 48215 has no updated_at"


def test_non_numeric_price_is_refused():
    assert "price is not a number" in refused(basket(price="59,80 €"))


# --- timestamps ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "2025-03-14T09:22:41.000000Z",
        "2025-03-14T09:22:41Z",
        "2025-03-14T09:22:41+00:00",
        "2025-03-14T10:22:41+01:00",
        "2025-03-14T09:22:41.000000000Z",
        "2025-03-14 09:22:41",
        int(UPDATED_AT),
        str(int(UPDATED_AT)),
        int(UPDATED_AT) * 1000,
        UPDATED_AT,
    ],
)
def test_timestamps_in_every_form(value):
    assert parse_timestamp(value) == UPDATED_AT


def test_fractional_seconds_are_kept():
    assert parse_timestamp("2025-03-14T09:22:41.250000Z") == UPDATED_AT + 0.25


@pytest.mark.parametrize("value", [None, "", "   "])
def test_empty_timestamps_are_none(value):
    assert parse_timestamp(value) is None


# --- listings ------------------------------------------------------------------------


def product(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": 7004,
        "type": "PHYSICAL",
        "title": "Wool Wash 250 ml",
        "sku": "WASH-250",
        "mpn": "WW250",
        "gtin": "4006381000001",
        "quantity": 41,
        "updated_at": "2025-03-14T09:22:41.000000Z",
    }
    data.update(changes)
    return data


def test_product_without_variants_is_one_listing():
    (listing,) = listings_from_product(product(product_variants=[]))

    assert listing.external_id == "7004"
    assert (listing.product_id, listing.variant_id) == ("7004", None)
    assert (listing.sku, listing.mpn, listing.barcode) == ("WASH-250", "WW250", "4006381000001")
    assert listing.quantity == 41
    assert listing.name == "Wool Wash 250 ml"
    assert listing.updated_at == UPDATED_AT


def test_product_with_variants_is_one_listing_per_variant():
    variants = [
        {"id": 18044, "sku": "SOCK-MER-BLK-42", "mpn": "MX-4402", "gtin": "4006381333931",
         "color": "#101010", "volume": "42-45", "quantity": "58"},
        {"id": 18045, "sku": "SOCK-MER-BLK-46", "mpn": None, "gtin": None,
         "color": "#101010", "volume": "46-48", "quantity": 0},
    ]  # fmt: skip
    listings = listings_from_product(
        product(id="6120", title="Merino Crew Socks", sku="SOCK-MER", product_variants=variants)
    )

    assert [item.external_id for item in listings] == ["6120:18044", "6120:18045"]
    assert [item.variant_id for item in listings] == ["18044", "18045"]
    assert [item.sku for item in listings] == ["SOCK-MER-BLK-42", "SOCK-MER-BLK-46"]
    assert listings[0].barcode == "4006381333931"
    assert listings[1].mpn == ""
    assert [item.quantity for item in listings] == [58.0, 0.0]
    assert listings[0].name == "Merino Crew Socks (Black / 42-45)"


def test_deleted_variants_are_left_out():
    variants = [
        {"id": 1, "sku": "A", "quantity": 1, "deleted_at": "2025-01-01T00:00:00.000000Z"},
        {"id": 2, "sku": "B", "quantity": 2, "deleted_at": None},
    ]
    assert [item.sku for item in listings_from_product(product(product_variants=variants))] == ["B"]


def test_product_whose_variants_are_all_deleted_is_the_listing():
    variants = [{"id": 1, "sku": "A", "deleted_at": "2025-01-01T00:00:00.000000Z"}]
    (listing,) = listings_from_product(product(product_variants=variants))
    assert (listing.external_id, listing.sku) == ("7004", "WASH-250")


def test_missing_quantity_is_unknown_not_zero():
    (listing,) = listings_from_product(product(quantity=None))
    assert listing.quantity is None


def test_non_physical_products_have_no_listing():
    assert listings_from_product(product(type="FILE")) == []


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (product(id=None), "product id is missing"),
        (product(product_variants="many"), "product_variants is not a list"),
        (product(product_variants=[{"sku": "X"}]), "variant id of product 7004 is missing"),
        (product(quantity="lots"), "quantity of product 7004 is not a number"),
        ("product", "product is not an object"),
    ],
)
def test_malformed_products_are_refused(payload, reason):
    with pytest.raises(PayloadError) as caught:
        listings_from_product(payload)
    assert reason in caught.value.message


def test_listing_id_for_item_matches_listing_ids():
    assert listing_id_for_item({"product_id": 6120, "variant_id": 18044}) == "6120:18044"
    assert listing_id_for_item({"product_id": "7004", "variant_id": None}) == "7004"
    assert listing_id_for_item({"product_id": 7004, "variant_id": 0}) == "7004"
    assert listing_id_for_item({"product_id": 7004}) == "7004"
    with pytest.raises(PayloadError, match="line product_id is missing"):
        listing_id_for_item({"variant_id": 3})


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("#101010", "Black"),
        ("#3b3b3b", "Dark grey"),
        ("#fff", "White"),
        ("#e8dcc8", "Cream"),
        ("#d2b48c", "Beige"),
        ("#1a2a6c", "Navy"),
        ("#c62828", "Red"),
        ("Charcoal", "Charcoal"),
        ("#12345", "#12345"),
    ],
)
def test_hex_colours_get_everyday_names(code, name):
    assert mapping.colour_name(code) == name
