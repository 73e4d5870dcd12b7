"""Rules for linking channel listings to local products by SKU.

Automatic only where the SKU is exact, non-empty and unique on both sides; every
other case is handed to the merchant with the reason.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from app.core.stock import normalise_sku

EMPTY_SKU = "the listing has no SKU"
DUPLICATE_ON_CHANNEL = "the SKU is used by several listings on this channel"
NO_PRODUCT = "no local product has this SKU"


@dataclass(frozen=True, slots=True)
class ListingView:
    """What the planner needs to know of a listing."""

    id: int
    external_id: str
    sku: str
    linked: bool
    ignored: bool


@dataclass(slots=True)
class LinkPlan:
    links: list[tuple[int, int]] = field(default_factory=list)  # (listing id, product id)
    conflicts: list[tuple[int, str]] = field(default_factory=list)  # (listing id, reason)
    unmapped: list[tuple[int, str]] = field(default_factory=list)  # (listing id, reason)


def plan_sku_links(listings: list[ListingView], product_ids_by_sku: dict[str, int]) -> LinkPlan:
    """Which unlinked listings can be linked by SKU, and why the others cannot."""
    counts = Counter(normalise_sku(item.sku) for item in listings if normalise_sku(item.sku))
    plan = LinkPlan()
    for item in listings:
        if item.linked or item.ignored:
            continue
        sku = normalise_sku(item.sku)
        if not sku:
            plan.conflicts.append((item.id, EMPTY_SKU))
        elif counts[sku] > 1:
            plan.conflicts.append((item.id, DUPLICATE_ON_CHANNEL))
        elif sku in product_ids_by_sku:
            plan.links.append((item.id, product_ids_by_sku[sku]))
        else:
            plan.unmapped.append((item.id, NO_PRODUCT))
    return plan
