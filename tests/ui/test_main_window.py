"""The whole window: every screen, the status bar, the tray's background life, one instance."""

import pytest

from app.channels.selldone.sandbox import SelldoneSandbox
from app.ui.main_window import SCREENS, MainWindow
from app.ui.single_instance import SingleInstance
from app.ui.tray import Tray
from tests.ui.helpers import CHANNEL, connected_bridge


@pytest.fixture
def box():
    sandbox = SelldoneSandbox(seed=8)
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def window(qtbot, tmp_path, box):
    bridge = connected_bridge(tmp_path, box)
    win = MainWindow(bridge)
    qtbot.addWidget(win)
    quits = []
    tray = Tray(bridge, win, lambda: quits.append(True))
    win.tray = tray
    win.quits = quits
    yield win
    tray.hide()
    bridge.stop()


def test_every_screen_opens_and_the_status_bar_names_each_channel(qtbot, window):
    window.show()
    for name in SCREENS:
        window.go(name)
        assert window.stack.currentIndex() == SCREENS.index(name)
    label = window.channel_labels[CHANNEL].text()
    assert CHANNEL in label and "synced" in label


def test_dashboard_tiles_open_the_matching_orders(qtbot, window):
    window.show()
    window.dashboard.open_orders.emit("to_dispatch")
    assert window.stack.currentIndex() == SCREENS.index("Orders")
    assert window.orders.status_filter.currentText() == "To dispatch"


def test_closing_the_window_keeps_syncing_in_the_tray(qtbot, window, box):
    window.tray.available = True  # a desktop with a tray (the offscreen platform has none)
    window.bridge.start()
    window.show()
    window.close()
    assert window.isHidden() and not window.quits
    assert window.bridge._timer.isActive()  # the scheduler goes on
    product = next(
        p for p in box.products.values() if p.get("sku") and not p.get("product_variants")
    )
    basket = box.create_order([{"product_id": product["id"], "variant_id": None, "count": 1}])
    sync_now = next(a for a in window.tray.menu.actions() if a.text() == "Sync now")
    with qtbot.waitSignal(window.bridge.sync_finished, timeout=15000):
        sync_now.trigger()
    found = window.bridge.reader.scalar(
        "SELECT COUNT(*) FROM orders WHERE external_id = ?", (str(basket["id"]),)
    )
    assert found == 1
    window.tray.rebuild_menu()
    pause = next(a for a in window.tray.menu.actions() if a.text() == "Pause syncing")
    pause.trigger()
    assert window.tray.update_state() == "paused"
    window.tray.rebuild_menu()  # the menu is rebuilt each time it opens
    assert (
        next(a for a in window.tray.menu.actions() if a.text() == "Sync now").isEnabled() is False
    )
    quit_action = next(a for a in window.tray.menu.actions() if a.text() == "Quit Stockbridge")
    quit_action.trigger()
    assert window.quits == [True]


def test_without_a_tray_closing_quits(qtbot, window):
    window.tray.available = False
    window.show()
    window.close()
    assert window.quits == [True]


def test_a_second_launch_raises_the_first(qtbot, tmp_path):
    first = SingleInstance(tmp_path)
    assert first.listen()
    try:
        second = SingleInstance(tmp_path)
        with qtbot.waitSignal(first.raise_requested, timeout=5000):
            assert second.already_running()
        other_folder = SingleInstance(tmp_path / "elsewhere")
        assert not other_folder.already_running(timeout_ms=200)
    finally:
        first.close()


def test_what_the_app_built_to_start_is_moved_out_of_the_collectors_way(qtbot, window):
    import gc

    window.show()
    qtbot.waitUntil(lambda: gc.get_freeze_count() > 0, timeout=5000)
    assert gc.isenabled()  # objects made later are still collected
