"""The facade the CLI and the GUI talk to: one data directory, its database and engine.

Plain data in, plain data out. No Qt here; the GUI's bridge wraps this object.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from app import secrets
from app.channels import registry
from app.channels.errors import ChannelError
from app.core.addresses import UnsafeAddress, check_base_url
from app.core.catalog_csv import RowProblem, parse_catalog
from app.core.models import ShopInfo
from app.store.catalog import Catalog
from app.store.channels import Channel, ChannelRepo
from app.store.db import Database
from app.store.ledger import Ledger
from app.store.mapping import MappingOutcome, MappingRepo
from app.store.orders import OrderBook
from app.store.outbox import Outbox
from app.sync.engine import (
    AUTH_FAILED,
    ClientFactory,
    SyncEngine,
    SyncReport,
    default_client_factory,
)


class HubError(ValueError):
    """A user-facing problem with what was asked."""


class Hub:
    def __init__(
        self, data_dir: Path, *, client_factory: ClientFactory = default_client_factory
    ) -> None:
        self.data_dir = Path(data_dir)
        self.db = Database.in_dir(self.data_dir)
        self.db.start_checkpointer()  # commits never stop to copy the WAL into the file
        self.catalog = Catalog(self.db)
        self.ledger = Ledger(self.db)
        self.channels = ChannelRepo(self.db)
        self.orders = OrderBook(self.db)
        self.outbox = Outbox(self.db)
        self.mapping = MappingRepo(self.db)
        self.engine = SyncEngine(self.db, client_factory=client_factory)
        self.client_factory = client_factory

    def close(self) -> None:
        self.db.close()

    # -- channels ---------------------------------------------------------------------
    async def add_channel(
        self,
        platform_key: str,
        name: str,
        *,
        account: str,
        secret: str,
        base_url: str | None = None,
        mapping_mode: str = "sku",
        warehouse: str | None = None,
        settings: dict[str, Any] | None = None,
        test: bool = True,
    ) -> tuple[Channel, ShopInfo | None]:
        """Store the secret in the keyring, test the connection, then record the channel."""
        spec = registry.platform(platform_key)
        name = name.strip()
        if not name:
            raise HubError("A channel needs a name.")
        if self.channels.exists(name):
            raise HubError(f"A channel named '{name}' exists already.")
        if not secret.strip():
            raise HubError(f"The {spec.secret_label} is empty.")
        account = (account or "").strip()
        if spec.account_required and not account:
            raise HubError(f"{spec.label} needs the {spec.account_label} (--shop-id).")
        if mapping_mode not in ("sku", "id"):
            raise HubError("Mapping must be 'sku' or 'id'.")
        url = (base_url or spec.default_base_url).rstrip("/")
        if "{account}" in url:
            if not account:
                raise HubError(
                    f"{spec.label} needs the {spec.account_label} (e.g. --shop-id myshop, or"
                    " --base-url https://myshop.retailcrm.ru)."
                )
            url = url.replace("{account}", account.split(".")[0])
        try:
            url = check_base_url(url)
        except UnsafeAddress as exc:
            raise HubError(str(exc)) from None
        secret = secret.strip()
        secrets.remember(secret)
        settings = dict(settings or {})
        info = None
        try:
            client = spec.make_client(url, account, settings, secret, name=name)
        except (
            ValueError
        ) as exc:  # the client refused the details (e.g. a shop id that is not a number)
            raise HubError(str(exc)) from None
        try:
            if test:
                info = await client.check_connection()
            settings.update(await self._introduce(client, name, info, settings))
            # A sign-in renewed during the test replaced the one given (TradeGecko's
            # refresh tokens rotate): keep the live one.
            secret = getattr(client, "latest_secret", None) or secret
        finally:
            await client.aclose()
        secrets.store(name, secret)
        warehouse_id = self.catalog.warehouse_id(warehouse, create=True)
        channel = self.channels.add(
            name,
            spec.key,
            url,
            account=account,
            warehouse_id=warehouse_id,
            mapping_mode=mapping_mode,
            settings=settings,
        )
        return channel, info

    async def _introduce(
        self, client, name: str, info: ShopInfo | None, settings: dict[str, Any]
    ) -> dict[str, Any]:
        """First steps some platforms need before syncing; returns settings to keep.

        RetailCRM: Stockbridge registers as the account's warehouse system (without it
        the CRM refuses shipment updates), and the first store receives the stock unless
        the merchant chose one.
        """
        found: dict[str, Any] = {}
        register = getattr(client, "register_module", None)
        if register is not None:
            registration = await register(None)
            secrets.store(f"{name}:client_id", registration.client_id)
            if not settings.get("store_code"):
                stores = await client.fetch_stores()
                if stores:
                    found["store_code"] = stores[0].code
        return found

    async def replace_secret(self, name: str, secret: str, *, test: bool = True) -> ShopInfo | None:
        """A new token or key for a connected channel (after a rotation or a revoked key)."""
        channel = self.channels.get(name)
        secret = secret.strip()
        if not secret:
            raise HubError("The new key is empty.")
        secrets.remember(secret)
        info = None
        if test:
            spec = registry.platform(channel.platform)
            client = spec.make_client(
                channel.base_url, channel.account, channel.settings, secret, name=name
            )
            try:
                info = await client.check_connection()
                secret = getattr(client, "latest_secret", None) or secret
            finally:
                await client.aclose()
        secrets.store(name, secret)
        self.channels.update(name, settings={AUTH_FAILED: ""})
        return info

    def remove_channel(self, name: str) -> None:
        self.channels.get(name)
        self.channels.remove(name)
        secrets.delete(name)

    def channel_list(self) -> list[dict[str, Any]]:
        out = []
        for ch in self.channels.all():
            out.append(
                {
                    "name": ch.name,
                    "platform": ch.platform,
                    "base_url": ch.base_url,
                    "account": ch.account,
                    "mapping": ch.mapping_mode,
                    "enabled": ch.enabled,
                }
            )
        return out

    # -- sync -------------------------------------------------------------------------
    async def sync(self, channel: str | None = None, *, force: bool = False) -> list[SyncReport]:
        """Sync one channel or all; ``force`` also tries channels paused after failures."""
        if channel:
            self.channels.get(channel)
            return [await self.engine.sync_channel(channel, force=force)]
        return [
            await self.engine.sync_channel(ch.name, force=force)
            for ch in self.channels.all()
            if ch.enabled
        ]

    def status(self) -> list[dict[str, Any]]:
        out = []
        for ch in self.channels.all():
            last = self.channels.last_sync(ch.id)
            last_ok = self.channels.last_sync(ch.id, ok_only=True)
            counts = self.outbox.counts(ch.id)
            out.append(
                {
                    "channel": ch.name,
                    "platform": ch.platform,
                    "enabled": ch.enabled,
                    "last_sync": _iso(last["finished_at"]) if last else None,
                    "last_success": _iso(last_ok["finished_at"]) if last_ok else None,
                    "last_result": last["summary"] if last else "",
                    "last_error": (last["error"] or None) if last and not last["ok"] else None,
                    "queued_pushes": counts["pending"],
                    "failed_pushes": counts["failed"],
                    "needs_mapping": int(
                        self.db.scalar(
                            "SELECT COUNT(*) FROM orders WHERE channel_id = ? AND needs_mapping = 1",
                            (ch.id,),
                        )
                    ),
                    "quarantined": len(self.channels.quarantined(ch.id)),
                }
            )
        return out

    # -- catalogue and stock ----------------------------------------------------------
    def import_catalog(self, data: bytes, *, dry_run: bool = False) -> dict[str, Any]:
        """Apply a catalogue CSV in one transaction; bad rows are refused, the rest applied."""
        rows, problems = parse_catalog(data)
        created = updated = counted = 0
        touched: set[int] = set()
        plan = []
        for row in rows:
            existing = self.catalog.by_sku(row.sku)
            plan.append((row, existing))
        if not dry_run:
            with self.db.transaction():
                for row, existing in plan:
                    try:
                        warehouse_id = self.catalog.warehouse_id(row.warehouse or None, create=True)
                    except ValueError as exc:
                        problems.append(RowProblem(row.line, str(exc)))
                        continue
                    if existing is None:
                        product = self.catalog.add_product(
                            row.sku, row.name, barcode=row.barcode, cost_price=row.cost_price
                        )
                        created += 1
                    else:
                        fields: dict[str, Any] = {"name": row.name}
                        if row.barcode:
                            fields["barcode"] = row.barcode
                        if row.cost_price is not None:
                            fields["cost_price"] = row.cost_price
                        product = self.catalog.update_product(existing.id, **fields)
                        updated += 1
                    if row.on_hand is not None:
                        delta = self.ledger.set_on_hand(
                            product.id,
                            warehouse_id,
                            row.on_hand,
                            reason="stock count",
                            note="catalogue import",
                        )
                        if delta:
                            counted += 1
                            touched.add(product.id)
                self.orders.enqueue_stock_pushes(touched)
        else:
            created = sum(1 for _, e in plan if e is None)
            updated = len(plan) - created
        return {
            "dry_run": dry_run,
            "rows": len(rows),
            "created": created,
            "updated": updated,
            "stock_changed": counted,
            "refused": [
                {"line": p.line, "reason": p.reason} for p in sorted(problems, key=lambda p: p.line)
            ],
        }

    def _product_by_sku(self, sku: str):
        product = self.catalog.by_sku(sku)
        if product is None:
            raise HubError(f"No product with SKU '{sku}'. See `stockbridge stock`.")
        return product

    def adjust_stock(
        self, sku: str, by: float, reason: str, warehouse: str | None = None
    ) -> dict[str, Any]:
        if not reason.strip():
            raise HubError("Say why the stock changes (--reason).")
        product = self._product_by_sku(sku)
        wid = self._warehouse(warehouse)
        with self.db.transaction():
            self.ledger.record(
                product.id, wid, on_hand=by, reason="adjustment", note=reason.strip()
            )
            self.orders.enqueue_stock_pushes({product.id})
        return self.stock_row(product.id)

    def count_stock(
        self, sku: str, on_hand: float, warehouse: str | None = None, note: str = ""
    ) -> dict[str, Any]:
        if on_hand < 0:
            raise HubError("A stock count cannot be negative.")
        product = self._product_by_sku(sku)
        wid = self._warehouse(warehouse)
        with self.db.transaction():
            self.ledger.set_on_hand(product.id, wid, on_hand, reason="stock count", note=note)
            self.orders.enqueue_stock_pushes({product.id})
        return self.stock_row(product.id)

    def _warehouse(self, name: str | None) -> int:
        try:
            return self.catalog.warehouse_id(name)
        except KeyError:
            raise HubError(f"No warehouse named '{name}'.") from None

    def stock(self, sku: str | None = None) -> list[dict[str, Any]]:
        if sku is not None:
            self._product_by_sku(sku)
        return [_stock_dict(level) for level in self.ledger.levels(sku=sku)]

    def stock_row(self, product_id: int) -> dict[str, Any]:
        return _stock_dict(self.ledger.level(product_id))

    # -- mapping ----------------------------------------------------------------------
    def auto_map(self, channel: str) -> MappingOutcome:
        return self.mapping.auto_link(self.channels.get(channel))

    def link(self, channel: str, listing: str, sku: str) -> MappingOutcome:
        return self.mapping.link(self.channels.get(channel), listing, sku)

    def adopt(self, channel: str) -> MappingOutcome:
        return self.mapping.adopt(self.channels.get(channel))

    def listings(self, channel: str) -> list[dict[str, Any]]:
        ch = self.channels.get(channel)
        return [
            {
                "listing": r["external_id"],
                "sku": r["sku"],
                "name": r["name"],
                "channel_quantity": r["quantity"],
                "product_sku": r["product_sku"],
                "method": r["method"],
                "ignored": bool(r["ignored"]),
            }
            for r in self.channels.listings(ch.id)
        ]

    # -- orders -----------------------------------------------------------------------
    def order_list(
        self, status: str | None = None, channel: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        channel_id = self.channels.get(channel).id if channel else None
        return [
            order_dict(o)
            for o in self.orders.list(status=status, channel_id=channel_id, limit=limit)
        ]

    def _rules_for_order(self, order_id: int):
        platform = self.db.scalar(
            "SELECT c.platform FROM orders o JOIN channels c ON c.id = o.channel_id WHERE o.id = ?",
            (order_id,),
        )
        return registry.rules(platform)

    def order_action(self, ref: str, action: str, **kwargs: Any) -> dict[str, Any]:
        order_id = self.orders.find(ref)
        rules = self._rules_for_order(order_id)
        return order_dict(self.orders.act(order_id, action, rules=rules, **kwargs), detail=True)

    def mark_paid(self, ref: str) -> dict[str, Any]:
        order_id = self.orders.find(ref)
        return order_dict(
            self.orders.mark_paid(order_id, self._rules_for_order(order_id)), detail=True
        )

    def order_detail(self, ref: str) -> dict[str, Any]:
        return order_dict(self.orders.get(self.orders.find(ref)), detail=True)


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _stock_dict(level) -> dict[str, Any]:
    return {
        "sku": level.sku,
        "name": level.name,
        "on_hand": level.on_hand,
        "committed": level.committed,
        "safety_buffer": level.safety_buffer,
        "available": level.available,
        "sellable": level.sellable,
    }


def order_dict(o: dict[str, Any], *, detail: bool = False) -> dict[str, Any]:
    out = {
        "id": o["id"],
        "channel": o["channel"],
        "external_id": o["external_id"],
        "number": o["number"],
        "status": o["status"],
        "payment_status": o["payment_status"],
        "total": o["total"],
        "currency": o["currency"],
        "customer": o["customer_name"],
        "needs_mapping": bool(o["needs_mapping"]),
        "history_only": bool(o["history_only"]),
        "tracking_code": o["tracking_code"],
        "tracking_url": o["tracking_url"],
        "invoice_number": o["invoice_number"],
        "placed_at": _iso(o["placed_at"]),
        "lines": [
            {
                "line": ln["external_id"],
                "sku": ln["sku"],
                "name": ln["name"],
                "quantity": ln["quantity"],
                "mapped": ln["product_id"] is not None,
                "fulfil": bool(ln["fulfil"]),
                "committed": ln["committed"],
                "deducted": ln["deducted"],
            }
            for ln in o.get("lines", [])
        ],
    }
    if detail:
        out["history"] = [
            {"at": _iso(e["created_at"]), "kind": e["kind"], "message": e["message"]}
            for e in o.get("events", [])
        ]
    return out


__all__ = ["Hub", "HubError", "ChannelError", "order_dict"]
