"""TradeGecko's rules for sales orders and their actions (sandbox side).

Functions over :class:`~app.channels.tradegecko.state.GeckoState`; the state calls them
inside its stock watch, so every stock movement made here is announced. Validation
gathers every problem first and raises one :class:`Invalid` with Rails-style messages
keyed by field (nested fields as ``order_line_items.quantity``), as TradeGecko does.
Shipments (fulfillments, returns) and the stock they move are in :mod:`.state_shipping`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.channels.tradegecko.state_shipping import (
    new_fulfillment,
    require_open,
    require_packable,
    settle,
    ship,
    unpacked,
)
from app.channels.tradegecko.state_values import (
    LINE_TYPES,
    SETTABLE_ORDER_STATES,
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
COMPANY_TYPES = ("business", "supplier", "consumer")
ADDRESS_FIELDS = (
    "label",
    "address1",
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
)
ORDER_TEXT_FIELDS = ("reference_number", "source_url", "email", "phone_number", "notes", "ship_at")


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


# --- companies and addresses --------------------------------------------------------


def company_errors(fields: dict[str, Any], prefix: str) -> Errors:
    errors: Errors = defaultdict(list)
    if not _text(fields.get("name")):
        errors[f"{prefix}name"].append("can't be blank")
    kind = fields.get("company_type")
    if not _text(kind):
        errors[f"{prefix}company_type"].append("can't be blank")
    elif kind not in COMPANY_TYPES:
        errors[f"{prefix}company_type"].append("is not included in the list")
    return errors


def clean_address(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: fields[key] for key in ADDRESS_FIELDS if key in fields}


def address_errors(
    state: GeckoState,
    fields: dict[str, Any],
    prefix: str,
    company_id: int | None,
    *,
    ignore: int | None = None,
    taken: set[str] | None = None,
) -> Errors:
    """Address rules: a first line, and a label unique among the company's addresses."""
    errors: Errors = defaultdict(list)
    if not _text(fields.get("address1")):
        errors[f"{prefix}address1"].append("can't be blank")
    label = _text(fields.get("label"))
    if not label:
        errors[f"{prefix}label"].append("can't be blank")
    else:
        labels = {label.lower() for label in (taken or set())}
        if company_id is not None:
            labels |= {
                _text(a.get("label")).lower()
                for a in state.addresses.values()
                if a["company_id"] == company_id and a["status"] == "active" and a["id"] != ignore
            }
        if label.lower() in labels:
            errors[f"{prefix}label"].append("has already been taken")
    return errors


# --- order creation -----------------------------------------------------------------


@dataclass(slots=True)
class Built:
    """A validated ``POST /orders`` body, ready to store."""

    company_id: int | None = None
    company: dict[str, Any] | None = None
    shipping_address_id: int | None = None
    billing_address_id: int | None = None
    new_addresses: dict[str, dict[str, Any]] = field(default_factory=dict)
    scalars: dict[str, Any] = field(default_factory=dict)
    lines: list[dict[str, Any]] = field(default_factory=list)


def parse_lines(state: GeckoState, items: Any, errors: Errors) -> list[dict[str, Any]]:
    """Embedded ``order_line_items``: variants by id, or freeform lines with a label."""
    if not isinstance(items, list) or not items:
        errors["order_line_items"].append("can't be blank")
        return []
    lines = []
    for item in items:
        if not isinstance(item, dict):
            errors["order_line_items"].append("is invalid")
            continue
        freeform = item.get("freeform") in (True, "true", "1", 1)
        line_type = item.get("line_type") or "product"
        if line_type not in LINE_TYPES:
            errors["order_line_items.line_type"].append("is not included in the list")
        quantity = decimal(item.get("quantity"), "order_line_items.quantity", errors, positive=True)
        variant = None
        if freeform:
            if not _text(item.get("label")):
                errors["order_line_items.label"].append("can't be blank")
        else:
            raw = item.get("variant_id")
            variant = state.variants.get(record_id(raw) or -1)
            if variant is None or variant["status"] != "active":
                errors["order_line_items.variant_id"].append(
                    "can't be blank" if raw in (None, "") else "is invalid"
                )
        if item.get("price") not in (None, ""):
            price = decimal(item.get("price"), "order_line_items.price", errors)
            if price is not None and price < 0:
                errors["order_line_items.price"].append("must be greater than or equal to 0")
        elif freeform:
            errors["order_line_items.price"].append("can't be blank")
            price = None
        else:  # the order's price list: retail in this account
            price = variant["retail_price"] if variant is not None else None
        discount = None
        if item.get("discount") not in (None, ""):
            discount = decimal(item.get("discount"), "order_line_items.discount", errors)
        if quantity is None or price is None:
            continue
        lines.append(
            {
                "variant_id": None if freeform or variant is None else variant["id"],
                "quantity": quantity,
                "price": price,
                "discount": discount,
                "freeform": freeform,
                "label": _text(item.get("label")) or None,
                "line_type": line_type,
                "tax_type_id": None,
                "tax_rate_override": item.get("tax_rate_override"),
                "image_url": None,
            }
        )
    return lines


class OrderBuilder:
    """Validates a create body in the shapes of the Sales Channel Guide."""

    def __init__(self, state: GeckoState, fields: Any) -> None:
        if not isinstance(fields, dict):
            raise BadRequest("param is missing or the value is empty: order")
        self.state = state
        self.fields = fields
        self.errors: Errors = defaultdict(list)
        self.built = Built()

    def build(self) -> Built:
        fields, errors, built = self.fields, self.errors, self.built
        issued = fields.get("issued_at")
        moment = parse_time(issued) if isinstance(issued, str) else None
        if issued in (None, ""):
            errors["issued_at"].append("can't be blank")
        elif moment is None:
            errors["issued_at"].append("is not a date")
        status = fields.get("status") or "draft"
        if status not in SETTABLE_ORDER_STATES:
            errors["status"].append("is not included in the list")
        self._company()
        self._addresses()
        location = self._location()
        currency = self._currency()
        tax = fields.get("tax_treatment") or self.state.account["default_tax_treatment"]
        if tax not in ("inclusive", "exclusive"):
            errors["tax_treatment"].append("is not included in the list")
        number = _text(fields.get("order_number"))
        if number and any(o["order_number"] == number for o in self.state.orders.values()):
            errors["order_number"].append("has already been taken")
        tags = fields.get("tags") or []
        if not isinstance(tags, list):
            errors["tags"].append("is invalid")
        built.lines = parse_lines(self.state, fields.get("order_line_items"), errors)
        if errors:
            raise Invalid(dict(errors))
        built.scalars = {
            "status": status,
            "issued_at": day(moment) if moment is not None else None,
            "stock_location_id": location,
            "currency_id": currency,
            "tax_treatment": tax,
            "default_price_list_id": self.state.account["default_order_price_list_id"],
            "tags": [str(tag) for tag in tags],
            "order_number": number or None,
            **{key: _text(fields.get(key)) or None for key in ORDER_TEXT_FIELDS},
        }
        return built

    def _company(self) -> None:
        fields, errors, built = self.fields, self.errors, self.built
        if fields.get("company_id") not in (None, ""):
            company = self.state.companies.get(record_id(fields["company_id"]) or -1)
            if company is None or company["status"] == "archived":
                errors["company_id"].append("is invalid")
            else:
                built.company_id = company["id"]
        elif isinstance(fields.get("company"), dict):
            body = fields["company"]
            errors.update({k: errors[k] + v for k, v in company_errors(body, "company.").items()})
            allowed = ("name", "company_type", "company_code", "email", "phone_number", "website")
            built.company = {key: body[key] for key in allowed if key in body}
        else:
            errors["company_id"].append("can't be blank")

    def _addresses(self) -> None:
        fields, errors, built = self.fields, self.errors, self.built
        labels: set[str] = set()
        for key in ("shipping_address", "billing_address"):
            raw_id, body = fields.get(f"{key}_id"), fields.get(key)
            if raw_id not in (None, ""):
                address = self.state.addresses.get(record_id(raw_id) or -1)
                if (
                    address is None
                    or address["status"] != "active"
                    or built.company_id is None
                    or address["company_id"] != built.company_id
                ):
                    errors[f"{key}_id"].append("is invalid")
                else:
                    setattr(built, f"{key}_id", address["id"])
            elif isinstance(body, dict):
                owner = record_id(body.get("company_id"))
                if body.get("company_id") not in (None, "") and owner != built.company_id:
                    errors[f"{key}.company_id"].append("is invalid")
                problems = address_errors(
                    self.state, body, f"{key}.", built.company_id, taken=labels
                )
                for name, messages in problems.items():
                    errors[name] += messages
                labels.add(_text(body.get("label")))
                built.new_addresses[key] = clean_address(body)
            elif key == "shipping_address":
                # Embedding a company needs at least an embedded shipping address.
                errors[
                    "shipping_address" if built.company is not None else "shipping_address_id"
                ].append("can't be blank")

    def _location(self) -> int:
        raw = self.fields.get("stock_location_id")
        if raw in (None, ""):
            return self.state.account["primary_location_id"]
        location = record_id(raw)
        if location not in self.state.stock_locations():
            self.errors["stock_location_id"].append("is invalid")
            return self.state.account["primary_location_id"]
        return location

    def _currency(self) -> int:
        code = _text(self.fields.get("currency_iso")).upper()
        if not code:
            return self.state.account["default_currency_id"]
        for currency in self.state.currencies.values():
            if currency["iso"] == code and currency["status"] == "active":
                return currency["id"]
        # The guide: "if the currency matching fails, you will need to create the currency first".
        self.errors["currency_iso"].append(f"does not match any currency of the account ({code})")
        return self.state.account["default_currency_id"]


def update_order(state: GeckoState, order: dict[str, Any], fields: Any) -> None:
    """``PUT /orders/{id}``: unspecified fields stay; embedded lines are appended (§8)."""
    if not isinstance(fields, dict):
        raise BadRequest("param is missing or the value is empty: order")
    errors: Errors = defaultdict(list)
    current = order["status"]
    target = fields.get("status", current)
    if target != current:
        if current in ("fulfilled", "void", "deleted"):
            errors["status"].append(f"cannot be changed once the order is {current}")
        elif target not in SETTABLE_ORDER_STATES:
            errors["status"].append("is not included in the list")
        elif target == "draft" and any(
            line["invoice_id"] is not None or state.quantity_in(line["id"], ("packed", "fulfilled"))
            for line in state.lines_of(order["id"])
        ):
            errors["status"].append("cannot go back to draft once the order is invoiced or packed")
    if fields.get("tax_treatment") not in (None, "inclusive", "exclusive"):
        errors["tax_treatment"].append("is not included in the list")
    new_lines: list[dict[str, Any]] = []
    if "order_line_items" in fields:
        if current not in ("draft", "active"):
            errors["base"].append(f"Lines cannot be added to a {current} order")
        else:
            new_lines = parse_lines(state, fields["order_line_items"], errors)
    if errors:
        raise Invalid(dict(errors))
    for key in (*ORDER_TEXT_FIELDS, "tax_treatment"):
        if key in fields:
            order[key] = _text(fields[key]) or None
    if isinstance(fields.get("tags"), list):
        order["tags"] = [str(tag) for tag in fields["tags"]]
    position = len(state.lines_of(order["id"]))
    now = state.clock.now()
    for offset, line in enumerate(new_lines):
        record = state._new(
            "order_line_item",
            now,
            order_id=order["id"],
            position=position + offset,
            invoice_id=None,
            **line,
        )
        state.order_line_items[record["id"]] = record
    if target != current:
        order["status"] = target
        if target == "finalized":
            state._emit("order.finalized", order["id"], "orders")


# --- actions ------------------------------------------------------------------------


def _body(fields: dict[str, Any], root: str) -> dict[str, Any]:
    value = fields.get(root)
    return value if isinstance(value, dict) else {}


def _invoice(state: GeckoState, order: dict[str, Any], lines: list[dict], body: dict) -> None:
    now = state.clock.now()
    invoice = state._new(
        "invoice",
        now,
        order_id=order["id"],
        invoice_number=state.next_number("invoice", "INV"),
        invoiced_at=_text(body.get("invoiced_at")) or day(now),
        due_at=_text(body.get("due_at")) or None,
        notes=_text(body.get("notes")) or None,
    )
    state.invoices[invoice["id"]] = invoice
    for line in lines:
        line["invoice_id"] = invoice["id"]
    state._emit("invoice.create", invoice["id"], "invoices")


def action_invoice(state: GeckoState, order: dict[str, Any], fields: dict[str, Any]) -> None:
    require_open(order, "invoiced")
    lines = [line for line in state.lines_of(order["id"]) if line["invoice_id"] is None]
    if not lines:
        raise Invalid({"base": ["This order has been fully invoiced"]})
    _invoice(state, order, lines, _body(fields, "invoice"))


def action_pay(state: GeckoState, order: dict[str, Any], fields: dict[str, Any]) -> None:
    """Pays the whole order value, invoicing what is not invoiced yet (one step for cards)."""
    require_open(order, "paid")
    total, paid = state.order_total(order), state.paid_amount(order["id"])
    if paid >= total and (
        total > 0 or any(p["order_id"] == order["id"] for p in state.payments.values())
    ):
        raise Invalid({"base": ["This order has already been paid"]})
    uninvoiced = [line for line in state.lines_of(order["id"]) if line["invoice_id"] is None]
    if uninvoiced:
        _invoice(state, order, uninvoiced, {})
    body = _body(fields, "payment")
    now = state.clock.now()
    paid_at = parse_time(body.get("paid_at")) if isinstance(body.get("paid_at"), str) else None
    payment = state._new(
        "payment",
        now,
        order_id=order["id"],
        amount=round(total - paid, 2),
        paid_at=iso(paid_at if paid_at is not None else now),
        payment_method_name=_text(body.get("payment_method_name")) or "Cash",
        reference=_text(body.get("reference")) or None,
    )
    state.payments[payment["id"]] = payment
    state._emit("payment.create", payment["id"], "payments")


def action_pack(state: GeckoState, order: dict[str, Any], fields: dict[str, Any]) -> None:
    require_packable(order, "packed")
    left = unpacked(state, order)
    if not left:
        raise Invalid({"base": ["Every item of this order has been packed"]})
    new_fulfillment(state, order, left, _body(fields, "fulfillment"))


def action_fulfil(state: GeckoState, order: dict[str, Any], fields: dict[str, Any]) -> None:
    """Packed fulfillments → fulfilled, and a fulfilled one for whatever was not packed."""
    require_packable(order, "fulfilled")
    body = _body(fields, "fulfillment")
    packed = [f for f in state.fulfillments_of(order["id"]) if f["status"] == "packed"]
    left = unpacked(state, order)
    if not packed and not left:
        raise Invalid({"base": ["Every item of this order has been shipped"]})
    for fulfillment in packed:
        ship(state, fulfillment, body)
    if left:
        ship(state, new_fulfillment(state, order, left, body), body)
    settle(state, order)


def action_void(state: GeckoState, order: dict[str, Any], fields: dict[str, Any]) -> None:
    if order["status"] in ("void", "deleted"):
        raise Invalid({"base": [f"This order is already {order['status']}"]})
    order["status"] = "void"
    for fulfillment in state.fulfillments_of(order["id"]):
        if fulfillment["status"] == "packed":  # packed goods go back on the shelf
            fulfillment["status"] = "void"


ACTIONS: dict[str, Callable[[GeckoState, dict[str, Any], dict[str, Any]], None]] = {
    "invoice": action_invoice,
    "pay": action_pay,
    "pack": action_pack,
    "fulfil": action_fulfil,
    "fulfill": action_fulfil,  # one guide sentence spells it so (§17.2)
    "void": action_void,
}


__all__ = [
    "ACTIONS",
    "Built",
    "OrderBuilder",
    "address_errors",
    "clean_address",
    "company_errors",
    "parse_lines",
    "update_order",
]
