"""Small read queries the sync engine needs about what is already stored."""

from __future__ import annotations

from app.store.db import Database


def known_orders(db: Database, channel_id: int, since: float | None) -> dict[str, float]:
    """External id → the channel's updated_at, for orders changed at or after ``since``.

    Lets a client skip re-reading details (Sello's order rows) of orders it already
    holds unchanged.
    """
    if since is None:
        return {}
    rows = db.all(
        "SELECT external_id, channel_updated_at FROM orders WHERE channel_id = ? AND channel_updated_at >= ?",
        (channel_id, since),
    )
    return {r[0]: r[1] for r in rows}
