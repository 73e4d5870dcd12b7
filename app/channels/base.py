"""The protocol the sync engine relies on. Each platform's client implements it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Protocol, Self, runtime_checkable

from app.core.models import ChannelListing, OrderPage, OrderPush, ShopInfo

if TYPE_CHECKING:
    from app.channels.http_util import HttpSession

# Capability names a client may declare in ``capabilities``.
CAP_ORDERS = "orders"
CAP_LISTINGS = "listings"
CAP_STOCK_PUSH = "stock_push"
CAP_PROGRESS = "progress"
CAP_PARTIAL_CONFIRM = "partial_confirm"
CAP_TRACKING = "tracking"
CAP_CANCEL = "cancel"
CAP_RETURN = "return"
CAP_PAID = "paid"
CAP_INVOICE = "invoice"
# The client implements ``push_stock_batch`` (many listings per request); the engine
# then hands it every due stock push of a drain at once.
CAP_STOCK_BATCH = "stock_batch"


@runtime_checkable
class ChannelClient(Protocol):
    platform: str
    capabilities: frozenset[str]

    async def aclose(self) -> None: ...

    async def check_connection(self) -> ShopInfo:
        """Cheap authenticated call; raises AuthFailed / AccessDenied / ConnectionFailed."""
        ...

    def fetch_orders(self, since: float | None) -> AsyncIterator[OrderPage]:
        """Orders changed after ``since`` (Unix seconds; None = everything), page by page.

        Implementations apply their own overlap window to ``since`` so that nothing
        changed in the same second is missed; the store's idempotent upsert absorbs the
        repeats.
        """
        ...

    def fetch_listings(self) -> AsyncIterator[list[ChannelListing]]:
        """The whole catalogue as listings (one per product without variants, one per variant)."""
        ...

    async def push_stock(self, listing: ChannelListing, quantity: float) -> None:
        """Set the channel's quantity for one listing to ``quantity`` (absolute)."""
        ...

    async def push_order(self, push: OrderPush) -> None:
        """Apply an order change on the channel. Must be safe to repeat (read before write)."""
        ...


@runtime_checkable
class BatchStockClient(Protocol):
    async def push_stock_batch(self, items: list[tuple[ChannelListing, float]]) -> list[str]:
        """Set many listings' quantities; returns the external ids the channel did not know."""
        ...


class SessionClient:
    """Base of the clients that talk through one HttpSession: closing and ``async with``."""

    _session: HttpSession

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._session.aclose()
