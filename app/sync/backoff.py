"""Retry timing for outbox rows."""

from __future__ import annotations

import random

BASE_DELAY = 5.0
MAX_DELAY = 3600.0


def retry_delay(
    attempts: int, retry_after: float | None = None, rng: random.Random | None = None
) -> float:
    """Exponential backoff with ±20 % jitter, never sooner than the server asked."""
    rng = rng or random
    delay = min(MAX_DELAY, BASE_DELAY * (2 ** max(0, attempts)))
    delay *= rng.uniform(0.8, 1.2)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay
