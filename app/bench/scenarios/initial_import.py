"""Scenario 1: the first import of a big Selldone shop (100,000 orders, ~3 lines each).

Two measurements, one twin (in its own process, no server-side limit):

* **network**: the real engine's first sync of the shop (listings, every order page,
  the stock pushes that follow). The order-list requests are counted in the twin's log
  and must be exactly ceil(matching orders / 250), the twin's own ``total`` deciding
  how many match (the seeded history is Payed/COD too). Its wall time is reported next
  to the time the twin spent answering and the time spent ingesting.
* **local ingest**: ``OrderBook.ingest`` alone over pages fetched beforehand, handed
  over as the engine hands them when pages come back to back (runs of up to
  ``INGEST_BATCH_ORDERS``, one transaction each, see ``app.sync.engine.page_runs``), with a
  catalogue linked to every SKU so each mapped line writes its ledger movement and
  queues the stock pushes (``first_import`` off: no order is mere history). Pages are
  fetched in chunks to bound memory; only the ingest calls are timed, and the chunk
  is frozen out of the garbage collector's view while they run (the engine never
  holds more than one page, so a collector scanning thousands of buffered payloads
  would measure the benchmark, not the app).
"""

from __future__ import annotations

import asyncio
import gc
import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any

from app.bench import fixtures
from app.bench.report import ScenarioResult, eprint
from app.bench.sandboxes import SandboxProcess

NAME = "initial_import"
PAGE_SIZE = 250  # Selldone's page size (the client's maximum)
INGEST_PER_SECOND = 10_000
CHUNK_PAGES = 8  # pages fetched ahead of each timed ingest run (2,000 orders)
ORDERS_PATH = "/process-center/baskets-PHYSICAL"
ON_HAND = 1_000_000.0  # plenty: no line should be short of stock


def run(quick: bool) -> ScenarioResult:
    result = ScenarioResult(NAME, "1. Initial import")
    generated = 5_000 if quick else 100_000
    fixtures.memory_secrets()
    eprint(f"  starting a Selldone twin with {generated:,} generated orders…")
    with SandboxProcess(
        "selldone", {"extra_orders": generated, "rate_limit_per_minute": 0, "lines_per_order": 3}
    ) as box:
        summary = box.control("GET", "/_sandbox/summary")["orders"]["by_status"]
        matching = int(summary.get("Payed", 0)) + int(summary.get("COD", 0))
        result.sizes = {"generated orders": generated, "orders to import (Payed + COD)": matching}
        with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
            asyncio.run(_network(box, Path(tmp) / "sync", matching, result))
            asyncio.run(_ingest(box, Path(tmp) / "ingest", result))
    return result


async def _catalogue(hub: Any, channel: Any) -> int:
    """Products for every SKU the shop lists, with stock, linked the way a sync links."""
    from app.store.ledger import Ledger

    client = fixtures.unpaced_client_factory(channel)
    skus: set[str] = set()
    try:
        async for batch in client.fetch_listings():
            hub.channels.upsert_listings(channel.id, batch)
            skus.update(listing.sku for listing in batch if listing.sku)
    finally:
        await client.aclose()
    ledger = Ledger(hub.db)
    with hub.db.transaction():
        for sku in sorted(skus):
            product = hub.catalog.add_product(sku, sku)
            ledger.set_on_hand(product.id, channel.warehouse_id, ON_HAND, reason="stock count")
    hub.mapping.auto_link(channel)
    return len(skus)


async def _network(
    box: SandboxProcess, folder: Path, matching: int, result: ScenarioResult
) -> None:
    from app.hub import Hub

    hub = Hub(folder, client_factory=fixtures.unpaced_client_factory)
    try:
        channel = await fixtures.connect(hub, "selldone", "Web shop", box)
        products = await _catalogue(hub, channel)
        box.clear_requests()
        box.reset_serving()
        ingest_seconds = [0.0]
        original = hub.engine.book.ingest

        def timed_ingest(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                ingest_seconds[0] += time.perf_counter() - started

        hub.engine.book.ingest = timed_ingest  # type: ignore[method-assign]
        eprint(f"  first sync of {matching:,} orders over loopback…")
        started = time.perf_counter()
        (report,) = await hub.sync("Web shop")
        wall = time.perf_counter() - started
        if not report.ok:
            raise RuntimeError(f"the sync failed: {report.error}")
        order_requests = box.requests(ORDERS_PATH, "GET")
        all_requests = box.requests()
        serving = box.serving()
        stored = int(hub.db.scalar("SELECT COUNT(*) FROM orders"))
    finally:
        hub.close()
    order_serving = sum(r["seconds"] for key, r in serving["routes"].items() if "baskets-" in key)
    expected = math.ceil(matching / PAGE_SIZE)
    failed = [r for r in order_requests if r["status"] != 200]
    result.check("order-list requests", len(order_requests), "==", expected)
    result.info("  expected: ceil(orders / 250)", expected)
    result.check("order-list requests refused or failed", len(failed), "==", 0)
    result.info("orders stored", stored)
    result.info("total wall time of the sync", wall, "s")
    result.info("  twin's own serving time (order pages)", order_serving, "s")
    result.info("  twin's serving time, all requests", serving["seconds"], "s")
    result.info("  ingest inside the sync (first import)", ingest_seconds[0], "s")
    result.info(
        "  ingest rate inside the sync (history orders move no stock)",
        stored / ingest_seconds[0] if ingest_seconds[0] else None,
        "orders/s",
    )
    result.info(
        "  client side: HTTP, JSON, mapping",
        wall - serving["seconds"] - ingest_seconds[0],
        "s",
    )
    result.info("orders per second, end to end", stored / wall if wall else None, "orders/s")
    result.metrics["network"] = {
        "wall_seconds": wall,
        "order_requests": len(order_requests),
        "expected_order_requests": expected,
        "all_requests": len(all_requests),
        "twin_serving_seconds": serving["seconds"],
        "twin_order_serving_seconds": order_serving,
        "ingest_seconds_in_sync": ingest_seconds[0],
        "products": products,
        "report": report.as_dict(),
    }
    eprint(
        f"  {len(order_requests)} order requests (expected {expected}); sync {wall:.1f} s,"
        f" twin {serving['seconds']:.1f} s, ingest {ingest_seconds[0]:.1f} s"
    )


def _payload_costs(chunk: list[list[Any]], encoder: Any) -> dict[str, float]:
    """Per-order cost of the payload work around the ingest, on one chunk of orders.

    Storing the raw payloads is part of the ingest: Selldone's client keeps each answer
    as sent, which is compressed on a worker thread while the ingest works out its rows
    (see app/store/payloads.py; timed here on its own). The JSON size is given for
    scale; decoding it and mapping each order to a ChannelOrder is the client's share
    of a sync (there one decode per page).
    """
    from app.channels.selldone import mapping
    from app.store.payloads import encode_raw_page

    orders = [order for page in chunk for order in page]
    sent = {id(o.source[0]): o.source[0] for o in orders if o.source is not None}
    started = time.perf_counter()
    if sent:
        stored = [encode_raw_page(page) for page in sent.values()]
    else:
        stored = [encoder.encode_page([order.raw for order in page]) or b"" for page in chunk]
    encoded = time.perf_counter()
    texts = [json.dumps(order.raw, default=str) for order in orders]
    decoding = time.perf_counter()
    bodies = [json.loads(text) for text in texts]
    decoded = time.perf_counter()
    for body in bodies:
        mapping.order_from_basket(body)
    mapped = time.perf_counter()
    n = len(orders)
    return {
        "raw_bytes": sum(len(t) for t in texts) / n,
        "stored_bytes": sum(len(b) for b in stored) / n,
        "encode_us": (encoded - started) / n * 1e6,
        "decode_us": (decoded - decoding) / n * 1e6,
        "mapping_us": (mapped - decoded) / n * 1e6,
    }


def _runs(chunk: list[list[Any]]) -> list[list[Any]]:
    """The chunk's pages joined into the runs the engine writes in one transaction each."""
    from app.sync.engine import INGEST_BATCH_ORDERS

    runs: list[list[Any]] = [[]]
    for page in chunk:
        if len(runs[-1]) >= INGEST_BATCH_ORDERS:
            runs.append([])
        runs[-1].extend(page)
    return [run for run in runs if run]


async def _ingest(box: SandboxProcess, folder: Path, result: ScenarioResult) -> None:
    from app.channels import registry
    from app.hub import Hub
    from app.store.ledger import Ledger
    from app.store.payloads import PayloadEncoder

    hub = Hub(folder, client_factory=fixtures.unpaced_client_factory)
    encoder = PayloadEncoder()  # what the store encodes raw payloads with
    try:
        channel = await fixtures.connect(hub, "selldone", "Web shop", box)
        await _catalogue(hub, channel)
        channel = hub.channels.get("Web shop")
        rules = registry.rules("selldone")
        client = fixtures.unpaced_client_factory(channel)
        pages = client.fetch_orders(None).__aiter__()
        wall = cpu = 0.0
        orders = lines = moved = 0
        costs: dict[str, float] = {}
        rates: list[float] = []
        exhausted = False
        eprint("  timing OrderBook.ingest over pre-fetched pages…")
        try:
            while not exhausted:
                chunk = []
                try:
                    while len(chunk) < CHUNK_PAGES:
                        chunk.append((await pages.__anext__()).orders)
                except StopAsyncIteration:
                    exhausted = True
                if not chunk:
                    break
                gc.collect()
                gc.freeze()  # the buffered chunk is the benchmark's, not the app's
                try:
                    chunk_wall = 0.0
                    for run in _runs(chunk):
                        started, started_cpu = time.perf_counter(), time.process_time()
                        outcome = hub.orders.ingest(channel, run, first_import=False, rules=rules)
                        chunk_wall += time.perf_counter() - started
                        cpu += time.process_time() - started_cpu
                        orders += len(run)
                        lines += sum(len(o.lines) for o in run)
                        moved += len(outcome.committed_products)
                    wall += chunk_wall
                    rates.append(sum(len(p) for p in chunk) / chunk_wall)
                    if not costs:  # measured once, on the first chunk
                        costs = _payload_costs(chunk, encoder)
                finally:
                    gc.unfreeze()
                    del chunk
        finally:
            await client.aclose()
        movements = int(
            hub.db.scalar("SELECT COUNT(*) FROM stock_movements WHERE order_line_id IS NOT NULL")
        )
        pushes = int(
            hub.db.scalar("SELECT COUNT(*) FROM outbox WHERE kind = 'stock' AND state = 'pending'")
        )
        consistent = not Ledger(hub.db).verify()
    finally:
        hub.close()
    rate = orders / wall if wall else 0.0
    result.check("local ingest rate", rate, ">=", INGEST_PER_SECOND, "orders/s")
    result.info("  ingest CPU time rate", orders / cpu if cpu else None, "orders/s")
    result.info("  slowest / fastest chunk", f"{min(rates):,.0f} / {max(rates):,.0f} orders/s")
    result.info("  lines ingested, ledger movements written", f"{lines:,} / {movements:,}")
    result.info("  stock pushes queued (coalesced per listing)", pushes)
    result.info(
        "  raw payload: JSON size, stored size, encoding",
        f"{costs['raw_bytes']:,.0f} B, {costs['stored_bytes']:,.0f} B,"
        f" {costs['encode_us']:.0f} µs/order",
    )
    result.info(
        "  client side per order: JSON decoding, mapping",
        f"{costs['decode_us']:.0f} µs, {costs['mapping_us']:.0f} µs",
    )
    result.check("ledger totals equal the movements", int(consistent), "==", 1)
    result.metrics["ingest"] = {
        "orders": orders,
        "lines": lines,
        "movements": movements,
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "rate": rate,
        "chunk_rates": [round(r) for r in rates],
        **costs,
    }
    result.notes.append(
        "Local ingest keeps each order's raw payload (about"
        f" {costs['raw_bytes']:,.0f} bytes as JSON for Selldone: items with their product"
        " briefs): the answer Selldone sent, compressed on a worker thread while the rows"
        f" are worked out ({costs['stored_bytes']:,.0f} bytes an order as stored;"
        f" compressing takes {costs['encode_us']:.0f} µs per order of that thread's time)."
    )
    eprint(f"  ingest: {rate:,.0f} orders/s wall, {orders / cpu if cpu else 0:,.0f} orders/s CPU")
