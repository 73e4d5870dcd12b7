"""The protocol the sync engine relies on. Each platform's client implements it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol, Self, runtime_checkable

from app.channels.errors import PayloadError
from app.core.models import ChannelListing, OrderPage, OrderPush, QuarantinedItem, ShopInfo

if TYPE_CHECKING:
    from app.channels.http_util import HttpSession

log = logging.getLogger(__name__)

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
    """Base of the clients that talk through one HttpSession: closing and ``async with``,
    and reading catalogue pages whose bad rows are set aside."""

    _session: HttpSession
    # Malformed catalogue rows of the last fetch_listings pass: the protocol's listing
    # pages have no room for them, so they wait here for the caller.
    quarantined_listings: list[QuarantinedItem]

    def read_listings(
        self,
        rows: Iterable[Any],
        read: Callable[[Any], Iterable[ChannelListing]],
        *,
        what: str,
        row_id: Callable[[Any], str],
        seen: set[str] | None = None,
    ) -> list[ChannelListing]:
        """The listings of one page of catalogue rows (``read`` turns a row into them).

        A row that cannot be read is logged and set aside in ``quarantined_listings``
        with its reason and payload while the rest of the page goes on; with ``seen``,
        listings an earlier page already gave are dropped.
        """
        listings: list[ChannelListing] = []
        for row in rows:
            try:
                found = list(read(row))
            except PayloadError as exc:
                raw_id = row_id(row) or "?"
                log.warning("%s %s skipped: %s", what, raw_id, exc.message)
                self.quarantined_listings.append(
                    QuarantinedItem("listing", raw_id, exc.message, row)
                )
                continue
            for listing in found:
                if seen is None or listing.external_id not in seen:
                    if seen is not None:
                        seen.add(listing.external_id)
                    listings.append(listing)
        return listings

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._session.aclose()
