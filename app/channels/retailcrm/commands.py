"""``stockbridge channel stores`` and ``stockbridge channel drift`` (RetailCRM only)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from app.channels.retailcrm import service
from app.channels.retailcrm.stores import StoreMapError, parse_pairs

Emit = Callable[[Any, Any, str | None], None]
Table = Callable[[list[list[Any]], list[str]], str]


class CommandError(ValueError):
    """A RetailCRM command that cannot be done as asked; the message says why."""


def run_stores(args: Any, hub: Any, emit: Emit, table: Table) -> None:
    """List the account's stores and their warehouses; ``--map`` changes pairs first."""
    try:
        if args.map:
            changes = {
                store: service.warehouse_ref(hub, warehouse)
                for store, warehouse in parse_pairs(args.map)
            }
            asyncio.run(service.save_store_map(hub, args.name, changes))
        rows = asyncio.run(service.store_table(hub, args.name))
    except (StoreMapError, service.NotRetailCrm) as exc:
        raise CommandError(str(exc)) from None
    data = [
        {
            "store": r.store,
            "name": r.store_name,
            "warehouse_id": r.warehouse_id,
            "warehouse": r.warehouse_name,
            "active": r.active,
            "counts": r.counts,
        }
        for r in rows
    ]
    text = table(
        [
            [r.store, r.store_name, r.warehouse_name or "—", "" if r.counts else "yes/no only"]
            for r in rows
        ],
        ["store", "name", "receives stock of", "note"],
    )
    if args.map:
        text += "\nSaved. Each store receives its warehouse's stock at the next sync."
    emit(args, data, text)


def run_drift(args: Any, hub: Any, emit: Emit, table: Table) -> None:
    """Show where RetailCRM's stock differs; ``--fix`` sends the correct numbers."""
    try:
        report = asyncio.run(service.check_drift(hub, args.name))
        sent = None
        if args.fix and report.drifts:
            sent = asyncio.run(service.fix_drift(hub, args.name, report.drifts))
    except (StoreMapError, service.NotRetailCrm) as exc:
        raise CommandError(str(exc)) from None
    data = report.as_dict() | {"sent": sent}
    if not report.drifts:
        text = (
            f"RetailCRM shows the same stock as Stockbridge for all {report.checked}"
            f" offer/store pairs ({', '.join(report.stores)})."
        )
    else:
        text = table(
            [
                [d.sku, d.offer_id, d.store, f"{d.crm_quantity:g}", f"{d.quantity:g}", d.what]
                for d in report.drifts
            ],
            ["sku", "offer", "store", "in RetailCRM", "Stockbridge", "difference"],
        )
        text += f"\n{len(report.drifts)} of {report.checked} offer/store pairs differ."
        if sent is not None:
            text += f" Sent the correct numbers ({sent} offers)."
        else:
            text += f" Send the correct numbers with `stockbridge channel drift {args.name} --fix`."
    if not report.stock_sent:
        text += "\nNote: sending stock to this channel is switched off in its settings."
    emit(args, json.loads(json.dumps(data, default=str)), text)


def run_offers(args: Any, hub: Any, emit: Emit, table: Table) -> None:
    """Offers not linked because their externalId, xmlId and article disagree."""
    try:
        rows = service.offer_suggestions(hub, args.name)
    except service.NotRetailCrm as exc:
        raise CommandError(str(exc)) from None
    if not rows:
        text = "No offer is waiting for a choice: none has identifiers that disagree."
    else:
        text = table(
            [[r["offer"], r["name"], ", ".join(r["candidates"]), r["reason"]] for r in rows],
            ["offer", "name", "could be", "why it was not linked"],
        )
        text += (
            "\nLink each with `stockbridge mapping link` (or Mapping in the window) once"
            " you know which product it is."
        )
    emit(args, rows, text)
