"""Plain domain records shared by channels, store, sync and UI.

Channel clients turn platform payloads into these records (pure functions in each
channel's mapping.py); the store persists them; the UI shows them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class OrderStatus(StrEnum):
    """The local order lifecycle, the same for every channel."""

    REQUESTED = "requested"
    CONFIRMED = "confirmed"
    DISPATCHED = "dispatched"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    RETURNED = "returned"


class PaymentStatus(StrEnum):
    UNPAID = "unpaid"
    PAID = "paid"
    ON_DELIVERY = "cash_on_delivery"
    REFUNDED = "refunded"


class LinkMethod(StrEnum):
    SKU = "sku"
    ID = "id"
    MANUAL = "manual"


@dataclass(slots=True)
class ChannelCustomer:
    """A buyer as the channel knows them. ``ref`` is the channel's stable reference."""

    ref: str
    name: str = ""
    email: str = ""
    phone: str = ""
    postcode: str = ""
    guest: bool = False


@dataclass(slots=True)
class ChannelOrderLine:
    """One line of a channel order.

    ``listing_id`` is the external id of the channel listing (product or variant) the
    line sells, in the same form as ``ChannelListing.external_id``.
    """

    external_id: str
    listing_id: str
    sku: str
    name: str
    quantity: float
    unit_price: float = 0.0
    mpn: str = ""
    barcode: str = ""


@dataclass(slots=True, eq=False)
class RawPage:
    """A page of orders as the channel sent it: the response body, byte for byte.

    Kept (compressed) as the payload of the orders imported from it, which saves
    encoding each order's decoded copy again. ``path`` leads from the top of the JSON
    to the list of orders; an order's ``source`` names its place in that list.
    """

    body: bytes
    path: tuple[str, ...]


@dataclass(slots=True)
class ChannelOrder:
    """An order as pulled from a channel, already translated to local words."""

    external_id: str
    number: str
    status: OrderStatus
    payment_status: PaymentStatus
    total: float
    currency: str
    lines: list[ChannelOrderLine]
    updated_at: float  # Unix seconds, as the channel reports it (cursor material)
    created_at: float | None = None
    customer: ChannelCustomer | None = None
    receiver: dict[str, Any] = field(default_factory=dict)
    tracking_code: str = ""
    tracking_url: str = ""
    invoice_number: str = ""
    channel_state: str = ""  # the platform's own state words, for display
    # How the buyer pays, in the platform's words ("stripe", "manual", "cod", ...).
    # Decides whether the merchant may mark the order paid on the channel.
    payment_method: str = ""
    raw: dict[str, Any] = field(default_factory=dict)
    # Where ``raw`` sits in the page as sent (page, index in its list of orders), when
    # the client kept the page; None otherwise.
    source: tuple[RawPage, int] | None = field(default=None, repr=False, compare=False)


@dataclass(slots=True)
class ChannelListing:
    """A channel's product or variant: the unit that carries a SKU and a quantity there.

    ``external_id`` is unique within the channel. For platforms with variants it
    combines product and variant ids (e.g. ``"6120:18044"``); ``product_id`` and
    ``variant_id`` keep the parts for API calls.
    """

    external_id: str
    product_id: str
    variant_id: str | None
    sku: str
    name: str
    quantity: float | None
    mpn: str = ""
    barcode: str = ""
    updated_at: float | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class QuarantinedItem:
    """A payload the mapping refused: kept with its reason, never dropped."""

    kind: str  # "order", "listing", ...
    external_id: str
    reason: str
    raw: Any


@dataclass(slots=True)
class OrderPage:
    """One page of pulled orders: the good ones and the refused ones."""

    orders: list[ChannelOrder]
    quarantined: list[QuarantinedItem] = field(default_factory=list)


@dataclass(slots=True)
class OrderPush:
    """An outbound order change, as the outbox hands it to a channel client.

    kind:
      - ``progress``: move the channel's order to ``target`` (a lifecycle status among
        confirmed, dispatched, delivered). ``fulfil_line_ids`` lists the external line
        ids to fulfil when confirming (None = all lines).
      - ``tracking``: set ``tracking_code`` / ``tracking_url``.
      - ``cancel``: cancel / reject the order on the channel.
      - ``return``: tell the channel the shipment came back.
      - ``paid``: mark a manual-payment order paid.
      - ``invoice``: write ``invoice_number``.
    """

    kind: str
    order_external_id: str
    target: OrderStatus | None = None
    fulfil_line_ids: list[str] | None = None
    tracking_code: str = ""
    tracking_url: str = ""
    invoice_number: str = ""
    reason: str = ""


@dataclass(slots=True)
class ShopInfo:
    """What a connection test learns about the account."""

    name: str
    account_id: str
    currency: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
