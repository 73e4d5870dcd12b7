"""One sync of a channel: listings, orders, then the outbox.

Runs on asyncio (qasync in the GUI), one job at a time per channel. Each pulled page is
ingested in its own transaction; the order cursor only moves after a complete pull, so
a crash mid-way re-reads pages and the idempotent ingest absorbs the repeats.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import asdict, dataclass

from app import secrets
from app.channels import registry
from app.channels.base import CAP_LISTINGS, ChannelClient
from app.channels.errors import AuthFailed, ChannelError
from app.core.models import OrderPage, OrderPush, OrderStatus, QuarantinedItem
from app.core.validation import order_problem
from app.store import listing_ids
from app.store.channels import Channel
from app.store.db import Database
from app.store.mapping import MappingRepo, links_only
from app.store.orders import OrderBook
from app.store.outbox import OutboxRow
from app.store.sync_state import known_orders
from app.sync.backoff import retry_delay
from app.sync.stock_push import DrainOutcome, StockPusher
from app.sync.webhooks import public_hook_url, webhook_secret

log = logging.getLogger(__name__)

LISTINGS_REFRESH_SECONDS = 15 * 60
# Channel setting set when the platform rejected the key (401); cleared by a new key.
AUTH_FAILED = "auth_failed"
# Circuit breaker: consecutive failed syncs, and the pause they caused.
FAILURES = "failed_syncs"
PAUSED_UNTIL = "paused_until"
PAUSED_WHY = "paused_why"
BREAKER_AFTER = 5
BREAKER_FIRST_PAUSE = 60.0
BREAKER_MAX_PAUSE = 3600.0
# Order pages that arrive back to back are written together, in one transaction of up to
# this many orders: a big import commits a quarter as often (each commit rewrites the
# index pages it touched). A page that takes longer than INGEST_BATCH_WAIT to come ends
# the run, so orders already here are never held back waiting for the network.
INGEST_BATCH_ORDERS = 1_000
INGEST_BATCH_WAIT = 0.25


@dataclass(slots=True)
class SyncReport:
    channel: str
    ok: bool = True
    error: str = ""
    orders_created: int = 0
    orders_updated: int = 0
    orders_unchanged: int = 0
    needs_mapping: int = 0
    quarantined: int = 0
    listings_seen: int = 0
    listings_new: int = 0
    linked: int = 0
    released: int = 0
    pushes_sent: int = 0
    pushes_retrying: int = 0
    pushes_failed: int = 0
    stock_counted: int = 0  # products whose on-hand a stock master (TradeGecko) changed
    seconds: float = 0.0

    def summary(self) -> str:
        if not self.ok:
            return self.error
        parts = [f"{self.orders_created} new orders", f"{self.orders_updated} updated"]
        if self.needs_mapping:
            parts.append(f"{self.needs_mapping} need mapping")
        if self.quarantined:
            parts.append(f"{self.quarantined} set aside (unreadable)")
        if self.stock_counted:
            parts.append(f"{self.stock_counted} stock counts read")
        parts.append(f"{self.pushes_sent} updates sent")
        if self.pushes_failed:
            parts.append(f"{self.pushes_failed} failed")
        return ", ".join(parts)

    def count_pushes(self, drained: DrainOutcome) -> None:
        self.pushes_sent += drained.sent
        self.pushes_retrying += drained.retrying
        self.pushes_failed += drained.failed

    def as_dict(self) -> dict:
        return asdict(self)


ClientFactory = Callable[[Channel], ChannelClient]


def default_client_factory(channel: Channel) -> ChannelClient:
    spec = registry.platform(channel.platform)
    return spec.make_client(
        channel.base_url,
        channel.account,
        channel.settings,
        secrets.load(channel.name),
        name=channel.name,
    )


class SyncEngine:
    def __init__(
        self,
        db: Database,
        *,
        client_factory: ClientFactory = default_client_factory,
        listings_refresh: float = LISTINGS_REFRESH_SECONDS,
    ) -> None:
        self.db = db
        self.book = OrderBook(db)
        self.mapping = MappingRepo(db)
        self.stock = StockPusher(db, self.book)
        self.client_factory = client_factory
        self.listings_refresh = listings_refresh
        self._locks: dict[str, asyncio.Lock] = {}
        # Called as on_progress(channel, stage, count) while a sync runs, so a window can
        # show a progress bar; stage is "listings", "orders" or "sending".
        self.on_progress: Callable[[str, str, int], None] | None = None

    def _progress(self, channel: str, stage: str, count: int) -> None:
        if self.on_progress is not None:
            try:
                self.on_progress(channel, stage, count)
            except Exception:  # a broken listener must not stop a sync
                log.exception("progress listener failed")

    def is_running(self, name: str) -> bool:
        lock = self._locks.get(name)
        return lock is not None and lock.locked()

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    async def sync_all(self) -> list[SyncReport]:
        reports = []
        for channel in self.book.channels.all():
            if channel.enabled:
                reports.append(await self.sync_channel(channel.name))
        return reports

    async def sync_channel(self, name: str, *, force: bool = False) -> SyncReport:
        """One sync of a channel. ``force`` (the merchant pressed Sync now) also tries a
        channel the circuit breaker paused."""
        async with self._lock(name):
            channel = self.book.channels.get(name)
            report = SyncReport(channel=name)
            blocked = channel.settings.get(AUTH_FAILED)
            if blocked:
                # A rejected key stays rejected: asking again would only repeat the refusal
                # (and some platforms lock accounts that keep trying). Wait for a new key.
                report.ok = False
                report.error = blocked
                return report
            paused_until = float(channel.settings.get(PAUSED_UNTIL) or 0)
            if paused_until > time.time() and not force:
                report.ok = False
                report.error = channel.settings.get(PAUSED_WHY) or "Paused after repeated failures."
                return report
            started = time.monotonic()
            log_id = self.book.channels.log_start(channel.id)
            client: ChannelClient | None = None
            try:
                client = self.client_factory(channel)
                try:
                    await self._pull_listings(client, channel, report)
                    await self._pull_orders(client, channel, report)
                    if channel.platform == "tradegecko":  # stock master, held exports
                        from app.channels.tradegecko import sync as gecko

                        await gecko.before_drain(self, client, channel, report)
                    await self._ensure_webhook(client, channel)
                except ChannelError as exc:
                    if isinstance(exc, AuthFailed):
                        raise
                    # Orders could not be read, but what is queued still goes out: a
                    # channel whose order list is down must still get its stock.
                    report.count_pushes(await self._drain(client, channel))
                    raise
                report.count_pushes(await self._drain(client, channel))
            except (ChannelError, secrets.MissingSecret, secrets.SecretStoreUnavailable) as exc:
                report.ok = False
                report.error = _merchant_text(exc)
                log.warning("sync of %s failed: %s", name, report.error)
                if isinstance(exc, AuthFailed):
                    report.error += f" Enter a new key for {name} to resume syncing."
                    self.book.channels.update(name, settings={AUTH_FAILED: report.error})
                else:
                    report.error = self._trip_breaker(channel, report.error)
            else:
                if channel.settings.get(FAILURES):
                    self.book.channels.update(
                        name, settings={FAILURES: 0, PAUSED_UNTIL: 0, PAUSED_WHY: ""}
                    )
            finally:
                if client is not None:
                    await client.aclose()
                report.seconds = round(time.monotonic() - started, 3)
                self.book.channels.log_finish(
                    log_id,
                    ok=report.ok,
                    summary=report.summary(),
                    error=report.error,
                    counts=report.as_dict(),
                )
            return report

    async def _ensure_webhook(self, client: ChannelClient, channel: Channel) -> None:
        """Register the channel's webhook once the merchant gave a public address.

        A failed registration does not fail the sync: polling keeps working, and the
        channel card says why instant updates are off.
        """
        ensure = getattr(client, "ensure_registration", None)
        if ensure is not None:
            # RetailCRM: its stock callback follows the channel's switch. A failure
            # leaves syncing alone and shows on the card.
            try:
                changes = await ensure(channel)
            except (ChannelError, ValueError) as exc:
                changes = {"stock_callback_error": _merchant_text(exc)}
            if changes:
                self.book.channels.update(channel.name, settings=changes)
        public = str(channel.settings.get("webhook_public_url") or "")
        register = getattr(client, "register_webhook", None)
        if not public or register is None:
            return
        url = public_hook_url(public, channel.name, webhook_secret(channel.name) or "")
        # Compare without the secret: the registered address is never stored in clear.
        marker = public_hook_url(public, channel.name, "")
        if channel.settings.get("webhook_registered") == marker:
            return
        try:
            await register(url)
        except ChannelError as exc:
            self.book.channels.update(channel.name, settings={"webhook_error": _merchant_text(exc)})
            log.warning("webhook for %s not registered: %s", channel.name, _merchant_text(exc))
            return
        self.book.channels.update(
            channel.name, settings={"webhook_registered": marker, "webhook_error": ""}
        )

    async def apply_hint(self, name: str, body: bytes) -> SyncReport:
        """A webhook said something changed: read that order again (or sync) right away."""
        channel = self.book.channels.get(name)
        client = self.client_factory(channel)
        try:
            order_id = None
            if channel.platform == "tradegecko":  # a variant's stock changed: re-read it
                from app.channels.tradegecko import sync as gecko

                async with self._lock(name):
                    counted = await gecko.apply_hint(self, client, channel, body)
                if counted is not None:
                    report = SyncReport(channel=name, stock_counted=counted)
                    return report
            extract = getattr(client, "webhook_order_id", None)
            if extract is not None and hasattr(client, "fetch_order"):
                order_id = extract(body)
            if order_id is None:
                await client.aclose()
                client = None
                return await self.sync_channel(name)
            async with self._lock(name):
                report = SyncReport(channel=name)
                order = await client.fetch_order(order_id)
                result = self.book.ingest(
                    channel, [order], first_import=False, rules=registry.rules(channel.platform)
                )
                report.orders_created, report.orders_updated = result.created, result.updated
                drained = await self._drain(client, channel)
                report.pushes_sent = drained.sent
                return report
        except ChannelError as exc:
            return SyncReport(channel=name, ok=False, error=_merchant_text(exc))
        finally:
            if client is not None:
                await client.aclose()

    def _trip_breaker(self, channel: Channel, error: str) -> str:
        """Count a failed sync; after BREAKER_AFTER in a row, pause the channel for a while
        (doubling, at most an hour) so a broken platform is not hammered. Other channels
        are not affected. Returns the text the merchant sees."""
        failures = int(channel.settings.get(FAILURES) or 0) + 1
        changes: dict = {FAILURES: failures}
        if failures >= BREAKER_AFTER:
            pause = min(BREAKER_MAX_PAUSE, BREAKER_FIRST_PAUSE * 2 ** (failures - BREAKER_AFTER))
            until = time.time() + pause
            error = (
                f"Paused after {failures} failed syncs in a row; trying again at"
                f" {time.strftime('%H:%M', time.localtime(until))}. Last problem: {error}"
            )
            changes.update({PAUSED_UNTIL: until, PAUSED_WHY: error})
            log.warning("%s paused for %.0f s after %d failures", channel.name, pause, failures)
        self.book.channels.update(channel.name, settings=changes)
        return error

    async def _pull_listings(
        self, client: ChannelClient, channel: Channel, report: SyncReport
    ) -> None:
        if CAP_LISTINGS not in client.capabilities:
            return
        last = self.book.channels.cursor(channel.id, "listings")
        if last is not None and time.time() - float(last) < self.listings_refresh:
            return
        started = time.time()
        # Other ids a platform gives its listings (RetailCRM: externalId, xmlId).
        kinds = tuple(getattr(client, "listing_identifier_kinds", ()))
        async for batch in client.fetch_listings():
            report.listings_seen += len(batch)
            report.listings_new += len(self.book.channels.upsert_listings(channel.id, batch))
            if kinds:
                listing_ids.remember(self.db, channel.id, batch, kinds)
            self._progress(channel.name, "listings", report.listings_seen)
        self.book.channels.set_cursor(channel.id, "listings", repr(started))
        if channel.mapping_mode == "sku":
            # A platform may link by its own identifiers first (RetailCRM: externalId,
            # xmlId, then article); otherwise links follow exact SKUs.
            linker = getattr(client, "link_listings", None)
            outcome = linker(self.mapping, channel) if linker else self.mapping.auto_link(channel)
            report.linked += outcome.linked
            report.released += outcome.released

    async def _pull_orders(
        self, client: ChannelClient, channel: Channel, report: SyncReport
    ) -> None:
        cursor = self.book.channels.cursor(channel.id, "orders")
        since = float(cursor) if cursor is not None else None
        first_import = not channel.first_import_done
        rules = registry.rules(channel.platform)
        pull_started = time.time()
        latest = since
        # A platform with its own linking rule (RetailCRM) links listings only there:
        # order lines then map by stored links, not by a bare SKU match.
        ingest_as = links_only(channel) if hasattr(client, "link_listings") else channel
        if hasattr(client, "history_cursor"):
            # RetailCRM: changes are read from its history, after the last entry seen.
            stored = self.book.channels.cursor(channel.id, "orders-history")
            if stored is not None and client.history_cursor is None:
                client.history_cursor = int(stored)
        if "known" in inspect.signature(client.fetch_orders).parameters:
            # The client re-reads an order's details only when it is new or changed.
            overlap = float(getattr(client, "overlap_seconds", 300))
            window_start = None if since is None else since - overlap
            pages = client.fetch_orders(
                since, known=known_orders(self.db, channel.id, window_start)
            )
        else:
            pages = client.fetch_orders(since)
        async with aclosing(page_runs(pages, INGEST_BATCH_ORDERS, INGEST_BATCH_WAIT)) as runs:
            async for run in runs:
                good = []
                for page in run:
                    for item in page.quarantined:
                        self.book.channels.quarantine(channel.id, item)
                        report.quarantined += 1
                    for order in page.orders:
                        problem = order_problem(order)
                        if problem is None:
                            good.append(order)
                            continue
                        self.book.channels.quarantine(
                            channel.id,
                            QuarantinedItem("order", order.external_id, problem, order.raw),
                        )
                        report.quarantined += 1
                if good:
                    result = self.book.ingest(
                        ingest_as, good, first_import=first_import, rules=rules
                    )
                    report.orders_created += result.created
                    report.orders_updated += result.updated
                    report.orders_unchanged += result.unchanged
                    report.needs_mapping += result.needs_mapping
                    self.book.channels.resolve_quarantined(
                        channel.id, "order", [order.external_id for order in good]
                    )
                    if result.latest_update is not None:
                        latest = max(latest or 0.0, result.latest_update)
                self._progress(
                    channel.name,
                    "orders",
                    report.orders_created + report.orders_updated + report.orders_unchanged,
                )
        if latest is not None:
            # A channel clock (or a hostile order) far in the future must not freeze the
            # cursor there: later orders would never be asked for.
            latest = min(latest, pull_started)
            self.book.channels.set_cursor(channel.id, "orders", repr(latest))
        if getattr(client, "history_cursor", None) is not None:
            self.book.channels.set_cursor(channel.id, "orders-history", str(client.history_cursor))
        if first_import:
            self.book.channels.mark_first_import_done(channel.id)

    async def drain(self, name: str) -> DrainOutcome:
        """Send what is queued for one channel, without pulling."""
        async with self._lock(name):
            channel = self.book.channels.get(name)
            client = self.client_factory(channel)
            try:
                return await self._drain(client, channel)
            finally:
                await client.aclose()

    async def _drain(self, client: ChannelClient, channel: Channel) -> DrainOutcome:
        outcome = DrainOutcome()
        outbox = self.book.outbox

        def failed(row: OutboxRow, exc: BaseException) -> None:
            if isinstance(exc, AuthFailed) or not isinstance(exc, ChannelError):
                raise exc
            text = _merchant_text(exc)
            if exc.transient:
                outbox.mark_retry(row, error=text, delay=retry_delay(row.attempts, exc.retry_after))
                outcome.retrying += 1
            else:
                outbox.mark_failed(row, error=text)
                outcome.failed += 1
                if row.order_id is not None:
                    self.book.add_event(
                        row.order_id, "push-failed", f"{channel.name} refused: {text}"
                    )
            outcome.errors.append(text)

        def sent_one() -> None:
            self._progress(channel.name, "sending", outcome.sent)

        # Bounded: rows re-requested while in flight come back due at once, so the
        # loop goes round a few times at most.
        for _ in range(5):
            rows = outbox.due(channel.id)
            if not rows:
                break
            for row in (r for r in rows if r.kind != "stock"):
                try:
                    note = await self._send(client, channel, row)
                except ChannelError as exc:
                    failed(row, exc)
                    continue
                if outbox.mark_done(row, note=note or ""):
                    outcome.sent += 1
                    sent_one()
                    if row.order_id is not None and note:
                        self.book.add_event(row.order_id, "pushed", note)
            stock_rows = [r for r in rows if r.kind == "stock"]
            if stock_rows:
                await self.stock.push(client, channel, stock_rows, outcome, failed, sent_one)
        return outcome

    async def _send(self, client: ChannelClient, channel: Channel, row: OutboxRow) -> str | None:
        if channel.platform == "tradegecko":  # orders exported from the other channels
            from app.channels.tradegecko import sync as gecko

            return await gecko.send(self, client, channel, row)
        payload = dict(row.payload)
        kind = payload.pop("kind")
        target = payload.pop("target", None)
        push = OrderPush(
            kind=kind,
            order_external_id=row.target,
            target=OrderStatus(target) if target else None,
            **payload,
        )
        if "warehouse_id" in inspect.signature(client.push_order).parameters:
            # RetailCRM names the store a shipment leaves from: the order's warehouse's.
            await client.push_order(push, warehouse_id=self._ships_from(row.order_id))
        else:
            await client.push_order(push)
        return f"Sent to {channel.name}: {_push_words(push)}"

    def _ships_from(self, order_id: int | None) -> int | None:
        """The local warehouse most of an order's goods leave from (None if unknown)."""
        if order_id is None:
            return None
        found = self.db.scalar(
            "SELECT warehouse_id FROM order_lines WHERE order_id = ? AND warehouse_id IS NOT NULL"
            " GROUP BY warehouse_id ORDER BY SUM(quantity) DESC, warehouse_id LIMIT 1",
            (order_id,),
        )
        return None if found is None else int(found)


def _push_words(push: OrderPush) -> str:
    if push.kind == "progress" and push.target is not None:
        return f"order {push.target}"
    if push.kind == "tracking":
        return f"tracking {push.tracking_code or push.tracking_url}"
    return {
        "cancel": "order cancelled",
        "return": "shipment returned",
        "paid": "payment received",
        "invoice": f"invoice {push.invoice_number}",
    }.get(push.kind, push.kind)


def _merchant_text(exc: BaseException) -> str:
    return secrets.redact(str(exc))


async def page_runs(
    pages: AsyncIterator[OrderPage], limit: int, wait: float
) -> AsyncIterator[list[OrderPage]]:
    """Consecutive pages of ``pages`` in runs to write together.

    A run ends once it holds ``limit`` orders (quarantined ones counted), when the next
    page takes longer than ``wait`` seconds to arrive, or at the end. The next page is
    asked for as soon as the previous one is here, so the platform prepares it while
    a run is written. Every page comes out exactly once and in order; an error reading a
    page comes out after the run before it.
    """
    iterator = pages.__aiter__()
    upcoming: asyncio.Future[OrderPage] = asyncio.ensure_future(iterator.__anext__())
    run: list[OrderPage] = []
    held = 0
    try:
        while True:
            if run and not upcoming.done():
                done, _ = await asyncio.wait({upcoming}, timeout=wait)
                if not done:
                    yield run
                    run, held = [], 0
                    continue
            try:
                page = await upcoming
            except StopAsyncIteration:
                break
            except Exception:
                if run:  # what arrived before the failure is written first
                    pending, run = run, []
                    yield pending
                raise
            upcoming = asyncio.ensure_future(iterator.__anext__())
            run.append(page)
            held += len(page.orders) + len(page.quarantined)
            if held >= limit:
                yield run
                run, held = [], 0
        if run:
            yield run
    finally:
        if not upcoming.done():
            upcoming.cancel()
            await asyncio.wait({upcoming})
        if not upcoming.cancelled() and upcoming.done():
            upcoming.exception()  # retrieved: an error already raised is not logged again
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()
