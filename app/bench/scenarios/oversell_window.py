"""Scenario 3: the oversell window, from an order seen on one channel to the other's stock.

A wholesale buyer places orders on Sellar (its twin's control API, in bursts) while
the real engine syncs every channel in a loop (``Hub.sync``). Products adopted from
Sellar are also sold on the Selldone web shop (listings linked by hand), so each order
must lower the quantity the web shop shows. Per order:

* *seen* is when ``OrderBook.ingest`` returned with the order (stock committed);
* *arrived* is when the Selldone twin logged the next stock push for the listing.

The window is arrived − seen, reported as p50 / p95 / max. Stock pushes coalesce:
a burst of orders for one product is one push per listing per sync cycle, never one
per order; the pushes are counted per listing per cycle.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from app.bench import fixtures
from app.bench.report import ScenarioResult, eprint, percentile
from app.bench.sandboxes import SandboxProcess

NAME = "oversell_window"
WINDOW_SECONDS = 2.0
PRODUCTS = 3  # Sellar items also listed on the web shop
STOCK = 5_000.0
SETTLE_SECONDS = 30.0  # after the last order, how long the loop may take to catch up
SHOP, WHOLESALE = "Web shop", "Wholesale"


def run(quick: bool) -> ScenarioResult:
    result = ScenarioResult(NAME, "3. Oversell window")
    orders = 10 if quick else 50
    result.sizes = {"orders placed": orders, "products on both channels": PRODUCTS}
    fixtures.memory_secrets()
    with (
        SandboxProcess("selldone", {"rate_limit_per_minute": 0}) as shop,
        SandboxProcess("sellar", {}) as wholesale,
        tempfile.TemporaryDirectory(prefix="bench-oversell-") as tmp,
    ):
        asyncio.run(_measure(Path(tmp), shop, wholesale, orders, result))
    return result


async def _setup(hub: Any, shop: SandboxProcess, wholesale: SandboxProcess) -> list[dict]:
    """Both channels imported; PRODUCTS Sellar items linked to web-shop listings too."""
    await fixtures.connect(hub, "selldone", SHOP, shop)
    await fixtures.connect(hub, "sellar", WHOLESALE, wholesale)
    await hub.sync()
    hub.adopt(WHOLESALE)
    items = [r for r in hub.listings(WHOLESALE) if r["product_sku"]][:PRODUCTS]
    free = [r for r in hub.listings(SHOP) if not r["product_sku"] and not r["ignored"]]
    pairs = []
    for item, listing in zip(items, free, strict=False):
        hub.link(SHOP, listing["listing"], item["product_sku"])
        hub.count_stock(item["product_sku"], STOCK, note="benchmark stock")
        pairs.append(
            {
                "item": int(item["listing"]),
                "sku": item["product_sku"],
                "listing": listing["listing"],
            }
        )
    if len(pairs) < PRODUCTS:
        raise RuntimeError(f"only {len(pairs)} products could be listed on both channels")
    for _ in range(5):  # send the adoption's and the counts' stock before measuring
        reports = await hub.sync()
        if not any(r.pushes_sent for r in reports):
            break
    return pairs


def _quantity_path(listing: str) -> str:
    """The end of the Selldone stock path a push for ``listing`` uses."""
    product, _, variant = listing.partition(":")
    return (
        f"/products/{product}/variants/{variant}/quantity"
        if variant
        else f"/products/{product}/quantity"
    )


async def _measure(
    folder: Path,
    shop: SandboxProcess,
    wholesale: SandboxProcess,
    count: int,
    result: ScenarioResult,
) -> None:
    from app.hub import Hub

    hub = Hub(folder)  # the registry's clients, with their own pacing: the real engine
    try:
        pairs = await _setup(hub, shop, wholesale)
        retailer = _retailer(wholesale)
        seen: dict[str, float] = {}
        original = hub.engine.book.ingest

        def watching_ingest(channel: Any, orders: list, **kwargs: Any) -> Any:
            outcome = original(channel, orders, **kwargs)
            if channel.name == WHOLESALE:
                now = time.time()
                for order in orders:
                    seen.setdefault(order.external_id, now)
            return outcome

        hub.engine.book.ingest = watching_ingest  # type: ignore[method-assign]
        shop.clear_requests()
        placed: list[dict[str, Any]] = []
        placer = threading.Thread(
            target=_place_orders, args=(wholesale, retailer, pairs, count, placed), daemon=True
        )
        cycles: list[tuple[float, float]] = []
        placer.start()
        deadline: float | None = None
        caught_up: int | None = None  # the cycle in which the last order was seen
        while caught_up is None or len(cycles) < caught_up + 2:  # +2: its push cycle
            started = time.time()
            reports = await hub.sync()
            cycles.append((started, time.time()))
            failed = [r.error for r in reports if not r.ok]
            if failed:
                raise RuntimeError(f"a sync failed: {failed}")
            if placer.is_alive():
                continue
            deadline = deadline or time.time() + SETTLE_SECONDS
            if caught_up is None and all(p["order"] in seen for p in placed):
                caught_up = len(cycles)
            if time.time() > deadline:
                break
        placer.join(5)
    finally:
        hub.close()
    pushes = shop.requests("/quantity", "POST")
    _report(result, pairs, placed, seen, pushes, cycles)


def _retailer(wholesale: SandboxProcess) -> int:
    """A retailer connected to the supplier (the twin's own API, before measuring)."""
    answer = httpx.get(
        f"{wholesale.base_url}/supplier-retailer-connections",
        headers={"Authorization": f"Bearer {wholesale.token}"},
        timeout=30,
    )
    answer.raise_for_status()
    for connection in answer.json()["data"]:
        if connection.get("approved") and not connection.get("deletedAt"):
            return int(connection["RetailerId"])
    raise RuntimeError("the Sellar twin has no connected retailer")


def _place_orders(
    wholesale: SandboxProcess, retailer: int, pairs: list[dict], count: int, placed: list
) -> None:
    """Play the buyers: bursts of 1–4 orders, 0.4–1.2 s apart (seeded, so runs compare)."""
    rng = random.Random(7)
    with httpx.Client(base_url=wholesale.base_url, timeout=30) as client:
        while len(placed) < count:
            for _ in range(min(rng.randint(1, 4), count - len(placed))):
                pair = rng.choice(pairs)
                answer = client.post(
                    "/_sandbox/orders",
                    json={
                        "retailer_id": retailer,
                        "items": [{"product_id": pair["item"], "quantity": 1}],
                    },
                )
                answer.raise_for_status()
                placed.append(
                    {"order": str(answer.json()["data"]["id"]), "at": time.time(), **pair}
                )
            time.sleep(rng.uniform(0.4, 1.2))


def _report(
    result: ScenarioResult,
    pairs: list[dict],
    placed: list[dict],
    seen: dict[str, float],
    pushes: list[dict],
    cycles: list[tuple[float, float]],
) -> None:
    by_listing: dict[str, list[float]] = {}
    for pair in pairs:
        suffix = _quantity_path(pair["listing"])
        by_listing[pair["listing"]] = sorted(
            p["time"] for p in pushes if p["path"].endswith(suffix)
        )
    windows, unseen, unpushed = [], 0, 0
    for order in placed:
        at = seen.get(order["order"])
        if at is None:
            unseen += 1
            continue
        after = [t for t in by_listing[order["listing"]] if t >= at]
        if not after:
            unpushed += 1
            continue
        windows.append(after[0] - at)
    per_cycle = 0
    for start, end in cycles:
        for times in by_listing.values():
            per_cycle = max(per_cycle, sum(1 for t in times if start <= t <= end))
    total_pushes = sum(len(t) for t in by_listing.values())
    worst = max(windows) if windows and not (unseen or unpushed) else float("nan")
    result.check("orders seen and pushed to the web shop", len(windows), "==", len(placed))
    result.info("window p50", percentile(windows, 0.5) * 1000, "ms")
    result.info("window p95", percentile(windows, 0.95) * 1000, "ms")
    result.check(
        "window max (order seen → push at the web shop)",
        worst * 1000,
        "<",
        WINDOW_SECONDS * 1000,
        "ms",
    )
    # Orders seen in the same cycle for the same listing must share one push.
    groups = {
        (_cycle_of(seen[o["order"]], cycles), o["listing"]) for o in placed if o["order"] in seen
    }
    result.check("stock pushes per listing per sync cycle (max)", per_cycle, "<=", 1)
    result.check(
        "web-shop pushes ≤ (cycle, listing) pairs with new orders", total_pushes, "<=", len(groups)
    )
    result.info("web-shop pushes for the orders placed", f"{total_pushes} for {len(placed)}")
    result.info(
        "sync cycles run, mean cycle", f"{len(cycles)}, {_mean_cycle(cycles) * 1000:.0f} ms"
    )
    seen_lag = [seen[o["order"]] - o["at"] for o in placed if o["order"] in seen]
    result.info("placed → seen (polling, for context) p50", percentile(seen_lag, 0.5) * 1000, "ms")
    result.metrics = {
        "windows_ms": [round(w * 1000, 1) for w in windows],
        "unseen": unseen,
        "unpushed": unpushed,
        "pushes": total_pushes,
        "orders": len(placed),
        "cycles": len(cycles),
        "max_pushes_per_listing_per_cycle": per_cycle,
        "cycle_listing_groups": len(groups),
    }
    result.notes.append(
        "The engine syncs channels in name order, so an order seen on Wholesale (Sellar)"
        " reaches the Web shop (Selldone) in the next cycle's web-shop sync."
    )
    eprint(
        f"  {len(windows)}/{len(placed)} orders pushed; window p50"
        f" {percentile(windows, 0.5) * 1000:.0f} ms, max {worst * 1000:.0f} ms;"
        f" {total_pushes} pushes for {len(placed)} orders over {len(cycles)} cycles"
    )


def _cycle_of(moment: float, cycles: list[tuple[float, float]]) -> int:
    """The index of the sync cycle running at ``moment``."""
    for index, (start, end) in enumerate(cycles):
        if start <= moment <= end:
            return index
    return -1


def _mean_cycle(cycles: list[tuple[float, float]]) -> float:
    return sum(end - start for start, end in cycles) / len(cycles) if cycles else 0.0
