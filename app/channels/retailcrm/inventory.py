"""Stock and cost prices for RetailCRM's warehouse API, as plain data. No I/O.

``POST /store/inventories/upload`` (platforms/retailcrm.md §7.2) takes at most 250
offers per request; each offer is named by exactly one of ``id``, ``externalId`` or
``xmlId`` and lists its stores as ``{code, available, purchasePrice}``. Reads
(``GET /store/inventories``) answer in other words: ``{store, quantity,
purchasePrice}``. This module builds the upload batches, reads the answers, and keeps
track of what was last sent so unchanged offers are not sent again.

Change tracking is a plain dict the engine owns and persists::

    todo = changed_entries(entries, last_sent)
    result = await client.upload_inventories(todo)
    last_sent = sent_state(last_sent, todo, result.not_found)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.channels.errors import PayloadError
from app.channels.retailcrm.mapping import as_dict, as_rows, number, parse_id, text

MAX_OFFERS_PER_UPLOAD = 250
ID_KINDS = ("id", "externalId", "xmlId")
# Cost prices are money; two decimals is what RetailCRM shows and stores.
_PRICE_DECIMALS = 2
# Weighed goods may be fractional; three decimals is finer than any shop scale.
_QUANTITY_DECIMALS = 3

SentKey = tuple[str, str, str]  # (id kind, offer, store code)
SentValue = tuple[float, float | None]  # (available as sent, purchase price or None)


@dataclass(frozen=True, slots=True)
class InventoryEntry:
    """Stock (and optionally the cost price) of one offer in one RetailCRM store.

    ``offer`` is the offer's identifier of kind ``by``: ``"id"`` (RetailCRM's offer id,
    what listings carry as ``external_id``), ``"externalId"`` (the shop's id) or
    ``"xmlId"`` (the warehouse system's id). ``purchase_price`` None leaves the cost
    price in RetailCRM as it is.
    """

    offer: str
    store: str
    available: float
    purchase_price: float | None = None
    by: str = "externalId"

    def __post_init__(self) -> None:
        if self.by not in ID_KINDS:
            raise ValueError(f"an offer is named by one of {', '.join(ID_KINDS)}, not {self.by!r}")
        if not str(self.offer).strip():
            raise ValueError("an inventory entry needs the offer's identifier")
        if not str(self.store).strip():
            raise ValueError("an inventory entry needs the store code")
        if self.by == "id" and not str(self.offer).strip().isdigit():
            raise ValueError(f"RetailCRM offer ids are numbers, not {self.offer!r}")

    @property
    def key(self) -> SentKey:
        return (self.by, str(self.offer).strip(), str(self.store).strip())


@dataclass(frozen=True, slots=True)
class UploadResult:
    """What an upload did: offers sent, requests made, and the offers RetailCRM did not know.

    ``not_found`` holds the identifiers as the entries gave them (``InventoryEntry.offer``).
    """

    sent: int
    batches: int
    not_found: list[str] = field(default_factory=list)
    processed: int = 0  # RetailCRM's processedOffersCount, summed over the batches


@dataclass(frozen=True, slots=True)
class InventoryLevel:
    """RetailCRM's stock and cost price of one offer in one store (drift checks)."""

    offer_id: str
    store: str
    quantity: float
    purchase_price: float | None = None
    external_id: str = ""
    xml_id: str = ""
    site: str = ""


def wire_available(quantity: float, inventory_type: str = "integer") -> int | float:
    """The ``available`` value to send for ``quantity`` in a store of ``inventory_type``.

    Stores of type ``available`` record only whether an offer is in stock (§7.2), so
    they get 1 or 0. Counts never go below zero; whole numbers are sent as integers.
    """
    value = float(quantity)
    if not math.isfinite(value):
        raise ValueError(f"stock must be a finite number, not {quantity!r}")
    value = max(0.0, value)
    if inventory_type == "available":
        return 1 if value > 0 else 0
    value = round(value, _QUANTITY_DECIMALS)
    return int(value) if value.is_integer() else value


def wire_price(price: float | None) -> int | float | None:
    if price is None:
        return None
    value = float(price)
    if not math.isfinite(value):
        raise ValueError(f"a cost price must be a finite number, not {price!r}")
    value = round(max(0.0, value), _PRICE_DECIMALS)
    return int(value) if value.is_integer() else value


def _sent_value(entry: InventoryEntry, inventory_type: str) -> SentValue:
    price = wire_price(entry.purchase_price)
    available = float(wire_available(entry.available, inventory_type))
    return (available, None if price is None else float(price))


def changed_entries(
    entries: Iterable[InventoryEntry],
    last_sent: Mapping[SentKey, SentValue],
    store_types: Mapping[str, str] | None = None,
) -> list[InventoryEntry]:
    """The entries whose values differ from what was last sent (compared as sent).

    An entry without a cost price counts as unchanged when its stock is: the cost price
    it leaves alone cannot have changed. When one offer/store appears twice, the last
    entry wins, as it would in an upload.
    """
    types = store_types or {}
    latest: dict[SentKey, InventoryEntry] = {}
    for entry in entries:
        latest[entry.key] = entry
    changed = []
    for key, entry in latest.items():
        available, price = _sent_value(entry, types.get(entry.store, "integer"))
        before = last_sent.get(key)
        stock_moved = before is None or before[0] != available
        if stock_moved or (price is not None and before[1] != price):
            changed.append(entry)
    return changed


def sent_state(
    last_sent: Mapping[SentKey, SentValue],
    entries: Iterable[InventoryEntry],
    not_found: Iterable[str] = (),
    store_types: Mapping[str, str] | None = None,
) -> dict[SentKey, SentValue]:
    """``last_sent`` updated with an upload's entries (a new dict; the old one is kept).

    Offers RetailCRM did not know are left out, so they are offered again next time
    (after the shop has created them, say). A cost price left alone keeps its old value.
    """
    types = store_types or {}
    missing = set(not_found)
    state = dict(last_sent)
    for entry in entries:
        if entry.offer in missing:
            continue
        available, price = _sent_value(entry, types.get(entry.store, "integer"))
        if price is None and entry.key in state:
            price = state[entry.key][1]
        state[entry.key] = (available, price)
    return state


def upload_offers(
    entries: Iterable[InventoryEntry], store_types: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """The ``offers`` array for the upload: one object per offer, its stores inside.

    Offers keep the order of their first entry; a repeated offer/store takes the last
    entry's values.
    """
    types = store_types or {}
    offers: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for entry in entries:
        stores = offers.setdefault((entry.by, str(entry.offer).strip()), {})
        row: dict[str, Any] = {
            "code": entry.store.strip(),
            "available": wire_available(entry.available, types.get(entry.store, "integer")),
        }
        price = wire_price(entry.purchase_price)
        if price is not None:
            row["purchasePrice"] = price
        stores[row["code"]] = row
    result = []
    for (by, offer), stores in offers.items():
        ident: str | int = int(offer) if by == "id" else offer
        result.append({by: ident, "stores": list(stores.values())})
    return result


def batches(offers: list[dict[str, Any]], size: int = MAX_OFFERS_PER_UPLOAD) -> list[list[dict]]:
    """``offers`` cut into upload requests of at most ``size`` (≤ 250) offers."""
    if not 1 <= size <= MAX_OFFERS_PER_UPLOAD:
        raise ValueError(f"an upload takes 1 to {MAX_OFFERS_PER_UPLOAD} offers per request")
    return [offers[start : start + size] for start in range(0, len(offers), size)]


def not_found_ids(rows: Any, sent: list[dict[str, Any]]) -> list[str]:
    """Identifiers (as sent) of the ``notFoundOffers`` objects of an upload answer.

    RetailCRM echoes each unknown offer with the identifiers it was sent with; an
    answer naming an offer this batch did not send is ignored.
    """
    asked = {(kind, text(offer.get(kind))) for offer in sent for kind in ID_KINDS if kind in offer}
    found: list[str] = []
    for row in as_rows(rows):
        data = as_dict(row)
        for kind in ID_KINDS:
            value = text(data.get(kind))
            if value and (kind, value) in asked and value not in found:
                found.append(value)
                break
    return found


def levels_from_offer(row: Any) -> list[InventoryLevel]:
    """Per-store levels of one ``GET /store/inventories?filter[details]=1`` offer."""
    data = as_dict(row)
    offer_id = parse_id(data.get("id"), "inventory offer id")
    levels = []
    for store in as_rows(data.get("stores")):
        entry = as_dict(store)
        code = text(entry.get("store"))
        if not code:
            raise PayloadError(f"stock of offer {offer_id} names no store")
        price = entry.get("purchasePrice")
        levels.append(
            InventoryLevel(
                offer_id=offer_id,
                store=code,
                quantity=number(entry.get("quantity"), "stock quantity", default=0.0),
                purchase_price=None if price is None else number(price, "purchase price"),
                external_id=text(data.get("externalId")),
                xml_id=text(data.get("xmlId")),
                site=text(data.get("site")),
            )
        )
    return levels
