"""How the TradeGecko sandbox shows its records: the documented JSON of each resource.

Stored records hold plain numbers; here they become TradeGecko's decimal strings
(``"10"`` for stock, ``"2.0"`` for line quantities, ``"189.0"`` for prices — §17.16)
and gain their read-only, derived fields: a variant's ``locations[]`` and totals, an
order's status family and id lists. Deprecated keys still emitted by the real API
(``prices``, ``stock_levels``, ``committed_stock_levels``, ``tax_type``,
``cached_total``…) are included, as clients meet them in the wild.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.channels.tradegecko.state import GeckoState


def stock(value: float) -> str:
    """Stock figures: ``"10"``, ``"-2"``, ``"2.5"``."""
    number = float(value) + 0.0
    return str(int(number)) if number.is_integer() else f"{number:g}"


def dec(value: float | None) -> str | None:
    """Quantities and money: ``"2.0"``, ``"40.9"``, ``"18.5"``."""
    if value is None:
        return None
    number = round(float(value), 4) + 0.0
    text = f"{number:.4f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def _public(record: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in record.items() if not key.startswith("_")}


def variant(state: GeckoState, record: dict[str, Any]) -> dict[str, Any]:
    product = state.products[record["product_id"]]
    locations = []
    on_hand_total = committed_total = 0.0
    for location_id in state.stock_locations():
        on_hand = state.on_hand.get((record["id"], location_id), 0.0)
        committed = state.committed(record["id"], location_id)
        on_hand_total += on_hand
        committed_total += committed
        locations.append(
            {
                "location_id": location_id,
                "stock_on_hand": stock(on_hand),
                "committed": stock(committed),
                "incoming": None,
                "available": stock(on_hand - committed),
                "production_committed": "0",
                "production_incoming": "0",
                "bin_location": None,
                "reorder_point": None,
            }
        )
    prices = {
        "retail": dec(record["retail_price"]),
        "wholesale": dec(record["wholesale_price"]),
        "buy": dec(record["buy_price"]),
    }
    out = {key: value for key, value in record.items() if not key.endswith("_price")}
    out.update(
        {
            "product_name": product["name"],
            "product_status": product["status"],
            "product_type": product["product_type"],
            "retail_price": prices["retail"],
            "wholesale_price": prices["wholesale"],
            "buy_price": prices["buy"],
            "max_online": None if record["max_online"] is None else stock(record["max_online"]),
            "stock_on_hand": stock(on_hand_total),
            "committed_stock": stock(committed_total),
            "available_stock": stock(on_hand_total - committed_total),
            "incoming_stock": "0",
            "online_ordering": True,
            "sellable": True,
            "purchasable": True,
            "taxable": True,
            "composite": None,
            "description": None,
            "supplier_code": None,
            "weight": None,
            "weight_unit": None,
            "image_ids": [],
            "locations": locations,
            "variant_prices": [
                {"price_list_id": key, "value": value} for key, value in prices.items()
            ],
            "prices": prices,
            "stock_levels": {
                str(loc["location_id"]): f"{float(loc['stock_on_hand']):.1f}" for loc in locations
            },
            "committed_stock_levels": {
                str(loc["location_id"]): f"{float(loc['committed']):.1f}" for loc in locations
            },
        }
    )
    return out


def stock_level(state: GeckoState, record: dict[str, Any]) -> dict[str, Any]:
    shown = variant(state, record)
    return {
        "variant_id": record["id"],
        "stock_on_hand": shown["stock_on_hand"],
        "committed_stock": shown["committed_stock"],
        "available_stock": shown["available_stock"],
        "incoming_stock": "0",
        "locations": [
            {key: loc[key] for key in ("location_id", "stock_on_hand", "committed", "incoming")}
            for loc in shown["locations"]
        ],
    }


def product(state: GeckoState, record: dict[str, Any]) -> dict[str, Any]:
    variants = [v for v in state.variants.values() if v["product_id"] == record["id"]]
    total = sum(
        state.on_hand.get((v["id"], loc), 0.0) for v in variants for loc in state.stock_locations()
    )
    return {
        **record,
        "quantity": stock(total),
        "variant_ids": [v["id"] for v in variants if v["status"] == "active"],
        "image_url": None,
        "supplier": None,
        "vendor": None,
    }


def _statuses(state: GeckoState, order: dict[str, Any]) -> dict[str, str]:
    lines = state.lines_of(order["id"])
    shippable = [line for line in lines if not line["freeform"] and line["variant_id"] is not None]

    def level(done: list[float], wanted: list[float], words: tuple[str, str, str]) -> str:
        if not wanted or sum(done) <= 1e-9:
            return words[0]
        return (
            words[2] if all(d >= w - 1e-9 for d, w in zip(done, wanted, strict=True)) else words[1]
        )

    wanted = [line["quantity"] for line in shippable]
    packed = [state.quantity_in(line["id"], ("packed", "fulfilled")) for line in shippable]
    shipped = [state.quantity_in(line["id"], ("fulfilled",)) for line in shippable]
    received = [state.returned(line["id"], ("received",)) for line in shippable]
    returning = [state.returned(line["id"], ("returning",)) for line in shippable]
    invoiced = [1.0 if line["invoice_id"] is not None else 0.0 for line in lines]
    total, paid = state.order_total(order), state.paid_amount(order["id"])
    has_payment = any(p["order_id"] == order["id"] for p in state.payments.values())
    if has_payment and paid >= total - 0.005:
        payment = "paid"
    elif paid > 0:
        payment = "partial"
    else:
        payment = "unpaid"
    short = 0
    for line in shippable:
        remaining = line["quantity"] - state.quantity_in(line["id"], ("fulfilled",))
        variant_record = state.variants[line["variant_id"]]
        have = state.on_hand.get((line["variant_id"], order["stock_location_id"]), 0.0)
        if remaining > 0 and variant_record["manage_stock"] and have < remaining:
            short += 1
    if not shippable or short == 0:
        shippability, backordering = "shippable", "not_backordered"
    elif short == len(shippable):
        shippability, backordering = "not_shippable", "backordered"
    else:
        shippability, backordering = "partially_shippable", "partially_backordered"
    return {
        "invoice_status": level(
            invoiced, [1.0] * len(lines), ("uninvoiced", "partial", "invoiced")
        ),
        "payment_status": payment,
        "packed_status": level(packed, wanted, ("unpacked", "partial", "packed")),
        "fulfillment_status": level(shipped, wanted, ("unshipped", "partial", "shipped")),
        "return_status": level(received, shipped, ("unreturned", "partial", "returned")),
        "returning_status": level(
            returning,
            [s - r for s, r in zip(shipped, received, strict=True)],
            ("unreturning", "partial", "returning"),
        ),
        "shippability_status": shippability,
        "backordering_status": backordering,
    }


def order(state: GeckoState, record: dict[str, Any]) -> dict[str, Any]:
    total = dec(state.order_total(record))
    invoices = [i for i in state.invoices.values() if i["order_id"] == record["id"]]
    fulfillments = [f for f in state.fulfillments.values() if f["order_id"] == record["id"]]
    account = state.account
    return {
        **_public(record),
        **_statuses(state, record),
        "tax_type": record["tax_treatment"],
        "tax_label": account["tax_label"],
        "tax_override": None,
        "total": total,
        "cached_total": total,
        "contact_id": None,
        "assignee_id": None,
        "source": None,
        "url": record.get("source_url"),
        "due_at": record.get("ship_at"),
        "document_url": f"https://go.tradegecko.com/d/so{record['id']}",
        "tracking_number": next(
            (f["tracking_number"] for f in fulfillments if f.get("tracking_number")), None
        ),
        "order_line_item_ids": [line["id"] for line in state.lines_of(record["id"])],
        "fulfillment_ids": [f["id"] for f in fulfillments if f["status"] != "deleted"],
        "fulfillment_return_ids": [
            r["id"] for r in state.returns_of(record["id"]) if r["status"] != "deleted"
        ],
        "invoice_ids": [i["id"] for i in invoices],
        "payment_ids": [p["id"] for p in state.payments.values() if p["order_id"] == record["id"]],
        "refund_ids": [],
        "invoices": [{"id": i["id"], "invoice_number": i["invoice_number"]} for i in invoices],
        "invoice_numbers": {str(i["id"]): i["invoice_number"] for i in invoices},
        "default_price_type_id": record["default_price_list_id"],
    }


def order_line_item(state: GeckoState, record: dict[str, Any]) -> dict[str, Any]:
    out = {key: value for key, value in record.items() if key != "invoice_id"}
    out.update(
        quantity=dec(record["quantity"]),
        price=dec(record["price"]),
        discount=dec(record["discount"]),
        shippable=not record["freeform"],
        fulfillment_line_item_ids=[
            i["id"]
            for i in state.fulfillment_line_items.values()
            if i["order_line_item_id"] == record["id"]
        ],
        fulfillment_return_line_item_ids=[
            i["id"]
            for i in state.fulfillment_return_line_items.values()
            if i["order_line_item_id"] == record["id"]
        ],
        invoice_line_item_ids=[],
    )
    return out


def fulfillment(state: GeckoState, record: dict[str, Any]) -> dict[str, Any]:
    parent = state.orders[record["order_id"]]
    return {
        **record,
        "order_number": parent["order_number"],
        "company_id": parent["company_id"],
        "fulfillment_line_item_ids": [i["id"] for i in state.items_of(record["id"])],
    }


def fulfillment_line_item(state: GeckoState, record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "quantity": dec(record["quantity"])}


def fulfillment_return(state: GeckoState, record: dict[str, Any]) -> dict[str, Any]:
    return {
        **record,
        "fulfillment_return_line_item_ids": [i["id"] for i in state.return_items_of(record["id"])],
    }


def fulfillment_return_line_item(state: GeckoState, record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "quantity": dec(record["quantity"]), "stock_trail_ids": []}


def company(state: GeckoState, record: dict[str, Any]) -> dict[str, Any]:
    defaults = {
        "company_code": None,
        "email": None,
        "phone_number": None,
        "fax": None,
        "website": None,
        "description": "",
        "tax_number": None,
        "assignee_id": None,
        "default_ledger_account_id": None,
        "default_payment_method_id": None,
        "default_payment_term_id": None,
        "default_stock_location_id": None,
        "default_tax_type_id": None,
        "default_price_list_id": None,
        "default_discount_rate": None,
        "default_tax_rate": None,
        "default_document_theme_id": None,
        "default_price_type_id": None,
    }
    return {
        **defaults,
        **record,
        "address_ids": [
            a["id"] for a in state.addresses.values() if a["company_id"] == record["id"]
        ],
        "contact_ids": [],
        "note_ids": [],
    }


def address(state: GeckoState, record: dict[str, Any]) -> dict[str, Any]:
    defaults = dict.fromkeys(
        (
            "address2",
            "suburb",
            "city",
            "state",
            "zip_code",
            "country",
            "country_code",
            "company_name",
            "first_name",
            "last_name",
            "phone_number",
            "email",
        ),
        "",
    )
    return {**defaults, **record}


def invoice(state: GeckoState, record: dict[str, Any]) -> dict[str, Any]:
    return dict(record)


def payment(state: GeckoState, record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "amount": dec(record["amount"])}


def plain(state: GeckoState, record: dict[str, Any]) -> dict[str, Any]:
    return dict(record)


__all__ = [
    "address",
    "company",
    "dec",
    "fulfillment",
    "fulfillment_line_item",
    "fulfillment_return",
    "fulfillment_return_line_item",
    "invoice",
    "order",
    "order_line_item",
    "payment",
    "plain",
    "product",
    "stock",
    "stock_level",
    "variant",
]
