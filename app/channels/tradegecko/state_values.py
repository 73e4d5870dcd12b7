"""Shared pieces of the sandbox state: refusals, record stamps and request values."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

ORDER_STATES = ("draft", "active", "finalized", "fulfilled", "void", "deleted")
SETTABLE_ORDER_STATES = ("draft", "active", "finalized")
COMMITTING_STATES = frozenset({"active", "finalized"})
LINE_TYPES = ("product", "discount", "shipping", "rounding", "fee", "gift_wrap")
WEBHOOK_EVENTS = (
    "account.update",
    "address.create",
    "address.update",
    "channel.destroy",
    "company.create",
    "company.update",
    "company.destroy",
    "contact.create",
    "contact.update",
    "document_theme.update",
    "fulfillment.create",
    "fulfillment.fulfilled",
    "fulfillment_return.create",
    "fulfillment_return.received",
    "invoice.create",
    "invoice.destroy",
    "location.create",
    "location.update",
    "order.create",
    "order.finalized",
    "order.fulfilled",
    "payment.create",
    "product.create",
    "product.destroy",
    "procurement.create",
    "purchase_order.create",
    "purchase_order.received",
    "stock_adjustment.create",
    "stock_transfer.create",
    "variant.create",
    "variant.stock_level_update",
    "image.create",
)
GST_RATE = 0.15

EventListener = Callable[[str, int, str], None]  # (event, object id, resource plural)


class Invalid(Exception):
    """A validation failure: TradeGecko's 422 ``{"errors": {field: [messages]}}``."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k} {', '.join(v)}" for k, v in errors.items()))
        self.errors = errors


class Missing(LookupError):
    """No such record: 404."""


class BadRequest(ValueError):
    """A malformed request (missing root key, wrong types): 400."""


def iso(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def day(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%d")


def parse_time(value: Any) -> float | None:
    """ISO 8601 date-time or date (UTC when naive) → seconds; None when unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    text = text[:-1] + "+00:00" if text[-1] in "Zz" else text
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def decimal(
    value: Any, field: str, errors: dict[str, list[str]], *, positive: bool = False
) -> float | None:
    """A number from a request (decimal string or number); records an error when not."""
    if isinstance(value, bool) or value is None or (isinstance(value, str) and not value.strip()):
        errors[field].append("can't be blank")
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        errors[field].append("is not a number")
        return None
    if number != number or number in (float("inf"), float("-inf")):
        errors[field].append("is not a number")
        return None
    if positive and number <= 0:
        errors[field].append("must be greater than 0")
        return None
    return number


def record_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


__all__ = [
    "COMMITTING_STATES",
    "GST_RATE",
    "LINE_TYPES",
    "ORDER_STATES",
    "SETTABLE_ORDER_STATES",
    "WEBHOOK_EVENTS",
    "BadRequest",
    "EventListener",
    "Invalid",
    "Missing",
    "day",
    "decimal",
    "iso",
    "parse_time",
    "record_id",
]
