"""Planning a full-catalogue stock push that fits Sello's request budget. Pure.

Every Sello stock change is one ``PUT /products/{id}`` call, and an account gets 30 calls
a minute. A merchant with 2,000 products therefore needs over an hour to push them all;
the order in which they go out decides how long the channel shows a wrong number where
it hurts. :func:`plan_stock_pushes` orders the work and cuts it into waves of at most
``budget`` calls, one wave per rate-limit window, most urgent first:

1. **sell-outs** — the product is gone (target 0) but Sello still offers some: every
   minute it stays listed risks an order the merchant cannot fill;
2. **near zero** — the target or the quantity Sello shows is at or below
   ``low_stock``: a small stock is the one a few orders can oversell, and a product
   showing 0 while back in stock loses sales;
3. **everything else**.

Within each group the product whose available stock changed most recently goes first
(it is the one most likely to be wrong on the channel), then decreases before
increases, then the listing id so the plan is deterministic. Pushes that would not
change what Sello shows are dropped: they would spend budget for nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from app.core.models import ChannelListing

DEFAULT_LOW_STOCK = 3.0


@dataclass(frozen=True, slots=True)
class StockPushCandidate:
    """One listing whose quantity on Sello should become ``quantity``.

    ``listing.quantity`` is what Sello shows as far as the engine knows (None:
    unknown). ``changed_at`` is when the local available stock last changed (Unix
    seconds; None: unknown, sorts as oldest).
    """

    listing: ChannelListing
    quantity: float
    changed_at: float | None = None

    @property
    def target(self) -> int:
        """What will be sent: Sello keeps whole units, never below zero."""
        return sello_quantity(self.quantity)


def sello_quantity(quantity: float) -> int:
    """The whole, non-negative quantity Sello stores for a local available quantity.

    Rounded down: promising a fraction of a unit that is not there would oversell.
    """
    if quantity != quantity or quantity <= 0:  # NaN or nothing left
        return 0
    return int(math.floor(quantity + 1e-9))


def plan_stock_pushes(
    items: Iterable[StockPushCandidate],
    budget: int,
    *,
    low_stock: float = DEFAULT_LOW_STOCK,
) -> list[list[StockPushCandidate]]:
    """Order ``items`` by urgency and cut them into waves of at most ``budget`` pushes.

    Wave ``i`` is meant to start ``i`` rate-limit windows after the first (one minute
    apart on a default Sello account); ``budget`` is the number of calls the caller
    can spend on stock in one window, after what order syncing needs. A listing that
    appears more than once keeps its last candidate.
    """
    if budget < 1:
        raise ValueError("a stock push plan needs a budget of at least one call per window")
    latest: dict[str, StockPushCandidate] = {}
    for item in items:
        latest[item.listing.external_id] = item
    due = [item for item in latest.values() if _changes_channel(item)]
    due.sort(key=lambda item: _urgency(item, low_stock))
    return [due[start : start + budget] for start in range(0, len(due), budget)]


def _changes_channel(item: StockPushCandidate) -> bool:
    shown = item.listing.quantity
    return shown is None or float(shown) != float(item.target)


def _tier(item: StockPushCandidate, low_stock: float) -> int:
    target = item.target
    shown = item.listing.quantity
    if target == 0 and (shown is None or shown > 0):
        return 0
    if target <= low_stock or (shown is not None and shown <= low_stock):
        return 1
    return 2


def _urgency(item: StockPushCandidate, low_stock: float) -> tuple[int, float, int, int, str]:
    shown = item.listing.quantity
    decrease = 0 if shown is None or item.target < shown else 1
    changed = item.changed_at if item.changed_at is not None else -math.inf
    return (_tier(item, low_stock), -changed, decrease, item.target, item.listing.external_id)
