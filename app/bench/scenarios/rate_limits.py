"""Scenario 4: rate-limited platforms, kept within their limit while using most of it.

Sello allows 30 calls a minute per account, RetailCRM 10 requests a second per IP. For
each, the connector's own client does bulk work against its twin (every listing page,
a first import of every order, a stock push for every listing) and the twin counts
what it refused. Sello's twin takes a shortened window (30 calls per few seconds
instead of per minute: the same budget, learnt from its headers, in less time).

Utilisation is measured over whole windows, excluding the last (where the work ends):
calls served ÷ the most the limit allows in that time. With the twin's own windows
(Sello reports when each opened) gaps between windows count as unused budget; for a
twin without them, windows are laid end to end from the first request.

A connector whose modules are not written yet is reported as not available.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import time
from dataclasses import dataclass
from typing import Any

from app.bench.report import ScenarioResult, eprint
from app.bench.sandboxes import SandboxProcess

NAME = "rate_limits"
MIN_UTILISATION = 0.90
PUSH_QUANTITY = 5.0
REFUSED = (429, 503)  # Sello answers 429, RetailCRM's nginx 503


@dataclass(frozen=True, slots=True)
class Platform:
    label: str
    package: str  # app.channels.<package>
    key: str  # the client's ``platform``
    limit: int
    window: float  # seconds, as the twin is told to count (shortened for Sello)
    options: dict[str, Any]
    quick_options: dict[str, Any]
    budget_seconds: float  # bulk work stops after this long, whatever is left


PLATFORMS = (
    Platform(
        label="Sello (30 calls / window)",
        package="sello",
        key="sello",
        limit=30,
        window=3.0,
        options={"rate_limit": 30, "window_seconds": 3.0, "extra_orders": 240},
        quick_options={"rate_limit": 30, "window_seconds": 1.0, "extra_orders": 70},
        budget_seconds=120.0,
    ),
    Platform(
        label="RetailCRM (10 requests / s)",
        package="retailcrm",
        key="retailcrm",
        limit=10,
        window=1.0,
        options={"rate_per_second": 10, "extra_offers": 5_000, "extra_orders": 3_000},
        quick_options={"rate_per_second": 10, "extra_offers": 1_000, "extra_orders": 500},
        budget_seconds=60.0,
    ),
)


def run(quick: bool) -> ScenarioResult:
    result = ScenarioResult(NAME, "4. Rate-limited platforms")
    missing = []
    for platform in PLATFORMS:
        try:
            sandbox_cls, client_cls = discover(platform)
        except (ImportError, LookupError) as exc:
            missing.append(platform.label.split(" (")[0])
            result.info(f"{platform.label}", "not available yet")
            result.notes.append(f"{platform.label}: not available yet ({exc}).")
            continue
        options = platform.quick_options if quick else platform.options
        result.sizes[platform.label.split(" (")[0]] = ", ".join(
            f"{k} {v}" for k, v in options.items()
        )
        target = f"{sandbox_cls.__module__}:{sandbox_cls.__name__}"
        with SandboxProcess(target, options) as box:
            eprint(f"  {platform.label}: bulk work against the twin…")
            try:
                outcome = asyncio.run(
                    _bulk(client_cls, box, platform.budget_seconds, platform.window)
                )
            except Exception as exc:  # one connector's failure must not hide the other's figures
                result.check(f"{platform.label}: bulk work completed", 0, "==", 1)
                result.notes.append(f"{platform.label}: {type(exc).__name__}: {exc}")
                continue
            _report(result, platform, box, outcome)
    if len(missing) == len(PLATFORMS):
        result.unavailable = f"{' and '.join(missing)} connectors not written yet"
    return result


def discover(platform: Platform) -> tuple[type, type]:
    """The twin and client classes of a platform: from the registry, else its modules."""
    from app.channels import registry
    from app.channels.sandbox_http import SandboxHTTPServer

    if platform.key in registry.PLATFORMS:
        spec = registry.platform(platform.key)
        return spec.sandbox_class(), spec.client_class()
    sandbox_module = importlib.import_module(f"app.channels.{platform.package}.sandbox")
    client_module = importlib.import_module(f"app.channels.{platform.package}.client")
    twins = [
        c
        for c in vars(sandbox_module).values()
        if isinstance(c, type)
        and issubclass(c, SandboxHTTPServer)
        and c.__module__ == sandbox_module.__name__
    ]
    clients = [
        c
        for c in vars(client_module).values()
        if isinstance(c, type)
        and getattr(c, "platform", None) == platform.key
        and c.__module__ == client_module.__name__
    ]
    if not twins or not clients:
        raise LookupError(f"no twin or client class in app.channels.{platform.package}")
    return twins[0], clients[0]


async def _client(client_cls: type, box: SandboxProcess, window: float) -> Any:
    """The connector's client for the twin, configured the way a channel's settings do."""
    options: dict[str, Any] = {}
    if "store_code" in inspect.signature(client_cls.__init__).parameters:
        # RetailCRM: stock goes to the one store (warehouse) chosen in the channel's
        # settings; the twin's first active store stands in for that choice.
        probe = client_cls(box.base_url, box.account, box.token)
        try:
            stores = [s for s in await probe.fetch_stores() if getattr(s, "active", True)]
        finally:
            await probe.aclose()
        options["store_code"] = stores[0].code
        await asyncio.sleep(window)  # the probe's request leaves the window first
    return client_cls(box.base_url, box.account, box.token, **options)


async def _bulk(
    client_cls: type, box: SandboxProcess, budget: float, window: float
) -> dict[str, Any]:
    """Listings, a first import, a push per listing, through the connector's own client."""
    from app.channels.base import CAP_STOCK_BATCH

    client = await _client(client_cls, box, window)
    counts = {"listings": 0, "orders": 0, "pushes": 0, "stopped": False}

    async def work() -> None:
        listings = []
        async for batch in client.fetch_listings():
            listings.extend(batch)
        counts["listings"] = len(listings)
        async for page in client.fetch_orders(None):
            counts["orders"] += len(page.orders)
        if CAP_STOCK_BATCH in client.capabilities and hasattr(client, "push_stock_batch"):
            for start in range(0, len(listings), 250):
                chunk = listings[start : start + 250]
                await client.push_stock_batch([(item, PUSH_QUANTITY) for item in chunk])
                counts["pushes"] += len(chunk)
        else:
            for item in listings:
                await client.push_stock(item, PUSH_QUANTITY)
                counts["pushes"] += 1

    box.clear_requests()
    started = time.perf_counter()
    try:
        await asyncio.wait_for(work(), timeout=budget)
    except TimeoutError:
        counts["stopped"] = True  # measured all the same: the limit applies mid-work too
    finally:
        await client.aclose()
    counts["seconds"] = time.perf_counter() - started
    return counts


def utilisation_from_windows(
    windows: list[dict[str, Any]], limit: int, length: float
) -> float | None:
    """Served ÷ allowed from the twin's own windows (when each opened, calls served)."""
    if len(windows) < 2:
        return None
    span = windows[-1]["start"] - windows[0]["start"]
    served = sum(w["served"] for w in windows[:-1])
    return served / (limit * span / length) if span > 0 else None


def utilisation_from_log(times: list[float], limit: int, length: float) -> float | None:
    """Served ÷ allowed over whole windows laid end to end from the first request."""
    if not times:
        return None
    first = min(times)
    last_window = int((max(times) - first) // length)
    if last_window < 1:
        return None
    served = sum(1 for t in times if t - first < last_window * length)
    return served / (limit * last_window)


def _report(result: ScenarioResult, platform: Platform, box: SandboxProcess, outcome: dict) -> None:
    log = box.requests()
    state = box.state()
    refused = [r for r in log if r["status"] in REFUSED]
    served = [r["time"] for r in log if r["status"] not in REFUSED]
    limit = int(state.get("rate_limit") or state.get("rate_per_second") or platform.limit)
    length = float(state.get("window_seconds") or platform.window)
    windows = state.get("rate_windows")
    if windows:
        used = utilisation_from_windows(windows, limit, length)
    else:
        used = utilisation_from_log(served, limit, length)
    breaches = int(state.get("limit_breaches", len(refused)))
    name = platform.label.split(" (")[0]
    result.check(f"{platform.label}: limit breaches", breaches, "==", 0)
    result.check(
        f"{name}: share of the allowed rate used",
        None if used is None else used * 100,
        ">=",
        MIN_UTILISATION * 100,
        "%",
    )
    result.info(
        f"{name}: requests served, seconds",
        f"{len(served):,} in {outcome['seconds']:.1f} s ({len(served) / outcome['seconds']:.1f}/s)"
        if outcome["seconds"]
        else len(served),
    )
    result.info(
        f"{name}: listings, orders, pushes",
        f"{outcome['listings']:,}, {outcome['orders']:,}, {outcome['pushes']:,}",
    )
    result.metrics[name] = {
        "limit": limit,
        "window_seconds": length,
        "served": len(served),
        "refused": len(refused),
        "breaches": breaches,
        "utilisation": used,
        "windows": [w.get("served") for w in windows] if windows else None,
        "bulk": outcome,
    }
    if outcome["stopped"]:
        result.notes.append(
            f"{name}: the bulk work was stopped at its time budget (measured as far as it got)."
        )
    eprint(
        f"  {name}: {len(served)} served, {breaches} breaches,"
        f" utilisation {'—' if used is None else f'{used:.1%}'}"
    )
