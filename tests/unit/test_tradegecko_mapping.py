"""TradeGecko mapping, values and webhook helpers: pure functions, no network."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.channels.errors import PayloadError, Rejected
from app.channels.tradegecko import mapping
from app.channels.tradegecko.mapping import (
    ExportAddress,
    ExportLine,
    ExportOrder,
    LocationStock,
    Placement,
)
from app.channels.tradegecko.oauth import OAuthCredentials, parse_secret
from app.channels.tradegecko.webhooks import sign, verify_signature, webhook_hint
from app.core.models import OrderStatus

# The documented variant (reference §12.1), values as TradeGecko sends them: strings.
DOC_VARIANT = {
    "id": 3,
    "created_at": "2015-11-02T01:22:24.772Z",
    "updated_at": "2015-11-02T01:34:04.502Z",
    "product_id": 1,
    "name": "Peach",
    "sku": "DEMO-GOBS-PEA",
    "status": "active",
    "product_name": "Everlasting Gobstopper",
    "manage_stock": True,
    "keep_selling": False,
    "max_online": None,
    "upc": "9400000000017",
    "supplier_code": "WONKA-7",
    "locations": [
        {"location_id": 1, "stock_on_hand": "10", "committed": "3", "incoming": None},
        {"location_id": 2, "stock_on_hand": "-0.0", "committed": None, "incoming": None},
    ],
}
# The reference's self-computed webhook test vector (§14.2).
VECTOR_BODY = (
    b'{"object_id":1234567,"event":"fulfillment.create","timestamp":1546272000,'
    b'"resource_url":"https://api.tradegecko.com/fulfillments/1234567.json"}'
)
VECTOR_SECRET = "example-app-secret"
VECTOR_SIGNATURE = "hu3T0yucJiUMEnqJsj9GTvgsXXCMkUdgPiV7iMF4bH4="


# --- values -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("10", 10.0), ("10.0", 10.0), ("-12", -12.0), ("-0.0", 0.0), (4.5, 4.5), (0, 0.0)],
)
def test_decimal_strings_are_read_leniently(raw, expected):
    value = mapping.parse_decimal(raw, "x")
    assert value == expected
    assert str(value) != "-0.0"  # "-0.0" is zero stock, not a negative one


@pytest.mark.parametrize("raw", ["ten", True, float("nan"), "inf", [1]])
def test_bad_numbers_are_payload_errors_naming_the_field(raw):
    with pytest.raises(PayloadError, match="stock_on_hand"):
        mapping.parse_decimal(raw, "stock_on_hand")


def test_ids_and_timestamps():
    assert (
        mapping.parse_id(42, "id")
        == mapping.parse_id("42", "id")
        == mapping.parse_id(42.0, "id")
        == "42"
    )
    for bad in (None, "", "4x", -1.5, True):
        with pytest.raises(PayloadError):
            mapping.parse_id(bad, "id")
    stamp = mapping.parse_timestamp("2015-11-02T01:22:24.817Z")
    assert stamp == pytest.approx(1446427344.817)
    assert mapping.format_timestamp(stamp) == "2015-11-02T01:22:24.817Z"
    assert mapping.parse_timestamp("2015-11-04") == mapping.parse_timestamp("2015-11-04T00:00:00Z")
    assert mapping.format_date(stamp) == "2015-11-02"
    with pytest.raises(PayloadError, match="not a date"):
        mapping.parse_timestamp("yesterday")


@given(st.decimals(min_value=-(10**6), max_value=10**6, places=4, allow_nan=False))
def test_decimal_formatting_round_trips(value):
    text = mapping.format_decimal(float(value))
    assert "e" not in text.lower()
    assert mapping.parse_decimal(text, "x") == pytest.approx(float(value), abs=1e-9)


def test_pagination_header():
    header = '{"total_records":1343,"total_pages":269,"first_page":true,"last_page":false,"out_of_bounds":false,"offset":0}'
    page = mapping.parse_pagination(header)
    assert page is not None
    assert (page.total_records, page.total_pages, page.first_page, page.last_page) == (
        1343,
        269,
        True,
        False,
    )
    assert mapping.parse_pagination(None) is None
    assert mapping.parse_pagination("not json") is None
    assert mapping.parse_pagination("[1]") is None


@pytest.mark.parametrize(
    ("errors", "words"),
    [
        ({"name": ["can't be blank"]}, "Name can't be blank"),
        (
            {"order_line_items.variant_id": ["is invalid"], "base": ["This order is void"]},
            "Order line items variant id is invalid; This order is void",
        ),
        ({"issued_at": "can't be blank"}, "Issued at can't be blank"),
        (["Something broke", ""], "Something broke"),
        (None, ""),
    ],
)
def test_validation_errors_read_as_words(errors, words):
    assert mapping.errors_in_words(errors) == words


def test_envelopes():
    assert mapping.unwrap({"variant": {"id": 1}}, "variant") == {"id": 1}
    assert mapping.unwrap_list({"companies": [{"id": 1}]}, "company") == [{"id": 1}]
    assert mapping.plural("address") == "addresses" and mapping.plural("order") == "orders"
    with pytest.raises(PayloadError, match="no variant"):
        mapping.unwrap({"product": {}}, "variant")
    with pytest.raises(PayloadError, match="not a record"):
        mapping.unwrap_list({"variants": [1]}, "variant")


# --- stock --------------------------------------------------------------------------


def test_the_documented_variant_becomes_per_location_stock():
    stock = mapping.variant_stock_from_payload({"variant": DOC_VARIANT})
    assert (stock.variant_id, stock.product_id, stock.sku) == ("3", "1", "DEMO-GOBS-PEA")
    assert stock.name == "Everlasting Gobstopper - Peach"
    assert stock.locations == [LocationStock("1", 10.0, 3.0), LocationStock("2", 0.0, 0.0)]
    assert (stock.on_hand, stock.committed) == (10.0, 3.0)
    assert stock.at("1").available == 7.0 and stock.at("9") is None
    assert (stock.manage_stock, stock.keep_selling, stock.max_online) == (True, False, None)
    assert stock.updated_at == pytest.approx(1446428044.502)
    assert stock.online_quantity() == 7.0


def test_the_sales_channel_flags_are_reported_and_honoured():
    capped = mapping.variant_stock_from_payload(DOC_VARIANT | {"max_online": "5"})
    assert capped.max_online == 5.0 and capped.online_quantity() == 5.0
    untracked = mapping.variant_stock_from_payload(DOC_VARIANT | {"manage_stock": False})
    assert untracked.manage_stock is False and untracked.online_quantity() is None
    oversold = mapping.variant_stock_from_payload(
        DOC_VARIANT
        | {
            "keep_selling": True,
            "locations": [{"location_id": 1, "stock_on_hand": "-2", "committed": "1"}],
        }
    )
    assert oversold.keep_selling is True
    assert oversold.locations == [LocationStock("1", -2.0, 1.0)]
    assert oversold.online_quantity() == 0.0  # never shown below zero
    # Only the locations that feed the channels count.
    assert mapping.variant_stock_from_payload(DOC_VARIANT).online_quantity({"2"}) == 0.0
    # The gem types manage_stock as an integer.
    assert (
        mapping.variant_stock_from_payload(DOC_VARIANT | {"manage_stock": 0}).manage_stock is False
    )


def test_pre_2016_stock_hashes_are_still_read():
    legacy = {k: v for k, v in DOC_VARIANT.items() if k != "locations"}
    legacy |= {"stock_levels": {"1": "10.0", "4": "2.0"}, "committed_stock_levels": {"1": "3.0"}}
    stock = mapping.variant_stock_from_payload(legacy)
    assert sorted(stock.locations) == [LocationStock("1", 10.0, 3.0), LocationStock("4", 2.0, 0.0)]


def test_garbled_stock_is_refused_with_the_field():
    with pytest.raises(PayloadError, match="variant 3 at location 1 stock_on_hand"):
        mapping.variant_stock_from_payload(
            DOC_VARIANT | {"locations": [{"location_id": 1, "stock_on_hand": "lots"}]}
        )
    with pytest.raises(PayloadError, match="locations is not a list"):
        mapping.variant_stock_from_payload(DOC_VARIANT | {"locations": "10"})


def test_listings_key_on_the_variant_id_not_the_sku():
    listing = mapping.listing_from_variant(DOC_VARIANT)
    assert (listing.external_id, listing.product_id, listing.variant_id) == ("3", "1", "3")
    assert (listing.sku, listing.quantity, listing.barcode, listing.mpn) == (
        "DEMO-GOBS-PEA",
        7.0,
        "9400000000017",
        "WONKA-7",
    )
    twin = mapping.listing_from_variant(DOC_VARIANT | {"id": 4})
    assert twin.sku == listing.sku and twin.external_id != listing.external_id
    assert mapping.listing_from_variant(DOC_VARIANT | {"manage_stock": False}).quantity is None


def test_locations_companies_and_orders():
    location = mapping.location_from_payload(
        {"location": {"id": 1, "label": "Primary", "holds_stock": True, "country": "NZ"}}
    )
    assert (location.id, location.label, location.holds_stock, location.country) == (
        "1",
        "Primary",
        True,
        "NZ",
    )
    customer = mapping.customer_from_company(
        {
            "id": 4,
            "name": "B2B Test Company",
            "email": "orders@b2btest.example",
            "phone_number": None,
        },
        [{"status": "archived", "zip_code": "1111"}, {"status": "active", "zip_code": "079903"}],
    )
    assert (customer.ref, customer.name, customer.email, customer.postcode) == (
        "company:4",
        "B2B Test Company",
        "orders@b2btest.example",
        "079903",
    )
    order = mapping.gecko_order_from_payload(
        {
            "order": {
                "id": 2,
                "order_number": "SO0002",
                "status": "finalized",
                "invoice_status": "invoiced",
                "company_id": 1,
                "stock_location_id": 1,
                "fulfillment_ids": [7],
                "reference_number": "R",
            }
        }
    )
    assert (order.id, order.fulfillment_ids, order.closed) == ("2", ("7",), False)
    assert mapping.local_status(order) is OrderStatus.CONFIRMED
    assert (
        mapping.local_status(order.__class__(**{**_fields(order), "status": "void"}))
        is OrderStatus.CANCELLED
    )
    shipped = {**_fields(order), "fulfillment_status": "shipped", "status": "fulfilled"}
    assert mapping.local_status(order.__class__(**shipped)) is OrderStatus.DISPATCHED
    returned = {**shipped, "returning_status": "returning"}
    assert mapping.local_status(order.__class__(**returned)) is OrderStatus.RETURNED


def _fields(order: mapping.GeckoOrder) -> dict:
    return {name: getattr(order, name) for name in order.__dataclass_fields__}


# --- export -------------------------------------------------------------------------

ADDRESS = ExportAddress("3 Beach Road", city="Paihia", zip_code="0200", country="New Zealand")


def export(**changes) -> ExportOrder:
    base = {
        "reference": "SB-web-1001",
        "customer_name": "Hemi Walker",
        "customer_email": "hemi@example.org",
        "lines": [ExportLine("41001", 2, 18.5), ExportLine("41002", 1.5)],
        "shipping_address": ADDRESS,
        "currency": "nzd",
    }
    return ExportOrder(**(base | changes))


def test_a_new_customer_order_uses_the_documented_embedded_shape():
    order = export(shipping_price=7.5, notes="Leave at door")
    placement = Placement(
        company=mapping.company_body(order),
        shipping_address=mapping.address_body(
            ADDRESS, mapping.address_label(ADDRESS, set(), "Shipping")
        ),
    )
    body = mapping.order_body(order, placement, "2024-05-02")["order"]
    assert body["company"] == {
        "name": "Hemi Walker",
        "company_type": "consumer",
        "email": "hemi@example.org",
    }
    assert body["shipping_address"] == {
        "label": "3 Beach Road, Paihia",
        "address1": "3 Beach Road",
        "city": "Paihia",
        "zip_code": "0200",
        "country": "New Zealand",
    }
    assert "company_id" not in body and "billing_address" not in body  # billing = shipping
    assert (body["issued_at"], body["status"], body["reference_number"]) == (
        "2024-05-02",
        "active",
        "SB-web-1001",
    )
    assert body["currency_iso"] == "NZD" and body["notes"] == "Leave at door"
    assert body["order_line_items"] == [
        {"variant_id": 41001, "quantity": "2", "price": "18.5"},
        {"variant_id": 41002, "quantity": "1.5"},  # no price: TradeGecko's price list
        {
            "freeform": True,
            "line_type": "shipping",
            "label": "Shipping",
            "quantity": "1",
            "price": "7.5",
        },
    ]
    assert isinstance(ExportOrder(**(_export_fields(order))).lines, tuple)


def _export_fields(order: ExportOrder) -> dict:
    return {name: getattr(order, name) for name in order.__dataclass_fields__}


def test_an_existing_company_is_named_by_id():
    order = export(customer_company="Kauri Cove Café", company_id="8801", issued_at="2024-01-31")
    body = mapping.order_body(
        order, Placement(company_id="8801", shipping_address_id="9901"), "2024-05-02"
    )["order"]
    assert (body["company_id"], body["shipping_address_id"], body["issued_at"]) == (
        8801,
        9901,
        "2024-01-31",
    )
    assert "company" not in body and "shipping_address" not in body
    assert mapping.company_body(order)["company_type"] == "business"


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"reference": " "}, "no reference"),
        ({"lines": []}, "no lines"),
        ({"lines": [ExportLine("HP-MH-250", 1)]}, "names no TradeGecko variant id"),
        ({"lines": [ExportLine("41001", 0)]}, "no positive quantity"),
        ({"lines": [ExportLine("41001", 1, -3)]}, "negative price"),
        ({"shipping_address": None}, "needs a shipping address"),
        ({"tax_treatment": "gross"}, "inclusive or exclusive"),
        ({"currency": "DOLLARS"}, "three-letter currency"),
        ({"company_id": "Kauri"}, "not a TradeGecko company id"),
    ],
)
def test_exports_are_checked_before_any_request(changes, words):
    with pytest.raises(Rejected, match=words):
        mapping.validate_export(export(**changes))


def test_addresses_match_loosely_and_labels_stay_unique():
    stored = {
        "address1": "3  beach road",
        "city": "PAIHIA",
        "zip_code": "0200",
        "country": "new zealand",
        "status": "active",
    }
    assert mapping.address_matches(ADDRESS, stored)
    assert not mapping.address_matches(ADDRESS, stored | {"status": "archived"})
    assert not mapping.address_matches(ADDRESS, stored | {"zip_code": "0201"})
    assert (
        mapping.address_label(ADDRESS, {"3 Beach Road, Paihia"}, "Shipping")
        == "3 Beach Road, Paihia (2)"
    )
    assert (
        mapping.address_label(ExportAddress("", label="Home"), {"home", "Home (2)"}, "x")
        == "Home (3)"
    )


def test_idempotency_keys_follow_the_content():
    body = mapping.order_body(
        export(), Placement(company_id="1", shipping_address_id="2"), "2024-05-02"
    )
    same = mapping.order_body(
        export(), Placement(company_id="1", shipping_address_id="2"), "2024-05-02"
    )
    changed = mapping.order_body(
        export(notes="x"), Placement(company_id="1", shipping_address_id="2"), "2024-05-02"
    )
    key = mapping.idempotency_key("order", body)
    assert key == mapping.idempotency_key("order", same) and key.startswith("stockbridge-order-")
    assert key != mapping.idempotency_key("order", changed)


# --- webhooks and secrets -----------------------------------------------------------


def test_the_reference_signature_vector():
    assert sign(VECTOR_BODY, VECTOR_SECRET) == VECTOR_SIGNATURE
    assert verify_signature(VECTOR_BODY, VECTOR_SIGNATURE, VECTOR_SECRET)
    assert verify_signature(VECTOR_BODY, f" {VECTOR_SIGNATURE}\n", VECTOR_SECRET)
    assert verify_signature(VECTOR_BODY, VECTOR_SIGNATURE.rstrip("="), VECTOR_SECRET)


@pytest.mark.parametrize(
    ("body", "header", "secret"),
    [
        (VECTOR_BODY.replace(b"1234567", b"1234568"), VECTOR_SIGNATURE, VECTOR_SECRET),
        (VECTOR_BODY + b" ", VECTOR_SIGNATURE, VECTOR_SECRET),
        (VECTOR_BODY, VECTOR_SIGNATURE, "another-secret"),
        (VECTOR_BODY, "", VECTOR_SECRET),
        (VECTOR_BODY, "not base64 at all!", VECTOR_SECRET),
        (VECTOR_BODY, VECTOR_SIGNATURE, ""),
        (VECTOR_BODY, base64.b64encode(b"short").decode(), VECTOR_SECRET),
    ],
)
def test_tampered_or_unsigned_deliveries_are_refused(body, header, secret):
    assert verify_signature(body, header, secret) is False


@given(st.binary(max_size=512), st.text(min_size=1, max_size=40))
def test_signatures_verify_only_their_own_body(body, secret):
    signature = sign(body, secret)
    assert verify_signature(body, signature, secret)
    assert not verify_signature(body + b"x", signature, secret)


def test_webhook_hints_name_what_to_fetch():
    stock = webhook_hint(
        json.dumps(
            {"object_id": 41001, "event": "variant.stock_level_update", "timestamp": 1546272000}
        )
    )
    assert stock is not None
    assert (stock.resource, stock.object_id, stock.refetch, stock.timestamp) == (
        "variant",
        "41001",
        "stock",
        1546272000.0,
    )
    plural = webhook_hint(
        {
            "event": "fulfillments.create",
            "resource_url": "https://api.tradegecko.com/fulfillments/77.json",
        }
    )
    assert plural is not None and (plural.event, plural.object_id, plural.refetch) == (
        "fulfillment.create",
        "77",
        "order",
    )
    assert webhook_hint(VECTOR_BODY).refetch == "order"
    assert webhook_hint({"event": "product.create", "object_id": 5}).refetch == "listing"
    assert webhook_hint({"event": "account.update", "object_id": 1}).refetch == ""
    for junk in (
        b"\xff",
        "[]",
        "{}",
        {"event": "variant.create"},
        {"event": "noevent", "object_id": 1},
    ):
        assert webhook_hint(junk) is None


def test_stored_sign_ins_round_trip_without_showing_tokens():
    creds = OAuthCredentials(
        "access-123",
        "refresh-456",
        1_700_000_000.0,
        "cid",
        "csecret",
        "http://127.0.0.1:8765/callback",
    )
    secret = creds.to_secret()
    assert parse_secret(secret) == creds
    assert "access-123" not in repr(creds) and "csecret" not in repr(creds)
    assert creds.expired(1_700_000_000.0 - 60) and not creds.expired(1_700_000_000.0 - 600)
    assert parse_secret("  Bearer abc123 ") == "abc123"
    with pytest.raises(ValueError, match="not a stored TradeGecko sign-in"):
        parse_secret('{"kind": "other"}')
