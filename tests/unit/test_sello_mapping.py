"""Offline tests of the Sello payload ↔ domain mapping, status choice and webhook hints."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.channels.errors import PayloadError, Rejected
from app.channels.sello import mapping
from app.channels.sello.mapping import (
    SelloStatus,
    effective_status_map,
    lifecycle_from_flags,
    listing_from_product,
    order_from_payload,
    parse_timestamp,
    products_from_list_body,
    status_from_payload,
)
from app.channels.sello.statuses import status_change_for
from app.channels.sello.webhooks import RefetchHint, refetch_hint, refetch_plan
from app.core.models import OrderStatus, PaymentStatus

S = OrderStatus

# The statuses of the reference (§10) plus the ones a shop typically adds.
STATUSES: list[dict[str, Any]] = [
    {
        "id": "2591257",
        "title": "Awaiting payment",
        "color": "#1a1ad4",
        "is_paid": False,
        "is_delivered": False,
        "is_active": True,
        "is_deleted": False,
    },  # fmt: skip
    {
        "id": "2591259",
        "title": "Payment received",
        "color": "#bfdabf",
        "is_paid": True,
        "is_delivered": False,
        "is_active": True,
        "is_deleted": False,
    },  # fmt: skip
    {
        "id": "2591260",
        "title": "Packed",
        "is_paid": True,
        "is_delivered": False,
        "is_active": True,
        "is_deleted": False,
    },  # fmt: skip
    {
        "id": "2591261",
        "title": "Shipped",
        "is_paid": True,
        "is_delivered": True,
        "is_active": False,
        "is_deleted": False,
    },  # fmt: skip
    {
        "id": "2591262",
        "title": "Cancelled",
        "is_paid": False,
        "is_delivered": False,
        "is_active": False,
        "is_deleted": False,
    },  # fmt: skip
    {
        "id": "2591263",
        "title": "Deleted",
        "is_paid": False,
        "is_delivered": False,
        "is_active": False,
        "is_deleted": True,
    },  # fmt: skip
]

# The list item of the reference (§10), field for field.
LIST_ITEM: dict[str, Any] = {
    "id": 35729805, "number": 153, "status_id": 2591259, "integration_id": 46162,
    "market": 1, "market_reference": "114711767", "currency": "SEK",
    "created_at": "2022-05-22T21:18:20.000Z", "updated_at": "2022-05-23T08:02:11.000Z",
    "delivered_at": None, "shipping_cost": 22, "shipping_option": "Posten",
    "payment_option": "", "total": 51, "total_eur": 4.86, "weight": 0, "icons": [],
    "reminder_sent": False, "customer_alias": "test", "customer_email": "Kund@Example.se",
    "customer_phone": "+46700000000", "customer_mobile": "+46700000001",
    "customer_first_name": "Anna", "customer_last_name": "Svensson",
    "customer_address": "Storgatan 1", "customer_address_2": "", "customer_zip": "11111",
    "customer_city": "Stockholm", "customer_country_code": "se",
    "is_deleted": False, "is_active": True, "is_paid": True, "is_delivered": False,
    "is_new": True, "notes": "", "row_count": 1,
}  # fmt: skip
# The live row of [DP] (numbers) and the documented row (strings).
LIVE_ROW: dict[str, Any] = {
    "id": 37977455, "product_id": 42950441, "reference": "596", "title": "Bromsvajer universal",
    "quantity": 1, "price": 29, "tax": 25, "total_vat": 5.8, "item_no": "542607821",
    "integration_id": 46162, "stock_location": "", "identifier": None, "identifier_type": None,
    "purchase_price": 0, "total_weight": 0, "submitter": None, "tradera_order_id": 114711767,
    "created_at": "2022-05-22T21:18:20.000Z",
}  # fmt: skip
DOC_ROW: dict[str, Any] = {
    "id": "8109592", "quantity": "2", "title": "High quality watch", "reference": "WTCH_3829",
    "price": "100", "stock_location": "Shelf 8", "item_no": "124", "tax": "25.00",
    "created_at": "2016-12-14 10:53:09", "product_id": "29372618", "integration_id": "9472",
    "identifier": "51748283", "identifier_type": "EAN", "total_weight": 282,
    "submitter": "9", "purchase_price": "10", "tradera_order_id": None, "total_vat": 440,
}  # fmt: skip
# The product of the reference (§10), as the documented list envelope carries it.
PRODUCT_LIST_BODY: dict[str, Any] = {
    "statusCode": 200,
    "data": {
        "meta": {"total": 1},
        "products": [
            {
                "id": 3635056, "private_reference": "PVE002",
                "private_name": "Versace Bright Crystal Edt 50ml", "quantity": 10,
                "stock_location": "A-12", "purchase_price": 391, "tax": "25",
                "group_id": 2224433, "folder_id": 1032767, "folder_name": "Parfym",
                "weight": 250, "created_at": "2014-12-03T00:00:00.000Z", "updated_at": None,
                "properties": [{"property": "EAN", "value": {"default": "8011003993819"}}],
                "texts": {"default": {"sv": {"name": "Versace Bright Crystal Edt 50ml"}}},
            }
        ],
        "groups": [{"id": 2224433, "products": [3635056, 3635057], "main_product": 3635056}],
    },
}  # fmt: skip


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def order_with(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(LIST_ITEM), **changes}


# --- orders --------------------------------------------------------------------------


def test_reference_order_maps_field_for_field():
    order = order_from_payload(LIST_ITEM, [LIVE_ROW], STATUSES)
    assert (order.external_id, order.number) == ("35729805", "153")
    assert order.status is S.CONFIRMED  # "Payment received": active and paid
    assert order.payment_status is PaymentStatus.PAID
    assert (order.total, order.currency) == (51.0, "SEK")
    assert order.updated_at == ts("2022-05-23T08:02:11")
    assert order.created_at == ts("2022-05-22T21:18:20")
    assert order.channel_state == "Payment received"
    (line,) = order.lines
    assert (line.external_id, line.listing_id, line.sku) == ("37977455", "42950441", "596")
    assert (line.name, line.quantity, line.unit_price, line.barcode) == (
        "Bromsvajer universal",
        1.0,
        29.0,
        "",
    )
    assert order.customer.ref == "email:kund@example.se"
    assert (order.customer.name, order.customer.email) == ("Anna Svensson", "Kund@Example.se")
    assert (order.customer.phone, order.customer.postcode, order.customer.guest) == (
        "+46700000000",
        "11111",
        False,
    )
    assert order.receiver == {
        "name": "Anna Svensson",
        "address": "Storgatan 1",
        "postal": "11111",
        "city": "Stockholm",
        "country": "SE",
        "phone": "+46700000001",
        "email": "Kund@Example.se",
    }
    assert order.raw["rows"] == [LIVE_ROW]


def test_documented_string_row_reads_like_the_live_numbers():
    order = order_from_payload(LIST_ITEM, [DOC_ROW], STATUSES)
    (line,) = order.lines
    assert (line.external_id, line.listing_id, line.sku) == ("8109592", "29372618", "WTCH_3829")
    assert (line.quantity, line.unit_price, line.barcode) == (2.0, 100.0, "51748283")


def test_rows_inside_the_list_item_are_used_when_none_are_given():
    item = order_with(rows=[LIVE_ROW])
    assert order_from_payload(item, None, STATUSES).lines[0].external_id == "37977455"


@pytest.mark.parametrize(
    ("rows", "reason"),
    [(None, "came without rows"), ([], "has no rows"), ({"id": 1}, "rows is not a list")],
)
def test_orders_without_usable_rows_are_refused(rows, reason):
    with pytest.raises(PayloadError, match=f"order 35729805 {reason}"):
        order_from_payload(LIST_ITEM, rows, STATUSES)


@pytest.mark.parametrize(
    ("row_change", "reason"),
    [
        ({"quantity": "many"}, "order 35729805 row 37977455 quantity is not a number"),
        ({"quantity": -1}, "negative quantity"),
        ({"quantity": None}, "has no quantity"),
        ({"id": None}, "row 1 id is missing"),
        ({"price": "cheap"}, "price is not a number"),
    ],
)
def test_unreadable_rows_name_the_problem(row_change, reason):
    with pytest.raises(PayloadError, match=reason):
        order_from_payload(LIST_ITEM, [{**LIVE_ROW, **row_change}], STATUSES)


def test_a_row_without_product_is_matched_by_sku_only():
    (line,) = order_from_payload(LIST_ITEM, [{**LIVE_ROW, "product_id": 0}], STATUSES).lines
    assert (line.listing_id, line.sku) == ("", "596")


def test_missing_total_is_rows_plus_shipping():
    order = order_from_payload(order_with(total=None), [DOC_ROW, LIVE_ROW], STATUSES)
    assert order.total == 2 * 100 + 29 + 22


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2016-12-14T10:41:40+01:00", ts("2016-12-14T09:41:40")),
        ("2014-12-03T00:00:00.000Z", ts("2014-12-03T00:00:00")),
        ("2016-12-14 10:53:09", ts("2016-12-14T10:53:09")),
        (1_653_253_331, 1_653_253_331.0),
        (1_653_253_331_000, 1_653_253_331.0),
        ("1653253331", 1_653_253_331.0),
        (None, None),
        ("", None),
    ],
)
def test_every_timestamp_form_is_read(value, expected):
    assert parse_timestamp(value) == expected


def test_unparsable_timestamp_names_the_field():
    with pytest.raises(PayloadError, match="order 35729805 updated_at is not a date"):
        order_from_payload(order_with(updated_at="yesterday"), [LIVE_ROW], STATUSES)


# --- statuses ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("active", "paid", "delivered", "deleted", "expected"),
    [
        (True, False, False, False, S.REQUESTED),
        (True, True, False, False, S.CONFIRMED),
        (False, True, True, False, S.DELIVERED),
        (True, True, True, False, S.DELIVERED),
        (False, False, False, False, S.CANCELLED),
        (False, True, False, False, S.CANCELLED),
        (False, False, False, True, S.CANCELLED),
        (True, True, True, True, S.CANCELLED),
    ],
)
def test_flags_map_to_the_lifecycle(active, paid, delivered, deleted, expected):
    flags = {"active": active, "paid": paid, "delivered": delivered, "deleted": deleted}
    assert lifecycle_from_flags(**flags) is expected


def test_status_payload_variants_and_deleted_forcing_flags_off():
    status = status_from_payload(
        {"id": 2591263, "title": "Bin", "is_paid": "1", "is_active": 1, "is_deleted": "true"}
    )
    assert status == SelloStatus("2591263", "Bin", False, False, False, True)
    assert status_from_payload({"id": "7", "is_active": "0"}).title == "Status 7"
    with pytest.raises(PayloadError, match="status 7 is_paid is not a true/false flag"):
        status_from_payload({"id": "7", "is_paid": "maybe"})


def test_order_status_follows_its_status_not_the_copied_flags():
    # The merchant edited "Packed" to count as delivered after the order got it.
    statuses = copy.deepcopy(STATUSES)
    statuses[2]["is_delivered"] = True
    order = order_from_payload(order_with(status_id="2591260"), [LIVE_ROW], statuses)
    assert (order.status, order.channel_state) == (S.DELIVERED, "Packed")


def test_merchant_mapping_overrides_the_flags():
    overrides = {"2591260": S.DISPATCHED, "2591261": S.DELIVERED}
    packed = order_from_payload(order_with(status_id=2591260), [LIVE_ROW], STATUSES, overrides)
    assert packed.status is S.DISPATCHED
    assert effective_status_map(STATUSES, {"2591261": S.DISPATCHED}) == {
        "2591257": S.REQUESTED,
        "2591259": S.CONFIRMED,
        "2591260": S.CONFIRMED,
        "2591261": S.DISPATCHED,
        "2591262": S.CANCELLED,
        "2591263": S.CANCELLED,
    }


def test_unlisted_status_falls_back_to_the_order_flags_or_the_mapping():
    unlisted = order_with(status_id=999, is_active=False, is_delivered=True)
    order = order_from_payload(unlisted, [LIVE_ROW], STATUSES)
    assert (order.status, order.channel_state) == (S.DELIVERED, "Status 999")
    mapped = order_from_payload(unlisted, [LIVE_ROW], STATUSES, {"999": S.DISPATCHED})
    assert mapped.status is S.DISPATCHED
    bare = {k: v for k, v in unlisted.items() if not k.startswith("is_")}
    with pytest.raises(PayloadError, match="status 999, which Sello did not list"):
        order_from_payload(bare, [LIVE_ROW], STATUSES)


def test_unpaid_order_and_cancelled_status():
    order = order_from_payload(
        order_with(status_id=2591262, is_paid=False, is_active=False), [LIVE_ROW], STATUSES
    )
    assert (order.status, order.payment_status) == (S.CANCELLED, PaymentStatus.UNPAID)


# --- customers -----------------------------------------------------------------------


def test_customer_ref_falls_back_from_email_to_alias_to_order():
    by_alias = order_from_payload(order_with(customer_email=""), [LIVE_ROW], STATUSES).customer
    assert (by_alias.ref, by_alias.guest) == ("alias:1:test", False)
    anonymous = order_with(
        customer_email="", customer_alias="", customer_first_name="", customer_last_name=""
    )
    nobody = order_from_payload(anonymous, [LIVE_ROW], STATUSES).customer
    assert (nobody.ref, nobody.name, nobody.guest) == ("order:35729805", "", True)


# --- envelopes and products ------------------------------------------------------------


def test_product_list_with_and_without_the_envelope():
    products, total = products_from_list_body(PRODUCT_LIST_BODY)
    assert (len(products), total) == (1, 1)
    bare, bare_total = products_from_list_body(PRODUCT_LIST_BODY["data"])
    assert bare == products and bare_total == 1
    listed, none_total = products_from_list_body(products)
    assert listed == products and none_total is None
    with pytest.raises(PayloadError, match="no products list"):
        products_from_list_body({"statusCode": 200, "data": {"meta": {}}})


def test_reference_product_is_a_listing():
    (product,) = PRODUCT_LIST_BODY["data"]["products"]
    listing = listing_from_product(product)
    assert (listing.external_id, listing.product_id, listing.variant_id) == (
        "3635056",
        "3635056",
        None,
    )
    assert (listing.sku, listing.quantity, listing.barcode) == ("PVE002", 10.0, "8011003993819")
    assert listing.name == "Versace Bright Crystal Edt 50ml"
    assert listing.updated_at is None


def test_product_variants_numbers_as_strings_and_text_names():
    product = {
        "id": "3635057",
        "private_reference": "PVE003",
        "private_name": "",
        "quantity": "7",
        "texts": {"default": {"sv": {"use": "en"}, "en": {"name": "Bright Crystal 90ml"}}},
        "properties": [
            {"property": "UPC", "value": {"default": "012345678905"}},
            {"property": "EAN", "value": {"sv": "8011003993826"}},
        ],
        "updated_at": "2017-08-07T00:00:00.000Z",
    }
    listing = listing_from_product(product)
    assert (listing.external_id, listing.quantity, listing.name) == (
        "3635057",
        7.0,
        "Bright Crystal 90ml",
    )
    assert listing.barcode == "8011003993826"  # EAN preferred over UPC
    assert listing_from_product({"id": 1, "quantity": None}).quantity is None
    with pytest.raises(PayloadError, match="product 1 quantity is not a number"):
        listing_from_product({"id": 1, "quantity": "lots"})
    with pytest.raises(PayloadError, match="product id is missing"):
        listing_from_product({"private_reference": "X"})


@pytest.mark.parametrize(
    "body",
    [
        {"id": 5, "status_id": 1},
        {"statusCode": 200, "data": {"id": 5, "status_id": 1}},
        {"order": {"id": 5, "status_id": 1}},
    ],
)
def test_single_order_envelopes(body):
    assert mapping.order_from_detail_body(body)["id"] == 5


def test_rows_endpoint_shapes():
    assert mapping.rows_from_body([DOC_ROW]) == [DOC_ROW]
    assert mapping.rows_from_body({"rows": [DOC_ROW]}) == [DOC_ROW]
    with pytest.raises(PayloadError):
        mapping.rows_from_body({"id": 1})


# --- numbers as strings, everywhere (property) -----------------------------------------

_NUMERIC_ORDER = ("id", "number", "status_id", "shipping_cost", "total", "market")
_NUMERIC_ROW = ("id", "product_id", "quantity", "price")


@settings(max_examples=60, deadline=None)
@given(
    order_keys=st.sets(st.sampled_from(_NUMERIC_ORDER)),
    row_keys=st.sets(st.sampled_from(_NUMERIC_ROW)),
    quantity=st.integers(min_value=1, max_value=500),
    price=st.decimals(min_value=0, max_value=10_000, places=2, allow_nan=False),
)
def test_numbers_sent_as_strings_map_like_numbers(order_keys, row_keys, quantity, price):
    row = {**LIVE_ROW, "quantity": quantity, "price": float(price)}
    as_numbers = order_from_payload(LIST_ITEM, [row], STATUSES)
    stringly_order = {k: (str(v) if k in order_keys else v) for k, v in LIST_ITEM.items()}
    stringly_row = {k: (str(v) if k in row_keys else v) for k, v in row.items()}
    as_strings = order_from_payload(stringly_order, [stringly_row], STATUSES)
    assert as_strings.lines == as_numbers.lines
    assert (as_strings.external_id, as_strings.status, as_strings.total) == (
        as_numbers.external_id,
        as_numbers.status,
        as_numbers.total,
    )


# --- choosing the status for a push ------------------------------------------------------


def sello_order(status_id: str, **flags: Any) -> dict[str, Any]:
    status = next(s for s in STATUSES if s["id"] == status_id)
    order = {"id": 77, "status_id": int(status_id)}
    order.update({k: status[k] for k in ("is_paid", "is_active", "is_delivered", "is_deleted")})
    order.update(flags)
    return order


def choose(kind: str, target: OrderStatus | None, order: dict, overrides=None) -> str | None:
    status = status_change_for(kind, target, order, STATUSES, overrides)
    return None if status is None else status.title


def test_progress_picks_the_mapped_status_and_keeps_payment_as_is():
    assert choose("progress", S.DELIVERED, sello_order("2591259")) == "Shipped"
    # Paid while still "Awaiting payment": two paid statuses map to confirmed, and the
    # lower id wins, deterministically.
    paid_early = sello_order("2591257", is_paid=True)
    assert choose("progress", S.CONFIRMED, paid_early) == "Payment received"
    # An unlisted status is judged by the order's own flags.
    unlisted = {**sello_order("2591259"), "status_id": 999}
    assert choose("progress", S.CONFIRMED, unlisted) is None


def test_already_there_or_past_sends_nothing():
    assert choose("progress", S.CONFIRMED, sello_order("2591259")) is None
    assert choose("progress", S.CONFIRMED, sello_order("2591261")) is None
    assert choose("cancel", None, sello_order("2591262")) is None
    assert choose("cancel", None, sello_order("2591263")) is None


def test_no_status_mapped_to_the_target_is_a_readable_refusal():
    with pytest.raises(Rejected) as caught:
        choose("progress", S.DISPATCHED, sello_order("2591259"))
    assert 'no Sello status is mapped to "Dispatched"' in caught.value.message
    assert "Packed (2591260)" in caught.value.message
    overrides = {"2591260": S.DISPATCHED}
    assert choose("progress", S.DISPATCHED, sello_order("2591259"), overrides) == "Packed"


def test_an_unpaid_order_is_never_marked_paid_as_a_side_effect():
    with pytest.raises(Rejected, match="unpaid on Sello"):
        choose("progress", S.CONFIRMED, sello_order("2591257"))
    # With an unpaid status mapped to confirmed, that one is chosen.
    extra = [*STATUSES, {"id": "2591270", "title": "Invoice sent", "is_active": True}]
    status = status_change_for(
        "progress", S.CONFIRMED, sello_order("2591257"), extra, {"2591270": S.CONFIRMED}
    )
    assert status is not None and status.title == "Invoice sent"


def test_cancel_prefers_a_cancelled_status_over_the_bin_and_refuses_delivered():
    assert choose("cancel", None, sello_order("2591259")) == "Cancelled"
    assert choose("cancel", None, sello_order("2591257")) == "Cancelled"
    with pytest.raises(Rejected, match="already delivered on Sello"):
        choose("cancel", None, sello_order("2591261"))


def test_progress_of_a_cancelled_order_and_odd_requests_are_refused():
    with pytest.raises(Rejected, match="cancelled on Sello"):
        choose("progress", S.DELIVERED, sello_order("2591262"))
    with pytest.raises(Rejected, match="only be moved to confirmed"):
        choose("progress", S.REQUESTED, sello_order("2591257"))
    with pytest.raises(Rejected, match="only be moved to confirmed"):
        choose("progress", None, sello_order("2591257"))
    with pytest.raises(Rejected, match="no change called 'tracking'"):
        choose("tracking", None, sello_order("2591257"))


# --- webhooks ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "hook", "expected"),
    [
        ({"id": 35729805}, "orderNew", RefetchHint("order", "35729805", "orderNew")),
        (
            b'{"id": "3635056"}',
            "productQuantityUpdated",
            RefetchHint("product", "3635056", "productQuantityUpdated"),
        ),  # fmt: skip
        (
            '{"type": "orderPaid", "id": 12, "firedAt": "2024-01-01"}',
            None,
            RefetchHint("order", "12", "orderPaid"),
        ),  # fmt: skip
        ("id=44&hook=productUpdated", None, RefetchHint("product", "44", "productUpdated")),
        ("35729805", "orderUpdated", RefetchHint("order", "35729805", "orderUpdated")),
        ({"order_id": "9"}, None, RefetchHint("order", "9", "")),
        ({"data": {"product_id": 3}}, None, RefetchHint("product", "3", "")),
        ({"order": {"id": 8}}, None, RefetchHint("order", "8", "")),
        ([{"id": 5}], "orderNew", RefetchHint("order", "5", "orderNew")),
    ],
)
def test_webhook_bodies_become_refetch_hints(body, hook, expected):
    assert refetch_hint(body, hook) == expected


@pytest.mark.parametrize(
    ("body", "hook", "reason"),
    [
        ({"id": 1}, None, "does not say whether it is about an order or a product"),
        ({"product_id": 1}, "orderNew", "names a product, not an order"),
        ({"id": 1}, "somethingElse", "unknown Sello webhook event"),
        ({"note": "hi"}, "orderNew", "carries no id"),
        ("", "orderNew", "body is empty"),
        ("{broken", "orderNew", "not valid JSON"),
        ({"id": "abc"}, "orderNew", "not an id"),
    ],
)
def test_unusable_webhooks_are_payload_errors(body, hook, reason):
    with pytest.raises(PayloadError, match=reason):
        refetch_hint(body, hook)


def test_repeated_deliveries_fold_into_one_fetch_each():
    bodies = [json.dumps({"id": i}) for i in (3, 4, 3, 3)]
    hints = [refetch_hint(body, "orderUpdated") for body in bodies]
    hints.append(refetch_hint({"id": 3}, "productUpdated"))
    plan = refetch_plan(hints)
    assert (plan.order_ids, plan.product_ids) == (["3", "4"], ["3"])
