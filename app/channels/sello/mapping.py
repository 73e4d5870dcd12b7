"""Sello API v5 payloads ↔ domain records. Pure functions: no I/O, no clock.

An order's state in Sello is its ``status_id``: one of the account's own statuses
(``GET /status``), each carrying four flags, ``is_active``, ``is_paid``,
``is_delivered`` and ``is_deleted`` (platforms/sello.md §4.5). The local lifecycle is
derived from those flags (:func:`lifecycle_from_flags`) unless the merchant mapped the
status explicitly (``status_map``: status id → local status).

Order rows carry the private SKU in ``reference`` and the Sello product id in
``product_id``; a listing is one Sello product (``external_id`` = product id, ``sku`` =
``private_reference``). Sello's variant groups are groups of ordinary products, each
with its own SKU and quantity, so every product is a listing of its own.

The docs and live accounts disagree on types (§9): ids and amounts arrive as numbers or
as strings, timestamps in three formats, lists with or without a ``{statusCode, data}``
wrapper. The readers accept all of those and raise :class:`PayloadError` naming the
field when a payload cannot be trusted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.channels.errors import PayloadError
from app.channels.values import identifier as parse_id
from app.channels.values import number, text
from app.channels.values import timestamp as parse_timestamp
from app.core.models import (
    ChannelCustomer,
    ChannelListing,
    ChannelOrder,
    ChannelOrderLine,
    OrderStatus,
    PaymentStatus,
)

_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
_FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})
# Product properties that hold a barcode, in the order we prefer them.
BARCODE_PROPERTIES: tuple[str, ...] = ("EAN", "GTIN", "UPC", "ISBN")
# Languages tried for a product's display name when it has no private_name.
_NAME_LANGUAGES: tuple[str, ...] = ("en", "sv", "no", "da", "fi", "de")


# --- small readers -------------------------------------------------------------------


def optional_id(value: Any, what: str) -> str | None:
    """Like :func:`parse_id`, but null, empty and 0 mean "none" (0 is Sello's "no id")."""
    if value in (None, "", 0, "0"):
        return None
    return parse_id(value, what)


def flag(value: Any, what: str) -> bool:
    """A boolean flag sent as true/false, 1/0 or their string forms."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, int | float):
        return value != 0
    word = str(value).strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise PayloadError(f"{what} is not a true/false flag ({value!r})")


def unwrap(body: Any) -> Any:
    """The payload inside Sello's optional ``{"statusCode": 200, "data": ...}`` envelope."""
    if isinstance(body, dict) and "data" in body and "statusCode" in body:
        return body["data"]
    return body


# --- statuses ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SelloStatus:
    """One of the account's order statuses, as ``GET /status`` lists it."""

    id: str
    title: str
    is_paid: bool
    is_delivered: bool
    is_active: bool
    is_deleted: bool
    color: str = ""


def status_from_payload(payload: Mapping[str, Any]) -> SelloStatus:
    """A status object (``id`` is a string in the docs, a number in some accounts)."""
    if not isinstance(payload, Mapping):
        raise PayloadError("a status is not an object")
    status_id = parse_id(payload.get("id"), "status id")
    where = f"status {status_id}"
    deleted = flag(payload.get("is_deleted"), f"{where} is_deleted")
    return SelloStatus(
        id=status_id,
        title=text(payload.get("title")) or f"Status {status_id}",
        # Sello forces the other flags off on a deleted status (§4.5); so do we, in
        # case an older status kept stale flags.
        is_paid=not deleted and flag(payload.get("is_paid"), f"{where} is_paid"),
        is_delivered=not deleted and flag(payload.get("is_delivered"), f"{where} is_delivered"),
        is_active=not deleted and flag(payload.get("is_active"), f"{where} is_active"),
        is_deleted=deleted,
        color=text(payload.get("color")),
    )


def statuses_by_id(statuses: Any) -> dict[str, SelloStatus]:
    """Normalise a status list, or a dict of id → status object, to id → SelloStatus."""
    if statuses is None:
        return {}
    if isinstance(statuses, Mapping):
        items: Any = list(statuses.values())
    elif isinstance(statuses, list | tuple):
        items = statuses
    else:
        raise PayloadError("the status list is not a list")
    result: dict[str, SelloStatus] = {}
    for item in items:
        status = item if isinstance(item, SelloStatus) else status_from_payload(item)
        result[status.id] = status
    return result


def lifecycle_from_flags(
    *, active: bool, paid: bool, delivered: bool, deleted: bool
) -> OrderStatus:
    """The local lifecycle status a Sello status stands for, judged by its flags.

    - deleted: the order is in Sello's bin → cancelled;
    - delivered: Sello sets ``delivered_at`` for these (§4.1) → delivered;
    - not active (and neither of the above): the order left the work list without
      being delivered, e.g. a "Cancelled" status → cancelled;
    - active and paid: a firm sale waiting to be shipped → confirmed;
    - active and unpaid: waiting for payment → requested.

    A merchant whose statuses mean something else (a "Shipped" status flagged
    delivered that should read as dispatched, a "Picking" status…) overrides single
    statuses through the client's ``status_map``.
    """
    if deleted:
        return OrderStatus.CANCELLED
    if delivered:
        return OrderStatus.DELIVERED
    if not active:
        return OrderStatus.CANCELLED
    return OrderStatus.CONFIRMED if paid else OrderStatus.REQUESTED


def status_lifecycle(
    status: SelloStatus, status_map: Mapping[str, OrderStatus] | None = None
) -> OrderStatus:
    """The merchant's mapping for ``status`` if there is one, else the flags' default."""
    if status_map and status.id in status_map:
        return OrderStatus(status_map[status.id])
    return lifecycle_from_flags(
        active=status.is_active,
        paid=status.is_paid,
        delivered=status.is_delivered,
        deleted=status.is_deleted,
    )


def effective_status_map(
    statuses: Any, status_map: Mapping[str, OrderStatus] | None = None
) -> dict[str, OrderStatus]:
    """Every status id → the local status it maps to (overrides applied): what a
    mapping editor shows next to each Sello status."""
    return {sid: status_lifecycle(s, status_map) for sid, s in statuses_by_id(statuses).items()}


# --- orders --------------------------------------------------------------------------


def order_from_payload(
    order: Mapping[str, Any],
    rows: list[Any] | None,
    statuses: Any,
    status_map: Mapping[str, OrderStatus] | None = None,
) -> ChannelOrder:
    """One Sello order plus its rows as a ChannelOrder.

    ``rows`` comes from ``GET /orders/{id}`` (or a list item that already carried
    them); None means "use the order's own ``rows``". ``statuses`` is the account's
    status list (a list, or id → status). An order whose status is not listed is read
    through the copies of the flags every order carries (``is_paid`` …).
    """
    if not isinstance(order, Mapping):
        raise PayloadError("order is not an object")
    order_id = parse_id(order.get("id"), "order id")
    where = f"order {order_id}"
    if rows is None:
        rows = order.get("rows")
    if rows is None:
        raise PayloadError(f"{where} came without rows")
    if not isinstance(rows, list):
        raise PayloadError(f"{where} rows is not a list")
    if not rows:
        raise PayloadError(f"{where} has no rows")
    local, paid, state = _order_state(order, where, statuses_by_id(statuses), status_map)
    updated_at = parse_timestamp(order.get("updated_at"), f"{where} updated_at")
    created_at = parse_timestamp(order.get("created_at"), f"{where} created_at")
    if updated_at is None:
        updated_at = created_at
    if updated_at is None:
        raise PayloadError(f"{where} has no updated_at")
    lines = [_order_line(row, where, index) for index, row in enumerate(rows, start=1)]
    shipping = number(order.get("shipping_cost"), f"{where} shipping_cost", default=0.0)
    total = order.get("total")
    if total is None or text(total) == "":
        total_value = sum(line.unit_price * line.quantity for line in lines) + shipping
    else:
        total_value = number(total, f"{where} total")
    raw = dict(order)
    raw["rows"] = rows
    return ChannelOrder(
        external_id=order_id,
        number=text(order.get("number")) or order_id,
        status=local,
        payment_status=PaymentStatus.PAID if paid else PaymentStatus.UNPAID,
        total=round(total_value, 6),
        currency=text(order.get("currency")).upper(),
        lines=lines,
        updated_at=updated_at,
        created_at=created_at,
        customer=customer_from_order(order, order_id),
        receiver=_receiver(order),
        channel_state=state,
        payment_method=text(order.get("payment_option")),
        raw=raw,
    )


def _order_state(
    order: Mapping[str, Any],
    where: str,
    statuses: dict[str, SelloStatus],
    status_map: Mapping[str, OrderStatus] | None,
) -> tuple[OrderStatus, bool, str]:
    """(local status, paid?, the words shown as the channel's own state)."""
    status_id = optional_id(order.get("status_id"), f"{where} status_id")
    status = statuses.get(status_id) if status_id else None
    paid_flag = order.get("is_paid")
    if status is not None:
        local = status_lifecycle(status, status_map)
        # The order's own flag wins for payment: it was set when the status was.
        paid = flag(paid_flag, f"{where} is_paid") if paid_flag is not None else status.is_paid
        return local, paid, status.title
    title = f"Status {status_id}" if status_id else "No status"
    paid = flag(paid_flag, f"{where} is_paid")
    if status_id and status_map and status_id in status_map:
        return OrderStatus(status_map[status_id]), paid, title
    if not any(key in order for key in ("is_paid", "is_active", "is_delivered", "is_deleted")):
        raise PayloadError(f"{where} has status {status_id or 'none'}, which Sello did not list")
    local = lifecycle_from_flags(
        active=flag(order.get("is_active"), f"{where} is_active"),
        paid=paid,
        delivered=flag(order.get("is_delivered"), f"{where} is_delivered"),
        deleted=flag(order.get("is_deleted"), f"{where} is_deleted"),
    )
    return local, paid, title


def _order_line(row: Any, where: str, index: int) -> ChannelOrderLine:
    if not isinstance(row, Mapping):
        raise PayloadError(f"{where} row {index} is not an object")
    row_id = parse_id(row.get("id"), f"{where} row {index} id")
    row_where = f"{where} row {row_id}"
    if row.get("quantity") is None:
        raise PayloadError(f"{row_where} has no quantity")
    quantity = number(row.get("quantity"), f"{row_where} quantity")
    if quantity < 0:
        raise PayloadError(f"{row_where} has a negative quantity ({quantity:g})")
    # A row without a Sello product (a manual line) is matched by its SKU alone.
    product_id = optional_id(row.get("product_id"), f"{row_where} product_id") or ""
    identifier_type = text(row.get("identifier_type")).upper()
    barcode = text(row.get("identifier")) if identifier_type in BARCODE_PROPERTIES else ""
    return ChannelOrderLine(
        external_id=row_id,
        listing_id=product_id,
        sku=text(row.get("reference")),
        name=text(row.get("title")),
        quantity=quantity,
        unit_price=number(row.get("price"), f"{row_where} price", default=0.0),
        barcode=barcode,
    )


def customer_from_order(order: Mapping[str, Any], order_id: str) -> ChannelCustomer:
    """The buyer. Sello has no customer accounts: the e-mail identifies a buyer, else the
    marketplace alias (scoped by market, since aliases are marketplace user names)."""
    email = text(order.get("customer_email"))
    alias = text(order.get("customer_alias"))
    name = " ".join(
        part
        for part in (text(order.get("customer_first_name")), text(order.get("customer_last_name")))
        if part
    )
    if email:
        ref = f"email:{email.lower()}"
    elif alias:
        market = text(order.get("market")) or "0"
        ref = f"alias:{market}:{alias}"
    else:
        ref = f"order:{order_id}"
    return ChannelCustomer(
        ref=ref,
        name=name or alias,
        email=email,
        phone=text(order.get("customer_phone")) or text(order.get("customer_mobile")),
        postcode=text(order.get("customer_zip")),
        guest=not (email or alias),
    )


def _receiver(order: Mapping[str, Any]) -> dict[str, Any]:
    """The delivery address in the keys the order screen reads."""
    name = " ".join(
        part
        for part in (text(order.get("customer_first_name")), text(order.get("customer_last_name")))
        if part
    )
    receiver = {
        "name": name or text(order.get("customer_alias")),
        "address": text(order.get("customer_address")),
        "unit": text(order.get("customer_address_2")),
        "postal": text(order.get("customer_zip")),
        "city": text(order.get("customer_city")),
        "country": text(order.get("customer_country_code")).upper(),
        "phone": text(order.get("customer_mobile")) or text(order.get("customer_phone")),
        "email": text(order.get("customer_email")),
    }
    return {key: value for key, value in receiver.items() if value}


# --- list envelopes ------------------------------------------------------------------


def orders_from_list_body(body: Any) -> tuple[list[Any], int | None]:
    """``GET /orders``: the order items and ``meta.total`` (None when absent)."""
    body = unwrap(body)
    if not isinstance(body, Mapping) or not isinstance(body.get("orders"), list):
        raise PayloadError("the order list answer has no orders list")
    return body["orders"], _meta_total(body)


def order_from_detail_body(body: Any) -> dict[str, Any]:
    """``GET /orders/{id}``: a bare order object (live), wrapped or under ``order``."""
    body = unwrap(body)
    if isinstance(body, Mapping) and isinstance(body.get("order"), Mapping):
        body = body["order"]
    if not isinstance(body, Mapping) or "id" not in body:
        raise PayloadError("the order answer has no order in it")
    return dict(body)


def rows_from_body(body: Any) -> list[Any]:
    """``GET /orders/{id}/rows``: an array of rows (or ``{"rows": [...]}``)."""
    body = unwrap(body)
    if isinstance(body, Mapping) and isinstance(body.get("rows"), list):
        return body["rows"]
    if not isinstance(body, list):
        raise PayloadError("the order rows answer is not a list")
    return body


def products_from_list_body(body: Any) -> tuple[list[Any], int | None]:
    """``GET /products``: wrapped in ``{statusCode, data}`` as documented, or top-level
    ``{meta, products}`` as live accounts answer (§4.3)."""
    body = unwrap(body)
    if isinstance(body, list):
        return body, None
    if not isinstance(body, Mapping) or not isinstance(body.get("products"), list):
        raise PayloadError("the product list answer has no products list")
    return body["products"], _meta_total(body)


def product_from_body(body: Any) -> dict[str, Any]:
    """``GET /products/{id}`` and ``/products/sku/{sku}``: one product object."""
    body = unwrap(body)
    if isinstance(body, Mapping) and isinstance(body.get("product"), Mapping):
        body = body["product"]
    if isinstance(body, list) and len(body) == 1:  # some endpoints answer a 1-item array
        body = body[0]
    if not isinstance(body, Mapping) or "id" not in body:
        raise PayloadError("the product answer has no product in it")
    return dict(body)


def _meta_total(body: Mapping[str, Any]) -> int | None:
    meta = body.get("meta")
    total = meta.get("total") if isinstance(meta, Mapping) else body.get("total")
    try:
        return None if total is None else int(float(total))
    except (TypeError, ValueError, OverflowError):
        return None


# --- products ------------------------------------------------------------------------


def listing_from_product(product: Mapping[str, Any]) -> ChannelListing:
    """One Sello product as a listing: id, private SKU, quantity, barcode."""
    if not isinstance(product, Mapping):
        raise PayloadError("product is not an object")
    product_id = parse_id(product.get("id"), "product id")
    where = f"product {product_id}"
    quantity_raw = product.get("quantity")
    quantity = (
        None
        if quantity_raw is None or text(quantity_raw) == ""
        else number(quantity_raw, f"{where} quantity")
    )
    return ChannelListing(
        external_id=product_id,
        product_id=product_id,
        variant_id=None,
        sku=text(product.get("private_reference")),
        name=product_name(product),
        quantity=quantity,
        mpn=text(product.get("manufacturer_no")),
        barcode=product_barcode(product),
        updated_at=parse_timestamp(product.get("updated_at"), f"{where} updated_at"),
        raw=dict(product),
    )


def product_name(product: Mapping[str, Any]) -> str:
    """The merchant's own name (``private_name``), else a default text's name."""
    private = text(product.get("private_name"))
    if private:
        return private
    texts = product.get("texts")
    default = texts.get("default") if isinstance(texts, Mapping) else None
    if isinstance(default, Mapping):
        languages = [*_NAME_LANGUAGES, *(k for k in default if k not in _NAME_LANGUAGES)]
        for language in languages:
            entry = default.get(language)
            if isinstance(entry, Mapping) and text(entry.get("name")):
                return text(entry.get("name"))
    return ""


def product_barcode(product: Mapping[str, Any]) -> str:
    """The first EAN / GTIN / UPC / ISBN property value (its ``default`` value)."""
    properties = product.get("properties")
    if not isinstance(properties, list):
        return ""
    found: dict[str, str] = {}
    for prop in properties:
        if not isinstance(prop, Mapping):
            continue
        name = text(prop.get("property")).upper()
        value = prop.get("value")
        if isinstance(value, Mapping):
            value = value.get("default") or next((v for v in value.values() if text(v)), "")
        if name in BARCODE_PROPERTIES and text(value) and name not in found:
            found[name] = text(value)
    return next((found[name] for name in BARCODE_PROPERTIES if name in found), "")
