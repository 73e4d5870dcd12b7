"""Fast builders for benchmark data, and the small set-up steps every scenario shares.

``build_store`` fills a data folder with a merchant's worth of history (100,000
orders, 100,000 products by default) through direct SQL, in seconds, following the
schema of app/store/migrations: the database is opened (and migrated) by the product's
own :class:`~app.store.db.Database`, then filled with ``executemany``. The figures are
consistent the way the app keeps them: stock totals equal the sums of the ledger,
lines hold what their order's status asks, held orders have an unmapped line.

Run it in a separate process (``python -m app.bench.fixtures build-store DIR``) when
the process that measures should not carry the builder's memory.
"""

from __future__ import annotations

import argparse
import inspect
import json
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from app import secrets
from app.channels import registry
from app.channels.base import ChannelClient
from app.store.channels import Channel
from app.store.db import Database

DAY = 86_400.0
# No pacing to speak of: the twins run without a server-side limit in the throughput
# scenarios, so a client-side budget would only measure the budget.
UNPACED_PER_MINUTE = 10_000_000


# --------------------------------------------------------------------- scenario set-up
def memory_secrets() -> None:
    """Keep the twins' tokens in memory: a benchmark must not touch the real keyring."""
    secrets.use_memory_store()


def unpaced_client_factory(channel: Channel) -> ChannelClient:
    """The registry's client for ``channel``, without the client-side request budget.

    Only for twins that do not limit either; the rate-limit scenario keeps the budget.
    """
    spec = registry.platform(channel.platform)
    cls = spec.client_class()
    options = spec.client_options(channel.settings)
    if "rate_limit_per_minute" in inspect.signature(cls.__init__).parameters:
        options["rate_limit_per_minute"] = UNPACED_PER_MINUTE
    return cls(channel.base_url, channel.account, secrets.load(channel.name), **options)


async def connect(hub: Any, platform: str, name: str, box: Any, **options: Any) -> Channel:
    """Add a channel for a running twin (a :class:`~app.bench.sandboxes.SandboxProcess`)."""
    await hub.add_channel(
        platform,
        name,
        account=box.account,
        secret=box.token,
        base_url=box.base_url,
        test=False,
        **options,
    )
    return hub.channels.get(name)


# --------------------------------------------------------------------------- the store
_ADJECTIVES = ("Merino", "Alpaca", "Loden", "Felted", "Waxed", "Boiled", "Highland", "Aran")
_ITEMS = ("Socks", "Beanie", "Scarf", "Mittens", "Jacket", "Vest", "Blanket", "Gaiter", "Cap")
_COLOURS = ("Black", "Grey", "Moss", "Slate", "Oat", "Navy", "Rust", "Cream")
_FIRST = ("Anna", "Jonas", "Lena", "Felix", "Marie", "Lukas", "Sophie", "Tobias", "Nina", "Paul")
_LAST = ("Schmidt", "Becker", "Hofmann", "Wagner", "Schulz", "Meyer", "Gruber", "Keller", "Weber")
_CITIES = ("Berlin", "Hamburg", "München", "Köln", "Leipzig", "Wien", "Zürich", "Amsterdam")


def build_store(
    data_dir: Path,
    *,
    orders: int = 100_000,
    products: int = 100_000,
    lines_per_order: int = 3,
    raw_bytes: int = 3500,
    sync_runs: int = 5000,
    seed: int = 1,
) -> dict[str, int]:
    """Fill ``data_dir`` with a large, consistent store. Returns the row counts written.

    Orders spread over a year on two channels (a web shop and a wholesale channel);
    the old ones are delivered history, the last two weeks are open, as in a real
    shop. Each order keeps a raw payload of about ``raw_bytes`` (what a channel sends).
    """
    rng = random.Random(f"stockbridge-bench-store:{seed}")
    data_dir.mkdir(parents=True, exist_ok=True)
    db = Database.in_dir(data_dir)
    conn = db.conn
    conn.execute("PRAGMA synchronous=OFF")  # a throw-away folder: no need to wait for disk
    conn.execute("PRAGMA cache_size=-200000")
    now = time.time()
    counts: dict[str, int] = {}
    with db.transaction():
        warehouse = int(
            conn.execute("SELECT id FROM warehouses WHERE is_default = 1").fetchone()[0]
        )
        channels = _channels(conn, warehouse, now)
        with _listing_reasons_at_the_end(conn):
            prices = _products(conn, rng, products, now)
            links = _listings(conn, rng, channels, products, now)
        counts["products"] = products
        counts["listings"] = int(conn.execute("SELECT COUNT(*) FROM listings").fetchone()[0])
        counts.update(
            _orders(
                conn,
                rng,
                channels,
                warehouse,
                prices,
                links,
                orders,
                lines_per_order,
                raw_bytes,
                now,
            )
        )
        counts["sync_runs"] = _sync_log(conn, rng, channels, sync_runs, now)
        _outbox_and_quarantine(conn, rng, channels, links, now)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return counts


@contextmanager
def _listing_reasons_at_the_end(conn: Any) -> Iterator[None]:
    """Products, listings and links written in bulk without the triggers that keep each
    listing's mapping reason (migration listing_why: a few look-ups per row written);
    every listing's reason is then worked out once, by the migration's own statement,
    and the triggers are put back as they were. Inside the caller's transaction."""
    triggers = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name GLOB '*_why_*'"
    ).fetchall()
    for name, _ in triggers:
        conn.execute(f"DROP TRIGGER {name}")
    yield
    conn.execute(
        "UPDATE listings SET (why, linked_sku) ="
        " (SELECT w.why, w.linked_sku FROM listing_why_live w WHERE w.id = listings.id)"
    )
    for _, sql in triggers:
        conn.execute(sql)


def _channels(conn: Any, warehouse: int, now: float) -> dict[str, int]:
    ids = {}
    for name, platform, url in (
        ("Web shop", "selldone", "http://127.0.0.1:9"),
        ("Wholesale", "sellar", "http://127.0.0.1:9"),
    ):
        ids[name] = conn.execute(
            "INSERT INTO channels (name, platform, base_url, account, settings, warehouse_id,"
            " mapping_mode, first_import_done, created_at) VALUES (?, ?, ?, ?, '{}', ?, 'sku', 1, ?)",
            (
                name,
                platform,
                url,
                "3817" if platform == "selldone" else "",
                warehouse,
                now - 400 * DAY,
            ),
        ).lastrowid
    return ids


def _products(conn: Any, rng: random.Random, count: int, now: float) -> list[float]:
    prices = []
    rows = []
    for i in range(1, count + 1):
        name = f"{rng.choice(_ADJECTIVES)} {rng.choice(_ITEMS)} {rng.choice(_COLOURS)} {i % 97}"
        price = round(rng.uniform(4, 300), 2)
        prices.append(price)
        buffer = 2.0 if i % 17 == 0 else 0.0
        created = now - rng.uniform(30, 900) * DAY
        rows.append(
            (
                i,
                f"NW-{i:06d}",
                name,
                f"426{i:010d}",
                round(price * 0.45, 2),
                buffer,
                created,
                created,
            )
        )
    conn.executemany(
        "INSERT INTO products (id, sku, name, barcode, cost_price, safety_buffer, created_at,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    return prices


def _listings(
    conn: Any, rng: random.Random, channels: dict[str, int], count: int, now: float
) -> dict[int, list[tuple[int, int]]]:
    """Listings of both channels; returns product id → [(channel id, listing id)] linked."""
    links: dict[int, list[tuple[int, int]]] = {}
    listing_rows, link_rows = [], []
    listing_id = 0
    for product in range(1, count + 1):
        targets = [channels["Web shop"]] + ([channels["Wholesale"]] if product % 5 == 0 else [])
        for channel in targets:
            listing_id += 1
            sku = f"NW-{product:06d}"
            if product % 997 == 0:
                sku = ""  # a listing without SKU: "needs you" on the Products screen
            listing_rows.append(
                (listing_id, channel, str(200_000 + listing_id), str(200_000 + listing_id), None,
                 sku, f"Listing {product}", float(rng.randrange(0, 60)), now - 300 * DAY, now - DAY)
            )  # fmt: skip
            if sku and product % 50 != 0:  # every 50th waits to be linked
                link_rows.append((listing_id, product, "sku", now - 300 * DAY))
                links.setdefault(product, []).append((channel, listing_id))
    conn.executemany(
        "INSERT INTO listings (id, channel_id, external_id, product_ref, variant_ref, sku, name,"
        " quantity, is_new, first_seen, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
        listing_rows,
    )
    conn.executemany(
        "INSERT INTO product_links (listing_id, product_id, method, created_at) VALUES (?, ?, ?, ?)",
        link_rows,
    )
    return links


def _orders(
    conn: Any,
    rng: random.Random,
    channels: dict[str, int],
    warehouse: int,
    prices: list[float],
    links: dict[int, list[tuple[int, int]]],
    count: int,
    lines_per_order: int,
    raw_bytes: int,
    now: float,
) -> dict[str, int]:
    products = len(prices)
    on_hand = {p: float(rng.randrange(20, 400)) for p in range(1, products + 1)}
    committed: dict[int, float] = {}
    movements: list[tuple] = [
        (p, warehouse, qty, 0.0, "stock count", "opening count", None, now - 400 * DAY)
        for p, qty in on_hand.items()
    ]
    order_rows, line_rows, event_rows, payload_rows = [], [], [], []
    filler = "x" * max(0, raw_bytes - 600)
    buyers = max(1, count // 4)
    line_id = 0
    held_total = 0
    for order_id in range(1, count + 1):
        channel_name = "Web shop" if rng.random() < 0.8 else "Wholesale"
        channel = channels[channel_name]
        placed = now - (count - order_id) / count * 365 * DAY - rng.uniform(0, 3600)
        age = (now - placed) / DAY
        if age > 14:
            status = "cancelled" if rng.random() < 0.03 else "delivered"
        elif age > 5:
            status = "dispatched"
        elif age > 1.3:
            status = "confirmed"
        else:
            status = "requested"
        history = age > 14  # imported as history: the stock count already reflects them
        buyer = rng.randrange(buyers)
        guest = rng.random() < 0.1
        name = f"{_FIRST[buyer % len(_FIRST)]} {_LAST[(buyer // len(_FIRST)) % len(_LAST)]}"
        ref = "" if guest else f"{channel_name[:1].lower()}:{buyer}"
        email = f"buyer{buyer}@example.org"
        total = 0.0
        held = False
        n_lines = rng.randint(1, max(1, 2 * lines_per_order - 1))
        for number in range(n_lines):
            line_id += 1
            product = rng.randrange(1, products + 1)
            quantity = 1.0 if rng.random() < 0.8 else 2.0
            total += prices[product - 1] * quantity
            mapped = product in links and rng.random() > 0.005
            product_id = product if mapped else None
            held_qty, deducted = 0.0, 0.0
            if product_id is not None and status != "cancelled":
                if status == "requested":
                    held_qty = quantity
                else:
                    deducted = quantity
                if not history:
                    if status == "requested":
                        committed[product] = committed.get(product, 0.0) + quantity
                        movements.append(
                            (
                                product,
                                warehouse,
                                0.0,
                                quantity,
                                "order requested",
                                "",
                                line_id,
                                placed,
                            )
                        )
                    else:
                        on_hand[product] -= quantity
                        movements.append(
                            (
                                product,
                                warehouse,
                                -quantity,
                                0.0,
                                f"order {status}",
                                "",
                                line_id,
                                placed,
                            )
                        )
            elif product_id is None and not history and status != "cancelled":
                held = True
            line_rows.append(
                (line_id, order_id, str(number + 1), str(200_000 + product), f"NW-{product:06d}",
                 f"Product {product}", quantity, prices[product - 1], product_id, warehouse,
                 held_qty, deducted)
            )  # fmt: skip
        held_total += held
        raw = json.dumps(
            {"id": order_id, "status": status, "buyer": name, "email": email, "city": rng.choice(_CITIES),
             "lines": n_lines, "total": round(total, 2), "notes": filler}
        )  # fmt: skip
        order_rows.append(
            (order_id, channel, str(500_000 + order_id), f"{channel_name[:2].upper()}-{500_000 + order_id}",
             status, "paid", int(held), int(history), round(total, 2), "EUR", ref, name,
             email if not guest else "", json.dumps({"name": name, "city": rng.choice(_CITIES)}),
             f"0034{order_id:012d}" if status in ("dispatched", "delivered") else "", "",
             "", status, placed + 3600, "bench", placed, placed, placed + 3600, "stripe")
        )  # fmt: skip
        payload_rows.append((order_id, raw))
        event_rows.append((order_id, "imported", f"Imported from {channel_name}", placed))
    conn.executemany(
        "INSERT INTO orders (id, channel_id, external_id, number, status, payment_status,"
        " needs_mapping, history_only, total, currency, customer_ref, customer_name,"
        " customer_email, receiver, tracking_code, tracking_url, invoice_number, channel_state,"
        " channel_updated_at, fingerprint, placed_at, imported_at, updated_at, payment_method)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        order_rows,
    )
    conn.executemany("INSERT INTO order_payloads (order_id, body) VALUES (?, ?)", payload_rows)
    conn.executemany(
        "INSERT INTO order_lines (id, order_id, external_id, listing_ref, sku, name, quantity,"
        " unit_price, product_id, warehouse_id, committed, deducted)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        line_rows,
    )
    conn.executemany(
        "INSERT INTO order_events (order_id, kind, message, created_at) VALUES (?, ?, ?, ?)",
        event_rows,
    )
    conn.executemany(
        "INSERT INTO stock_movements (product_id, warehouse_id, on_hand_delta, committed_delta,"
        " reason, note, order_line_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        movements,
    )
    conn.executemany(
        "INSERT INTO stock_levels (product_id, warehouse_id, on_hand, committed) VALUES (?, ?, ?, ?)",
        [(p, warehouse, on_hand[p], committed.get(p, 0.0)) for p in on_hand],
    )
    return {
        "orders": count,
        "order_lines": line_id,
        "movements": len(movements),
        "held_orders": held_total,
    }


def _sync_log(
    conn: Any, rng: random.Random, channels: dict[str, int], runs: int, now: float
) -> int:
    rows = []
    for i in range(runs):
        channel = channels["Web shop"] if i % 2 else channels["Wholesale"]
        started = now - (runs - i) * 120.0
        ok = rng.random() > 0.02
        summary = (
            f"{rng.randrange(0, 4)} new orders, {rng.randrange(0, 3)} updated, {rng.randrange(0, 6)} updates sent"
            if ok
            else "could not connect to the shop: check the network connection and address"
        )
        rows.append(
            (
                channel,
                started,
                started + rng.uniform(0.3, 4),
                int(ok),
                summary,
                "" if ok else summary,
            )
        )
    conn.executemany(
        "INSERT INTO sync_log (channel_id, started_at, finished_at, ok, summary, error)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    return runs


def _outbox_and_quarantine(
    conn: Any,
    rng: random.Random,
    channels: dict[str, int],
    links: dict[int, list[tuple[int, int]]],
    now: float,
) -> None:
    rows = []
    linked = list(links.items())[:2000]
    for i, (_product, targets) in enumerate(linked):
        channel, listing = targets[0]
        state = "failed" if i % 150 == 0 else "done"
        rows.append(
            (channel, "stock", str(listing), "{}", f"stock:{listing}", state, 1 if state == "done" else 4,
             now - i * 60, "" if state == "done" else "Selldone refused: the quantity field must be a number",
             now - i * 60 - 5, now - i * 60, now - i * 60 if state == "done" else None)
        )  # fmt: skip
    conn.executemany(
        "INSERT INTO outbox (channel_id, kind, target, payload, dedupe_key, state, attempts,"
        " next_attempt_at, last_error, created_at, updated_at, done_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    conn.executemany(
        "INSERT INTO quarantine (channel_id, kind, external_id, reason, raw, first_seen, last_seen)"
        " VALUES (?, 'order', ?, ?, ?, ?, ?)",
        [
            (
                channels["Web shop"],
                str(900_000 + i),
                "the order has no items",
                json.dumps({"id": i}),
                now - i * DAY,
                now,
            )
            for i in range(8)
        ],
    )


def build_store_in_process(
    data_dir: Path, *, orders: int, products: int, timeout: float = 900.0
) -> dict[str, Any]:
    """``build_store`` in a child process (its memory must not count against the caller)."""
    import subprocess
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.bench.fixtures",
            "build-store",
            str(data_dir),
            "--orders",
            str(orders),
            "--products",
            str(products),
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"building the store failed: {done.stderr[-1500:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.bench.fixtures")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build-store", help="fill a data folder with a large store")
    build.add_argument("data_dir", type=Path)
    build.add_argument("--orders", type=int, default=100_000)
    build.add_argument("--products", type=int, default=100_000)
    build.add_argument("--raw-bytes", type=int, default=3500)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    counts = build_store(
        args.data_dir, orders=args.orders, products=args.products, raw_bytes=args.raw_bytes
    )
    counts["seconds"] = round(time.perf_counter() - started, 2)  # type: ignore[assignment]
    print(json.dumps(counts), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
