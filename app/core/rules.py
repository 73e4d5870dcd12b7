"""What a channel lets the merchant do from Stockbridge, as plain data.

Built by the channel registry from each client's declared capabilities, and used by the
order book to refuse, in merchant words, what a platform does not accept (Sellar orders
are confirmed and cancelled in Sellar itself, for instance) instead of queueing pushes
that can only fail.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.channels.base import (
    CAP_CANCEL,
    CAP_INVOICE,
    CAP_PAID,
    CAP_PROGRESS,
    CAP_RETURN,
    CAP_TRACKING,
)
from app.core.models import OrderStatus

ALL_PROGRESS = frozenset({OrderStatus.CONFIRMED, OrderStatus.DISPATCHED, OrderStatus.DELIVERED})


@dataclass(frozen=True, slots=True)
class ChannelRules:
    label: str = "the channel"
    capabilities: frozenset[str] = frozenset({CAP_PROGRESS, CAP_TRACKING, CAP_CANCEL, CAP_RETURN})
    progress_targets: frozenset[OrderStatus] = ALL_PROGRESS
    # Payment methods an order may be marked paid for; empty = any.
    manual_payment_methods: frozenset[str] = field(default_factory=frozenset)

    def can_push_progress(self, target: OrderStatus) -> bool:
        return CAP_PROGRESS in self.capabilities and target in self.progress_targets

    @property
    def confirms_itself(self) -> bool:
        """The platform confirms orders on its own side; the merchant cannot confirm here."""
        return (
            CAP_PROGRESS in self.capabilities and OrderStatus.CONFIRMED not in self.progress_targets
        )

    @property
    def tracking(self) -> bool:
        return CAP_TRACKING in self.capabilities

    @property
    def cancel(self) -> bool:
        return CAP_CANCEL in self.capabilities

    @property
    def returns(self) -> bool:
        return CAP_RETURN in self.capabilities

    @property
    def invoices(self) -> bool:
        return CAP_INVOICE in self.capabilities

    def can_mark_paid(self, payment_method: str) -> bool:
        if CAP_PAID not in self.capabilities:
            return False
        return not self.manual_payment_methods or payment_method in self.manual_payment_methods
