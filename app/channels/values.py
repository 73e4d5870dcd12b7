"""Reading values out of platform payloads, shared by every channel's mapping.

Platforms send numbers as numbers or strings and leave fields null or empty; these turn
them into clean values or a PayloadError that names the field.
"""

from __future__ import annotations

import math
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
