"""Sellar payloads ↔ domain records. Pure functions: no I/O, no clock.

Sellar (platforms/sellar.md §2) wraps every answer in ``{"data": …}``, names scalars in
camelCase and associations in PascalCase (``OrderItems``, ``Retailer``), and derives an
order's state from timestamps only (the developer guide's table):

* ``cancelledAt`` (or ``voidedAt``, a voided Stripe invoice) → cancelled
* ``deliveredAt`` → delivered, ``dispatchedAt`` → dispatched
* ``confirmedAt`` → confirmed, otherwise requested.

Money is integer minor units (pence, the reference's reading of the spec); order line
``price`` is a unit price. A *listing* is one Sellar product item (a keg, a cask, a case
of cans): the sellable unit with its own id, ``sku`` and stock trio, whose ``Parent`` is
the beer. Order lines point at it with ``ProductId``.

Real payloads vary: numbers arrive as strings, associations are null, answers come with
or without the ``data`` envelope. The readers below accept those variations and raise
:class:`PayloadError` with a reason naming the field when a payload cannot be trusted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.channels.errors import PayloadError
from app.channels.values import identifier as parse_id
from app.channels.values import number as _number
from app.channels.values import text as _text
from app.channels.values import timestamp as parse_timestamp
from app.core.models import (
    ChannelCustomer,
    ChannelListing,
    ChannelOrder,
    ChannelOrderLine,
    OrderStatus,
    PaymentStatus,
)

WEBHOOK_TYPES: tuple[str, ...] = ("order.created", "order.updated")
# Payment types Sellar collects itself: an integration may not mark them paid (S4).
SELLAR_COLLECTED = frozenset({"stripe", "checkout"})
MANUAL = "manual"


# --- small readers -------------------------------------------------------------------


def unwrap(body: Any) -> Any:
    """The payload inside Sellar's ``{"data": …}`` envelope, or the body itself."""
    if isinstance(body, dict) and "data" in body:
        return body["data"]
    return body


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _money(value: Any, what: str) -> float:
    """Pence (an integer, maybe as a string) as a currency amount; null counts as 0."""
    return round(_number(value, what, default=0.0) / 100.0, 2)


def format_timestamp(seconds: float) -> str:
    """Unix seconds as Sellar writes date-times: ISO 8601 UTC with milliseconds."""
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _set(order: dict[str, Any], key: str) -> bool:
    """True when a life-cycle timestamp is present (any non-empty value counts)."""
    return _text(order.get(key)) != ""


# --- order state ---------------------------------------------------------------------


def order_status(order: dict[str, Any]) -> OrderStatus:
    """The local status from the timestamps, in the developer guide's precedence.

    ``deniedAt`` is documented as unused (a denied request is recorded as cancelled) but
    counts as cancelled if it ever appears, and so does a soft-deleted order: neither
    may keep holding stock.
    """
    if any(_set(order, key) for key in ("cancelledAt", "voidedAt", "deniedAt", "deletedAt")):
        return OrderStatus.CANCELLED
    if _set(order, "deliveredAt"):
        return OrderStatus.DELIVERED
    if _set(order, "dispatchedAt"):
        return OrderStatus.DISPATCHED
    if _set(order, "confirmedAt"):
        return OrderStatus.CONFIRMED
    return OrderStatus.REQUESTED


def stage_label(order: dict[str, Any]) -> str:
    """Sellar's own word for the order's stage, as its order screens show it (S9)."""
    if _set(order, "deletedAt"):
        return "Deleted"
    if _set(order, "voidedAt"):
        return "Voided"
    if _set(order, "cancelledAt") or _set(order, "deniedAt"):
        return "Cancelled"
    if _set(order, "deliveredAt"):
        return "Delivered"
    if _set(order, "dispatchedAt"):
        return "Dispatched"
    if _set(order, "finalizedAt"):
        return "Finalised"
    if _set(order, "confirmedAt") or _set(order, "acceptedAt"):
        return "Accepted"
    return "Requested"


def payment_type(order: dict[str, Any]) -> str:
    """The order's payment type in Sellar's words (``manual``, ``stripe``, ``checkout``)."""
    return _text(order.get("paymentType")).lower()


def payment_status(order: dict[str, Any]) -> PaymentStatus:
    """Paid once ``paidAt`` is set or Sellar says so; refunded as Sellar says."""
    status = _text(order.get("paymentStatus")).lower()
    if status == "refunded":
        return PaymentStatus.REFUNDED
    if _set(order, "paidAt") or status == "paid":
        return PaymentStatus.PAID
    return PaymentStatus.UNPAID


def order_number(order_id: str) -> str:
    """How the app shows a Sellar order: Sellar has no order number besides the id."""
    return f"SLR-{order_id}"


# --- orders --------------------------------------------------------------------------


def order_from_payload(payload: Any) -> ChannelOrder:
    """One Sellar order (``GET /orders/{id}`` or a row of ``GET /orders``) as a ChannelOrder."""
    order = unwrap(payload)
    if not isinstance(order, dict):
        raise PayloadError("order is not an object")
    order_id = parse_id(order.get("id"), "order id")
    where = f"order {order_id}"
    updated_at = parse_timestamp(order.get("updatedAt"), f"{where} updatedAt")
    created_at = parse_timestamp(order.get("createdAt"), f"{where} createdAt")
    if updated_at is None:
        updated_at = created_at
    if updated_at is None:
        raise PayloadError(f"{where} has no updatedAt")
    status = order_status(order)
    # Parse every life-cycle stamp: a garbled one would silently change the status.
    for key in ("confirmedAt", "dispatchedAt", "deliveredAt", "cancelledAt", "voidedAt", "paidAt"):
        parse_timestamp(order.get(key), f"{where} {key}")
    supplier = _mapping(order.get("Supplier"))
    kind = payment_type(order)
    pay_status = _text(order.get("paymentStatus")).lower()
    return ChannelOrder(
        external_id=order_id,
        number=order_number(order_id),
        status=status,
        payment_status=payment_status(order),
        total=_money(order.get("price"), f"{where} price"),
        currency=_text(order.get("currency")) or _text(supplier.get("currency")),
        lines=_order_lines(order, where, status),
        updated_at=updated_at,
        created_at=created_at,
        customer=_order_customer(order, where),
        receiver=_receiver(order),
        invoice_number=_text(order.get("customInvoiceNumber")),
        channel_state=f"{stage_label(order)}; payment {kind or '?'}: {pay_status or '?'}",
        payment_method=kind,
        raw=order,
    )


def _order_lines(order: dict[str, Any], where: str, status: OrderStatus) -> list[ChannelOrderLine]:
    items = order.get("OrderItems")
    if items is None:
        raise PayloadError(f"{where} came without OrderItems")
    if not isinstance(items, list):
        raise PayloadError(f"{where} OrderItems is not a list")
    lines = []
    for index, item in enumerate(items, start=1):
        if isinstance(item, dict) and _set(item, "deletedAt"):
            continue  # a line removed while the order was editable
        lines.append(_order_line(item, where, index))
    # A cancelled order may have lost its lines; it holds no stock either way.
    if not lines and status is not OrderStatus.CANCELLED:
        raise PayloadError(f"{where} has no lines")
    return lines


def _order_line(item: Any, where: str, index: int) -> ChannelOrderLine:
    if not isinstance(item, dict):
        raise PayloadError(f"{where} line {index} is not an object")
    line_id = parse_id(item.get("id"), f"{where} line {index} id")
    line_where = f"{where} line {line_id}"
    product = _mapping(item.get("Product"))
    product_ref = item.get("ProductId")
    if product_ref in (None, ""):
        product_ref = product.get("id")
    product_id = parse_id(product_ref, f"{line_where} ProductId")
    quantity = _number(item.get("quantity"), f"{line_where} quantity")
    if quantity < 0:
        raise PayloadError(f"{line_where} has a negative quantity ({quantity:g})")
    return ChannelOrderLine(
        external_id=line_id,
        listing_id=product_id,
        sku=_text(product.get("sku")),
        name=product_name(product) or f"Sellar product {product_id}",
        quantity=quantity,
        unit_price=_money(item.get("price"), f"{line_where} price"),
    )


def _order_customer(order: dict[str, Any], where: str) -> ChannelCustomer:
    retailer = _mapping(order.get("Retailer"))
    ref = order.get("RetailerId")
    if ref in (None, ""):
        ref = retailer.get("id")
    if ref in (None, ""):
        raise PayloadError(f"{where} has no RetailerId")
    retailer_id = parse_id(ref, f"{where} RetailerId")
    business = _mapping(retailer.get("Business"))
    delivery = _mapping(order.get("DeliveryAddress"))
    emails = order.get("retailerInvoiceEmails")
    first_invoice_email = _text(emails[0]) if isinstance(emails, list) and emails else ""
    return ChannelCustomer(
        ref=f"retailer:{retailer_id}",
        name=_text(business.get("name"))
        or _text(delivery.get("name"))
        or f"Sellar retailer {retailer_id}",
        email=_text(business.get("email"))
        or _text(business.get("invoiceEmail"))
        or first_invoice_email,
        phone=_text(business.get("phoneNumber")),
        postcode=_text(delivery.get("postalCode"))
        or _text(_mapping(business.get("DeliveryAddress")).get("postalCode")),
    )


def _receiver(order: dict[str, Any]) -> dict[str, Any]:
    """Where the goods go, plus the buyer's references the paperwork needs."""
    address = _mapping(order.get("DeliveryAddress"))
    receiver = {
        key: _text(address.get(source))
        for key, source in (
            ("name", "name"),
            ("street", "street"),
            ("city", "city"),
            ("postcode", "postalCode"),
            ("region", "region"),
            ("country", "country"),
        )
        if _text(address.get(source))
    }
    for key, source in (
        ("purchase_order", "purchaseOrderNumber"),
        ("delivery_notes", "deliveryNotes"),
        ("fulfillment", "fulfillmentType"),
    ):
        if _text(order.get(source)):
            receiver[key] = _text(order.get(source))
    return receiver


# --- products ------------------------------------------------------------------------


def product_name(product: dict[str, Any]) -> str:
    """The item's name, prefixed with its beer when the item name does not say it."""
    name = _text(product.get("name"))
    parent = _text(_mapping(product.get("Parent")).get("name"))
    if parent and name and parent.lower() not in name.lower():
        return f"{parent} - {name}"
    return name or parent


def listings_from_product(payload: Any) -> list[ChannelListing]:
    """The listing of one product item from ``GET /products`` (none if soft-deleted).

    ``external_id`` and ``product_id`` are both the Sellar product id: the id order lines
    carry as ``ProductId`` and ``PUT /products/{id}`` takes. Items have no variants of
    their own (an item *is* the variant of its Parent beer), so ``variant_id`` is None.
    ``quantity`` is ``availableStock``, the figure the app pushes back.
    """
    product = unwrap(payload)
    if not isinstance(product, dict):
        raise PayloadError("product is not an object")
    product_id = parse_id(product.get("id"), "product id")
    if _set(product, "deletedAt"):
        return []
    where = f"product {product_id}"
    return [
        ChannelListing(
            external_id=product_id,
            product_id=product_id,
            variant_id=None,
            sku=_text(product.get("sku")),
            name=product_name(product) or f"Sellar product {product_id}",
            quantity=available_stock(product, where),
            updated_at=parse_timestamp(product.get("updatedAt"), f"{where} updatedAt"),
            raw=product,
        )
    ]


def available_stock(product: dict[str, Any], where: str) -> float | None:
    """``availableStock``, else total minus committed; None when Sellar gives neither."""
    if product.get("availableStock") not in (None, ""):
        return _number(product.get("availableStock"), f"{where} availableStock")
    if product.get("stock") in (None, ""):
        return None
    total = _number(product.get("stock"), f"{where} stock")
    return total - _number(product.get("committedStock"), f"{where} committedStock", default=0.0)


# --- customers -----------------------------------------------------------------------


def customer_from_connection(payload: Any) -> ChannelCustomer:
    """A supplier-retailer connection (one of the supplier's customers) as a ChannelCustomer."""
    connection = unwrap(payload)
    if not isinstance(connection, dict):
        raise PayloadError("connection is not an object")
    retailer = _mapping(connection.get("Retailer"))
    ref = connection.get("RetailerId")
    if ref in (None, ""):
        ref = retailer.get("id")
    where = f"connection {_text(connection.get('id')) or '?'}"
    retailer_id = parse_id(ref, f"{where} RetailerId")
    business = _mapping(retailer.get("Business"))
    address = _mapping(business.get("DeliveryAddress")) or _mapping(business.get("InvoiceAddress"))
    return ChannelCustomer(
        ref=f"retailer:{retailer_id}",
        name=_text(business.get("name"))
        or _text(business.get("registeredCompanyName"))
        or f"Sellar retailer {retailer_id}",
        email=_text(business.get("email")) or _text(business.get("invoiceEmail")),
        phone=_text(business.get("phoneNumber")),
        postcode=_text(address.get("postalCode")),
    )


# --- webhooks ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Webhook:
    """One webhook subscription: Sellar sends ``type`` events to ``url``."""

    id: str
    type: str
    url: str
    created_at: float | None = None


def webhook_from_payload(payload: Any) -> Webhook:
    hook = unwrap(payload)
    if not isinstance(hook, dict):
        raise PayloadError("webhook is not an object")
    hook_id = parse_id(hook.get("id"), "webhook id")
    return Webhook(
        id=hook_id,
        type=_text(hook.get("type")),
        url=_text(hook.get("url")),
        created_at=parse_timestamp(hook.get("createdAt"), f"webhook {hook_id} createdAt"),
    )


def _json_body(body: Any) -> Any:
    if isinstance(body, bytes | bytearray):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            return None
    if isinstance(body, str):
        try:
            return json.loads(body)
        except ValueError:
            return None
    return body


def webhook_order_id(body: Any) -> str | None:
    """The order id a webhook delivery points at, or None when it names none.

    Sellar does not document the delivery body (reference U1), so a delivery is only a
    hint: this looks for ``data.id`` (the order itself, as the proposed model sends it),
    then ``data.OrderId`` / ``orderId`` / ``OrderId``, then ``id`` of a bare order. The
    caller re-fetches that order with ``GET /orders/{id}``, or re-pages recent orders
    when this returns None. Accepts a dict or the raw JSON text/bytes.
    """
    parsed = _json_body(body)
    if not isinstance(parsed, dict):
        return None
    data = parsed.get("data")
    candidates: list[Any] = []
    if isinstance(data, dict):
        candidates += [data.get("id"), data.get("OrderId"), data.get("orderId")]
    elif data not in (None, "", []) and not isinstance(data, list):
        candidates.append(data)  # "data": 48213
    candidates += [parsed.get("orderId"), parsed.get("OrderId")]
    looks_like_order = "RetailerId" in parsed or "OrderItems" in parsed
    if "data" not in parsed and (looks_like_order or "type" not in parsed):
        candidates.append(parsed.get("id"))  # a bare order object, not an event's own id
    for candidate in candidates:
        if candidate in (None, ""):
            continue
        try:
            return parse_id(candidate, "webhook order id")
        except PayloadError:
            continue
    return None


def webhook_event_type(body: Any) -> str:
    """``order.created`` / ``order.updated`` when the delivery says so, else ``""``."""
    parsed = _json_body(body)
    if not isinstance(parsed, dict):
        return ""
    kind = _text(parsed.get("type") or parsed.get("event"))
    return kind if kind in WEBHOOK_TYPES else ""
