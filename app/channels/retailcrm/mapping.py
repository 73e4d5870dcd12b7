"""RetailCRM payloads ↔ domain records. Pure functions: no I/O, no clock.

RetailCRM (platforms/retailcrm.md §7–§8) answers ``{"success": true, …}`` objects and
writes date-times as ``Y-m-d H:i:s`` in the account's time zone, with no offset. The
client passes that zone in; a cursor made of the platform's own stamps round-trips
through it unchanged, so a wrong zone never makes a sync miss anything.

Words used here:

* an **offer** (торговое предложение) is the sellable unit: one per product without
  variants, one per variant otherwise. It carries ``id`` (RetailCRM's), ``externalId``
  (the shop's id), ``xmlId`` (the warehouse system's id) and ``article`` (the SKU).
  One :class:`ChannelListing` stands for one offer.
* an order's ``status`` is an account-defined code; its **group** (``new``,
  ``approval``, ``assembling``, ``delivery``, ``complete``, ``cancel``) is what carries
  meaning across accounts, so the lifecycle is read from the group.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from app.channels.errors import PayloadError
from app.channels.values import identifier as parse_id
from app.channels.values import number, text
from app.core.models import (
    ChannelCustomer,
    ChannelListing,
    ChannelOrder,
    ChannelOrderLine,
    OrderStatus,
    PaymentStatus,
)

DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
DATE_FORMAT = "%Y-%m-%d"
STATUS_GROUPS = ("new", "approval", "assembling", "delivery", "complete", "cancel")

# The lifecycle each status group stands for. Picking ("assembling") counts as
# confirmed because Stockbridge treats confirmed goods as leaving the shelf.
_GROUP_STATUS = {
    "new": OrderStatus.REQUESTED,
    "approval": OrderStatus.REQUESTED,
    "assembling": OrderStatus.CONFIRMED,
    "delivery": OrderStatus.DISPATCHED,
    "complete": OrderStatus.DELIVERED,
    "cancel": OrderStatus.CANCELLED,
}
_BEFORE_SHIPMENT = frozenset({OrderStatus.REQUESTED, OrderStatus.CONFIRMED})
_PAID = "paid"
_REFUNDED = "returned"


# --- small readers -------------------------------------------------------------------


def as_dict(value: Any) -> dict[str, Any]:
    """The value if it is an object; PHP sends ``[]`` for empty maps, which becomes {}."""
    return value if isinstance(value, dict) else {}


def as_rows(value: Any) -> list[Any]:
    """A list of rows from a list, or from an object keyed by id (``payments``)."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return list(value.values())
    return []


def parse_datetime(value: Any, tz: tzinfo = UTC, what: str = "date") -> float | None:
    """Unix seconds from ``Y-m-d H:i:s`` (or ``Y-m-d``) in zone ``tz``; empty → None."""
    raw = text(value)
    if not raw:
        return None
    for form in (DATETIME_FORMAT, DATE_FORMAT):
        try:
            moment = datetime.strptime(raw, form)
        except ValueError:
            continue
        return moment.replace(tzinfo=tz).timestamp()
    try:  # not RetailCRM's form, but an ISO stamp with an offset is unambiguous
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise PayloadError(f"{what} is not a date ({raw!r})") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=tz)).timestamp()


def format_datetime(seconds: float, tz: tzinfo = UTC) -> str:
    """Unix seconds as RetailCRM's ``Y-m-d H:i:s`` in zone ``tz`` (filters, history dates)."""
    return datetime.fromtimestamp(seconds, tz=tz).strftime(DATETIME_FORMAT)


def format_date(seconds: float, tz: tzinfo = UTC) -> str:
    """Unix seconds as RetailCRM's ``Y-m-d`` in zone ``tz`` (``shipmentDate``)."""
    return datetime.fromtimestamp(seconds, tz=tz).strftime(DATE_FORMAT)


def is_date(value: Any) -> bool:
    """True for a ``Y-m-d`` calendar date."""
    try:
        date.fromisoformat(text(value))
    except ValueError:
        return False
    return len(text(value)) == 10


# --- errors --------------------------------------------------------------------------


def error_text(body: Any) -> str:
    """``errorMsg`` plus the field errors of an error envelope, as one readable line.

    ``errors`` is an object keyed by field or a plain list (§4); both are flattened.
    """
    if not isinstance(body, dict):
        return ""
    message = text(body.get("errorMsg"))
    errors = body.get("errors")
    details: list[str] = []
    if isinstance(errors, dict):
        details = [f"{text(key)}: {text(value)}" for key, value in errors.items() if text(value)]
    elif isinstance(errors, list):
        details = [text(value) for value in errors if text(value)]
    if details:
        joined = "; ".join(details)
        return f"{message} ({joined})" if message else joined
    return message


# --- order lifecycle -----------------------------------------------------------------


def order_status(group: str, *, shipped: bool = False) -> OrderStatus:
    """The lifecycle of an order from its status group and ``shipped`` flag.

    The warehouse's ``shipped`` flag wins over groups that come before shipment: the
    goods left whatever the manager's status says. A cancelled order that had shipped
    came back, so it is a return.
    """
    status = _GROUP_STATUS.get(text(group))
    if status is None:
        raise PayloadError(f"status group {group!r} is not one RetailCRM uses")
    if shipped and status in _BEFORE_SHIPMENT:
        return OrderStatus.DISPATCHED
    if shipped and status is OrderStatus.CANCELLED:
        return OrderStatus.RETURNED
    return status


def payment_status(order: dict[str, Any]) -> PaymentStatus:
    """Paid when RetailCRM stamped ``fullPaidAt`` or paid payments cover the total.

    Payments are an object keyed by payment id (§8.1); their ``status`` codes are the
    account's, ``paid`` and ``returned`` being the standard ones.
    """
    if text(order.get("fullPaidAt")):
        return PaymentStatus.PAID
    payments = [as_dict(row) for row in as_rows(order.get("payments"))]
    paid = sum(
        number(row.get("amount"), "payment amount", default=0.0)
        for row in payments
        if text(row.get("status")) == _PAID
    )
    total = number(order.get("totalSumm"), "totalSumm", default=0.0)
    if paid > 0 and paid + 0.005 >= total:
        return PaymentStatus.PAID
    if any(text(row.get("status")) == _REFUNDED for row in payments):
        return PaymentStatus.REFUNDED
    return PaymentStatus.UNPAID


def payment_method(order: dict[str, Any]) -> str:
    """The type code of the order's first payment ("bank-card", "cash", …)."""
    for row in as_rows(order.get("payments")):
        kind = text(as_dict(row).get("type"))
        if kind:
            return kind
    return ""


def order_updated_at(order: dict[str, Any], tz: tzinfo = UTC) -> float | None:
    """The newest stamp an order itself carries (orders have no ``updatedAt``)."""
    stamps = [
        parse_datetime(order.get(key), tz, key)
        for key in ("createdAt", "statusUpdatedAt", "fullPaidAt")
    ]
    known = [stamp for stamp in stamps if stamp is not None]
    return max(known) if known else None


def customer_from_order(order: dict[str, Any]) -> ChannelCustomer | None:
    """The buyer; ``ref`` is the RetailCRM customer id (corporate ones prefixed).

    Individual and corporate customers are numbered separately, so a corporate id gets
    a prefix to keep the two apart.
    """
    customer = as_dict(order.get("customer"))
    if customer.get("id") is None:
        return None
    ref = parse_id(customer.get("id"), "customer id")
    if text(customer.get("type")) == "customer_corporate":
        ref = f"corporate:{ref}"
    name = " ".join(
        part for part in (text(order.get("firstName")), text(order.get("lastName"))) if part
    )
    address = as_dict(as_dict(order.get("delivery")).get("address"))
    return ChannelCustomer(
        ref=ref,
        name=name or text(customer.get("firstName")) or text(customer.get("nickName")),
        email=text(order.get("email")) or text(customer.get("email")),
        phone=text(order.get("phone")),
        postcode=text(address.get("index")),
    )


def order_line(item: Any, position: int) -> ChannelOrderLine:
    """One order item; the unit price is ``initialPrice`` less the per-unit discount."""
    row = as_dict(item)
    where = f"item {position + 1}"
    offer = as_dict(row.get("offer"))
    quantity = number(row.get("quantity"), f"{where} quantity")
    price = number(row.get("initialPrice"), f"{where} price", default=0.0)
    discount = number(row.get("discountTotal"), f"{where} discount", default=0.0)
    return ChannelOrderLine(
        external_id=parse_id(row.get("id"), f"{where} id"),
        listing_id=parse_id(offer.get("id"), f"{where} offer id"),
        sku=text(offer.get("article")),
        name=text(offer.get("displayName")) or text(offer.get("name")),
        quantity=quantity,
        unit_price=round(price - discount, 2),
        barcode=text(offer.get("barcode")),
    )


def order_from_payload(
    order: Any,
    *,
    group: str,
    updated_at: float | None = None,
    tz: tzinfo = UTC,
    currency: str = "",
) -> ChannelOrder:
    """A RetailCRM order as a :class:`ChannelOrder`; ``group`` is its status's group.

    ``external_id`` is RetailCRM's own order ``id``: every order has one and it never
    changes, whereas ``externalId`` exists only for orders a shop sent in.
    ``updated_at`` is the newest history stamp of the order when the caller knows it.
    """
    if not isinstance(order, dict):
        raise PayloadError("an order is not an object")
    order_id = parse_id(order.get("id"), "order id")
    items = order.get("items")
    if items is not None and not isinstance(items, (list, dict)):
        raise PayloadError(f"the order's items are not a list ({type(items).__name__})")
    lines = [order_line(item, i) for i, item in enumerate(as_rows(items))]
    stamps = [s for s in (updated_at, order_updated_at(order, tz)) if s is not None]
    if not stamps:
        raise PayloadError(f"order {order_id} has no date")
    delivery = as_dict(order.get("delivery"))
    return ChannelOrder(
        external_id=order_id,
        number=text(order.get("number")) or order_id,
        status=order_status(group, shipped=order.get("shipped") is True),
        payment_status=payment_status(order),
        total=number(order.get("totalSumm"), "totalSumm", default=0.0),
        currency=text(order.get("currency")) or currency,
        lines=lines,
        updated_at=max(stamps),
        created_at=parse_datetime(order.get("createdAt"), tz, "createdAt"),
        customer=customer_from_order(order),
        receiver=as_dict(delivery.get("address")),
        channel_state=text(order.get("status")),
        payment_method=payment_method(order),
        raw=order,
    )


# --- catalogue -----------------------------------------------------------------------


def listings_from_product(product: Any, tz: tzinfo = UTC) -> list[ChannelListing]:
    """One listing per offer of a ``/store/products`` row.

    ``external_id`` is the offer's RetailCRM id. ``sku`` is the offer's ``article``
    (the product's when a single-offer product leaves it empty). The offer's
    ``externalId``, ``xmlId`` and ``site`` are kept in ``raw`` under those names, so the
    engine can map by the shop's or the warehouse's id as well.
    """
    if not isinstance(product, dict):
        raise PayloadError("a product is not an object")
    product_id = parse_id(product.get("id"), "product id")
    offers = as_rows(product.get("offers"))
    updated = parse_datetime(product.get("updatedAt"), tz, "product updatedAt")
    summary = {key: product.get(key) for key in ("id", "externalId", "article", "name", "active")}
    listings = []
    for offer in offers:
        row = as_dict(offer)
        offer_id = parse_id(row.get("id"), f"offer of product {product_id}")
        sku = text(row.get("article"))
        if not sku and len(offers) == 1:
            sku = text(product.get("article"))
        quantity = row.get("quantity")
        listings.append(
            ChannelListing(
                external_id=offer_id,
                product_id=product_id,
                variant_id=offer_id,
                sku=sku,
                name=text(row.get("name")) or text(product.get("name")),
                quantity=None if quantity is None else number(quantity, "offer quantity"),
                barcode=text(row.get("barcode")),
                updated_at=updated,
                raw={
                    "externalId": text(row.get("externalId")),
                    "xmlId": text(row.get("xmlId")),
                    "site": text(row.get("site")),
                    "purchasePrice": row.get("purchasePrice"),
                    "offer": row,
                    "product": summary,
                },
            )
        )
    return listings


@dataclass(frozen=True, slots=True)
class Store:
    """A RetailCRM store (warehouse) from ``/reference/stores``."""

    code: str
    name: str
    type: str = ""
    inventory_type: str = "integer"  # "integer" counts, "available" is a yes/no flag
    active: bool = True
    external_id: str = ""
    xml_id: str = ""


def store_from_payload(row: Any) -> Store:
    data = as_dict(row)
    code = text(data.get("code"))
    if not code:
        raise PayloadError("a store has no code")
    return Store(
        code=code,
        name=text(data.get("name")) or code,
        type=text(data.get("type")),
        inventory_type=text(data.get("inventoryType")) or "integer",
        active=data.get("active") is not False,
        external_id=text(data.get("externalId")),
        xml_id=text(data.get("xmlId")),
    )


@dataclass(frozen=True, slots=True)
class ProductGroup:
    """A catalogue group from ``/store/product-groups``."""

    id: str
    name: str
    external_id: str = ""
    parent_id: str | None = None
    site: str = ""
    active: bool = True


def product_group_from_payload(row: Any) -> ProductGroup:
    data = as_dict(row)
    parent = data.get("parentId")
    return ProductGroup(
        id=parse_id(data.get("id"), "product group id"),
        name=text(data.get("name")),
        external_id=text(data.get("externalId")),
        parent_id=None if parent in (None, "", 0) else parse_id(parent, "parent group id"),
        site=text(data.get("site")),
        active=data.get("active") is not False,
    )


# --- integration module --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModuleState:
    """The account's view of the Stockbridge module (``GET /integration-modules/{code}``)."""

    code: str
    name: str
    active: bool
    base_url: str
    store_actions: list[dict[str, Any]] = field(default_factory=list)
    is_warehouse: bool = False  # registered with an ``integrations.store`` section
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def registered(self) -> bool:
        """Active and declared as a warehouse system: what ``shipped`` edits require."""
        return self.active and self.is_warehouse


def module_state_from_payload(module: Any) -> ModuleState:
    data = as_dict(module)
    code = text(data.get("code"))
    if not code:
        raise PayloadError("the integration module has no code")
    integrations = as_dict(data.get("integrations"))
    store = integrations.get("store")
    return ModuleState(
        code=code,
        name=text(data.get("name")),
        active=data.get("active") is True,
        base_url=text(data.get("baseUrl")),
        store_actions=[as_dict(a) for a in as_rows(as_dict(store).get("actions"))],
        is_warehouse=isinstance(store, dict),
        raw=data,
    )


@dataclass(frozen=True, slots=True)
class ModuleRegistration:
    """What :meth:`RetailCrmClient.register_module` sent and RetailCRM answered.

    ``client_id`` is the secret RetailCRM will send back in callbacks: keep it.
    """

    code: str
    client_id: str
    base_url: str
    created: bool  # 201: the module is new in this account; 200: it was updated
    callbacks: bool  # the inventoriesUpload callback was switched on
    info: dict[str, Any] = field(default_factory=dict)
