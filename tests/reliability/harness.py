"""Shared pieces of the reliability tests.

* fast clients for in-process hubs: the platform clients, unchanged, with a big request
  budget, short timeouts and compressed back-off sleeps, so a test that meets hundreds
  of faults still runs in seconds (the retry *logic* is the product's own);
* the two sandboxes of the storm with their seeds, a scripted merchant and buyer;
* convergence: sync rounds, bounded, until the outbox is empty and a round changes
  nothing;
* snapshots of the local state (orders, lines, ledger, outbox, quarantine) and of each
  sandbox (quantities, order states), and the sandbox's *applied* writes, from which
  the tests prove that every push landed exactly once.

Nothing here changes product behaviour: the clients are built with the same classes and
options the registry uses, only their pacing budget, timeout and sleep differ.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app import secrets
from app.channels import registry
from app.channels.base import ChannelClient
from app.channels.sandbox_http import SandboxHTTPServer
from app.channels.sellar.client import SellarClient
from app.channels.sellar.sandbox import SellarSandbox
from app.channels.selldone.client import SelldoneClient
from app.channels.selldone.sandbox import SelldoneSandbox
from app.hub import Hub
from app.store.channels import Channel

SELLDONE = "Web shop"
SELLAR = "Wholesale"
# Far above any budget these tests can spend: pacing is not what is under test here.
FAST_BUDGET = 1_000_000
ALL_BASKET_STATUSES = ("Payed", "COD", "Canceled", "Open", "Reserved")


async def compressed_sleep(seconds: float) -> None:
    """Back-off and Retry-After waits, compressed: the decisions stay, the waiting goes."""
    await asyncio.sleep(min(max(0.0, seconds), 0.002))


def fast_client_factory(
    timeout: float = 1.0, *, selldone_page: int = 250, sellar_page: int = 100
) -> Callable[[Channel], ChannelClient]:
    """Build each channel's real client with a huge budget and a short timeout.

    Smaller pages (a constructor option of both clients) make an import cross many
    more page boundaries, which is where paging under faults goes wrong.
    """

    def make(channel: Channel) -> ChannelClient:
        secret = secrets.load(channel.name)
        spec = registry.platform(channel.platform)
        options = spec.client_options(channel.settings)
        if channel.platform == "selldone":
            return SelldoneClient(
                channel.base_url,
                channel.account,
                secret,
                timeout=timeout,
                page_size=selldone_page,
                rate_limit_per_minute=FAST_BUDGET,
                sleep=compressed_sleep,
                **options,
            )
        if channel.platform == "sellar":
            return SellarClient(
                channel.base_url,
                channel.account,
                secret,
                timeout=timeout,
                page_size=sellar_page,
                sleep=compressed_sleep,
                **options,
            )
        if channel.platform == "sello":
            from app.channels.sello.client import SelloClient
            from app.channels.sello.ratelimit import RateBudget

            return SelloClient(
                channel.base_url,
                channel.account,
                secret,
                timeout=timeout,
                sleep=compressed_sleep,
                budget=RateBudget(default_limit=FAST_BUDGET, default_window=60.0),
                **options,
            )
        return spec.make_client(channel.base_url, channel.account, channel.settings, secret)

    return make


# ----------------------------------------------------------------------------- shops
@dataclass
class Shop:
    """One sandbox and the channel name the hub knows it by."""

    name: str
    platform: str
    box: SandboxHTTPServer
    account: str = ""

    def connect(self, hub: Hub) -> None:
        asyncio.run(
            hub.add_channel(
                self.platform,
                self.name,
                account=self.account,
                secret=self.box.token,  # type: ignore[attr-defined]
                base_url=self.box.base_url,
            )
        )


def start_shops(
    *, selldone_seed: int, selldone_extra: int, sellar_seed: int, sellar_extra: int
) -> list[Shop]:
    """A Selldone shop and a Sellar supplier, fresh from their seeds, serving on loopback."""
    selldone = SelldoneSandbox(
        seed=selldone_seed, extra_orders=selldone_extra, rate_limit_per_minute=0
    )
    sellar = SellarSandbox(seed=sellar_seed, extra_orders=sellar_extra)
    shops = [
        Shop(SELLDONE, "selldone", selldone, str(selldone.shop_id)),
        Shop(SELLAR, "sellar", sellar, ""),
    ]
    for shop in shops:
        shop.box.start()
    return shops


def stop_shops(shops: Iterable[Shop]) -> None:
    for shop in shops:
        shop.box.stop()


# ------------------------------------------------------------------------ converging
@dataclass
class Convergence:
    rounds: int = 0
    failed_rounds: int = 0
    errors: list[str] = field(default_factory=list)


def fast_forward(hub: Hub) -> None:
    """Make every pending outbox row due now: the back-off clock jumps, nothing else."""
    with hub.db.transaction() as conn:
        conn.execute("UPDATE outbox SET next_attempt_at = 0 WHERE state = 'pending'")


def pending_pushes(hub: Hub) -> int:
    return int(hub.db.scalar("SELECT COUNT(*) FROM outbox WHERE state = 'pending'") or 0)


def sync_round(hub: Hub) -> list[Any]:
    """One sync of every channel, with the waiting compressed.

    Back-off is fast-forwarded and a channel the circuit breaker paused is synced anyway
    (the merchant's "Sync now"), because a test cannot wait out minutes of pause; the
    breaker's own decisions are tested elsewhere.
    """
    fast_forward(hub)
    if "force" in inspect.signature(hub.sync).parameters:
        return asyncio.run(hub.sync(force=True))
    return asyncio.run(hub.sync())


def converge(hub: Hub, *, max_rounds: int) -> Convergence:
    """Sync until a round is clean, sends nothing and changes nothing (bounded)."""
    outcome = Convergence()
    before = local_state(hub)
    for _ in range(max_rounds):
        reports = sync_round(hub)
        outcome.rounds += 1
        after = local_state(hub)
        failed = [r for r in reports if not r.ok]
        if failed:
            outcome.failed_rounds += 1
            outcome.errors += [f"{r.channel}: {r.error}" for r in failed]
        elif pending_pushes(hub) == 0 and after == before:
            return outcome
        before = after
    raise AssertionError(
        f"no steady state after {max_rounds} sync rounds: {pending_pushes(hub)} pushes"
        f" pending; last errors: {outcome.errors[-3:]}"
    )


# ------------------------------------------------------------------ local snapshots
def local_state(hub: Hub, *, invoice_values: bool = True) -> dict[str, Any]:
    """Everything the merchant relies on, as plain comparable data.

    ``invoice_values=False`` keeps only whether an order has an invoice number: numbers
    come from a local sequence in import order, and import order legitimately depends
    on how pages arrived.
    """
    return {
        "orders": local_orders(hub, invoice_values=invoice_values),
        "stock": stock_ledger(hub),
        "outbox": outbox_state(hub),
        "quarantine": sorted(
            (q["channel_id"], q["kind"], q["external_id"], q["reason"])
            for q in hub.channels.quarantined()
        ),
        "listings": listing_quantities(hub),
    }


def local_orders(hub: Hub, *, invoice_values: bool = True) -> dict[tuple[str, str], tuple]:
    rows = hub.db.all(
        "SELECT o.id, c.name AS channel, o.external_id, o.status, o.payment_status,"
        " o.channel_state, o.tracking_code, o.tracking_url, o.invoice_number, o.needs_mapping,"
        " o.history_only, o.total FROM orders o JOIN channels c ON c.id = o.channel_id"
    )
    lines: dict[int, list[tuple]] = defaultdict(list)
    for ln in hub.db.all(
        "SELECT order_id, external_id, sku, quantity, committed, deducted, fulfil,"
        " product_id IS NOT NULL AS mapped FROM order_lines ORDER BY order_id, external_id"
    ):
        lines[ln["order_id"]].append(tuple(ln)[1:])
    out = {}
    for r in rows:
        invoice = r["invoice_number"] if invoice_values else bool(r["invoice_number"])
        out[(r["channel"], r["external_id"])] = (
            r["status"],
            r["payment_status"],
            r["channel_state"],
            r["tracking_code"],
            r["tracking_url"],
            invoice,
            r["needs_mapping"],
            r["history_only"],
            round(r["total"], 6),
            tuple(lines[r["id"]]),
        )
    return out


def stock_ledger(hub: Hub) -> dict[str, tuple[float, float]]:
    """On hand and committed per SKU."""
    return {r["sku"]: (r["on_hand"], r["committed"]) for r in hub.stock()}


def outbox_state(hub: Hub) -> dict[str, Any]:
    rows = hub.db.all(
        "SELECT c.name, o.kind, o.target, o.payload, o.state, o.last_error FROM outbox o"
        " JOIN channels c ON c.id = o.channel_id WHERE o.state != 'done'"
    )
    return {
        "pending": sorted((r[0], r[1], r[2], r[3]) for r in rows if r[4] == "pending"),
        "failed": sorted((r[0], r[1], r[2], r[3], r[5]) for r in rows if r[4] == "failed"),
    }


def listing_quantities(hub: Hub) -> dict[tuple[str, str], float | None]:
    return {
        (r[0], r[1]): r[2]
        for r in hub.db.all(
            "SELECT c.name, l.external_id, l.quantity FROM listings l"
            " JOIN channels c ON c.id = l.channel_id"
        )
    }


def duplicate_rows(hub: Hub) -> list[tuple]:
    """Orders or lines present twice (the schema should make this impossible)."""
    orders = hub.db.all(
        "SELECT channel_id, external_id, COUNT(*) FROM orders"
        " GROUP BY channel_id, external_id HAVING COUNT(*) > 1"
    )
    lines = hub.db.all(
        "SELECT order_id, external_id, COUNT(*) FROM order_lines"
        " GROUP BY order_id, external_id HAVING COUNT(*) > 1"
    )
    return [tuple(r) for r in orders] + [tuple(r) for r in lines]


def integrity(db_path: Path) -> str:
    """``PRAGMA integrity_check`` of a database file, through a fresh connection."""
    conn = sqlite3.connect(str(db_path))
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


# ----------------------------------------------------------------- sandbox snapshots
def remote_state(shop: Shop) -> dict[str, Any]:
    """The sandbox's stock and order states: what the pushes must have produced."""
    box = shop.box
    if isinstance(box, SelldoneSandbox):
        with box.lock:
            products = {
                pid: (
                    p["quantity"],
                    tuple((v["id"], v["quantity"]) for v in p["product_variants"]),
                )
                for pid, p in box.products.items()
            }
            baskets = {
                b["id"]: (
                    b["status"],
                    b["delivery_state"],
                    b["reject"],
                    (b["delivery_info"] or {}).get("tracking_code"),
                    (b["delivery_info"] or {}).get("tracking_url"),
                    tuple(bool(i.get("check")) for i in b["items"]),
                )
                for b in box.physical_orders(ALL_BASKET_STATUSES)
            }
        return {"products": products, "orders": baskets}
    if isinstance(box, SellarSandbox):
        with box.lock:
            products = {
                pid: (p["stock"], p["committedStock"], p["availableStock"])
                for pid, p in box.products.items()
            }
            orders = {
                oid: (
                    bool(o["confirmedAt"]),
                    bool(o["dispatchedAt"]),
                    bool(o["deliveredAt"]),
                    bool(o["cancelledAt"] or o["voidedAt"]),
                    o["paymentStatus"],
                    bool(o["customInvoiceNumber"]),
                )
                for oid, o in box.orders.items()
            }
        return {"products": products, "orders": orders}
    # Another twin: the quantity of each product, if it keeps one (stock pushes are
    # absolute, so the final quantities are what they must have produced).
    with box.lock:
        found = getattr(box, "products", {})
        products = {pid: p.get("quantity") for pid, p in found.items() if isinstance(p, dict)}
    return {"products": products, "orders": {}}


def applications(shop: Shop) -> dict[str, Any]:
    """Every write the sandbox applied, keyed by what it changed.

    Selldone: the delivery-state steps that changed a basket (``changed: true``), in
    order, the returns and the rejects. Sellar: how often each order field was written.
    Stock writes are absolute: their proof is the final quantity, not a count.
    """
    box = shop.box
    if isinstance(box, SelldoneSandbox):
        steps: dict[str, list[str]] = defaultdict(list)
        repeats: Counter[str] = Counter()
        for entry in box.applied_writes("/state", "POST"):
            basket = entry["path"].split("/baskets/")[1].split("/")[0]
            answer = entry["answer"] if isinstance(entry["answer"], dict) else {}
            if answer.get("changed"):
                steps[basket].append(str(answer.get("delivery_state")))
            else:
                repeats[basket] += 1
        returns = Counter(
            e["path"].split("/baskets/")[1].split("/")[0]
            for e in box.applied_writes("/delivery-returned", "POST")
        )
        rejects = Counter(
            e["path"].split("/baskets/")[1].split("/")[0]
            for e in box.applied_writes("/reject", "PUT")
        )
        return {
            "steps": dict(steps),
            "returns": dict(returns),
            "rejects": dict(rejects),
            "harmless_repeats": dict(repeats),
        }
    if isinstance(box, SellarSandbox):
        fields: Counter[tuple[str, str]] = Counter()
        for entry in box.applied_writes("/orders/", "PUT"):
            order_id = entry["path"].rsplit("/", 1)[1]
            for key in entry["json"] or {}:
                fields[(order_id, key)] += 1
        return {"order_fields": dict(fields)}
    # Another twin: its writes by path, for information (no exactly-once rule known).
    return {"writes": dict(Counter(e["path"] for e in box.applied_writes()))}


def once_violations(report: dict[str, Any]) -> list[str]:
    """Writes applied more than once: a state step, a return or an order field."""
    problems = []
    for basket, steps in report.get("steps", {}).items():
        twice = [s for s, n in Counter(steps).items() if n > 1]
        if twice:
            problems.append(f"basket {basket}: steps {twice} applied twice ({steps})")
    for basket, n in report.get("returns", {}).items():
        if n > 1:
            problems.append(f"basket {basket}: return applied {n} times")
    for (order_id, key), n in report.get("order_fields", {}).items():
        if n > 1:
            problems.append(f"Sellar order {order_id}: {key} written {n} times")
    return sorted(problems)


def fault_summary(log: list[dict[str, Any]]) -> Counter[str]:
    """Faults the client met, by kind, from a sandbox request log."""
    return Counter(e["fault_kind"] for e in log if e.get("fault_kind"))


def dumps(data: Any) -> str:
    """Stable text of a snapshot for assertion messages."""
    return json.dumps(data, default=str, sort_keys=True)[:2000]


# ------------------------------------------------------------------------ scenario
@dataclass
class ScenarioResult:
    """What one run of :func:`run_scenario` left behind, for comparison with another."""

    local: dict[str, Any]
    invoices: dict[tuple[str, str], str]
    remote: dict[str, dict[str, Any]]
    applied: dict[str, dict[str, Any]]
    faults: dict[str, Counter[str]]
    rounds: int
    failed_rounds: int
    final_round_changes: list[str]
    duplicates: list[tuple]
    integrity: str
    ledger_problems: list[str]
    seconds: float
    actions: list[str]


def _numeric(order: dict[str, Any]) -> int:
    return int(order["external_id"])


def _ids(orders: Iterable[dict[str, Any]]) -> list[str]:
    return [o["external_id"] for o in sorted(orders, key=_numeric)]


def _mapped(hub: Hub, channel: str, status: str) -> list[str]:
    return _ids(o for o in hub.order_list(status=status, channel=channel) if not o["needs_mapping"])


def merchant_and_buyers(hub: Hub, shops: list[Shop], phase: int) -> list[str]:
    """A deterministic day of business on both channels; returns what was done.

    Phase 1: the merchant works through Selldone's queue (confirm, confirm some lines,
    dispatch with tracking, deliver, cancel, return), buyers and retailers order, the
    Sellar supplier confirms and cancels in Sellar, stock is counted. Phase 2, after a
    sync: the orders of phase 1 move on (Selldone dispatch, Sellar dispatch, deliver,
    paid). Orders are picked by id among those the hub holds, so two runs with the same
    seeds do the same things, and a run that lost an order fails loudly here.
    """
    done: list[str] = []
    selldone = next(s for s in shops if s.platform == "selldone").box
    sellar = next(s for s in shops if s.platform == "sellar").box
    assert isinstance(selldone, SelldoneSandbox) and isinstance(sellar, SellarSandbox)

    def act(channel: str, external_id: str, action: str, **options: Any) -> None:
        hub.order_action(f"{channel}:{external_id}", action, **options)
        done.append(f"{channel} {action} {external_id}")

    def tracking(external_id: str) -> dict[str, str]:
        code = f"JJD{external_id}"
        return {"tracking_code": code, "tracking_url": f"https://track.example/{code}"}

    if phase == 1:
        new = _mapped(hub, SELLDONE, "requested")
        assert len(new) >= 5, f"the Selldone seed has too few mapped new orders ({new})"
        multi = [
            o["external_id"]
            for o in hub.order_list(status="requested", channel=SELLDONE)
            if o["external_id"] in new[1:] and len(o["lines"]) > 1
        ]
        if multi:
            order = hub.order_detail(f"{SELLDONE}:{multi[0]}")
            act(SELLDONE, multi[0], "confirm", items=[order["lines"][0]["line"]])
            new.remove(multi[0])
        act(SELLDONE, new[0], "confirm")
        act(SELLDONE, new[1], "dispatch", **tracking(new[1]))
        act(SELLDONE, new[2], "deliver")
        act(SELLDONE, new[3], "cancel", reason="out of stock")
        sent = _ids(hub.order_list(status="dispatched", channel=SELLDONE))
        if sent:
            act(SELLDONE, sent[0], "return", reason="damaged")
        linked = sorted(
            int(r["listing"])
            for r in hub.listings(SELLDONE)
            if r["product_sku"] and ":" not in r["listing"]
        )
        for product_id in linked[:3]:
            basket = selldone.create_order(
                [{"product_id": product_id, "variant_id": None, "count": 2}]
            )
            done.append(f"Selldone buyer order {basket['id']}")

        requested = _mapped(hub, SELLAR, "requested")
        assert len(requested) >= 3, f"the Sellar seed has too few mapped requests ({requested})"
        for external_id in requested[:2]:
            sellar.confirm_order(int(external_id))
            done.append(f"Sellar supplier confirms {external_id}")
        sellar.cancel_order(int(requested[2]), "retailer closed")
        done.append(f"Sellar supplier cancels {requested[2]}")
        skus = sorted(r["product_sku"] for r in hub.listings(SELLAR) if r["product_sku"])
        retailer = min(sellar.retailers)
        for sku in skus[:2]:
            product = sellar.product_by_sku(sku)
            placed = sellar.place_order(retailer, [{"product_id": product["id"], "quantity": 1}])
            done.append(f"Sellar retailer order {placed['id']}")
        counts = (25, 7, 0, 40)
    else:
        new = _mapped(hub, SELLDONE, "requested")
        assert len(new) >= 2, f"no new Selldone orders left for phase 2 ({new})"
        act(SELLDONE, new[-1], "dispatch", **tracking(new[-1]))
        act(SELLDONE, new[-2], "confirm")
        confirmed = _mapped(hub, SELLAR, "confirmed")
        assert len(confirmed) >= 2, f"the Sellar supplier confirmed too little ({confirmed})"
        act(SELLAR, confirmed[0], "dispatch")
        act(SELLAR, confirmed[1], "deliver")
        for external_id in confirmed[2:]:
            order = hub.orders.get(hub.orders.find(f"{SELLAR}:{external_id}"))
            if order["payment_method"] == "manual" and order["payment_status"] != "paid":
                hub.mark_paid(f"{SELLAR}:{external_id}")
                done.append(f"{SELLAR} paid {external_id}")
                break
        fresh = _mapped(hub, SELLAR, "requested")
        if fresh:
            sellar.confirm_order(int(fresh[-1]))
            done.append(f"Sellar supplier confirms {fresh[-1]}")
        counts = (12, 3, 60, 1)

    skus = sorted(r["sku"] for r in hub.stock())
    for sku, on_hand in zip(skus[phase::7], counts, strict=False):
        hub.count_stock(sku, on_hand)
        done.append(f"count {sku}={on_hand}")
    return done


def run_scenario(
    data_dir: Path,
    plan: Any,
    *,
    selldone_seed: int = 11,
    selldone_extra: int = 2000,
    sellar_seed: int = 5,
    sellar_extra: int = 300,
    timeout: float = 1.0,
    selldone_page: int = 250,
    sellar_page: int = 100,
    max_rounds: int = 40,
) -> ScenarioResult:
    """Import, adopt, act and sync to a steady state, with ``plan`` on both sandboxes.

    The last round runs without faults and must change nothing.
    """
    import time

    from app.channels.faults import FaultPlan

    started = time.monotonic()
    shops = start_shops(
        selldone_seed=selldone_seed,
        selldone_extra=selldone_extra,
        sellar_seed=sellar_seed,
        sellar_extra=sellar_extra,
    )
    factory = fast_client_factory(timeout, selldone_page=selldone_page, sellar_page=sellar_page)
    hub = Hub(data_dir, client_factory=factory)
    try:
        for shop in shops:
            shop.connect(hub)  # the connection test is not under test: no faults yet
        for index, shop in enumerate(shops):
            if isinstance(plan, FaultPlan):
                shop.box.set_fault_plan(plan.with_seed(plan.seed + index))
        rounds = failed = 0
        actions: list[str] = []
        for step in ("import", "adopt", "act 1", "act 2"):
            if step == "adopt":
                for shop in shops:
                    hub.adopt(shop.name)
            elif step.startswith("act"):
                actions += merchant_and_buyers(hub, shops, int(step[-1]))
            outcome = converge(hub, max_rounds=max_rounds)
            rounds += outcome.rounds
            failed += outcome.failed_rounds
        faults = {shop.name: fault_summary(shop.box.request_log) for shop in shops}
        for shop in shops:
            shop.box.clear_fault_plan()
        before = local_state(hub)
        written = {shop.name: len(shop.box.applied_writes()) for shop in shops}
        reports = sync_round(hub)
        after = local_state(hub)
        changes = [f"{r.channel}: {r.error}" for r in reports if not r.ok]
        changes += [f"local {key} changed" for key in before if before[key] != after[key]]
        changes += [
            f"{shop.name}: {len(shop.box.applied_writes()) - written[shop.name]} more writes"
            for shop in shops
            if len(shop.box.applied_writes()) != written[shop.name]
        ]
        invoices = {key: value[5] for key, value in local_orders(hub).items() if value[5]}
        result = ScenarioResult(
            local=local_state(hub, invoice_values=False),
            invoices=invoices,
            remote={shop.name: remote_state(shop) for shop in shops},
            applied={shop.name: applications(shop) for shop in shops},
            faults=faults,
            rounds=rounds,
            failed_rounds=failed,
            final_round_changes=changes,
            duplicates=duplicate_rows(hub),
            integrity=integrity(hub.db.path) if hub.db.path else "ok",
            ledger_problems=hub.ledger.verify(),
            seconds=round(time.monotonic() - started, 2),
            actions=actions,
        )
    finally:
        hub.close()
        stop_shops(shops)
    return result


def compare(clean: ScenarioResult, stormy: ScenarioResult) -> list[str]:
    """Every way ``stormy`` differs from ``clean`` that the merchant would notice."""
    problems: list[str] = []
    ours, theirs = clean.local["orders"], stormy.local["orders"]
    missing = sorted(set(ours) - set(theirs))
    extra = sorted(set(theirs) - set(ours))
    if missing:
        problems.append(f"{len(missing)} orders missing, e.g. {missing[:5]}")
    if extra:
        problems.append(f"{len(extra)} orders that the clean run does not have, e.g. {extra[:5]}")
    differ = sorted(k for k in set(ours) & set(theirs) if ours[k] != theirs[k])
    for key in differ[:5]:
        problems.append(f"order {key}: clean {ours[key]} vs {theirs[key]}")
    if len(differ) > 5:
        problems.append(f"... {len(differ)} orders differ in all")
    a_box, b_box = clean.local["outbox"], stormy.local["outbox"]
    for row in sorted(set(b_box["failed"]) - set(a_box["failed"]))[:3]:
        payload = json.loads(row[3]) if row[3] else {}
        what = payload.get("kind", row[1]) + (
            f" {payload['target']}" if "target" in payload else ""
        )
        problems.append(f"{row[0]} push failed ({row[2]}, {what}): {row[4]}")
    if len(a_box["pending"]) != len(b_box["pending"]):
        problems.append(f"pushes left pending: {len(a_box['pending'])} vs {len(b_box['pending'])}")
    for part in ("stock", "quarantine", "listings"):
        if clean.local[part] != stormy.local[part]:
            a, b = clean.local[part], stormy.local[part]
            if isinstance(a, dict) and isinstance(b, dict):
                keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
                detail = [(k, a.get(k), b.get(k)) for k in keys[:5]]
            else:
                detail = [a, b]
            problems.append(f"{part} differs: {dumps(detail)}")
    if sorted(clean.invoices.values()) != sorted(stormy.invoices.values()):
        problems.append("the invoice numbers handed out differ")
    for name, remote in clean.remote.items():
        for part in ("products", "orders"):
            a, b = remote[part], stormy.remote[name][part]
            keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            if keys:
                detail = [(k, a.get(k), b.get(k)) for k in keys[:4]]
                problems.append(f"{name} {part} differ at the sandbox: {dumps(detail)}")
        a_applied, b_applied = clean.applied[name], stormy.applied[name]
        for part in a_applied:
            if part in ("harmless_repeats", "writes"):  # information, not a rule
                continue
            if a_applied[part] != b_applied[part]:
                keys = sorted(
                    k
                    for k in set(a_applied[part]) | set(b_applied[part])
                    if a_applied[part].get(k) != b_applied[part].get(k)
                )
                detail = [(k, a_applied[part].get(k), b_applied[part].get(k)) for k in keys[:4]]
                problems.append(f"{name} applied {part} differently: {dumps(detail)}")
        problems += [f"{name}: {p}" for p in once_violations(b_applied)]
    problems += [f"final fault-free round: {c}" for c in stormy.final_round_changes]
    if stormy.duplicates:
        problems.append(f"duplicate rows: {stormy.duplicates}")
    if stormy.integrity != "ok":
        problems.append(f"integrity_check: {stormy.integrity}")
    problems += [f"ledger: {p}" for p in stormy.ledger_problems]
    return problems


# ------------------------------------------------------------ one platform at a time
def platform_shop(platform: str) -> Shop:
    """A fresh sandbox of one platform, sized for the fault matrix."""
    if platform == "selldone":
        box = SelldoneSandbox(seed=11, extra_orders=500, rate_limit_per_minute=0)
        shop = Shop(SELLDONE, "selldone", box, str(box.shop_id))
    elif platform == "sellar":
        shop = Shop(SELLAR, "sellar", SellarSandbox(seed=5, extra_orders=100))
    else:
        spec = registry.platform(platform)
        options: dict[str, Any] = {"seed": 2, "extra_orders": 200}
        if platform == "sello":
            options["rate_limit"] = FAST_BUDGET
        shop = Shop(spec.label, platform, spec.sandbox_class()(**options))
    shop.box.start()
    return shop


def single_channel_actions(hub: Hub, shop: Shop) -> list[str]:
    """The merchant's day on one channel: order steps where the platform takes them,
    a buyer order, and stock counts."""
    done: list[str] = []
    name = shop.name
    new = _mapped(hub, name, "requested")
    if shop.platform == "selldone":
        box = shop.box
        assert isinstance(box, SelldoneSandbox)
        hub.order_action(f"{name}:{new[0]}", "confirm")
        hub.order_action(
            f"{name}:{new[1]}",
            "dispatch",
            tracking_code="JJD9",
            tracking_url="https://track.example/JJD9",
        )
        hub.order_action(f"{name}:{new[2]}", "cancel")
        sent = _ids(hub.order_list(status="dispatched", channel=name))
        hub.order_action(f"{name}:{sent[0]}", "return")
        done += [f"confirm {new[0]}", f"dispatch {new[1]}", f"cancel {new[2]}"]
        done.append(f"return {sent[0]}")
        simple = sorted(
            int(r["listing"])
            for r in hub.listings(name)
            if r["product_sku"] and ":" not in r["listing"]
        )
        box.create_order([{"product_id": simple[0], "variant_id": None, "count": 2}])
        done.append("buyer order")
    elif shop.platform == "sellar":
        box = shop.box
        assert isinstance(box, SellarSandbox)
        confirmed = _mapped(hub, name, "confirmed")
        if confirmed:
            hub.order_action(f"{name}:{confirmed[0]}", "deliver")
            done.append(f"deliver {confirmed[0]}")
        for external_id in confirmed[1:]:
            order = hub.orders.get(hub.orders.find(f"{name}:{external_id}"))
            if order["payment_method"] == "manual" and order["payment_status"] != "paid":
                hub.mark_paid(f"{name}:{external_id}")
                done.append(f"paid {external_id}")
                break
        keg = sorted(r["product_sku"] for r in hub.listings(name) if r["product_sku"])[0]
        product = box.product_by_sku(keg)
        box.place_order(min(box.retailers), [{"product_id": product["id"], "quantity": 1}])
        done.append("retailer order")
    skus = sorted(r["sku"] for r in hub.stock())
    for sku, on_hand in zip(skus[::5], (17, 0, 44), strict=False):
        hub.count_stock(sku, on_hand)
        done.append(f"count {sku}={on_hand}")
    return done


def run_platform(
    data_dir: Path, platform: str, plan: Any, *, max_rounds: int = 40, timeout: float = 1.0
) -> ScenarioResult:
    """Import, adopt, act and sync one platform to a steady state under ``plan``."""
    import time

    started = time.monotonic()
    shop = platform_shop(platform)
    hub = Hub(data_dir, client_factory=fast_client_factory(timeout))
    try:
        shop.connect(hub)
        if plan is not None:
            shop.box.set_fault_plan(plan)
        rounds = failed = 0
        actions: list[str] = []
        for step in ("import", "adopt", "act"):
            if step == "adopt":
                hub.adopt(shop.name)
            elif step == "act":
                actions = single_channel_actions(hub, shop)
            outcome = converge(hub, max_rounds=max_rounds)
            rounds += outcome.rounds
            failed += outcome.failed_rounds
        faults = {shop.name: fault_summary(shop.box.request_log)}
        shop.box.clear_fault_plan()
        before = local_state(hub)
        written = len(shop.box.applied_writes())
        reports = sync_round(hub)
        changes = [f"{r.channel}: {r.error}" for r in reports if not r.ok]
        after = local_state(hub)
        changes += [f"local {key} changed" for key in before if before[key] != after[key]]
        if len(shop.box.applied_writes()) != written:
            changes.append(f"{len(shop.box.applied_writes()) - written} more writes")
        return ScenarioResult(
            local=local_state(hub, invoice_values=False),
            invoices={k: v[5] for k, v in local_orders(hub).items() if v[5]},
            remote={shop.name: remote_state(shop)},
            applied={shop.name: applications(shop)},
            faults=faults,
            rounds=rounds,
            failed_rounds=failed,
            final_round_changes=changes,
            duplicates=duplicate_rows(hub),
            integrity=integrity(hub.db.path) if hub.db.path else "ok",
            ledger_problems=hub.ledger.verify(),
            seconds=round(time.monotonic() - started, 2),
            actions=actions,
        )
    finally:
        hub.close()
        shop.box.stop()
