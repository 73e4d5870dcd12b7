"""Stock arithmetic: available stock and what a channel is told."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StockLevel:
    product_id: int
    sku: str
    name: str
    on_hand: float
    committed: float
    safety_buffer: float = 0.0

    @property
    def available(self) -> float:
        """On hand − committed − safety buffer; may be negative locally (oversold)."""
        return available(self.on_hand, self.committed, self.safety_buffer)

    @property
    def sellable(self) -> float:
        """What channels are told: available, never below zero."""
        return channel_quantity(self.on_hand, self.committed, self.safety_buffer)


def available(on_hand: float, committed: float, safety_buffer: float = 0.0) -> float:
    return on_hand - committed - safety_buffer


def channel_quantity(on_hand: float, committed: float, safety_buffer: float = 0.0) -> float:
    """The quantity pushed to a channel: available stock, floored at zero."""
    value = available(on_hand, committed, safety_buffer)
    return value if value > 0 else 0.0


def normalise_sku(sku: str | None) -> str:
    """SKUs compare exactly, but surrounding whitespace is never meaningful."""
    return (sku or "").strip()
