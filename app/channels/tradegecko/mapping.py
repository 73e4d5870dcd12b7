"""TradeGecko payloads ↔ Stockbridge records. Pure functions: no I/O, no clock.

Stock lives on each variant as ``locations[]`` (per-warehouse ``stock_on_hand`` and
``committed``), together with the three flags a sales channel must honour (seed, Sales
Channel Guide): ``manage_stock`` (false → not tracked), ``keep_selling`` (may sell at
zero or below) and ``max_online`` (never show more than this online).

SKUs are *not* unique in TradeGecko: everything here keys on the variant id and treats
the SKU as a suggestion for matching only.

Outbound, :class:`ExportOrder` is a sales order taken on another channel, and
:func:`order_body` turns it into one of the three documented create shapes (existing
company and addresses, existing company with a new address, new company). Scalar and
envelope helpers live in :mod:`.values` and are re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from app.channels.errors import PayloadError, Rejected
from app.channels.tradegecko.values import (
    Pagination,
    errors_in_words,
    format_date,
    format_decimal,
    format_timestamp,
    idempotency_key,
    optional_decimal,
    parse_bool,
    parse_decimal,
    parse_id,
    parse_pagination,
    parse_timestamp,
    plural,
    record,
    text,
    unwrap,
    unwrap_list,
)
from app.core.models import ChannelCustomer, ChannelListing, OrderStatus

# Order states in which TradeGecko no longer does anything with an order.
CLOSED_ORDER_STATES = frozenset({"void", "deleted"})
COMPANY_TYPES = ("business", "consumer", "supplier")


# --- stock --------------------------------------------------------------------------


class LocationStock(NamedTuple):
    """One variant's stock at one TradeGecko location (a local warehouse)."""

    location_id: str
    stock_on_hand: float
    committed: float

    @property
    def available(self) -> float:
        """On hand minus what open sales orders hold (TradeGecko's own definition)."""
        return self.stock_on_hand - self.committed


@dataclass(slots=True)
class VariantStock:
    """A variant's stock as the stock master reports it, location by location.

    ``manage_stock`` false: TradeGecko does not track it (the figures mean nothing).
    ``keep_selling`` true: channels may keep selling at zero or below.
    ``max_online``: channels must never be shown more than this (None = no cap).
    """

    variant_id: str
    product_id: str
    sku: str
    name: str
    manage_stock: bool
    keep_selling: bool
    max_online: float | None
    locations: list[LocationStock]
    updated_at: float | None = None
    status: str = "active"
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def on_hand(self) -> float:
        return sum(loc.stock_on_hand for loc in self.locations)

    @property
    def committed(self) -> float:
        return sum(loc.committed for loc in self.locations)

    def at(self, location_id: str) -> LocationStock | None:
        return next((loc for loc in self.locations if loc.location_id == location_id), None)

    def online_quantity(self, location_ids: set[str] | None = None) -> float | None:
        """What a sales channel may be shown: available, floored at 0, capped by max_online.

        ``location_ids`` limits the sum to the locations that feed the channels (None =
        all). None is returned for untracked variants: there is no number to show.
        """
        if not self.manage_stock:
            return None
        available = sum(
            loc.available
            for loc in self.locations
            if location_ids is None or loc.location_id in location_ids
        )
        quantity = max(0.0, available)
        if self.max_online is not None:
            quantity = min(quantity, max(0.0, self.max_online))
        return quantity


def variant_name(variant: dict[str, Any]) -> str:
    """``Product - Variant`` unless the variant name already says the product."""
    name = text(variant.get("name"))
    product = text(variant.get("product_name"))
    if product and name and product.lower() not in name.lower():
        return f"{product} - {name}"
    return name or product


def _locations(variant: dict[str, Any], where: str) -> list[LocationStock]:
    rows = variant.get("locations")
    if rows is None:
        # Before 2016 stock came as {"<location id>": "10.0"} hashes (reference §16).
        levels = variant.get("stock_levels")
        committed = variant.get("committed_stock_levels")
        if isinstance(levels, dict):
            held = committed if isinstance(committed, dict) else {}
            return [
                LocationStock(
                    parse_id(location, f"{where} location id"),
                    parse_decimal(amount, f"{where} stock at {location}", default=0.0),
                    parse_decimal(
                        held.get(location), f"{where} committed at {location}", default=0.0
                    ),
                )
                for location, amount in levels.items()
            ]
        return []
    if not isinstance(rows, list):
        raise PayloadError(f"{where} locations is not a list")
    result = []
    for row in rows:
        if not isinstance(row, dict):
            raise PayloadError(f"{where} has a location entry that is not an object")
        location_id = parse_id(row.get("location_id"), f"{where} location_id")
        at = f"{where} at location {location_id}"
        held = row.get("committed", row.get("committed_stock"))
        result.append(
            LocationStock(
                location_id,
                parse_decimal(row.get("stock_on_hand"), f"{at} stock_on_hand", default=0.0),
                parse_decimal(held, f"{at} committed", default=0.0),
            )
        )
    return result


def variant_stock_from_payload(payload: Any) -> VariantStock:
    """One variant (``GET /variants`` row or ``{"variant": …}``) as a VariantStock."""
    variant = record(payload, "variant")
    variant_id = parse_id(variant.get("id"), "variant id")
    where = f"variant {variant_id}"
    product_id = variant.get("product_id")
    return VariantStock(
        variant_id=variant_id,
        product_id=parse_id(product_id, f"{where} product_id") if product_id is not None else "",
        sku=text(variant.get("sku")),
        name=variant_name(variant) or f"TradeGecko variant {variant_id}",
        manage_stock=parse_bool(variant.get("manage_stock"), default=True),
        keep_selling=parse_bool(variant.get("keep_selling")),
        max_online=optional_decimal(variant.get("max_online"), f"{where} max_online"),
        locations=_locations(variant, where),
        updated_at=parse_timestamp(variant.get("updated_at"), f"{where} updated_at"),
        status=text(variant.get("status")) or "active",
        raw=variant,
    )


def listing_from_variant(payload: Any) -> ChannelListing:
    """A variant as a ChannelListing: ``external_id`` is the variant id, never the SKU.

    ``quantity`` is the variant's available stock over all locations (None when
    TradeGecko does not track it); the listing is what local products link to.
    """
    stock = variant_stock_from_payload(payload)
    variant = stock.raw
    return ChannelListing(
        external_id=stock.variant_id,
        product_id=stock.product_id or stock.variant_id,
        variant_id=stock.variant_id,
        sku=stock.sku,
        name=stock.name,
        quantity=(stock.on_hand - stock.committed) if stock.manage_stock else None,
        mpn=text(variant.get("supplier_code")),
        barcode=text(variant.get("upc")),
        updated_at=stock.updated_at,
        raw=variant,
    )


@dataclass(frozen=True, slots=True)
class StockLocation:
    """A TradeGecko location: what a local warehouse is mapped to."""

    id: str
    label: str
    holds_stock: bool
    status: str = "active"
    city: str = ""
    country: str = ""


def location_from_payload(payload: Any) -> StockLocation:
    location = record(payload, "location")
    location_id = parse_id(location.get("id"), "location id")
    return StockLocation(
        id=location_id,
        label=text(location.get("label")) or f"Location {location_id}",
        holds_stock=parse_bool(location.get("holds_stock"), default=True),
        status=text(location.get("status")) or "active",
        city=text(location.get("city")),
        country=text(location.get("country")),
    )


# --- companies ----------------------------------------------------------------------


def customer_from_company(
    payload: Any, addresses: list[dict[str, Any]] | None = None
) -> ChannelCustomer:
    """A TradeGecko company as a ChannelCustomer (``ref`` ``company:<id>``).

    The postcode comes from the company's first active address, when it was read.
    """
    company = record(payload, "company")
    company_id = parse_id(company.get("id"), "company id")
    postcode = ""
    for address in addresses or []:
        if text(address.get("status") or "active") == "active" and text(address.get("zip_code")):
            postcode = text(address.get("zip_code"))
            break
    return ChannelCustomer(
        ref=f"company:{company_id}",
        name=text(company.get("name")) or f"TradeGecko company {company_id}",
        email=text(company.get("email")),
        phone=text(company.get("phone_number")),
        postcode=postcode,
    )


# --- sales orders as TradeGecko holds them ------------------------------------------


@dataclass(frozen=True, slots=True)
class GeckoOrder:
    """The parts of a TradeGecko sales order that the lifecycle reads before it writes."""

    id: str
    order_number: str
    status: str
    invoice_status: str
    payment_status: str
    packed_status: str
    fulfillment_status: str
    return_status: str
    returning_status: str
    reference_number: str
    company_id: str
    stock_location_id: str
    fulfillment_ids: tuple[str, ...]
    fulfillment_return_ids: tuple[str, ...]
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def closed(self) -> bool:
        return self.status in CLOSED_ORDER_STATES


def _ids(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise PayloadError(f"{what} is not a list")
    return tuple(parse_id(item, what) for item in value)


def gecko_order_from_payload(payload: Any) -> GeckoOrder:
    order = record(payload, "order")
    order_id = parse_id(order.get("id"), "order id")
    where = f"order {order_id}"
    location = order.get("stock_location_id")
    company = order.get("company_id")
    return GeckoOrder(
        id=order_id,
        order_number=text(order.get("order_number")),
        status=text(order.get("status")).lower() or "draft",
        invoice_status=text(order.get("invoice_status")).lower() or "uninvoiced",
        payment_status=text(order.get("payment_status")).lower() or "unpaid",
        packed_status=text(order.get("packed_status")).lower() or "unpacked",
        fulfillment_status=text(order.get("fulfillment_status")).lower() or "unshipped",
        return_status=text(order.get("return_status")).lower() or "unreturned",
        returning_status=text(order.get("returning_status")).lower() or "unreturning",
        reference_number=text(order.get("reference_number")),
        company_id=parse_id(company, f"{where} company_id") if company is not None else "",
        stock_location_id=(
            parse_id(location, f"{where} stock_location_id") if location is not None else ""
        ),
        fulfillment_ids=_ids(order.get("fulfillment_ids"), f"{where} fulfillment_ids"),
        fulfillment_return_ids=_ids(
            order.get("fulfillment_return_ids"), f"{where} fulfillment_return_ids"
        ),
        raw=order,
    )


def local_status(order: GeckoOrder) -> OrderStatus:
    """Where a TradeGecko order stands, in Stockbridge's lifecycle words (for display)."""
    if order.closed:
        return OrderStatus.CANCELLED
    if order.return_status in ("returned", "partial") or order.returning_status != "unreturning":
        return OrderStatus.RETURNED
    if order.fulfillment_status == "shipped" or order.status == "fulfilled":
        return OrderStatus.DISPATCHED
    if order.status == "finalized" or order.invoice_status != "uninvoiced":
        return OrderStatus.CONFIRMED
    return OrderStatus.REQUESTED


# --- sales orders exported to TradeGecko --------------------------------------------


@dataclass(frozen=True, slots=True)
class ExportAddress:
    """A postal address in TradeGecko's address fields (reference §12.6)."""

    address1: str
    city: str = ""
    zip_code: str = ""
    country: str = ""
    address2: str = ""
    suburb: str = ""
    state: str = ""
    first_name: str = ""
    last_name: str = ""
    company_name: str = ""
    phone_number: str = ""
    email: str = ""
    # Unique per company in TradeGecko; chosen by the client when empty.
    label: str = ""


@dataclass(frozen=True, slots=True)
class ExportLine:
    """One product line: a TradeGecko variant (by id, never by SKU) and its quantity."""

    variant_id: str
    quantity: float
    # Unit price in the order's currency; None lets TradeGecko take its price list's.
    price: float | None = None


@dataclass(frozen=True, slots=True)
class ExportOrder:
    """A sales order taken on another channel, to be created in TradeGecko once.

    ``reference`` must be unique per order and stable across retries (e.g.
    ``"SB-webshop-1042"``): it becomes the order's ``reference_number`` and is what
    the client searches for before creating, so a retry never makes a second order.
    ``company_id`` names an existing TradeGecko company; otherwise the company is found
    by ``customer_email`` or created from the customer fields.
    """

    reference: str
    customer_name: str
    lines: tuple[ExportLine, ...]
    shipping_address: ExportAddress | None = None
    billing_address: ExportAddress | None = None
    currency: str = ""
    customer_email: str = ""
    customer_company: str = ""
    customer_phone: str = ""
    company_id: str = ""
    stock_location_id: str = ""
    issued_at: str = ""  # YYYY-MM-DD; empty means today
    notes: str = ""
    source_url: str = ""
    tax_treatment: str = ""  # "inclusive" / "exclusive"; empty = the account's default
    shipping_price: float = 0.0  # a freeform shipping line when above zero
    shipping_label: str = "Shipping"

    def __post_init__(self) -> None:
        # Accept a list for convenience; keep the record immutable and hashable.
        if not isinstance(self.lines, tuple):
            object.__setattr__(self, "lines", tuple(self.lines))


@dataclass(frozen=True, slots=True)
class Placement:
    """Who buys and where it goes, in one of the documented create shapes.

    For each of company, shipping and billing address exactly one of the id (an
    existing record) or the embedded body (created with the order) is set; a missing
    billing address makes TradeGecko bill the shipping address.
    """

    company_id: str = ""
    company: dict[str, Any] | None = None
    shipping_address_id: str = ""
    shipping_address: dict[str, Any] | None = None
    billing_address_id: str = ""
    billing_address: dict[str, Any] | None = None


def validate_export(order: ExportOrder) -> None:
    """Refuse, before any request, what TradeGecko could only answer with a 422."""
    problems: list[str] = []
    if not text(order.reference):
        problems.append("the order has no reference")
    elif len(order.reference) > 255:
        problems.append("the reference is longer than 255 characters")
    if not order.lines:
        problems.append("the order has no lines")
    for number, line in enumerate(order.lines, start=1):
        if not text(line.variant_id).isdigit():
            problems.append(f"line {number} names no TradeGecko variant id ({line.variant_id!r})")
        if not isinstance(line.quantity, int | float) or not line.quantity > 0:
            problems.append(f"line {number} has no positive quantity ({line.quantity!r})")
        if line.price is not None and not line.price >= 0:
            problems.append(f"line {number} has a negative price ({line.price!r})")
    if order.shipping_price < 0:
        problems.append("the shipping price is negative")
    if not order.company_id and order.shipping_address is None:
        problems.append("a new customer needs a shipping address")
    if order.company_id and not text(order.company_id).isdigit():
        problems.append(f"{order.company_id!r} is not a TradeGecko company id")
    if order.stock_location_id and not text(order.stock_location_id).isdigit():
        problems.append(f"{order.stock_location_id!r} is not a TradeGecko location id")
    for address in (order.shipping_address, order.billing_address):
        if address is not None and not text(address.address1):
            problems.append("an address has no first line")
    if order.tax_treatment not in ("", "inclusive", "exclusive"):
        problems.append("tax treatment must be inclusive or exclusive")
    if order.currency and (len(order.currency.strip()) != 3 or not order.currency.isalpha()):
        problems.append(f"{order.currency!r} is not a three-letter currency code")
    if not text(order.customer_name) and not text(order.customer_company):
        problems.append("the customer has no name")
    if problems:
        raise Rejected(
            f"sales order {order.reference or '?'} cannot go to TradeGecko: " + "; ".join(problems)
        )


def company_body(order: ExportOrder) -> dict[str, Any]:
    """A new company for the order's customer: a business when it has a company name."""
    body: dict[str, Any] = {
        "name": text(order.customer_company) or text(order.customer_name),
        "company_type": "business" if text(order.customer_company) else "consumer",
    }
    if text(order.customer_email):
        body["email"] = text(order.customer_email)
    if text(order.customer_phone):
        body["phone_number"] = text(order.customer_phone)
    return body


_ADDRESS_FIELDS = (
    "address1",
    "address2",
    "suburb",
    "city",
    "state",
    "zip_code",
    "country",
    "first_name",
    "last_name",
    "company_name",
    "phone_number",
    "email",
)
_MATCH_FIELDS = ("address1", "address2", "city", "zip_code", "country")


def address_body(address: ExportAddress, label: str) -> dict[str, Any]:
    """The address as TradeGecko fields, without the empty ones."""
    body: dict[str, Any] = {"label": label}
    for name in _ADDRESS_FIELDS:
        value = text(getattr(address, name))
        if value:
            body[name] = value
    return body


def address_matches(address: ExportAddress, payload: dict[str, Any]) -> bool:
    """True when a stored TradeGecko address is the same place (the API never de-duplicates)."""
    if text(payload.get("status") or "active") != "active":
        return False
    return all(
        " ".join(text(getattr(address, name)).lower().split())
        == " ".join(text(payload.get(name)).lower().split())
        for name in _MATCH_FIELDS
    )


def address_label(address: ExportAddress, taken: set[str], fallback: str) -> str:
    """A label unique among the company's labels (TradeGecko requires it per company)."""
    wanted = text(address.label) or (
        ", ".join(part for part in (text(address.address1), text(address.city)) if part)[:60]
        or fallback
    )
    taken_lower = {label.lower() for label in taken}
    label, number = wanted, 2
    while label.lower() in taken_lower:
        label = f"{wanted} ({number})"
        number += 1
    return label


def order_body(order: ExportOrder, placement: Placement, issued_at: str) -> dict[str, Any]:
    """The ``POST /orders`` body: an *active* order whose lines name variants by id."""
    body: dict[str, Any] = {
        "issued_at": text(order.issued_at) or issued_at,
        "reference_number": text(order.reference),
        "status": "active",  # issued: TradeGecko commits the stock at once
    }
    for key, value in (
        ("company_id", placement.company_id),
        ("shipping_address_id", placement.shipping_address_id),
        ("billing_address_id", placement.billing_address_id),
        ("stock_location_id", order.stock_location_id),
    ):
        if value:
            body[key] = int(value)
    for key, embedded in (
        ("company", placement.company),
        ("shipping_address", placement.shipping_address),
        ("billing_address", placement.billing_address),
    ):
        if embedded is not None:
            body[key] = embedded
    for key, value in (
        ("email", order.customer_email),
        ("phone_number", order.customer_phone),
        ("notes", order.notes),
        ("source_url", order.source_url),
        ("tax_treatment", order.tax_treatment),
        ("currency_iso", order.currency.upper()),
    ):
        if text(value):
            body[key] = text(value)
    lines: list[dict[str, Any]] = []
    for line in order.lines:
        item: dict[str, Any] = {
            "variant_id": int(line.variant_id),
            "quantity": format_decimal(line.quantity),
        }
        if line.price is not None:
            item["price"] = format_decimal(line.price)
        lines.append(item)
    if order.shipping_price > 0:
        # The guide's freeform line, typed "shipping" so it is never packed.
        lines.append(
            {
                "freeform": True,
                "line_type": "shipping",
                "label": text(order.shipping_label) or "Shipping",
                "quantity": "1",
                "price": format_decimal(order.shipping_price),
            }
        )
    body["order_line_items"] = lines
    return {"order": body}


__all__ = [
    "CLOSED_ORDER_STATES",
    "COMPANY_TYPES",
    "ExportAddress",
    "ExportLine",
    "ExportOrder",
    "GeckoOrder",
    "LocationStock",
    "Pagination",
    "Placement",
    "StockLocation",
    "VariantStock",
    "address_body",
    "address_label",
    "address_matches",
    "company_body",
    "customer_from_company",
    "errors_in_words",
    "format_date",
    "format_decimal",
    "format_timestamp",
    "gecko_order_from_payload",
    "idempotency_key",
    "listing_from_variant",
    "local_status",
    "location_from_payload",
    "optional_decimal",
    "order_body",
    "parse_bool",
    "parse_decimal",
    "parse_id",
    "parse_pagination",
    "parse_timestamp",
    "plural",
    "text",
    "unwrap",
    "unwrap_list",
    "validate_export",
    "variant_name",
    "variant_stock_from_payload",
]
