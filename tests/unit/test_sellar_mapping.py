"""Offline tests of the Sellar payload ↔ domain mapping."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.channels.errors import PayloadError
from app.channels.sellar import mapping
from app.channels.sellar.mapping import (
    customer_from_connection,
    listings_from_product,
    order_from_payload,
    parse_timestamp,
    webhook_event_type,
    webhook_order_id,
)
from app.core.models import OrderStatus, PaymentStatus

# The example order of the reference (§4.1), field for field.
EXAMPLE_ORDER: dict[str, Any] = {
    "id": 48213,
    "SupplierId": 311,
    "RetailerId": 9054,
    "DeliveryAddressId": 771,
    "InvoiceAddressId": 772,
    "type": "single",
    "createdAt": "2024-05-02T09:14:03.000Z",
    "updatedAt": "2024-05-02T09:14:03.000Z",
    "deletedAt": None,
    "acceptedAt": None,
    "confirmedAt": None,
    "finalizedAt": None,
    "dispatchPlannedAt": None,
    "deliveryPlannedAt": None,
    "dispatchedAt": None,
    "deliveredAt": None,
    "cancelledAt": None,
    "deniedAt": None,
    "voidedAt": None,
    "invoiceIssuedAt": None,
    "cancellationReason": None,
    "paymentType": "manual",
    "paymentStatus": "open",
    "paymentDue": "2024-06-01T00:00:00.000Z",
    "paidAt": None,
    "price": 18000,
    "deliveryCharge": 0,
    "discountAmount": 0,
    "vatPercentage": 20,
    "currency": "GBP",
    "requestedPrice": None,
    "hasNoDraughtDutyRelief": False,
    "customInvoiceNumber": None,
    "purchaseOrderNumber": "PO-1182",
    "retailerInvoiceEmails": ["accounts@example-pub.test"],
    "fulfillmentType": "direct",
    "deliveryNotes": None,
    "deliveryNumber": None,
    "DeliveryAddress": {
        "id": 771,
        "name": "The Example Arms",
        "street": "1 High St",
        "city": "Brighton",
        "postalCode": "BN1 1AA",
        "region": "East Sussex",
        "country": "GB",
    },
    "InvoiceAddress": {
        "id": 772,
        "name": "Example Pubs Ltd",
        "street": "1 High St",
        "city": "Brighton",
        "postalCode": "BN1 1AA",
        "region": "East Sussex",
        "country": "GB",
    },
    "OrderItems": [
        {
            "id": 99121,
            "OrderId": 48213,
            "ProductId": 5521,
            "quantity": 2,
            "price": 7500,
            "fullPrice": 7500,
            "discountable": True,
            "createdAt": "2024-05-02T09:14:03.000Z",
            "updatedAt": "2024-05-02T09:14:03.000Z",
            "deletedAt": None,
            "Product": {
                "id": 5521,
                "ParentId": 5500,
                "SupplierId": 311,
                "sku": "IPA-KEG-30",
                "name": "House IPA - 30L",
                "containerType": "keg",
                "volume": 30,
                "packQuantity": 1,
                "stock": 10,
                "committedStock": 2,
                "availableStock": 8,
                "canBackorder": False,
                "active": True,
                "Parent": {"id": 5500, "name": "House IPA", "abv": 5.2, "kind": "beer"},
            },
        }
    ],
    "Retailer": {
        "id": 9054,
        "type": "pub",
        "BusinessId": 12001,
        "hasNoDraughtDutyRelief": False,
        "Business": {
            "id": 12001,
            "name": "The Example Arms",
            "registeredCompanyName": "Example Pubs Ltd",
            "email": "hello@example-pub.test",
            "invoiceEmail": "accounts@example-pub.test",
            "phoneNumber": "+44 1273 000000",
            "vatNumber": "GB000000000",
        },
    },
    "Supplier": {
        "id": 311,
        "currency": "GBP",
        "vatPercentage": 20,
        "Business": {"id": 500, "name": "Example Brewery"},
    },
}

EXAMPLE_CONNECTION: dict[str, Any] = {
    "id": 3301,
    "SupplierId": 311,
    "RetailerId": 9054,
    "PriceTierId": 12,
    "initiator": "supplier",
    "approved": True,
    "customerCode": None,
    "notes": None,
    "paymentDue": None,
    "fulfillmentType": "direct",
    "existingCustomer": None,
    "mailingListPermission": None,
    "createdAt": "2023-11-02T10:00:00.000Z",
    "updatedAt": "2024-04-01T10:00:00.000Z",
    "deletedAt": None,
    "Retailer": {
        "id": 9054,
        "type": "pub",
        "BusinessId": 12001,
        "hasNoDraughtDutyRelief": False,
        "Business": {
            "id": 12001,
            "name": "The Example Arms",
            "email": "hello@example-pub.test",
            "DeliveryAddress": {"id": 771, "city": "Brighton", "postalCode": "BN1 1AA"},
        },
    },
    "Supplier": {"id": 311, "Business": {"id": 500, "name": "Example Brewery"}},
}


def order(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(EXAMPLE_ORDER)
    data.update(changes)
    return data


def stamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# --- orders ----------------------------------------------------------------------------


def test_the_reference_example_maps_field_for_field():
    mapped = order_from_payload({"data": EXAMPLE_ORDER})

    assert (mapped.external_id, mapped.number) == ("48213", "SLR-48213")
    assert mapped.status is OrderStatus.REQUESTED
    assert mapped.payment_status is PaymentStatus.UNPAID
    assert mapped.payment_method == "manual"
    assert (mapped.total, mapped.currency) == (180.0, "GBP")
    assert mapped.updated_at == mapped.created_at == stamp("2024-05-02T09:14:03.000Z")
    assert mapped.invoice_number == ""
    assert mapped.channel_state == "Requested; payment manual: open"
    (line,) = mapped.lines
    assert (line.external_id, line.listing_id, line.sku) == ("99121", "5521", "IPA-KEG-30")
    assert (line.name, line.quantity, line.unit_price) == ("House IPA - 30L", 2, 75.0)
    assert mapped.customer is not None
    assert mapped.customer.ref == "retailer:9054"
    assert (mapped.customer.name, mapped.customer.email) == (
        "The Example Arms",
        "hello@example-pub.test",
    )
    assert (mapped.customer.phone, mapped.customer.postcode) == ("+44 1273 000000", "BN1 1AA")
    assert mapped.customer.guest is False
    assert mapped.receiver == {
        "name": "The Example Arms",
        "street": "1 High St",
        "city": "Brighton",
        "postcode": "BN1 1AA",
        "region": "East Sussex",
        "country": "GB",
        "purchase_order": "PO-1182",
        "fulfillment": "direct",
    }
    assert mapped.raw["id"] == 48213


def test_the_envelope_is_optional():
    assert order_from_payload(EXAMPLE_ORDER) == order_from_payload({"data": EXAMPLE_ORDER})


@pytest.mark.parametrize(
    ("stamps", "expected", "label"),
    [
        ({}, OrderStatus.REQUESTED, "Requested"),
        ({"acceptedAt": "2024-05-03T08:00:00Z"}, OrderStatus.REQUESTED, "Accepted"),
        ({"confirmedAt": "2024-05-03T08:00:00Z"}, OrderStatus.CONFIRMED, "Accepted"),
        (
            {"confirmedAt": "2024-05-03T08:00:00Z", "finalizedAt": "2024-05-03T09:00:00Z"},
            OrderStatus.CONFIRMED,
            "Finalised",
        ),
        (
            {"confirmedAt": "2024-05-03T08:00:00Z", "dispatchedAt": "2024-05-04T08:00:00Z"},
            OrderStatus.DISPATCHED,
            "Dispatched",
        ),
        (
            {
                "confirmedAt": "2024-05-03T08:00:00Z",
                "dispatchedAt": "2024-05-04T08:00:00Z",
                "deliveredAt": "2024-05-05T08:00:00Z",
            },
            OrderStatus.DELIVERED,
            "Delivered",
        ),
        ({"cancelledAt": "2024-05-03T08:00:00Z"}, OrderStatus.CANCELLED, "Cancelled"),
        (
            {"confirmedAt": "2024-05-03T08:00:00Z", "cancelledAt": "2024-05-04T08:00:00Z"},
            OrderStatus.CANCELLED,
            "Cancelled",
        ),
        ({"voidedAt": "2024-05-03T08:00:00Z"}, OrderStatus.CANCELLED, "Voided"),
        ({"deniedAt": "2024-05-03T08:00:00Z"}, OrderStatus.CANCELLED, "Cancelled"),
        ({"deletedAt": "2024-05-03T08:00:00Z"}, OrderStatus.CANCELLED, "Deleted"),
    ],
)
def test_status_comes_from_the_timestamps(stamps, expected, label):
    mapped = order_from_payload(order(**stamps))
    assert mapped.status is expected
    assert mapped.channel_state.startswith(f"{label};")


_STAMPED = ("confirmedAt", "dispatchedAt", "deliveredAt", "cancelledAt", "voidedAt")


@given(st.sets(st.sampled_from(_STAMPED)))
def test_status_precedence_holds_for_any_combination(present):
    """Cancelled beats delivered beats dispatched beats confirmed, whatever is set."""
    mapped = order_from_payload(order(**dict.fromkeys(present, "2024-05-03T08:00:00.000Z")))
    if present & {"cancelledAt", "voidedAt"}:
        assert mapped.status is OrderStatus.CANCELLED
    elif "deliveredAt" in present:
        assert mapped.status is OrderStatus.DELIVERED
    elif "dispatchedAt" in present:
        assert mapped.status is OrderStatus.DISPATCHED
    elif "confirmedAt" in present:
        assert mapped.status is OrderStatus.CONFIRMED
    else:
        assert mapped.status is OrderStatus.REQUESTED


@pytest.mark.parametrize(
    ("changes", "payment", "method"),
    [
        (
            {"paidAt": "2024-05-20T00:00:00.000Z", "paymentStatus": "paid"},
            PaymentStatus.PAID,
            "manual",
        ),
        ({"paymentType": "checkout", "paymentStatus": "paid"}, PaymentStatus.PAID, "checkout"),
        ({"paymentType": "Stripe", "paymentStatus": "open"}, PaymentStatus.UNPAID, "stripe"),
        ({"paymentType": "stripe", "paymentStatus": "refunded"}, PaymentStatus.REFUNDED, "stripe"),
        ({"paymentType": "stripe", "paymentStatus": "void"}, PaymentStatus.UNPAID, "stripe"),
        ({"paymentType": None, "paymentStatus": None}, PaymentStatus.UNPAID, ""),
    ],
)
def test_payment_status_and_method(changes, payment, method):
    mapped = order_from_payload(order(**changes))
    assert (mapped.payment_status, mapped.payment_method) == (payment, method)


def test_numbers_as_strings_are_read():
    data = order(id="48213", RetailerId="9054", price="18000")
    data["OrderItems"][0] |= {"id": "99121", "ProductId": "5521", "quantity": "2", "price": "7500"}
    mapped = order_from_payload(data)
    assert mapped.lines == order_from_payload(EXAMPLE_ORDER).lines
    assert mapped.customer == order_from_payload(EXAMPLE_ORDER).customer
    assert (mapped.external_id, mapped.total) == ("48213", 180.0)
    assert (mapped.lines[0].quantity, mapped.lines[0].unit_price) == (2.0, 75.0)


def test_invoice_number_and_supplier_currency_fallback():
    mapped = order_from_payload(order(customInvoiceNumber=" INV-0019 ", currency=None))
    assert (mapped.invoice_number, mapped.currency) == ("INV-0019", "GBP")


def test_an_order_from_an_unknown_retailer_still_maps():
    """No Retailer association (e.g. not among the connections): the id is enough."""
    mapped = order_from_payload(order(Retailer=None, RetailerId=7777))
    assert mapped.customer is not None
    assert mapped.customer.ref == "retailer:7777"
    assert mapped.customer.name == "The Example Arms"  # from the delivery address
    assert mapped.customer.email == "accounts@example-pub.test"  # the invoice e-mail
    bare = order_from_payload(order(Retailer=None, RetailerId=7777, DeliveryAddress=None))
    assert bare.customer is not None and bare.customer.name == "Sellar retailer 7777"


def test_the_retailer_id_can_come_from_the_association():
    mapped = order_from_payload(order(RetailerId=None))
    assert mapped.customer is not None and mapped.customer.ref == "retailer:9054"


def test_line_without_product_association_keeps_its_product_id():
    data = order()
    del data["OrderItems"][0]["Product"]
    (line,) = order_from_payload(data).lines
    assert (line.listing_id, line.sku, line.name) == ("5521", "", "Sellar product 5521")


def test_removed_lines_are_left_out():
    data = order()
    extra = copy.deepcopy(data["OrderItems"][0]) | {
        "id": 99122,
        "deletedAt": "2024-05-02T10:00:00Z",
    }
    data["OrderItems"].append(extra)
    assert [line.external_id for line in order_from_payload(data).lines] == ["99121"]


def test_a_cancelled_order_may_have_no_lines():
    assert order_from_payload(order(OrderItems=[], cancelledAt="2024-05-03T08:00:00Z")).lines == []


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"id": None}, "order id is missing"),
        ({"id": "abc"}, "order id is not an id"),
        ({"updatedAt": None, "createdAt": None}, "order 48213 has no updatedAt"),
        ({"updatedAt": "yesterday"}, "order 48213 updatedAt is not a date"),
        ({"dispatchedAt": "soon"}, "order 48213 dispatchedAt is not a date"),
        ({"OrderItems": None}, "order 48213 came without OrderItems"),
        ({"OrderItems": {"id": 1}}, "order 48213 OrderItems is not a list"),
        ({"OrderItems": []}, "order 48213 has no lines"),
        ({"OrderItems": ["x"]}, "order 48213 line 1 is not an object"),
        ({"RetailerId": None, "Retailer": None}, "order 48213 has no RetailerId"),
        ({"price": "a lot"}, "order 48213 price is not a number"),
    ],
)
def test_unreadable_orders_name_the_problem(changes, reason):
    with pytest.raises(PayloadError) as caught:
        order_from_payload(order(**changes))
    assert caught.value.message.startswith(reason)


@pytest.mark.parametrize(
    ("item_changes", "reason"),
    [
        ({"quantity": "many"}, "order 48213 line 99121 quantity is not a number ('many')"),
        ({"quantity": None}, "order 48213 line 99121 quantity is missing"),
        ({"quantity": -1}, "order 48213 line 99121 has a negative quantity (-1)"),
        ({"quantity": True}, "order 48213 line 99121 quantity is not a number (True)"),
        ({"ProductId": None, "Product": None}, "order 48213 line 99121 ProductId is missing"),
    ],
)
def test_unreadable_lines_name_the_line(item_changes, reason):
    data = order()
    data["OrderItems"][0].update(item_changes)
    with pytest.raises(PayloadError) as caught:
        order_from_payload(data)
    assert caught.value.message == reason


@pytest.mark.parametrize("payload", [None, [], "order", {"data": None}, {"data": [1]}])
def test_non_objects_are_refused(payload):
    with pytest.raises(PayloadError, match="order is not an object"):
        order_from_payload(payload)


# --- products --------------------------------------------------------------------------


def test_a_product_item_is_one_listing_keyed_by_its_sellar_id():
    product = EXAMPLE_ORDER["OrderItems"][0]["Product"] | {"updatedAt": "2024-05-02T09:14:03Z"}
    (listing,) = listings_from_product({"data": product})
    assert (listing.external_id, listing.product_id, listing.variant_id) == ("5521", "5521", None)
    assert (listing.sku, listing.name, listing.quantity) == ("IPA-KEG-30", "House IPA - 30L", 8)
    assert listing.updated_at == stamp("2024-05-02T09:14:03Z")
    # The order line points at the same listing.
    assert order_from_payload(EXAMPLE_ORDER).lines[0].listing_id == listing.external_id


def test_product_names_say_the_beer_and_numbers_may_be_strings():
    product = {
        "id": "77",
        "sku": None,
        "name": "30L Keg",
        "stock": "12",
        "committedStock": "2",
        "Parent": {"name": "Keeper's Stout"},
    }
    (listing,) = listings_from_product(product)
    assert (listing.external_id, listing.sku) == ("77", "")
    assert listing.name == "Keeper's Stout - 30L Keg"
    assert listing.quantity == 10  # total minus committed when availableStock is absent
    (unknown,) = listings_from_product({"id": 78, "name": "Pin"})
    assert unknown.quantity is None


def test_deleted_products_give_no_listing_and_bad_ones_raise():
    assert listings_from_product({"id": 5, "deletedAt": "2024-01-01T00:00:00Z"}) == []
    with pytest.raises(PayloadError, match="product id is missing"):
        listings_from_product({"sku": "X"})
    with pytest.raises(PayloadError, match="product 5 availableStock is not a number"):
        listings_from_product({"id": 5, "availableStock": "lots"})


# --- customers -------------------------------------------------------------------------


def test_a_connection_is_a_customer_keyed_by_retailer():
    customer = customer_from_connection({"data": EXAMPLE_CONNECTION})
    assert customer.ref == "retailer:9054"
    assert (customer.name, customer.email, customer.postcode) == (
        "The Example Arms",
        "hello@example-pub.test",
        "BN1 1AA",
    )
    without_id = copy.deepcopy(EXAMPLE_CONNECTION) | {"RetailerId": None}
    assert customer_from_connection(without_id).ref == "retailer:9054"
    with pytest.raises(PayloadError, match="connection 3301 RetailerId is missing"):
        customer_from_connection(EXAMPLE_CONNECTION | {"RetailerId": None, "Retailer": None})


# --- webhooks --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"type": "order.created", "createdAt": "2024-05-02T09:14:04Z", "data": EXAMPLE_ORDER},
            "48213",
        ),
        (json.dumps({"type": "order.updated", "data": {"id": "48213"}}).encode(), "48213"),
        (json.dumps({"type": "order.updated", "data": {"id": 5}}), "5"),
        ({"type": "order.updated", "data": {"OrderId": 9}}, "9"),
        ({"type": "order.updated", "data": 12}, "12"),
        ({"event": "order.updated", "orderId": "31"}, "31"),
        (EXAMPLE_ORDER, "48213"),  # a bare order object
        ({"type": "order.updated", "id": 555}, None),  # an event id is not an order id
        ({"type": "order.updated"}, None),
        ({"type": "order.updated", "data": {"id": "abc"}}, None),
        (b"\xff\xfe not json", None),
        ("[1, 2]", None),
        (None, None),
    ],
)
def test_webhook_bodies_are_only_hints(body, expected):
    assert webhook_order_id(body) == expected


def test_webhook_event_type():
    assert webhook_event_type({"type": "order.created"}) == "order.created"
    assert webhook_event_type(b'{"event": "order.updated"}') == "order.updated"
    assert webhook_event_type({"type": "product.updated"}) == ""
    assert webhook_event_type("nonsense") == ""


def test_webhook_subscription_payload():
    hook = mapping.webhook_from_payload(
        {
            "data": {
                "id": 17,
                "type": "order.created",
                "url": "https://erp.test/h",
                "createdAt": "2024-05-01T12:00:00.000Z",
                "deletedAt": None,
            }
        }
    )
    assert (hook.id, hook.type, hook.url) == ("17", "order.created", "https://erp.test/h")
    assert hook.created_at == stamp("2024-05-01T12:00:00Z")


# --- timestamps ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-02T09:14:03.000Z", datetime(2024, 5, 2, 9, 14, 3, tzinfo=UTC).timestamp()),
        (
            "2024-05-02T09:14:03.123456789Z",
            datetime(2024, 5, 2, 9, 14, 3, 123456, tzinfo=UTC).timestamp(),
        ),
        ("2024-05-02T10:14:03+01:00", datetime(2024, 5, 2, 9, 14, 3, tzinfo=UTC).timestamp()),
        ("2024-05-02", datetime(2024, 5, 2, tzinfo=UTC).timestamp()),
        (1_714_641_243_000, 1_714_641_243.0),
        ("", None),
        (None, None),
    ],
)
def test_timestamps(value, expected):
    if expected is None:
        assert parse_timestamp(value) is None
    else:
        assert parse_timestamp(value) == pytest.approx(expected)


def test_written_timestamps_are_sellar_iso_and_round_trip():
    text = mapping.format_timestamp(1_714_641_243.25)
    assert text == "2024-05-02T09:14:03.250Z"
    assert parse_timestamp(text) == 1_714_641_243.25
