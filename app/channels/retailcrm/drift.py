"""Stock drift: where RetailCRM's numbers differ from what Stockbridge should show. Pure.

RetailCRM's stock can change without Stockbridge (a manager edits it, another
integration uploads, an upload was lost). ``GET /store/inventories`` tells what the CRM
holds per offer and store; :func:`compare` sets it beside what Stockbridge would send
now and keeps the pairs that differ, in the numbers the CRM would actually store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from app.channels.retailcrm.inventory import InventoryLevel, wire_available, wire_price


@dataclass(frozen=True, slots=True)
class Expected:
    """What Stockbridge should show of one offer in one store."""

    offer_id: str
    store: str
    quantity: float
    cost: float | None  # None: no local cost price, so RetailCRM's is left alone
    listing_id: int = 0
    sku: str = ""
    name: str = ""


@dataclass(frozen=True, slots=True)
class Drift:
    """One offer in one store whose RetailCRM numbers are not Stockbridge's."""

    offer_id: str
    store: str
    sku: str
    name: str
    crm_quantity: float
    quantity: float  # what Stockbridge sends
    crm_cost: float | None
    cost: float | None
    listing_id: int = 0

    @property
    def what(self) -> str:
        parts = []
        if self.crm_quantity != self.quantity:
            parts.append(f"stock {_n(self.crm_quantity)} instead of {_n(self.quantity)}")
        if self.cost is not None and self.crm_cost != self.cost:
            crm = "none" if self.crm_cost is None else _n(self.crm_cost)
            parts.append(f"cost price {crm} instead of {_n(self.cost)}")
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"what": self.what}


def compare(
    expected: Iterable[Expected],
    held: Iterable[InventoryLevel],
    store_types: Mapping[str, str] | None = None,
) -> list[Drift]:
    """The expected offer/store pairs whose CRM values differ, compared as the CRM keeps
    them (counts rounded as uploaded, yes/no stores as 1/0, prices to the cent).

    An offer/store the CRM has no row for holds nothing: zero stock, no cost price.
    """
    types = store_types or {}
    crm = {(level.offer_id, level.store): level for level in held}
    drifts = []
    for item in expected:
        kind = types.get(item.store, "integer")
        quantity = float(wire_available(item.quantity, kind))
        cost = wire_price(item.cost)
        level = crm.get((item.offer_id, item.store))
        crm_quantity = 0.0 if level is None else float(wire_available(level.quantity, kind))
        crm_cost = None if level is None else wire_price(level.purchase_price)
        cost_differs = cost is not None and crm_cost != cost
        if crm_quantity != quantity or cost_differs:
            drifts.append(
                Drift(
                    offer_id=item.offer_id,
                    store=item.store,
                    sku=item.sku,
                    name=item.name,
                    crm_quantity=crm_quantity,
                    quantity=quantity,
                    crm_cost=None if crm_cost is None else float(crm_cost),
                    cost=None if cost is None else float(cost),
                    listing_id=item.listing_id,
                )
            )
    drifts.sort(key=lambda d: (d.sku, d.offer_id, d.store))
    return drifts


def _n(value: float) -> str:
    return f"{value:g}"
