"""RetailCRM tasks the merchant starts: the store table, the drift check, the callback.

Each function takes the :class:`~app.hub.Hub` and a channel name and runs where the hub
lives (the engine thread in the window, the command's loop headless). Nothing here
speaks SQL or HTTP itself: the hub's repositories and the channel's client do.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.channels.errors import ChannelError
from app.channels.retailcrm import stores as store_maps
from app.channels.retailcrm.drift import Drift, Expected, compare
from app.channels.retailcrm.inventory import InventoryEntry
from app.channels.retailcrm.offers import OfferFacts, OfferPlan, plan_offer_links
from app.channels.retailcrm.stores import StoreMapError, StorePair
from app.core.stock import normalise_sku
from app.settings import channel_setting

log = logging.getLogger(__name__)


class NotRetailCrm(ValueError):
    pass


def _channel(hub, name: str):
    channel = hub.channels.get(name)
    if channel.platform != "retailcrm":
        raise NotRetailCrm(f"{name} is a {channel.platform} channel, not RetailCRM.")
    return channel


def _warehouses(hub) -> dict[int, str]:
    return {int(w["id"]): w["name"] for w in hub.catalog.warehouses()}


# --- stores ↔ warehouses ---------------------------------------------------------------


async def store_table(hub, name: str) -> list[StorePair]:
    """Every RetailCRM store of the account, with the local warehouse it shows (if any)."""
    channel = _channel(hub, name)
    client = hub.client_factory(channel)
    try:
        stores = await client.fetch_stores()
    finally:
        await client.aclose()
    pairs = store_maps.store_map(channel.settings)
    warehouses = _warehouses(hub)
    table = []
    for store in stores:
        mapped = store.code in pairs
        warehouse = pairs.get(store.code)
        if not mapped:
            label = ""
        elif warehouse is store_maps.ALL_WAREHOUSES:
            label = "All warehouses together"
        else:
            label = warehouses.get(warehouse, f"warehouse {warehouse}")
        table.append(
            StorePair(
                store=store.code,
                store_name=store.name or store.code,
                warehouse_id=warehouse if mapped else None,
                warehouse_name=label,
                active=store.active,
                counts=store.inventory_type != "available",
            )
        )
    return table


def warehouse_ref(hub, text: str) -> int | None:
    """A local warehouse by name or number; empty text means "not mapped"."""
    text = text.strip()
    if not text:
        return None
    warehouses = _warehouses(hub)
    if text.isdigit() and int(text) in warehouses:
        return int(text)
    for warehouse_id, name in warehouses.items():
        if name.casefold() == text.casefold():
            return warehouse_id
    raise StoreMapError(
        f"There is no local warehouse '{text}'. Warehouses: "
        + ", ".join(f"{n} ({i})" for i, n in warehouses.items())
        + "."
    )


async def save_store_map(
    hub, name: str, changes: Mapping[str, int | None], *, replace: bool = False
) -> dict[str, int]:
    """Map stores to warehouses (``None`` unmaps a store) and queue fresh stock for them.

    ``changes`` are applied over the current map unless ``replace``. The stores are
    checked against the account's live list; a legacy single store (all warehouses) is
    replaced by the new pairs. Every linked listing is queued, so each store receives its
    warehouse's numbers at the next sync.
    """
    channel = _channel(hub, name)
    current = store_maps.store_map(channel.settings)
    wanted: dict[str, int | None] = {}
    if not replace:
        wanted = {c: w for c, w in current.items() if w is not store_maps.ALL_WAREHOUSES}
    wanted.update(changes)
    client = hub.client_factory(channel)
    try:
        stores = await client.fetch_stores()
    finally:
        await client.aclose()
    saved = store_maps.checked_map(wanted, [s.code for s in stores], _warehouses(hub))
    default = next(
        (code for code, wid in saved.items() if wid == channel.warehouse_id), next(iter(saved))
    )
    hub.channels.update(
        name, settings={store_maps.STORE_MAP: saved, store_maps.LEGACY_STORE: default}
    )
    queue_listings(hub, channel.id)
    return saved


def queue_listings(hub, channel_id: int, listing_ids: list[int] | None = None) -> int:
    """Queue a stock push for the channel's linked listings (all, or those named)."""
    rows = [
        r
        for r in hub.channels.listings(channel_id)
        if r["product_id"] is not None and not r["ignored"]
    ]
    if listing_ids is not None:
        wanted = set(listing_ids)
        rows = [r for r in rows if r["id"] in wanted]
    hub.outbox.enqueue_stock_many([(channel_id, int(r["id"])) for r in rows])
    return len(rows)


# --- drift -----------------------------------------------------------------------------


@dataclass(slots=True)
class DriftReport:
    channel: str
    stores: list[str]
    checked: int = 0  # offer/store pairs compared
    drifts: list[Drift] = field(default_factory=list)
    stock_sent: bool = True  # False when sending stock to the channel is switched off

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "stores": self.stores,
            "checked": self.checked,
            "stock_sent": self.stock_sent,
            "differences": [d.as_dict() for d in self.drifts],
        }


def expected_levels(hub, channel, store_map: dict[str, int | None]) -> list[Expected]:
    """What each linked offer should show in each mapped store, as the engine sends it."""
    buffer = float(channel_setting(channel.settings, "stock_buffer"))
    costs = {p.id: p.cost_price for p in hub.catalog.all()}
    expected = []
    for row in hub.channels.listings(channel.id):
        if row["product_id"] is None or row["ignored"] or not str(row["external_id"]).isdigit():
            continue
        per_store = hub.engine.stock.per_store(row["product_id"], store_map, buffer)
        for store, quantity in per_store.items():
            expected.append(
                Expected(
                    offer_id=str(row["external_id"]),
                    store=store,
                    quantity=quantity,
                    cost=costs.get(row["product_id"]),
                    listing_id=int(row["id"]),
                    sku=row["product_sku"] or row["sku"],
                    name=row["name"],
                )
            )
    return expected


async def check_drift(hub, name: str) -> DriftReport:
    """RetailCRM's stock and cost prices of every linked offer in every mapped store,
    against what Stockbridge would send now; the pairs that differ."""
    channel = _channel(hub, name)
    store_map = store_maps.store_map(channel.settings)
    if not store_map:
        raise StoreMapError(
            f"{name} has no RetailCRM store to send stock to yet: map the stores first"
            f" (`stockbridge channel stores {name} --map STORE=WAREHOUSE`)."
        )
    client = hub.client_factory(channel)
    try:
        stores = await client.fetch_stores()
        held = await client.fetch_inventories()
    finally:
        await client.aclose()
    types = {s.code: s.inventory_type for s in stores}
    expected = expected_levels(hub, channel, store_map)
    return DriftReport(
        channel=name,
        stores=list(store_map),
        checked=len(expected),
        drifts=compare(expected, held, types),
        stock_sent=bool(channel_setting(channel.settings, "push_stock")),
    )


async def fix_drift(hub, name: str, drifts: list[Drift]) -> int:
    """Queue the offers that differ and send them now; returns the pushes sent.

    Only those offers go out (each with all its stores, one upload per 250 offers);
    anything that fails stays queued for the next sync, as any push does.
    """
    channel = _channel(hub, name)
    listing_ids = sorted({d.listing_id for d in drifts if d.listing_id})
    if not listing_ids:
        return 0
    queue_listings(hub, channel.id, listing_ids)
    outcome = await hub.engine.drain(name)
    if outcome.errors:
        raise ChannelError(outcome.errors[0])
    return outcome.sent


# --- the inventoriesUpload callback ----------------------------------------------------


def answer_callback(hub, name: str, offers: list[dict[str, Any]]) -> list[InventoryEntry]:
    """Stock and cost price per mapped store of the offers RetailCRM asks about.

    Offers are found by RetailCRM id (what listings carry) or by the externalId/xmlId
    kept from the catalogue; offers Stockbridge does not stock are left out.
    """
    from app.store.listing_ids import listing_ids_by

    channel = _channel(hub, name)
    store_map = store_maps.store_map(channel.settings)
    if not store_map:
        return []
    rows = {
        str(r["external_id"]): r
        for r in hub.channels.listings(channel.id)
        if r["product_id"] is not None and not r["ignored"]
    }
    by_kind = {kind: listing_ids_by(hub.db, channel.id, kind) for kind in ("externalId", "xmlId")}
    buffer = float(channel_setting(channel.settings, "stock_buffer"))
    costs = {p.id: p.cost_price for p in hub.catalog.all()}
    entries: list[InventoryEntry] = []
    for offer in offers:
        row, by, ident = None, "id", ""
        for kind in ("id", "externalId", "xmlId"):
            ident = str(offer.get(kind) or "").strip()
            if not ident:
                continue
            offer_id = ident if kind == "id" else by_kind[kind].get(ident)
            row = rows.get(str(offer_id)) if offer_id else None
            if row is not None:
                by = kind
                break
        if row is None:
            continue
        per_store = hub.engine.stock.per_store(row["product_id"], store_map, buffer)
        for store, quantity in per_store.items():
            entries.append(
                InventoryEntry(
                    ident, store, quantity, purchase_price=costs.get(row["product_id"]), by=by
                )
            )
    return entries


# --- linking offers to products --------------------------------------------------------


def link_offers(mapping, channel) -> tuple[Any, OfferPlan]:
    """Link the channel's unlinked offers by externalId, xmlId or article (in that order
    of trust), one undoable batch; ambiguous ones stay unlinked, as suggestions.

    ``mapping`` is the engine's :class:`~app.store.mapping.MappingRepo`. Returns the
    batch outcome and the plan (its suggestions are for the merchant).
    """
    from app.core.models import LinkMethod
    from app.store.mapping import ListingChange

    plan = plan_links(mapping, channel)
    changes = [
        ListingChange(
            link.listing_id,
            product_id=link.product_id,
            method=LinkMethod.SKU if link.via == "article" else LinkMethod.ID,
        )
        for link in plan.links
    ]
    # Held orders are then mapped by these links only, never by a bare article match.
    batch = mapping.apply(channel, changes, source="auto")
    for item in plan.suggestions:
        log.info("%s: %s", channel.name, item.reason)
    return batch, plan


def plan_links(mapping, channel) -> OfferPlan:
    """What :func:`link_offers` would do now, without doing it (read only)."""
    from app.store.listing_ids import identifiers

    ids = identifiers(mapping.db, channel.id)
    offers = [
        OfferFacts(
            listing_id=int(r["id"]),
            offer_id=str(r["external_id"]),
            article=r["sku"] or "",
            external_id=ids.get(int(r["id"]), {}).get("externalId", ""),
            xml_id=ids.get(int(r["id"]), {}).get("xmlId", ""),
        )
        for r in mapping.channels.listings(channel.id)
        if r["product_id"] is None and not r["ignored"]
    ]
    products = mapping.catalog.all()
    by_sku = {normalise_sku(p.sku): p.id for p in products if normalise_sku(p.sku)}
    return plan_offer_links(offers, by_sku, {p.id: p.sku for p in products})


def offer_suggestions(hub, name: str) -> list[dict[str, Any]]:
    """The offers left for the merchant because their identifiers disagree, with the
    candidate products (most trusted first) and the reason."""
    channel = _channel(hub, name)
    plan = plan_links(hub.mapping, channel)
    offers = {int(r["id"]): r for r in hub.channels.listings(channel.id)}
    products = {p.id: p for p in hub.catalog.all()}
    return [
        {
            "offer": item.offer_id,
            "name": offers[item.listing_id]["name"],
            "article": offers[item.listing_id]["sku"],
            "candidates": [products[p].sku for p in item.product_ids if p in products],
            "reason": item.reason,
        }
        for item in plan.suggestions
    ]


CALLBACK_MARK = "stock_callback_registered"
CALLBACK_ERROR = "stock_callback_error"


def callback_plan(settings: Mapping[str, Any]) -> tuple[str, list[str], str]:
    """``(public address, call points, problem)`` the callback switch asks for.

    The address is empty when the switch is off; ``problem`` says what is missing when
    it is on but cannot work yet.
    """
    if not channel_setting(dict(settings), "stock_callback"):
        return "", [], ""
    from app.core.addresses import UnsafeAddress, check_base_url

    url = str(settings.get("stock_callback_url") or "").strip().rstrip("/")
    raw = str(settings.get("stock_callback_points") or "")
    points = [p.strip() for p in raw.replace(";", ",").split(",") if p.strip()]
    if not url:
        return "", [], "Enter the public address that forwards to this computer's port."
    try:
        # https, or plain http to this computer (a local test of the callback).
        url = check_base_url(url)
    except UnsafeAddress as exc:
        return "", [], f"The public address for stock requests: {exc}"
    if not points:
        return "", [], "Enter at least one RetailCRM event (call point) that asks for stock."
    return url, points, ""


async def ensure_callback(client, channel) -> dict[str, Any]:
    """Register the module with or without the inventoriesUpload callback, as the
    channel's switch says, when that differs from what was registered last.

    Returns the settings to keep (the registered state, or why it is not on).
    """
    from app import secrets

    url, points, problem = callback_plan(channel.settings)
    wanted = f"{url} {','.join(points)}" if url else ""
    changes: dict[str, Any] = {}
    if channel.settings.get(CALLBACK_ERROR, "") != problem:
        changes[CALLBACK_ERROR] = problem
    if channel.settings.get(CALLBACK_MARK, "") == wanted:
        return changes
    try:
        client_id = secrets.load(f"{channel.name}:client_id")
    except secrets.MissingSecret:
        client_id = None  # a new one is made and kept below
    registration = await client.register_module(
        url or None, client_id=client_id, call_points=points
    )
    secrets.store(f"{channel.name}:client_id", registration.client_id)
    changes[CALLBACK_MARK] = wanted
    log.info("%s: stock callback %s", channel.name, f"on at {url}" if url else "off")
    return changes
