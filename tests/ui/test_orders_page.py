"""The Orders screen: list, detail, and actions that reach the sandbox shop."""

from pathlib import Path

import pytest
from PySide6.QtWidgets import QDialog

from app.channels.selldone.sandbox import SelldoneSandbox
from app.ui import orders_page
from app.ui.orders_page import OrdersPage
from tests.ui.helpers import CHANNEL, connected_bridge, on_engine


@pytest.fixture
def box():
    sandbox = SelldoneSandbox(seed=5)
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def bridge(tmp_path, box):
    b = connected_bridge(tmp_path, box)
    yield b
    b.stop()


@pytest.fixture
def page(qtbot, bridge):
    p = OrdersPage(bridge)
    qtbot.addWidget(p)
    p.resize(1200, 700)
    p.show()
    return p


def select_order(page, predicate):
    assert page.table.select_where(predicate), "no such order in the list"
    return page.detail.order


def test_lists_every_imported_order_and_filters(page, bridge):
    total = bridge.reader.scalar("SELECT COUNT(*) FROM orders")
    assert page.model.rowCount() == total > 0
    page.show_filter("to_dispatch")
    confirmed = bridge.reader.scalar("SELECT COUNT(*) FROM orders WHERE status = 'confirmed'")
    assert page.model.rowCount() == confirmed
    page.show_filter("new")
    page.table.search.setText("zzzz-no-such-order")
    page.table._debounce.timeout.emit()
    assert page.model.rowCount() == 0


def test_partial_confirm_reaches_the_shop(qtbot, page, box, monkeypatch):
    order = select_order(
        page,
        lambda r: (
            r["status"] == "requested"
            and not r["needs_mapping"]
            and len(page.load(r["id"])["lines"]) > 1
        ),
    )
    assert page.detail.buttons["confirm"].isVisible()
    keep = order["lines"][0]["external_id"]

    def fake_exec(dialog):
        for box_widget, ext in dialog.boxes:
            box_widget.setChecked(ext == keep)
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(orders_page.ConfirmDialog, "exec", fake_exec)
    page.detail.buttons["confirm"].click()
    basket = int(order["external_id"])
    qtbot.waitUntil(lambda: box.state_calls(basket) == ["OrderConfirm"], timeout=15000)
    sent = box.requests_to(f"baskets/{basket}/state", "POST")[0]["json"]
    assert sent["list"] == [int(keep)]
    # The detail pane shows the update waiting, then sent, without the merchant doing anything.
    qtbot.waitUntil(lambda: "Sent to Web shop" in page.detail.history.text(), timeout=15000)
    assert page.detail.order["status"] == "confirmed"
    assert "waiting to send" not in page.detail.history.text()


def test_dispatch_with_tracking_sends_every_step(qtbot, page, box, monkeypatch):
    order = select_order(page, lambda r: r["status"] == "requested" and not r["needs_mapping"])

    def fake_exec(dialog):
        dialog.code.setText("00340434161094042557")
        dialog.url.setText("https://www.dhl.de/track?piececode=00340434161094042557")
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(orders_page.DispatchDialog, "exec", fake_exec)
    page.detail.buttons["dispatch"].click()
    basket = int(order["external_id"])
    qtbot.waitUntil(
        lambda: box.state_calls(basket) == ["OrderConfirm", "PreparingOrder", "SentOrder"],
        timeout=15000,
    )
    qtbot.waitUntil(
        lambda: box.orders[basket]["delivery_info"].get("tracking_code") == "00340434161094042557",
        timeout=15000,
    )


def test_order_waiting_for_mapping_cannot_be_confirmed(qtbot, page, bridge, box):
    # The seeded shop has a listing without a SKU: its orders wait for the merchant.
    no_sku = next(
        p for p in box.products.values() if not p.get("sku") and not p.get("product_variants")
    )
    basket = box.create_order([{"product_id": no_sku["id"], "variant_id": None, "count": 1}])
    on_engine(bridge, lambda hub: hub.sync(CHANNEL))
    page.refresh()
    select_order(page, lambda r: r["external_id"] == str(basket["id"]))
    assert page.detail.order["needs_mapping"] == 1
    assert not page.detail.buttons["confirm"].isEnabled()
    assert "Map the missing products" in page.detail.buttons["confirm"].toolTip()
    assert "Not mapped" in [
        page.detail.lines.data(page.detail.lines.index(i, 4))
        for i in range(page.detail.lines.rowCount())
    ]


def test_export_csv_writes_what_is_shown(page, tmp_path):
    page.show_filter("to_dispatch")
    path = page.table.export_csv(str(tmp_path / "orders.csv"))
    lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].split(",")[:3] == ["Order", "Channel", "Customer"]
    assert len(lines) - 1 == page.model.rowCount()
