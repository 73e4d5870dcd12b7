"""Choosing the Sello status that carries a local order change. Pure functions.

Sello has no fulfilment steps: moving an order means setting its ``status_id`` to one
of the account's statuses. The status to set is found by reversing the mapping
(flags by default, the merchant's ``status_map`` on top, see
:func:`app.channels.sello.mapping.status_lifecycle`): among the statuses that map to
the wanted local status, pick one that does not change whether the order is paid.

Payment is not ours to claim: a status flagged paid would tell Sello (and the merchant's
books there) that money arrived. So an unpaid order is never moved to a paid status as
a side effect of a progress or cancel push; the merchant gets a message saying which
mapping to add instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.channels.errors import Rejected
from app.channels.sello.mapping import (
    SelloStatus,
    flag,
    lifecycle_from_flags,
    optional_id,
    parse_id,
    status_lifecycle,
    statuses_by_id,
)
from app.core.lifecycle import LABELS
from app.core.models import OrderStatus

# Progress targets a push may ask for, ranked along the happy path.
_RANK = {
    OrderStatus.REQUESTED: 0,
    OrderStatus.CONFIRMED: 1,
    OrderStatus.DISPATCHED: 2,
    OrderStatus.DELIVERED: 3,
}
_CLOSED = frozenset({OrderStatus.CANCELLED, OrderStatus.RETURNED})


def current_lifecycle(
    order: Mapping[str, Any],
    statuses: dict[str, SelloStatus],
    status_map: Mapping[str, OrderStatus] | None,
) -> tuple[OrderStatus, SelloStatus | None]:
    """The local status an order is in now, and its Sello status when listed."""
    order_id = parse_id(order.get("id"), "order id")
    status_id = optional_id(order.get("status_id"), f"order {order_id} status_id")
    status = statuses.get(status_id) if status_id else None
    if status is not None:
        return status_lifecycle(status, status_map), status
    if status_id and status_map and status_id in status_map:
        return OrderStatus(status_map[status_id]), None
    where = f"order {order_id}"
    return (
        lifecycle_from_flags(
            active=flag(order.get("is_active"), f"{where} is_active"),
            paid=flag(order.get("is_paid"), f"{where} is_paid"),
            delivered=flag(order.get("is_delivered"), f"{where} is_delivered"),
            deleted=flag(order.get("is_deleted"), f"{where} is_deleted"),
        ),
        None,
    )


def status_change_for(
    kind: str,
    target: OrderStatus | None,
    order: Mapping[str, Any],
    statuses: Any,
    status_map: Mapping[str, OrderStatus] | None = None,
) -> SelloStatus | None:
    """The status to move ``order`` to for a ``progress`` or ``cancel`` push.

    Returns None when nothing needs sending: the order is already in a status that
    maps to the target, or (for progress) already further along the happy path —
    a retry after success, or the merchant moved it in Sello first. Raises
    :class:`Rejected` with a merchant-readable reason when no status fits.
    """
    table = statuses_by_id(statuses)
    order_id = parse_id(order.get("id"), "order id")
    wanted = _wanted(kind, target)
    current, current_status = current_lifecycle(order, table, status_map)
    if current == wanted:
        return None
    where = f"order {order_id}"
    shown = current_status.title if current_status else LABELS[current].lower()
    if kind == "progress":
        if current in _CLOSED:
            raise Rejected(f"{where} is {LABELS[current].lower()} on Sello ({shown})")
        if _RANK[current] > _RANK[wanted]:
            return None  # already past the target: never move an order back
    elif current is OrderStatus.DELIVERED:
        raise Rejected(f"{where} is already delivered on Sello ({shown}) and cannot be cancelled")
    elif current in _CLOSED:
        return None
    candidates = sorted(
        (s for s in table.values() if status_lifecycle(s, status_map) == wanted),
        key=lambda s: (s.is_deleted, int(s.id)),
    )
    label = LABELS[wanted]
    if not candidates:
        known = ", ".join(f"{s.title} ({s.id})" for s in table.values()) or "none"
        raise Rejected(
            f'no Sello status is mapped to "{label}", so {where} cannot be marked'
            f" {label.lower()}. Map one of the Sello statuses to it in the channel's"
            f" status mapping (Sello statuses: {known})."
        )
    paid = _order_paid(order, current_status, where)
    same_payment = [s for s in candidates if s.is_paid == paid]
    if same_payment:
        return same_payment[0]
    if not paid:
        names = ", ".join(s.title for s in candidates)
        raise Rejected(
            f"{where} is unpaid on Sello, and every status mapped to"
            f' "{label}" ({names}) would also mark it paid. Map an unpaid Sello status'
            f' to "{label}", or record the payment in Sello first.'
        )
    # A paid order may move to an unpaid status (e.g. a plain "Cancelled"): that
    # claims nothing about money arriving.
    return candidates[0]


def _wanted(kind: str, target: OrderStatus | None) -> OrderStatus:
    if kind == "cancel":
        return OrderStatus.CANCELLED
    if kind != "progress":
        raise Rejected(f"Sello orders take no change called {kind!r}")
    if target is None or OrderStatus(target) not in _RANK or target is OrderStatus.REQUESTED:
        raise Rejected(
            "Sello orders can only be moved to confirmed, dispatched or delivered"
            f" (asked: {target or 'nothing'})"
        )
    return OrderStatus(target)


def _order_paid(order: Mapping[str, Any], status: SelloStatus | None, where: str) -> bool:
    if order.get("is_paid") is not None:
        return flag(order.get("is_paid"), f"{where} is_paid")
    return bool(status and status.is_paid)
