"""Reading values out of platform payloads, shared by every channel's mapping.

Platforms send numbers as numbers or strings and leave fields null or empty; these turn
them into clean values or a PayloadError that names the field.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from app.channels.errors import PayloadError


def text(value: Any) -> str:
    """A stripped string; None becomes empty."""
    return "" if value is None else str(value).strip()


def number(value: Any, what: str, *, default: float | None = None) -> float:
    """A finite float from a number or numeric string; ``default`` when null or empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if default is None:
            raise PayloadError(f"{what} is missing")
        return default
    if isinstance(value, bool):  # bool is an int subclass; a flag is not an amount
        raise PayloadError(f"{what} is not a number ({value!r})")
    try:
        result = float(value)
    except (TypeError, ValueError, OverflowError):
        raise PayloadError(f"{what} is not a number ({value!r})") from None
    if not math.isfinite(result):
        raise PayloadError(f"{what} is not a finite number ({value!r})")
    return result


# Above this a numeric timestamp is in milliseconds (1e11 s is the year 5138).
MILLIS_THRESHOLD = 100_000_000_000


def identifier(value: Any, what: str) -> str:
    """A platform's integer id (int, integral float, digit string) as its canonical string.

    Leading zeros are dropped ("007" is 7); negative, fractional and non-digit values are
    refused with a PayloadError that names the field.
    """
    if value is None or isinstance(value, bool) or text(value) == "":
        raise PayloadError(f"{what} is missing")
    if isinstance(value, float):
        if value.is_integer() and value >= 0:
            return str(int(value))
        raise PayloadError(f"{what} is not an id ({value!r})")
    raw = text(value)
    if (isinstance(value, int) and value >= 0) or (raw.isascii() and raw.isdigit()):
        return str(int(raw))
    raise PayloadError(f"{what} is not an id ({value!r})")


def timestamp(value: Any, what: str = "timestamp") -> float | None:
    """Unix seconds from an ISO 8601 date-time or an epoch number; None for null or empty.

    Accepts ``Z`` and ``+01:00`` offsets, fractions longer than microseconds (trimmed),
    a space instead of ``T``, dates without a time, and epochs in seconds or milliseconds
    (as numbers or digit strings). A time without a zone is read as UTC.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        raw = str(value).strip()
        if not raw:
            return None
        try:
            seconds = float(raw)
        except ValueError:
            return _iso_seconds(raw, what)
    if not math.isfinite(seconds):
        raise PayloadError(f"{what} is not a date ({value!r})")
    return seconds / 1000.0 if seconds > MILLIS_THRESHOLD else seconds


def _iso_seconds(raw: str, what: str) -> float:
    cleaned = raw[:-1] + "+00:00" if raw[-1] in "Zz" else raw
    head, dot, tail = cleaned.partition(".")
    if dot:  # Python reads at most microseconds
        digits = len(tail) - len(tail.lstrip("0123456789"))
        cleaned = head + "." + tail[: min(digits, 6)] + tail[digits:]
    try:
        parsed = datetime.fromisoformat(cleaned)
    except ValueError:
        raise PayloadError(f"{what} is not a date ({raw!r})") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()
