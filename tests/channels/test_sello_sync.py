"""Sello through the engine: status mapping, row fetching only when needed, and a big
stock push spread over the account's rate limit without a single breach."""

import asyncio
import time

import pytest

from app.channels.sello.sandbox import SelloSandbox
from app.hub import Hub

NAME = "Marketplaces"


@pytest.fixture
def box():
    # 12 calls a second: small enough that 18 stock pushes must be spread over windows.
    sandbox = SelloSandbox(seed=1, rate_limit=12, window_seconds=1.0)
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def hub(tmp_path, box):
    h = Hub(tmp_path / "data")
    asyncio.run(h.add_channel("sello", NAME, account="", secret=box.token, base_url=box.base_url))
    yield h
    h.close()


def sync(hub):
    (report,) = asyncio.run(hub.sync(NAME))
    assert report.ok, report.error
    return report


def quantity_puts(box):
    return [
        r
        for r in box.request_log
        if r["method"] == "PUT" and "/products/" in r["path"] and 200 <= r["status"] < 300
    ]


def test_import_then_spread_stock_push_without_breach(hub, box):
    first = sync(hub)
    assert first.orders_created == len(box.orders)
    adopted = hub.adopt(NAME)
    assert adopted.linked == len(box.products) - len(adopted.conflicts)
    sync(hub)
    assert quantity_puts(box) == []  # adopting: the shop already shows what is available
    for row in hub.stock():  # a delivery came in: every product has 5 more
        hub.count_stock(row["sku"], row["on_hand"] + 5)
    sync(hub)
    sent_first = len(quantity_puts(box))
    postponed = hub.db.scalar(
        "SELECT COUNT(*) FROM outbox WHERE kind = 'stock' AND state = 'pending' AND next_attempt_at > ?",
        (time.time(),),
    )
    assert 0 < sent_first < adopted.linked and postponed > 0
    for _ in range(6):  # bounded: each round sends one more wave
        if hub.status()[0]["queued_pushes"] == 0:
            break
        time.sleep(1.1)
        sync(hub)
    assert hub.status()[0]["queued_pushes"] == 0
    puts = quantity_puts(box)
    per_product = {}
    for r in puts:
        per_product[r["path"]] = per_product.get(r["path"], 0) + 1
    assert len(per_product) == len(puts)  # one quantity update per product, never two
    assert box.limit_breaches == 0
    for row in hub.listings(NAME):
        if row["product_sku"]:
            local = hub.stock(row["product_sku"])[0]["sellable"]
            assert box.product_quantity(int(row["listing"])) == local


def test_status_change_is_seen_and_only_changed_orders_are_reread(hub, box):
    sync(hub)
    delivered = next(
        sid for sid, s in box.statuses.items() if s["is_delivered"] and not s["is_deleted"]
    )
    order_id = next(
        oid
        for oid, o in box.orders.items()
        if box.statuses[str(o["status_id"])]["is_active"]
        and not box.statuses[str(o["status_id"])]["is_delivered"]
    )
    assert hub.order_detail(f"{NAME}:{order_id}")["status"] != "delivered"
    reads_before = len(
        [r for r in box.request_log if r["path"].rstrip("/").endswith(f"/orders/{order_id}")]
    )
    others_before = len(
        [r for r in box.request_log if "/orders/" in r["path"] and r["method"] == "GET"]
    )
    box.set_order_status(order_id, delivered)
    sync(hub)
    assert hub.order_detail(f"{NAME}:{order_id}")["status"] == "delivered"
    reads_after = len(
        [r for r in box.request_log if r["path"].rstrip("/").endswith(f"/orders/{order_id}")]
    )
    others_after = len(
        [r for r in box.request_log if "/orders/" in r["path"] and r["method"] == "GET"]
    )
    assert reads_after == reads_before + 1  # the changed order's rows were read again
    assert others_after == others_before + 1  # and no other order's
