"""Selldone payloads ↔ domain records. Pure functions: no I/O, no clock.

A Selldone order is a *basket* (``process-center/baskets-PHYSICAL``). Two fields carry
its state: ``status`` is the payment/checkout status (Open, Reserved, Payed, Canceled,
COD) and ``delivery_state`` the fulfilment step (CheckQueue → OrderConfirm →
PreparingOrder → SentOrder → ToCustomer). A listing is a product without variants or
one variant of a product, exactly as the dashboard's inventory list builds its rows.

Real payloads vary: numbers arrive as strings, optional relations are null or missing.
The readers below accept those variations and raise :class:`PayloadError` with a reason
naming the field when a payload cannot be trusted.
"""

from __future__ import annotations

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

# Fulfilment steps in the only order Selldone accepts them.
DELIVERY_STATES: tuple[str, ...] = (
    "CheckQueue",
    "OrderConfirm",
    "PreparingOrder",
    "SentOrder",
    "ToCustomer",
)
PAID_STATUSES = frozenset({"Payed", "COD"})
BASKET_STATUSES = frozenset({"Open", "Reserved", "Payed", "Canceled", "COD"})
REJECT_REASONS = frozenset(
    {
        "CantAcceptCOD",
        "PaymentReturned",
        "PaymentFraud",
        "LocationOutOfService",
        "UserNotResponding",
        "ShopOwnerFault",
        "LackOfInventory",
        "LegalRestriction",
        "PricingFault",
        "SystemFault",
    }
)
PHYSICAL = "PHYSICAL"

_STATE_TO_STATUS = {
    "CheckQueue": OrderStatus.REQUESTED,
    "OrderConfirm": OrderStatus.CONFIRMED,
    "PreparingOrder": OrderStatus.CONFIRMED,
    "SentOrder": OrderStatus.DISPATCHED,
    "ToCustomer": OrderStatus.DELIVERED,
}
# Variant dimensions, in the order the dashboard shows them.
_VARIANT_DIMENSIONS = ("color", "style", "volume", "weight", "pack", "type")


# --- small readers -------------------------------------------------------------------


def parse_optional_id(value: Any, what: str) -> str | None:
    """Like :func:`parse_id`, but null, empty and 0 mean "none" (e.g. no variant)."""
    if value in (None, "", 0, "0"):
        return None
    return parse_id(value, what)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# --- products and listings -----------------------------------------------------------


def listing_external_id(product_id: str, variant_id: str | None) -> str:
    """``"<product_id>"`` or ``"<product_id>:<variant_id>"``: the listing's key."""
    return f"{product_id}:{variant_id}" if variant_id else product_id


def listing_id_for_item(item: dict[str, Any]) -> str:
    """The listing an order line sells, in the same form as ``ChannelListing.external_id``."""
    product_id = parse_id(item.get("product_id"), "line product_id")
    variant_id = parse_optional_id(item.get("variant_id"), "line variant_id")
    return listing_external_id(product_id, variant_id)


# Selldone stores a variant's colour as a hex code; merchants read names. The nearest of
# these everyday colours names it (the code itself stays on the channel).
_COLOUR_NAMES: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("Black", (0x00, 0x00, 0x00)),
    ("Dark grey", (0x40, 0x40, 0x40)),
    ("Grey", (0x80, 0x80, 0x80)),
    ("Light grey", (0xC8, 0xC8, 0xC8)),
    ("White", (0xFF, 0xFF, 0xFF)),
    ("Red", (0xD3, 0x2F, 0x2F)),
    ("Dark red", (0x80, 0x10, 0x10)),
    ("Pink", (0xF4, 0x8F, 0xB1)),
    ("Orange", (0xF5, 0x7C, 0x00)),
    ("Yellow", (0xFD, 0xD8, 0x35)),
    ("Cream", (0xF0, 0xE6, 0xD2)),
    ("Beige", (0xD8, 0xC0, 0x98)),
    ("Brown", (0x79, 0x48, 0x30)),
    ("Green", (0x38, 0x8E, 0x3C)),
    ("Dark green", (0x1B, 0x4D, 0x20)),
    ("Olive", (0x80, 0x80, 0x00)),
    ("Teal", (0x00, 0x80, 0x80)),
    ("Light blue", (0x80, 0xC0, 0xF0)),
    ("Blue", (0x19, 0x76, 0xD2)),
    ("Navy", (0x1A, 0x23, 0x6E)),
    ("Purple", (0x7B, 0x1F, 0xA2)),
)


def colour_name(value: str) -> str:
    """``"#3b3b3b"`` → ``"Dark grey"``; anything that is not a hex colour is kept as is."""
    code = value.strip().removeprefix("#")
    if len(code) == 3:
        code = "".join(c * 2 for c in code)
    if len(code) != 6 or not all(c in "0123456789abcdefABCDEF" for c in code):
        return value
    rgb = tuple(int(code[i : i + 2], 16) for i in (0, 2, 4))

    def distance(named: tuple[str, tuple[int, int, int]]) -> float:
        # Weighted RGB distance: the eye is most sensitive to green, least to blue.
        r, g, b = (a - c for a, c in zip(rgb, named[1], strict=True))
        return 2 * r * r + 4 * g * g + 3 * b * b

    return min(_COLOUR_NAMES, key=distance)[0]


def variant_label(variant: dict[str, Any]) -> str:
    """The variant's dimension values, e.g. ``"Black / 42-45"`` (colours named)."""
    values = []
    for key in _VARIANT_DIMENSIONS:
        value = _text(variant.get(key))
        if value:
            values.append(colour_name(value) if key == "color" else value)
    return " / ".join(values)


def _display_name(product: dict[str, Any], variant: dict[str, Any] | None) -> str:
    title = _text(product.get("title")) or _text(product.get("title_en"))
    label = variant_label(variant) if variant else ""
    if title and label:
        return f"{title} ({label})"
    return title or label


def _live_variants(product: dict[str, Any]) -> list[dict[str, Any]]:
    variants = product.get("product_variants")
    if variants is None:
        return []
    if not isinstance(variants, list):
        raise PayloadError("product_variants is not a list")
    live = []
    for variant in variants:
        if not isinstance(variant, dict):
            raise PayloadError("a product variant is not an object")
        if variant.get("deleted_at"):  # soft-deleted variants carry no sellable stock
            continue
        live.append(variant)
    return live


def listings_from_product(product: dict[str, Any]) -> list[ChannelListing]:
    """The listings of one catalogue product: itself, or one per variant.

    Non-physical products (files, services, subscriptions) hold no stock and give no
    listing. Soft-deleted variants are left out; when none remain the product itself
    is the listing, as the dashboard's inventory list does.
    """
    if not isinstance(product, dict):
        raise PayloadError("product is not an object")
    product_id = parse_id(product.get("id"), "product id")
    product_type = _text(product.get("type")).upper()
    if product_type and product_type != PHYSICAL:
        return []
    variants = _live_variants(product)
    if not variants:
        return [
            ChannelListing(
                external_id=listing_external_id(product_id, None),
                product_id=product_id,
                variant_id=None,
                sku=_text(product.get("sku")),
                name=_display_name(product, None),
                quantity=_optional_quantity(product.get("quantity"), f"product {product_id}"),
                mpn=_text(product.get("mpn")),
                barcode=_text(product.get("gtin")),
                updated_at=parse_timestamp(product.get("updated_at"), "product updated_at"),
                raw=product,
            )
        ]
    listings = []
    for variant in variants:
        variant_id = parse_id(variant.get("id"), f"variant id of product {product_id}")
        where = f"variant {variant_id} of product {product_id}"
        listings.append(
            ChannelListing(
                external_id=listing_external_id(product_id, variant_id),
                product_id=product_id,
                variant_id=variant_id,
                sku=_text(variant.get("sku")),
                name=_display_name(product, variant),
                quantity=_optional_quantity(variant.get("quantity"), where),
                mpn=_text(variant.get("mpn")),
                barcode=_text(variant.get("gtin")),
                updated_at=parse_timestamp(variant.get("updated_at"), f"{where} updated_at"),
                raw=variant,
            )
        )
    return listings


def _optional_quantity(value: Any, where: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _number(value, f"quantity of {where}")


# --- orders --------------------------------------------------------------------------


def order_status(status: str, delivery_state: str, rejected: bool) -> OrderStatus:
    """The local lifecycle status for a basket's status, delivery_state and reject."""
    if status == "Canceled" or rejected:
        return OrderStatus.CANCELLED
    if status not in PAID_STATUSES:
        raise PayloadError(f"not a paid order (status {status})")
    return _STATE_TO_STATUS[delivery_state]


def payment_status(status: str, delivery_state: str) -> PaymentStatus:
    """Payed is paid; cash on delivery counts as paid once delivered.

    A refund cannot be inferred from the basket, so a cancelled order reads UNPAID when
    its status is Canceled and keeps PAID when a paid order was rejected.
    """
    if status == "Payed":
        return PaymentStatus.PAID
    if status == "COD":
        return PaymentStatus.PAID if delivery_state == "ToCustomer" else PaymentStatus.ON_DELIVERY
    return PaymentStatus.UNPAID


def order_number(basket: dict[str, Any], basket_id: str) -> str:
    """The number the dashboard shows: the shop's label, else ``SM-<id>``."""
    return _text(basket.get("label")) or f"SM-{basket_id}"


def order_from_basket(basket: dict[str, Any]) -> ChannelOrder:
    """One Selldone basket (asked with items, buyer and products) as a ChannelOrder."""
    if not isinstance(basket, dict):
        raise PayloadError("order is not an object")
    basket_id = parse_id(basket.get("id"), "order id")
    where = f"order {basket_id}"
    basket_type = _text(basket.get("type")).upper()
    if basket_type and basket_type != PHYSICAL:
        raise PayloadError(f"{where} is a {basket_type} order, not a PHYSICAL one")
    status = _text(basket.get("status"))
    if status not in BASKET_STATUSES:
        raise PayloadError(f"{where} has an unknown status {status!r}")
    # A freshly paid basket may not carry a fulfilment step yet: it waits in the queue.
    delivery_state = _text(basket.get("delivery_state")) or "CheckQueue"
    if delivery_state not in _STATE_TO_STATUS:
        raise PayloadError(f"{where} has an unknown delivery_state {delivery_state!r}")
    rejected = bool(_text(basket.get("reject")))
    try:
        local_status = order_status(status, delivery_state, rejected)
    except PayloadError as exc:
        raise PayloadError(f"{where} is {exc.message}") from None
    updated_at = _first_timestamp(basket, ("updated_at", "reserved_at", "created_at"), where)
    if updated_at is None:
        raise PayloadError(f"{where} has no updated_at")
    receiver = _mapping(basket.get("receiver_info"))
    delivery = _mapping(basket.get("delivery_info"))
    channel_state = f"{status}/{delivery_state}" + ("/rejected" if rejected else "")
    return ChannelOrder(
        external_id=basket_id,
        number=order_number(basket, basket_id),
        status=local_status,
        payment_status=payment_status(status, delivery_state),
        total=_order_total(basket, where),
        currency=_text(basket.get("currency")),
        lines=_order_lines(basket, where),
        updated_at=updated_at,
        # Checkout time is when the buyer ordered; the row's created_at is the cart's.
        created_at=_first_timestamp(basket, ("reserved_at", "created_at"), where),
        customer=_customer(basket, basket_id, receiver),
        receiver=dict(receiver),
        tracking_code=_text(delivery.get("tracking_code")),
        tracking_url=_text(delivery.get("tracking_url")),
        channel_state=channel_state,
        raw=basket,
    )


def _first_timestamp(basket: dict[str, Any], keys: tuple[str, ...], where: str) -> float | None:
    for key in keys:
        value = parse_timestamp(basket.get(key), f"{where} {key}")
        if value is not None:
            return value
    return None


def _order_total(basket: dict[str, Any], where: str) -> float:
    """What the buyer pays, as the dashboard's payment table shows it.

    ``price`` already holds items − discount + delivery; tax is added when the shop
    prices without tax, and shipping tax always.
    """
    price = _number(basket.get("price"), f"{where} price", default=0.0)
    tax = _number(basket.get("tax"), f"{where} tax", default=0.0)
    tax_shipping = _number(basket.get("tax_shipping"), f"{where} tax_shipping", default=0.0)
    tax_included = basket.get("tax_included")
    return round(price + (0.0 if tax_included else tax) + tax_shipping, 6)


def _order_lines(basket: dict[str, Any], where: str) -> list[ChannelOrderLine]:
    items = basket.get("items")
    if items is None:
        raise PayloadError(f"{where} came without items (the request must ask with[]=items)")
    if not isinstance(items, list):
        raise PayloadError(f"{where} items is not a list")
    if not items:
        raise PayloadError(f"{where} has no lines")
    return [_order_line(item, where, index) for index, item in enumerate(items, start=1)]


def _order_line(item: Any, where: str, index: int) -> ChannelOrderLine:
    if not isinstance(item, dict):
        raise PayloadError(f"{where} line {index} is not an object")
    line_where = f"{where} line {index}"
    line_id = parse_id(item.get("id"), f"{line_where} id")
    line_where = f"{where} line {line_id}"
    if item.get("product_id") in (None, ""):
        raise PayloadError(f"{line_where} has no product_id")
    if "count" not in item or item.get("count") is None:
        raise PayloadError(f"{line_where} has no count")
    count = _number(item.get("count"), f"{line_where} count")
    adjustment = _number(
        item.get("count_adjustment"), f"{line_where} count_adjustment", default=0.0
    )
    quantity = count + adjustment
    if quantity < 0:
        raise PayloadError(f"{line_where} has a negative quantity ({quantity:g})")
    product = _mapping(item.get("product"))
    variant = _mapping(item.get("variant"))
    has_variant = parse_optional_id(item.get("variant_id"), f"{line_where} variant_id")
    # With variants the variant carries the codes; the product's own are for the rest.
    source = variant if has_variant else product
    return ChannelOrderLine(
        external_id=line_id,
        listing_id=listing_id_for_item(item),
        sku=_text(source.get("sku")),
        name=_display_name(product, variant if has_variant else None),
        quantity=quantity,
        unit_price=_number(item.get("price"), f"{line_where} price", default=0.0),
        mpn=_text(source.get("mpn")),
        barcode=_text(source.get("gtin")),
    )


def _customer(basket: dict[str, Any], basket_id: str, receiver: dict[str, Any]) -> ChannelCustomer:
    buyer = _mapping(basket.get("buyer"))
    customer = _mapping(basket.get("customer"))
    postcode = _text(receiver.get("postal"))
    if buyer:
        user_id = _text(basket.get("user_id")) or _text(buyer.get("id"))
        if not user_id:
            raise PayloadError(f"order {basket_id} has a buyer without an id")
        return ChannelCustomer(
            ref=f"user:{user_id}",
            name=_text(buyer.get("name")) or _text(receiver.get("name")),
            email=_text(buyer.get("email")),
            phone=_text(buyer.get("phone")) or _text(receiver.get("phone")),
            postcode=postcode,
        )
    customer_id = _text(basket.get("customer_id")) or _text(customer.get("id"))
    return ChannelCustomer(
        ref=f"customer:{customer_id}" if customer_id else f"guest:{basket_id}",
        name=_text(receiver.get("name")) or _text(customer.get("name")),
        email=_text(basket.get("guest_email")) or _text(customer.get("email")),
        phone=_text(receiver.get("phone")) or _text(customer.get("phone")),
        postcode=postcode,
        guest=True,
    )
