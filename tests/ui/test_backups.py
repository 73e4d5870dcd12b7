"""Backups from the window: Settings → Back up now, and the daily copy from the scheduler."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication, QFileDialog

from app.store import backup
from app.ui.bridge import Bridge
from app.ui.settings_page import SettingsPage


@pytest.fixture
def bridge(qapp, tmp_path):
    b = Bridge(tmp_path / "data", tick_ms=60_000)
    yield b
    for window in QApplication.topLevelWidgets():
        window.close()
    b.stop()


def test_back_up_now_writes_a_checked_copy_and_says_so(qtbot, bridge, tmp_path):
    page = SettingsPage(bridge)
    qtbot.addWidget(page)
    assert "first daily copy" in page.backup_label.text()
    dialog = page.choose_backup_file()
    assert isinstance(dialog, QFileDialog) and dialog.isVisible()
    target = tmp_path / "usb" / "shop.db"
    dialog.fileSelected.emit(str(target))  # as if the merchant chose the file
    dialog.close()
    qtbot.waitUntil(lambda: page.backup_label.text().startswith("Backed up"), timeout=10_000)
    assert str(target) in page.backup_label.text() and target.exists()
    assert page.backup_button.isEnabled()


def test_a_failed_backup_is_shown_in_words(qtbot, bridge, tmp_path):
    page = SettingsPage(bridge)
    qtbot.addWidget(page)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    page.back_up_to(blocker / "copy.db")
    qtbot.waitUntil(lambda: page.backup_label.text().startswith("Backup not made"), timeout=10_000)
    assert "not-a-folder" in page.backup_label.text()


def test_the_scheduler_makes_one_daily_copy_after_start_up(qtbot, bridge):
    bridge.tick()
    assert backup.daily_backups(bridge.data_dir) == []  # not during start-up
    bridge.backup_after = 0.0
    bridge.tick()
    qtbot.waitUntil(lambda: len(backup.daily_backups(bridge.data_dir)) == 1, timeout=10_000)
    bridge.tick()  # the same day: nothing more
    qtbot.wait(200)
    assert len(backup.daily_backups(bridge.data_dir)) == 1
    page = SettingsPage(bridge)
    qtbot.addWidget(page)
    assert page.backup_label.text().startswith("Last daily copy")


def test_restore_from_settings_brings_the_backup_back(qtbot, tmp_path):
    from PySide6.QtWidgets import QMessageBox

    from app.channels.selldone.sandbox import SelldoneSandbox
    from tests.ui.helpers import connected_bridge, on_engine

    with SelldoneSandbox(seed=4) as box:
        bridge = connected_bridge(tmp_path, box)
        try:
            orders = bridge.reader.one("SELECT COUNT(*) FROM orders")[0]
            assert orders > 0
            saved = on_engine(bridge, lambda hub: backup.backup_to(hub.db.conn, tmp_path / "b.db"))
            sku = bridge.reader.one("SELECT sku FROM products ORDER BY sku LIMIT 1")[0]
            before = on_engine(bridge, lambda hub: hub.stock(sku))[0]["on_hand"]
            on_engine(bridge, lambda hub: hub.adjust_stock(sku, 5, "Delivery from a supplier"))
            assert on_engine(bridge, lambda hub: hub.stock(sku))[0]["on_hand"] == before + 5

            page = SettingsPage(bridge)
            qtbot.addWidget(page)
            changed = []
            bridge.data_changed.connect(lambda: changed.append(1))
            page.check_restore(saved.path)
            qtbot.waitUntil(
                lambda: getattr(page, "restore_question", None) is not None, timeout=10_000
            )
            question: QMessageBox = page.restore_question
            assert f"{orders:,} orders" in question.text() and "b.db" in question.text()
            question.accept()
            qtbot.waitUntil(lambda: page.backup_label.text().startswith("Restored"), timeout=20_000)
            assert on_engine(bridge, lambda hub: hub.stock(sku))[0]["on_hand"] == before
            assert not bridge.paused and changed
            assert "before-restore" in page.backup_label.text()
            assert on_engine(bridge, lambda hub: hub.ledger.verify()) == []
        finally:
            bridge.stop()


def test_restore_refuses_a_file_that_is_not_a_backup(qtbot, bridge, tmp_path):
    page = SettingsPage(bridge)
    qtbot.addWidget(page)
    junk = tmp_path / "holiday.db"
    junk.write_bytes(b"photos" * 1000)
    page.check_restore(junk)
    qtbot.waitUntil(lambda: page.backup_label.text().startswith("Not restored"), timeout=10_000)
    assert "not a Stockbridge backup" in page.backup_label.text()
    assert getattr(page, "restore_question", None) is None
