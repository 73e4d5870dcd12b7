"""The dashboard: its report queries against a real ledger, the chart, and the page itself."""

from __future__ import annotations

import random
import time
from datetime import date, timedelta

import pytest
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QColor, QHelpEvent, QImage
from PySide6.QtWidgets import QApplication, QToolTip

from app.core.models import OrderStatus as S
from app.core.models import QuarantinedItem
from app.store import reports
from app.store.catalog import Catalog
from app.store.channels import Channel, ChannelRepo
from app.store.ledger import Ledger
from app.store.orders import OrderBook
from app.store.outbox import Outbox
from app.ui.charts import PALETTE, StackedBarChart, day_label, nice_ticks
from app.ui.dashboard import DashboardPage, quantity_text, relative_time
from tests.conftest import make_order

SCREENSHOT = "/tmp/dashboard.png"


# -- building a shop through the real store ---------------------------------------------
def add_channel(db, name: str, *, enabled: bool = True) -> Channel:
    repo = ChannelRepo(db)
    channel = repo.add(
        name,
        "selldone",
        "http://127.0.0.1:1",
        account=name,
        warehouse_id=Catalog(db).default_warehouse_id(),
    )
    if not enabled:
        channel = repo.update(name, enabled=False)
    return channel


def add_product(db, sku: str, name: str, on_hand: float, buffer: float = 0.0) -> int:
    catalog = Catalog(db)
    product = catalog.add_product(sku, name, safety_buffer=buffer)
    if on_hand:
        Ledger(db).record(
            product.id, catalog.default_warehouse_id(), on_hand=on_hand, reason="count"
        )
    return product.id


def local_time(days_ago: int, hour: int = 12) -> float:
    """Unix time of ``hour`` o'clock, local time, ``days_ago`` days before today."""
    day = date.today() - timedelta(days=days_ago)
    return time.mktime((day.year, day.month, day.day, hour, 0, 0, 0, 0, -1))


def sync_run(db, channel: Channel, *, ok: bool, error: str = "") -> None:
    repo = ChannelRepo(db)
    log_id = repo.log_start(channel.id)
    repo.log_finish(log_id, ok=ok, summary="test run", error=error)


def failed_update(db, channel: Channel, order_ref: str, error: str) -> None:
    """Queue an order update for ``channel`` and have the channel refuse it for good."""
    book = OrderBook(db)
    order_id = book.find(order_ref)
    outbox = Outbox(db)
    outbox.enqueue_order(channel.id, order_id, order_ref, {"progress": "confirmed"})
    row = next(r for r in outbox.due(channel.id) if r.order_id == order_id)
    outbox.mark_failed(row, error=error)


@pytest.fixture
def web(db) -> Channel:
    return add_channel(db, "Web shop")


@pytest.fixture
def market(db) -> Channel:
    return add_channel(db, "Wholesale market")


@pytest.fixture
def busy_shop(db, web, market):
    """Two new orders, one waiting for a product, one to dispatch, one refused, one unreadable."""
    add_product(db, "KEG", "Beer keg", 100)
    book = OrderBook(db)
    book.ingest(
        web,
        [
            make_order("1"),
            make_order("2"),
            make_order("3", lines=(("L1", "NO-SUCH-SKU", 1),)),
            make_order("4", status=S.CONFIRMED),
            make_order("5", status=S.DISPATCHED),
        ],
        first_import=False,
    )
    book.ingest(market, [make_order("6", status=S.DELIVERED)], first_import=False)
    failed_update(db, market, "SM-6", "The channel refused the change: order is closed")
    repo = ChannelRepo(db)
    repo.quarantine(web.id, QuarantinedItem("order", "99", "the order has no lines", {"id": 99}))
    repo.quarantine(web.id, QuarantinedItem("order", "98", "no customer", {"id": 98}))
    repo.resolve_quarantined(web.id, "order", ["98"])
    return db


# -- reports ------------------------------------------------------------------------
def test_order_counts_split_attention_into_its_reasons(busy_shop):
    counts = reports.order_counts(busy_shop)
    assert counts == reports.OrderCounts(
        new=2, needs_mapping=1, failed_updates=1, unreadable=1, to_dispatch=1
    )
    assert counts.needs_attention == 3


def test_order_counts_of_an_empty_ledger_are_zero(db):
    assert reports.order_counts(db) == reports.OrderCounts(0, 0, 0, 0, 0)


def test_orders_per_day_counts_each_local_day_including_empty_ones(db, web, market):
    add_channel(db, "Craft fair", enabled=False)  # paused and quiet: left out of the chart
    add_channel(db, "Pop-up")  # enabled and quiet: a row of zeros keeps the legend stable
    add_product(db, "KEG", "Beer keg", 100)
    book = OrderBook(db)
    orders = [
        make_order("a", updated=local_time(0, 9)),
        make_order("b", updated=local_time(0, 23)),
        make_order("c", updated=local_time(3)),
        make_order("d", updated=local_time(29, 0)),
        make_order("e", updated=local_time(30, 23)),  # one day too old
    ]
    book.ingest(web, orders, first_import=False)
    undated = make_order("f")
    undated.created_at = None  # no placing time: counts on the day it was imported (today)
    book.ingest(
        market,
        [
            make_order("g", updated=local_time(3, 8)),
            make_order("h", updated=local_time(3)),
            undated,
        ],
        first_import=False,
    )

    daily = reports.orders_per_day(db, days=30, now=time.time())

    today = date.today()
    assert daily.days == [today - timedelta(days=n) for n in range(29, -1, -1)]
    series = dict(daily.series)
    assert list(series) == ["Pop-up", "Web shop", "Wholesale market"]
    assert series["Pop-up"] == [0] * 30
    web_counts, market_counts = series["Web shop"], series["Wholesale market"]
    assert (web_counts[-1], web_counts[-4], web_counts[0]) == (2, 1, 1)
    assert sum(web_counts) == 4 and web_counts.count(0) == 27
    assert (market_counts[-1], market_counts[-4], sum(market_counts)) == (1, 2, 3)
    assert daily.total == 7
    assert len(reports.orders_per_day(db, days=7).days) == 7


@pytest.fixture
def stocked(db, web):
    """Products in every state of "running low", plus two that are fine."""
    add_product(db, "KEG", "Beer keg", 100, buffer=10)  # fine
    add_product(db, "JAM", "Plum jam", 10, buffer=2)  # fine
    add_product(db, "MUG", "Sage mug", 3, buffer=5)  # under its safety stock
    add_product(db, "LID", "Jar lid", 0, buffer=4)  # sold out, and should keep 4
    add_product(db, "ASH", "Ash bowl", 0)  # sold out, no safety stock: after LID
    Catalog(db).add_product("NEW", "New candle")  # never counted: nothing to sell
    add_product(db, "OIL", "Olive oil", 1)
    OrderBook(db).ingest(web, [make_order("1", lines=(("L1", "OIL", 3),))], first_import=False)
    return db


def test_low_stock_lists_the_most_urgent_first(stocked):
    items = reports.low_stock(stocked)
    assert [i.sku for i in items] == ["OIL", "LID", "ASH", "NEW", "MUG"]
    oil = items[0]
    assert (oil.on_hand, oil.committed, oil.available, oil.buffer) == (1, 3, -2, 0)
    assert (items[-1].available, items[-1].buffer) == (3, 5)
    assert [i.sku for i in reports.low_stock(stocked, limit=2)] == ["OIL", "LID"]


def test_low_stock_adds_up_every_warehouse(stocked):
    catalog, ledger = Catalog(stocked), Ledger(stocked)
    back_room = catalog.warehouse_id("Back room", create=True)
    ledger.record(catalog.by_sku("MUG").id, back_room, on_hand=5, reason="count")
    ledger.record(catalog.by_sku("ASH").id, back_room, on_hand=1, reason="count")
    assert [i.sku for i in reports.low_stock(stocked)] == ["OIL", "LID", "NEW"]


def test_sync_health_states_in_merchant_words(db, web, market):
    quiet = add_channel(db, "Pop-up")
    paused = add_channel(db, "Craft fair", enabled=False)
    add_product(db, "KEG", "Beer keg", 100)
    OrderBook(db).ingest(market, [make_order("1")], first_import=False)
    sync_run(db, web, ok=True)
    outbox = Outbox(db)
    outbox.enqueue_stock(web.id, 11)
    outbox.enqueue_stock(web.id, 12)
    sync_run(db, market, ok=True)
    sync_run(db, market, ok=False, error="Sign-in rejected: the access token has expired.")
    sync_run(db, paused, ok=False, error="Cannot reach the channel")
    running = ChannelRepo(db).log_start(quiet.id)

    health = {h.name: h for h in reports.sync_health(db, now=time.time())}

    assert [h for h in health] == ["Craft fair", "Pop-up", "Web shop", "Wholesale market"]
    ok = health["Web shop"]
    assert (ok.state, ok.queued, ok.failed, ok.last_error) == ("OK", 2, 0, None)
    assert ok.last_success is not None and ok.platform == "selldone" and ok.enabled
    problem = health["Wholesale market"]
    assert problem.state == "Problem"
    assert problem.last_error == "Sign-in rejected: the access token has expired."
    assert problem.last_success is not None and problem.last_attempt >= problem.last_success
    assert (health["Pop-up"].state, health["Pop-up"].syncing) == ("Never synced", True)
    assert (health["Craft fair"].state, health["Craft fair"].enabled) == ("Paused", False)
    # An unfinished run from long ago was cut short, not running.
    later = {h.name: h for h in reports.sync_health(db, now=time.time() + 3600)}
    assert later["Pop-up"].syncing is False
    ChannelRepo(db).log_finish(running, ok=True, summary="done")
    assert {h.name: h.state for h in reports.sync_health(db)}["Pop-up"] == "OK"


def test_a_refused_update_is_a_problem_even_after_a_good_sync(db, web):
    add_product(db, "KEG", "Beer keg", 100)
    OrderBook(db).ingest(web, [make_order("1")], first_import=False)
    sync_run(db, web, ok=True)
    failed_update(db, web, "SM-1", "The channel refused the change")
    (health,) = reports.sync_health(db)
    assert (health.state, health.failed, health.last_error) == ("Problem", 1, None)
    assert health.problem_text == "1 update was refused by Web shop"


# -- words --------------------------------------------------------------------------
def test_relative_time_reads_like_a_person():
    now = local_time(0, 15)
    assert relative_time(None, now) == "never"
    assert relative_time(now - 20, now) == "just now"
    assert relative_time(now - 5 * 60, now) == "5 min ago"
    assert relative_time(now - 3 * 3600, now) == "3 hours ago"
    assert relative_time(local_time(1, 15), now) == "yesterday"
    assert relative_time(local_time(3), now) == "3 days ago"
    old = date.today() - timedelta(days=40)
    assert relative_time(local_time(40), now) == f"on {day_label(old)}"
    assert [quantity_text(v) for v in (3, -2, 1.5, 0)] == ["3", "\u22122", "1.5", "0"]


# -- the chart ------------------------------------------------------------------------
def test_nice_ticks_are_round_and_cover_the_top():
    assert nice_ticks(0) == [0, 1]
    assert nice_ticks(3) == [0, 1, 2, 3]
    assert nice_ticks(37) == [0, 10, 20, 30, 40]
    assert nice_ticks(120) == [0, 50, 100, 150]
    assert day_label(date(2024, 11, 12)) == "12 Nov" == day_label("2024-11-12")


def test_chart_empty_state(qtbot):
    chart = StackedBarChart()
    qtbot.addWidget(chart)
    chart.set_data([date(2024, 11, d) for d in (1, 2, 3)], [("Web shop", [0, 0, 0])])
    assert chart.is_empty()
    assert chart.empty_text() == "No orders in the last 3 days"
    assert chart.accessibleDescription() == "No orders in the last 3 days"
    chart.resize(400, 200)
    assert chart.bar_at(chart.rect().center()) is None


def test_chart_stacks_channels_and_explains_a_day(qtbot):
    chart = StackedBarChart()
    qtbot.addWidget(chart)
    days = [date(2024, 11, 10) + timedelta(days=n) for n in range(5)]
    chart.set_data(days, [("Web shop", [1, 0, 4, 2, 0]), ("Market", [0, 0, 3, 0, 1])])
    chart.resize(600, 260)
    assert not chart.is_empty()
    assert chart.totals() == [1, 0, 7, 2, 1]
    assert chart.accessibleName() == "Orders per day"
    assert chart.accessibleDescription() == "11 orders in the last 5 days: Web shop 7, Market 4"
    tip = chart.tooltip_text(2)
    assert "12 Nov" in tip and "7 orders" in tip and "Web shop" in tip and "Market" in tip
    tallest, lowest = chart.bar_rect(2), chart.bar_rect(0)
    assert tallest.height() == pytest.approx(lowest.height() * 7, rel=0.01)
    assert chart.bar_at(tallest.center()) == 2
    assert chart.bar_at(QPoint(1, 1)) is None
    # Hovering a day explains it in a tooltip.
    chart.show()
    qtbot.waitExposed(chart)
    centre = tallest.center().toPoint()
    QApplication.sendEvent(
        chart, QHelpEvent(QEvent.Type.ToolTip, centre, chart.mapToGlobal(centre))
    )
    qtbot.waitUntil(QToolTip.isVisible, timeout=1000)
    assert "12 Nov" in QToolTip.text() and "Market" in QToolTip.text()
    QToolTip.hideText()
    # The first day only has web-shop orders: its bar is painted in the first colour.
    image: QImage = chart.grab().toImage()
    pixel = image.pixelColor(lowest.center().toPoint())
    assert pixel.name() == QColor(PALETTE[0]).name()
    with pytest.raises(ValueError, match="3 counts for 5 days"):
        chart.set_data(days, [("Web shop", [1, 2, 3])])


# -- the page -------------------------------------------------------------------------
def test_empty_page_shows_zeros_and_friendly_empty_states(qtbot, db):
    page = DashboardPage(db)
    qtbot.addWidget(page)
    assert [t.number.text() for t in (page.tile_new, page.tile_attention, page.tile_dispatch)] == [
        "0",
        "0",
        "0",
    ]
    assert page.tile_attention.detail.text() == "Nothing needs you"
    assert page.chart.is_empty() and page.chart.empty_text() == "No orders in the last 30 days"
    assert page.low_stack.currentWidget() is page.low_empty
    assert not page.channels_empty.isHidden()
    assert page.channel_cards() == []


def test_page_shows_the_figures(qtbot, busy_shop):
    page = DashboardPage(busy_shop)
    qtbot.addWidget(page)
    assert page.tile_new.number.text() == "2"
    assert page.tile_attention.number.text() == "3"
    assert page.tile_attention.property("tone") == "alert"
    assert page.tile_attention.detail.text() == (
        "1 order needs a product \u00b7 1 update refused \u00b7 1 unreadable order"
    )
    assert page.tile_dispatch.number.text() == "1"
    assert page.tile_new.accessibleName() == "New orders: 2"
    cards = {c.health.name: c for c in page.channel_cards()}
    market = cards["Wholesale market"]
    assert market.state.text() == "Problem"
    assert market.error.full_text() == "1 update was refused by Wholesale market"
    assert cards["Web shop"].detail.full_text() == "Selldone \u00b7 not synced yet"


@pytest.mark.parametrize(
    ("tile", "key"),
    [("tile_new", "new"), ("tile_attention", "attention"), ("tile_dispatch", "to_dispatch")],
)
def test_clicking_a_tile_opens_the_orders_behind_it(qtbot, busy_shop, tile, key):
    page = DashboardPage(busy_shop)
    qtbot.addWidget(page)
    page.resize(1200, 760)
    page.show()
    qtbot.waitExposed(page)
    with qtbot.waitSignal(page.open_orders, timeout=1000) as blocker:
        qtbot.mouseClick(getattr(page, tile), Qt.MouseButton.LeftButton)
    assert blocker.args == [key]


def test_attention_goes_straight_to_mapping_when_that_is_all(qtbot, db, web):
    add_product(db, "KEG", "Beer keg", 5)
    OrderBook(db).ingest(web, [make_order("1", lines=(("L1", "GHOST", 1),))], first_import=False)
    page = DashboardPage(db)
    qtbot.addWidget(page)
    page.show()
    assert page.tile_attention.property("tone") == "warn"
    page.tile_attention.setFocus()
    with qtbot.waitSignal(page.open_orders, timeout=1000) as blocker:
        qtbot.keyClick(page.tile_attention, Qt.Key.Key_Space)
    assert blocker.args == ["needs_mapping"]


def test_double_clicking_a_product_running_low_opens_it(qtbot, stocked):
    page = DashboardPage(stocked)
    qtbot.addWidget(page)
    page.resize(1200, 760)
    page.show()
    qtbot.waitExposed(page)
    table = page.low_table
    assert page.low_stack.currentWidget() is table
    assert table.model().rowCount() == 5
    assert table.model().index(0, 3).data() == "\u22122"
    rect = table.visualRect(table.model().index(1, 0))
    with qtbot.waitSignal(page.open_stock, timeout=1000) as blocker:
        # An item view only reports a double-click on the row it saw pressed first.
        qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args == ["LID"]


def test_clicking_a_channel_card_opens_the_channel(qtbot, db, web, market):
    sync_run(db, market, ok=True)
    page = DashboardPage(db)
    qtbot.addWidget(page)
    page.resize(1200, 760)
    page.show()
    qtbot.waitExposed(page)
    card = next(c for c in page.channel_cards() if c.health.name == "Wholesale market")
    assert card.detail.full_text() == "Selldone \u00b7 last synced just now"
    with qtbot.waitSignal(page.open_channel, timeout=1000) as blocker:
        qtbot.mouseClick(card, Qt.MouseButton.LeftButton)
    assert blocker.args == ["Wholesale market"]


def test_refresh_follows_the_ledger_and_the_clock(qtbot, db, web):
    clock = [time.time()]
    page = DashboardPage(db, clock=lambda: clock[0])
    qtbot.addWidget(page)
    add_product(db, "KEG", "Beer keg", 5)
    today = local_time(0, 8)
    OrderBook(db).ingest(
        web, [make_order("1", updated=today), make_order("2", updated=today)], first_import=False
    )
    sync_run(db, web, ok=True)
    page.refresh()
    assert page.tile_new.number.text() == "2"
    assert page.chart_total.text() == "2 orders"
    clock[0] = time.time() + 5 * 60 + 1
    page.show()  # showing re-words the times without reading the database
    assert page.updated.text() == "Updated 5 min ago"
    assert page.channel_cards()[0].detail.full_text() == "Selldone \u00b7 last synced 5 min ago"


# -- how it looks ---------------------------------------------------------------------
PRODUCTS = [
    ("MUG-SAGE", "Stoneware mug, sage", 140, 10),
    ("BOARD-OAK", "Oak serving board", 2, 5),
    ("TOWEL-LIN", "Linen tea towel, natural", 0, 0),
    ("CANDLE-BW", "Beeswax pillar candle", 6, 8),
    ("OIL-500", "Cold-pressed olive oil 500 ml", 1, 0),
    ("BOWL-S", "Small ceramic bowl", 80, 6),
    ("JAR-HONEY", "Wildflower honey jar", 55, 4),
    ("SOAP-LAV", "Lavender soap bar", 4, 12),
]


def build_demo_shop(db) -> None:
    """A small homeware shop: three channels, a month of orders, a few loose ends."""
    for sku, name, on_hand, buffer in PRODUCTS:
        add_product(db, sku, name, on_hand, buffer)
    web, market = add_channel(db, "Web shop"), add_channel(db, "Wholesale market")
    fair = add_channel(db, "Craft fair stall")
    add_channel(db, "Pop-up shop", enabled=False)
    rng = random.Random(7)
    book = OrderBook(db)
    skus = [p[0] for p in PRODUCTS]
    for channel, per_day in ((web, 4.0), (market, 1.6), (fair, 0.6)):
        orders = []
        for days_ago in range(29, -1, -1):
            weekend = date.fromtimestamp(local_time(days_ago)).weekday() >= 5
            count = rng.randint(0, round(per_day * (1.6 if weekend else 1.0) * 1.6))
            for n in range(count):
                ext = f"{channel.id}-{days_ago}-{n}"
                status = S.DELIVERED if days_ago > 3 else rng.choice([S.REQUESTED, S.CONFIRMED])
                line = (("L1", rng.choice(skus), 1),)
                orders.append(
                    make_order(ext, status=status, lines=line, updated=local_time(days_ago, 10))
                )
        book.ingest(channel, orders, first_import=False)
    # This morning's shelf count, so stock reads like a real shop's after a month of sales.
    catalog, ledger = Catalog(db), Ledger(db)
    for sku, _, on_hand, _ in PRODUCTS:
        product = catalog.by_sku(sku)
        ledger.set_on_hand(product.id, catalog.default_warehouse_id(), on_hand, reason="count")
    book.ingest(web, [make_order("w-x", lines=(("L1", "VASE-TALL", 1),))], first_import=False)
    sync_run(db, web, ok=True)
    sync_run(db, market, ok=True)
    sync_run(db, market, ok=False, error="Sign-in rejected: the access token has expired.")
    outbox = Outbox(db)
    for listing in range(3):
        outbox.enqueue_stock(web.id, 100 + listing)
    ChannelRepo(db).quarantine(
        market.id, QuarantinedItem("order", "M-77", "the order has no lines", {"id": "M-77"})
    )


def test_dashboard_screenshot(qtbot, db):
    build_demo_shop(db)
    page = DashboardPage(db, clock=lambda: time.time() + 7 * 60)
    qtbot.addWidget(page)
    page.resize(1200, 760)
    page.show()
    qtbot.waitExposed(page)
    page.refresh()
    pixmap = page.grab()
    assert pixmap.save(SCREENSHOT)
    assert (pixmap.width(), pixmap.height()) == (1200, 760)
    assert not page.chart.is_empty()
    # The attention tile is tinted; the others keep the plain card colour.
    image = pixmap.toImage()

    def inside(tile) -> QColor:
        corner = tile.mapTo(page, tile.rect().bottomRight()) - QPoint(12, 12)
        return image.pixelColor(corner)

    plain, tinted = inside(page.tile_new), inside(page.tile_attention)
    assert plain == inside(page.tile_dispatch)
    assert tinted != plain
    assert tinted.red() > tinted.blue()  # warm amber/red, not grey
