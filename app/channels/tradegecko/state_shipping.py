"""TradeGecko's rules for shipments: fulfillments and fulfillment returns (sandbox side).

Stock moves only here (reference §17.12, the sandbox's choice): on hand drops when a
fulfillment becomes ``fulfilled`` (at its location) and rises when a fulfillment return
is ``received`` (at the return's location); untracked variants never move. A fulfillment
cannot be deleted while returns point at its lines (seed guide).
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from app.channels.tradegecko.state_values import (
    COMMITTING_STATES,
    BadRequest,
    Invalid,
    day,
    decimal,
    iso,
    parse_time,
    record_id,
)

if TYPE_CHECKING:
    from app.channels.tradegecko.state import GeckoState

Errors = dict[str, list[str]]
SHIPMENT_FIELDS = (
    "tracking_number",
    "tracking_url",
    "tracking_company",
    "service",
    "notes",
    "delivery_type",
)


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def require_open(order: dict[str, Any], verb: str) -> None:
    status = order["status"]
    if status in ("void", "deleted"):
        raise Invalid({"base": [f"This order is {status} and cannot be {verb}"]})
    if status == "draft":
        raise Invalid({"base": [f"A draft order cannot be {verb}: make it active first"]})


def require_packable(order: dict[str, Any], verb: str) -> None:
    require_open(order, verb)
    if order["status"] == "active":
        raise Invalid({"base": [f"Finalise the order before it is {verb}"]})


def unpacked(state: GeckoState, order: dict[str, Any]) -> dict[int, float]:
    """What is left to pack, per shippable line."""
    left = {}
    for line in state.lines_of(order["id"]):
        if line["freeform"] or line["variant_id"] is None:
            continue
        remaining = line["quantity"] - state.quantity_in(line["id"], ("packed", "fulfilled"))
        if remaining > 1e-9:
            left[line["id"]] = remaining
    return left


def new_fulfillment(
    state: GeckoState,
    order: dict[str, Any],
    items: dict[int, float],
    body: dict[str, Any],
    location: int | None = None,
) -> dict[str, Any]:
    now = state.clock.now()
    fulfillment = state._new(
        "fulfillment",
        now,
        order_id=order["id"],
        status="packed",
        stock_location_id=location or order["stock_location_id"],
        shipping_address_id=order["shipping_address_id"],
        billing_address_id=order["billing_address_id"],
        packed_at=_text(body.get("packed_at")) or day(now),
        shipped_at=None,
        received_at=None,
        exchange_rate="1.0",
        receipt={},
        **{key: _text(body.get(key)) or None for key in SHIPMENT_FIELDS},
    )
    state.fulfillments[fulfillment["id"]] = fulfillment
    for position, (line_id, quantity) in enumerate(items.items()):
        line = state.order_line_items[line_id]
        variant = state.variants.get(line["variant_id"])
        item = state._new(
            "fulfillment_line_item",
            now,
            fulfillment_id=fulfillment["id"],
            order_line_item_id=line_id,
            quantity=quantity,
            position=position,
            base_price=None,
            variant_id=line["variant_id"],
            variant_sku=variant["sku"] if variant else None,
        )
        state.fulfillment_line_items[item["id"]] = item
    state._emit("fulfillment.create", fulfillment["id"], "fulfillments")
    return fulfillment


def ship(state: GeckoState, fulfillment: dict[str, Any], body: dict[str, Any]) -> None:
    """A fulfillment leaves the building: on hand drops at its location."""
    fulfillment["status"] = "fulfilled"
    shipped_at = (
        parse_time(body.get("shipped_at")) if isinstance(body.get("shipped_at"), str) else None
    )
    fulfillment["shipped_at"] = iso(shipped_at if shipped_at is not None else state.clock.now())
    for key in SHIPMENT_FIELDS:
        if _text(body.get(key)):
            fulfillment[key] = _text(body[key])
    for item in state.items_of(fulfillment["id"]):
        variant = state.variants.get(item["variant_id"])
        if variant is not None and variant["manage_stock"]:
            key = (variant["id"], fulfillment["stock_location_id"])
            state.on_hand[key] = state.on_hand.get(key, 0.0) - item["quantity"]
    state._emit("fulfillment.fulfilled", fulfillment["id"], "fulfillments")


def settle(state: GeckoState, order: dict[str, Any]) -> None:
    """An order whose every shippable line is shipped becomes ``fulfilled``."""
    if order["status"] not in COMMITTING_STATES:
        return
    lines = [
        line
        for line in state.lines_of(order["id"])
        if not line["freeform"] and line["variant_id"] is not None
    ]
    shipped = [state.quantity_in(line["id"], ("fulfilled",)) for line in lines]
    if lines and all(
        done >= line["quantity"] - 1e-9 for done, line in zip(shipped, lines, strict=True)
    ):
        order["status"] = "fulfilled"
        state._emit("order.fulfilled", order["id"], "orders")


# --- fulfillments and returns -------------------------------------------------------


def _item_quantities(
    state: GeckoState, order: dict[str, Any], items: Any, key: str, errors: Errors
) -> dict[int, float]:
    """``[{order_line_item_id, quantity}]`` of this order's shippable lines, summed per line."""
    if not isinstance(items, list) or not items:
        errors[key].append("can't be blank")
        return {}
    wanted: dict[int, float] = defaultdict(float)
    for item in items:
        if not isinstance(item, dict):
            errors[key].append("is invalid")
            continue
        line = state.order_line_items.get(record_id(item.get("order_line_item_id")) or -1)
        if line is None or line["order_id"] != order["id"] or line["variant_id"] is None:
            errors[f"{key}.order_line_item_id"].append("is invalid")
            continue
        quantity = decimal(item.get("quantity"), f"{key}.quantity", errors, positive=True)
        if quantity is not None:
            wanted[line["id"]] += quantity
    return dict(wanted)


def create_fulfillment(state: GeckoState, order: dict[str, Any], fields: dict) -> dict[str, Any]:
    """``POST /fulfillments``: a (partial) shipment of chosen lines, packed or fulfilled."""
    require_packable(order, "packed")
    errors: Errors = defaultdict(list)
    key = "fulfillment_line_items"
    wanted = _item_quantities(state, order, fields.get(key), key, errors)
    left = unpacked(state, order)
    for line_id, quantity in wanted.items():
        if quantity > left.get(line_id, 0.0) + 1e-9:
            errors[f"{key}.quantity"].append("is more than is left to pack")
    status = fields.get("status") or "packed"
    if status not in ("packed", "fulfilled"):
        errors["status"].append("is not included in the list")
    location = record_id(fields.get("stock_location_id")) or order["stock_location_id"]
    if location not in state.stock_locations():
        errors["stock_location_id"].append("is invalid")
    if errors:
        raise Invalid(dict(errors))
    fulfillment = new_fulfillment(state, order, wanted, fields, location)
    if status == "fulfilled":
        ship(state, fulfillment, fields)
        settle(state, order)
    return fulfillment


def update_fulfillment(
    state: GeckoState, order: dict[str, Any], fulfillment: dict[str, Any], fields: Any
) -> None:
    if not isinstance(fields, dict):
        raise BadRequest("param is missing or the value is empty: fulfillment")
    current = fulfillment["status"]
    target = fields.get("status", current)
    errors: Errors = defaultdict(list)
    if current in ("void", "deleted"):
        errors["base"].append(f"This fulfillment is {current}")
    elif target != current:
        if target not in ("packed", "fulfilled", "void"):
            errors["status"].append("is not included in the list")
        elif current == "fulfilled":
            errors["status"].append("cannot change once the fulfillment is fulfilled")
    for key in ("shipped_at", "received_at"):
        if fields.get(key) not in (None, "") and parse_time(fields.get(key)) is None:
            errors[key].append("is not a date")
    if errors:
        raise Invalid(dict(errors))
    for key in (*SHIPMENT_FIELDS, "packed_at"):
        if key in fields:
            fulfillment[key] = _text(fields[key]) or None
    if fields.get("received_at") not in (None, ""):
        fulfillment["received_at"] = iso(parse_time(fields["received_at"]) or 0.0)
    if target == "fulfilled" and current == "packed":
        ship(state, fulfillment, fields)
        settle(state, order)
    elif target == "void":
        fulfillment["status"] = "void"
    elif fields.get("shipped_at") not in (None, ""):
        fulfillment["shipped_at"] = iso(parse_time(fields["shipped_at"]) or 0.0)


def delete_fulfillment(state: GeckoState, fulfillment: dict[str, Any]) -> None:
    """Soft delete; refused while fulfillment returns point at its order's lines (seed)."""
    lines = {item["order_line_item_id"] for item in state.items_of(fulfillment["id"])}
    live_returns = [
        r
        for r in state.returns_of(fulfillment["order_id"])
        if r["status"] in ("returning", "received")
        and any(i["order_line_item_id"] in lines for i in state.return_items_of(r["id"]))
    ]
    if live_returns:
        raise Invalid({"base": ["You cannot delete a fulfillment that has fulfillment returns"]})
    if fulfillment["status"] == "fulfilled":  # the shipment is undone: stock comes back
        for item in state.items_of(fulfillment["id"]):
            variant = state.variants.get(item["variant_id"])
            if variant is not None and variant["manage_stock"]:
                key = (variant["id"], fulfillment["stock_location_id"])
                state.on_hand[key] = state.on_hand.get(key, 0.0) + item["quantity"]
    fulfillment["status"] = "deleted"


def receive(state: GeckoState, record: dict[str, Any], when: float | None = None) -> None:
    """Returned goods arrive: on hand rises at the return's location."""
    record["status"] = "received"
    record["received_at"] = iso(when if when is not None else state.clock.now())
    for item in state.return_items_of(record["id"]):
        line = state.order_line_items[item["order_line_item_id"]]
        variant = state.variants.get(line["variant_id"])
        if variant is not None and variant["manage_stock"]:
            key = (variant["id"], record["location_id"])
            state.on_hand[key] = state.on_hand.get(key, 0.0) + item["quantity"]
    state._emit("fulfillment_return.received", record["id"], "fulfillment_returns")


def create_return(state: GeckoState, order: dict[str, Any], fields: dict) -> dict[str, Any]:
    """``POST /fulfillment_returns``: lines back from shipped fulfillments (never more)."""
    if order["status"] == "deleted":
        raise Invalid({"base": ["This order was deleted"]})
    errors: Errors = defaultdict(list)
    key = "fulfillment_return_line_items"
    wanted = _item_quantities(state, order, fields.get(key), key, errors)
    for line_id, quantity in wanted.items():
        shipped = state.quantity_in(line_id, ("fulfilled",))
        back = state.returned(line_id, ("returning", "received"))
        if quantity > shipped - back + 1e-9:
            errors[f"{key}.quantity"].append("is more than was shipped and not yet returned")
    location = record_id(fields.get("location_id")) or order["stock_location_id"]
    if location not in state.stock_locations():
        errors["location_id"].append("is invalid")
    status = fields.get("status") or "returning"
    if status not in ("returning", "received"):
        errors["status"].append("is not included in the list")
    if errors:
        raise Invalid(dict(errors))
    now = state.clock.now()
    record = state._new(
        "fulfillment_return",
        now,
        order_id=order["id"],
        order_number=order["order_number"],
        company_id=order["company_id"],
        location_id=location,
        status="returning",
        exchange_rate="1.0",
        received_at=None,
        credit_note_number=state.next_number("credit_note", "CN"),
        **{
            k: _text(fields.get(k)) or None
            for k in (
                "notes",
                "delivery_type",
                "tracking_number",
                "tracking_url",
                "tracking_company",
            )
        },
    )
    state.fulfillment_returns[record["id"]] = record
    for position, (line_id, quantity) in enumerate(wanted.items()):
        item = state._new(
            "fulfillment_return_line_item",
            now,
            fulfillment_return_id=record["id"],
            order_line_item_id=line_id,
            quantity=quantity,
            position=position,
            base_price=None,
            ledger_account_id=None,
        )
        state.fulfillment_return_line_items[item["id"]] = item
    state._emit("fulfillment_return.create", record["id"], "fulfillment_returns")
    if status == "received":
        receive(
            state,
            record,
            parse_time(fields.get("received_at"))
            if isinstance(fields.get("received_at"), str)
            else None,
        )
    return record


def update_return(
    state: GeckoState, order: dict[str, Any], record: dict[str, Any], fields: Any
) -> None:
    if not isinstance(fields, dict):
        raise BadRequest("param is missing or the value is empty: fulfillment_return")
    current = record["status"]
    target = fields.get("status", current)
    if current in ("void", "deleted"):
        raise Invalid({"base": [f"This fulfillment return is {current}"]})
    if target != current and not (current == "returning" and target in ("received", "void")):
        raise Invalid({"status": [f"cannot change from {current} to {target}"]})
    for key in ("notes", "delivery_type", "tracking_number", "tracking_url", "tracking_company"):
        if key in fields:
            record[key] = _text(fields[key]) or None
    if target == "received" and current == "returning":
        when = (
            parse_time(fields.get("received_at"))
            if isinstance(fields.get("received_at"), str)
            else None
        )
        receive(state, record, when)
    elif target == "void":
        record["status"] = "void"


__all__ = [
    "SHIPMENT_FIELDS",
    "create_fulfillment",
    "create_return",
    "delete_fulfillment",
    "new_fulfillment",
    "receive",
    "require_open",
    "require_packable",
    "settle",
    "ship",
    "unpacked",
    "update_fulfillment",
    "update_return",
]
