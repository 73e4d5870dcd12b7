"""Listings' other identifiers (RetailCRM's externalId and xmlId), kept beside them."""

from __future__ import annotations

from collections.abc import Iterable

from app.core.models import ChannelListing
from app.store.db import Database


def remember(
    db: Database, channel_id: int, listings: Iterable[ChannelListing], kinds: Iterable[str]
) -> None:
    """Keep each listing's ``raw[kind]`` values (an empty value forgets the old one)."""
    kinds = tuple(kinds)
    items = list(listings)
    if not kinds or not items:
        return
    with db.transaction() as conn:
        for item in items:
            row = conn.execute(
                "SELECT id FROM listings WHERE channel_id = ? AND external_id = ?",
                (channel_id, item.external_id),
            ).fetchone()
            if row is None:
                continue
            for kind in kinds:
                value = str((item.raw or {}).get(kind) or "").strip()
                if value:
                    conn.execute(
                        "INSERT INTO listing_identifiers (listing_id, kind, value) VALUES (?, ?, ?)"
                        " ON CONFLICT (listing_id, kind) DO UPDATE SET value = excluded.value",
                        (row["id"], kind, value),
                    )
                else:
                    conn.execute(
                        "DELETE FROM listing_identifiers WHERE listing_id = ? AND kind = ?",
                        (row["id"], kind),
                    )


def identifiers(db: Database, channel_id: int) -> dict[int, dict[str, str]]:
    """``{listing id: {kind: value}}`` for every listing of the channel that has any."""
    found: dict[int, dict[str, str]] = {}
    for r in db.all(
        "SELECT i.listing_id, i.kind, i.value FROM listing_identifiers i"
        " JOIN listings l ON l.id = i.listing_id WHERE l.channel_id = ?",
        (channel_id,),
    ):
        found.setdefault(int(r["listing_id"]), {})[r["kind"]] = r["value"]
    return found


def listing_ids_by(db: Database, channel_id: int, kind: str) -> dict[str, str]:
    """``{identifier value: listing external id}`` for one kind of identifier."""
    return {
        r["value"]: r["external_id"]
        for r in db.all(
            "SELECT i.value, l.external_id FROM listing_identifiers i"
            " JOIN listings l ON l.id = i.listing_id WHERE l.channel_id = ? AND i.kind = ?",
            (channel_id, kind),
        )
    }
