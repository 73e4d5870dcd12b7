"""The order lifecycle and the stock effect of every status, defined once.

Stock effects are expressed as *targets per order line*: for each status, how much of
the line should currently be committed (reserved, still on the shelf) and how much
should currently be deducted from on-hand (gone, or promised and picked). A transition
moves stock by the difference between the line's current holding and the new target.
That makes every transition — including jumps such as requested → delivered, and
repeats after a retry — produce exactly the right movements, and makes stock
conserved by construction.

Sellar's reference example: 10 in stock, order of 2 requested → on hand 10,
committed 2, available 8; confirmed → on hand 8, committed 0, available 8.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.models import OrderStatus

S = OrderStatus

# Which statuses a merchant (or a channel) may move an order to from each status.
# Channels report what happened on their side, so imports may also jump forward;
# the merchant's own actions follow these arrows.
ALLOWED: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.REQUESTED: frozenset({S.CONFIRMED, S.DISPATCHED, S.DELIVERED, S.CANCELLED}),
    S.CONFIRMED: frozenset({S.DISPATCHED, S.DELIVERED, S.CANCELLED}),
    S.DISPATCHED: frozenset({S.DELIVERED, S.CANCELLED, S.RETURNED}),
    S.DELIVERED: frozenset({S.RETURNED}),
    S.CANCELLED: frozenset(),
    S.RETURNED: frozenset(),
}

# Statuses that close an order: nothing is committed or deducted any more.
CLOSED = frozenset({S.CANCELLED, S.RETURNED})
# Statuses in which the goods have left (or are about to leave) the shelf.
DEDUCTED = frozenset({S.CONFIRMED, S.DISPATCHED, S.DELIVERED})
# Statuses recorded for history only on a channel's first import (the merchant's stock
# count already reflects them).
HISTORY_ON_FIRST_IMPORT = frozenset({S.DISPATCHED, S.DELIVERED, S.CANCELLED, S.RETURNED})

# Merchant-facing words for each status.
LABELS: dict[OrderStatus, str] = {
    S.REQUESTED: "New",
    S.CONFIRMED: "Confirmed",
    S.DISPATCHED: "Dispatched",
    S.DELIVERED: "Delivered",
    S.CANCELLED: "Cancelled",
    S.RETURNED: "Returned",
}

# Rank along the happy path, for "is this a step forward" questions.
_RANK = {S.REQUESTED: 0, S.CONFIRMED: 1, S.DISPATCHED: 2, S.DELIVERED: 3}


class TransitionError(ValueError):
    """A merchant asked for a move the lifecycle does not allow."""


@dataclass(frozen=True, slots=True)
class Holding:
    """What one order line holds of its product's stock right now."""

    committed: float = 0.0
    deducted: float = 0.0


@dataclass(frozen=True, slots=True)
class Movement:
    """The stock change a transition causes for one line: deltas to on-hand and committed."""

    on_hand: float
    committed: float

    @property
    def is_zero(self) -> bool:
        return self.on_hand == 0 and self.committed == 0


def target_holding(status: OrderStatus, quantity: float, fulfil: bool = True) -> Holding:
    """How much a line of ``quantity`` should hold in ``status``.

    A line the merchant chose not to fulfil (partial confirmation) holds nothing once
    the order is past requested.
    """
    if status in CLOSED:
        return Holding()
    if status is S.REQUESTED:
        return Holding(committed=quantity)
    if not fulfil:
        return Holding()
    return Holding(deducted=quantity)


def movement_between(current: Holding, target: Holding) -> Movement:
    """The ledger movement that takes a line from ``current`` to ``target``.

    Deducting means on-hand goes down; the committed quantity that covered it is
    released at the same moment, so confirm gives (on_hand −q, committed −q).
    """
    return Movement(
        on_hand=-(target.deducted - current.deducted),
        committed=target.committed - current.committed,
    )


def check_transition(current: OrderStatus, target: OrderStatus) -> None:
    """Raise TransitionError when a merchant action would move an order backwards."""
    if target == current:
        raise TransitionError(f"The order is already {LABELS[current].lower()}.")
    if target not in ALLOWED[current]:
        raise TransitionError(
            f"A {LABELS[current].lower()} order cannot be marked {LABELS[target].lower()}."
        )


def is_forward(current: OrderStatus, target: OrderStatus) -> bool:
    """True when ``target`` is further along the happy path than ``current``."""
    return _RANK.get(target, -1) > _RANK.get(current, -1)


def opening_holding(status: OrderStatus, quantity: float, fulfil: bool = True) -> Holding:
    """The holding recorded *without a movement* for history orders on a first import.

    A dispatched or delivered order already left the shelf before the count; recording
    it as deducted means a later return puts the goods back correctly. Cancelled and
    returned orders hold nothing.
    """
    if status in CLOSED:
        return Holding()
    return Holding(deducted=quantity if fulfil else 0.0)
