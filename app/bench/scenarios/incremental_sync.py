"""Scenario 2: an incremental sync when nothing changed costs one request per resource.

Selldone and Sellar twins (own processes); both channels are imported and their
listings adopted, then synced until nothing is left to send. The twins' request logs
are cleared and the engine syncs every channel once more:

* with the listings fresh (the engine re-reads them every 15 minutes), each channel
  may cost one request: its order list;
* with the listings due, each channel may cost one request per resource: one order
  list and one listing page.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from app.bench import fixtures
from app.bench.report import ScenarioResult, eprint
from app.bench.sandboxes import SandboxProcess

NAME = "incremental_sync"
SETTLE_ROUNDS = 5  # syncs allowed to drain the adoption's stock pushes

# Channel → (platform, twin options, how a logged request names its resource).
CHANNELS: dict[str, tuple[str, dict[str, Any]]] = {
    "Web shop": ("selldone", {"rate_limit_per_minute": 0}),
    "Wholesale": ("sellar", {}),
}


def resource(platform: str, method: str, path: str) -> str:
    """Which resource a logged request touched, in the platform's own terms."""
    if platform == "selldone":
        if "/process-center/baskets-" in path:
            return "orders"
        if path.endswith("/products/all-admin"):
            return "listings"
        if path.endswith("/quantity"):
            return "stock pushes"
    elif platform == "sellar":
        if method == "GET" and path == "/orders":
            return "orders"
        if method == "GET" and path == "/products":
            return "listings"
        if method == "PUT" and path.startswith("/products/"):
            return "stock pushes"
    return f"other ({method} {path})"


def run(quick: bool) -> ScenarioResult:
    result = ScenarioResult(NAME, "2. Incremental sync")
    extra = 200 if quick else 2_000
    result.sizes = {"generated Selldone orders": extra}
    fixtures.memory_secrets()
    boxes = {
        name: SandboxProcess(platform, dict(options, extra_orders=extra))
        for name, (platform, options) in CHANNELS.items()
    }
    try:
        for box in boxes.values():
            box.start()
        with tempfile.TemporaryDirectory(prefix="bench-incremental-") as tmp:
            asyncio.run(_measure(Path(tmp), boxes, result))
    finally:
        for box in boxes.values():
            box.stop()
    return result


async def _measure(folder: Path, boxes: dict[str, SandboxProcess], result: ScenarioResult) -> None:
    from app.hub import Hub

    hub = Hub(folder, client_factory=fixtures.unpaced_client_factory)
    try:
        for name, (platform, _) in CHANNELS.items():
            await fixtures.connect(hub, platform, name, boxes[name])
        await hub.sync()
        for name in CHANNELS:
            hub.adopt(name)
        for _ in range(SETTLE_ROUNDS):
            reports = await hub.sync()
            if not any(r.pushes_sent or r.orders_created or r.orders_updated for r in reports):
                break
        fresh, fresh_seconds = await _counted_sync(hub, boxes)
        hub.engine.listings_refresh = 0.0  # every listing page is due now
        due, due_seconds = await _counted_sync(hub, boxes)
    finally:
        hub.close()
    result.metrics = {"listings_fresh": fresh, "listings_due": due}
    for name, (platform, _) in CHANNELS.items():
        label = f"{name} ({platform})"
        result.check(f"{label}: order requests", fresh[name].get("orders", 0), "==", 1)
        result.check(f"{label}: all requests, listings fresh", sum(fresh[name].values()), "==", 1)
        result.check(
            f"{label}: listing requests, listings due", due[name].get("listings", 0), "==", 1
        )
        result.check(f"{label}: order requests, listings due", due[name].get("orders", 0), "==", 1)
        others = {k: v for k, v in due[name].items() if k not in ("orders", "listings")}
        result.check(f"{label}: other requests, listings due", sum(others.values()), "==", 0)
    result.info("sync of both channels, listings fresh", fresh_seconds * 1000, "ms")
    result.info("sync of both channels, listings due", due_seconds * 1000, "ms")
    eprint(f"  listings fresh: {fresh}; listings due: {due}")


async def _counted_sync(
    hub: Any, boxes: dict[str, SandboxProcess]
) -> tuple[dict[str, dict[str, int]], float]:
    """One sync of every channel; the requests each twin saw, by resource."""
    for box in boxes.values():
        box.clear_requests()
    started = time.perf_counter()
    reports = await hub.sync()
    seconds = time.perf_counter() - started
    failed = [r.error for r in reports if not r.ok]
    if failed:
        raise RuntimeError(f"a sync failed: {failed}")
    counts: dict[str, dict[str, int]] = {}
    for name, (platform, _) in CHANNELS.items():
        seen = Counter(resource(platform, r["method"], r["path"]) for r in boxes[name].requests())
        counts[name] = dict(seen)
    return counts, seconds
