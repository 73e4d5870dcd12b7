"""Last checks on an order before it touches the ledger, whatever the platform.

Each channel's mapping refuses what it cannot read; these rules catch what reads fine
but cannot be true (a negative or absurd quantity), so one hostile order is set aside
with its reason instead of failing the whole import.
"""

from __future__ import annotations

import math

from app.core.models import ChannelOrder

MAX_QUANTITY = 1_000_000.0  # no single order line of a small merchant is larger
MAX_AMOUNT = 1e12


def order_problem(order: ChannelOrder) -> str | None:
    """Why this order cannot be imported, or None when it can."""
    if not str(order.external_id).strip():
        return "the order has no id"
    if not _finite(order.total) or abs(order.total) > MAX_AMOUNT:
        return f"the order total {order.total!r} is not a believable amount"
    if not _finite(order.updated_at):
        return "the order's change time is not a time"
    for line in order.lines:
        where = f"line {line.external_id or '?'}"
        if not _finite(line.quantity):
            return f"{where}: the quantity {line.quantity!r} is not a number"
        if line.quantity < 0:
            return f"{where}: the quantity {line.quantity:g} is negative"
        if line.quantity > MAX_QUANTITY:
            return f"{where}: the quantity {line.quantity:g} is not believable"
        if not _finite(line.unit_price) or abs(line.unit_price) > MAX_AMOUNT:
            return f"{where}: the price {line.unit_price!r} is not a believable amount"
    return None


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
