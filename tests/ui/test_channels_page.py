"""Channels, the connect wizard and the settings forms, driven through their widgets.

A real Bridge (engine thread, SQLite in a temporary folder) talks to a real Selldone
sandbox over loopback HTTP; the keyring is the in-memory one from conftest.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import keyring
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QDoubleSpinBox,
    QInputDialog,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QSpinBox,
    QWizard,
)

from app.channels import registry
from app.channels.selldone.sandbox import SelldoneSandbox
from app.settings import Setting
from app.ui.bridge import Bridge
from app.ui.channels_page import ChannelsPage
from app.ui.connect_wizard import PAGE_DETAILS, PAGE_IMPORT, ConnectWizard
from app.ui.settings_form import SettingsForm
from app.ui.settings_page import SettingsPage
from app.ui.style import STYLE_SHEET

NAME = "Selldone web shop"
SIZE = (1100, 720)
SHOTS = Path("/tmp")


@pytest.fixture
def sandbox():
    box = SelldoneSandbox(seed=1)
    box.start()
    yield box
    box.stop()


@pytest.fixture
def bridge(qapp, tmp_path):
    previous_style = qapp.styleSheet()
    qapp.setStyleSheet(STYLE_SHEET)  # what the main window applies, so screenshots look real
    b = Bridge(tmp_path / "data")
    yield b
    for window in QApplication.topLevelWidgets():  # as on quit: windows first, then the engine
        window.close()
    b.stop()
    qapp.setStyleSheet(previous_style)


def run(qtbot, bridge: Bridge, work) -> Any:
    """Run work on the engine thread and wait for its result (raises its error)."""
    out: dict[str, Any] = {}
    bridge.run(work, lambda r: out.setdefault("result", r), lambda e: out.setdefault("error", e))
    qtbot.waitUntil(lambda: bool(out), timeout=30_000)
    if "error" in out:
        raise out["error"]
    return out["result"]


def connect(qtbot, bridge: Bridge, box: SelldoneSandbox, name: str = NAME) -> None:
    run(
        qtbot,
        bridge,
        lambda hub: hub.add_channel(
            "selldone",
            name,
            account=str(box.shop_id),
            secret=box.token,
            base_url=box.base_url,
            test=False,
        ),
    )


def channel_row(bridge: Bridge, name: str = NAME):
    return bridge.reader.one("SELECT * FROM channels WHERE name = ?", (name,))


def fill_details(wizard: ConnectWizard, box: SelldoneSandbox, token: str) -> None:
    details = wizard.details
    details.editors["secret"].setText(token)
    details.editors["account"].setText(str(box.shop_id))
    details.advanced.set_expanded(True)
    details.editors["base_url"].setText(box.base_url)


def shoot(qtbot, widget, name: str) -> None:
    qtbot.wait(100)  # let pending layout requests settle, as the eye would see it
    widget.grab().save(str(SHOTS / name))


def open_wizard(qtbot, bridge: Bridge) -> ConnectWizard:
    wizard = ConnectWizard(bridge)
    qtbot.addWidget(wizard)
    wizard.resize(*SIZE)
    wizard.show()
    platforms: QListWidget = wizard.platform_page.platform_list
    shown = [platforms.item(i).text() for i in range(platforms.count())]
    assert shown == [f"{p.label} — {p.role}" for p in registry.PLATFORMS.values()]
    assert "Selldone — Web shop" in shown
    wizard.platform_page.choose("selldone")
    shoot(qtbot, wizard, "wizard_choose.png")
    wizard.next()
    assert wizard.currentId() == PAGE_DETAILS
    return wizard


def test_wizard_connects_imports_and_keeps_the_token_only_in_the_keyring(qtbot, bridge, sandbox):
    wizard = open_wizard(qtbot, bridge)
    details = wizard.details
    next_button = wizard.button(QWizard.WizardButton.NextButton)
    assert details.name_edit.text() == NAME
    assert details.editors["secret"].echoMode() == QLineEdit.EchoMode.Password
    assert not next_button.isEnabled()  # nothing tested yet
    fill_details(wizard, sandbox, sandbox.token)
    qtbot.mouseClick(details.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(details.isComplete, timeout=15_000)
    assert "Connected to" in details.result_label.text()
    assert next_button.isEnabled()
    assert channel_row(bridge) is None  # a test saves nothing
    shoot(qtbot, wizard, "wizard_platform.png")

    connected: list[str] = []
    wizard.connected.connect(connected.append)
    qtbot.mouseClick(next_button, Qt.MouseButton.LeftButton)
    assert wizard.currentId() == PAGE_IMPORT
    assert wizard.importer.bar.isVisible() and not wizard.importer.isComplete()
    # The engine reports progress from its thread; the page counts for its own channel only.
    bridge.progress.emit(NAME, "orders", 214)
    bridge.progress.emit("Another shop", "orders", 9)
    assert wizard.importer.count_label.text() == "214 orders read…"
    qtbot.waitUntil(wizard.importer.isComplete, timeout=60_000)
    assert connected == [NAME] and wizard.channel_name == NAME
    expected = len(sandbox.physical_orders())
    summary = wizard.importer.message.text()
    assert "Products" in summary and "history" in summary
    assert f"{expected:,} orders imported" in wizard.importer.step_labels["orders"].text()
    shoot(qtbot, wizard, "wizard_import.png")
    finish = wizard.button(QWizard.WizardButton.FinishButton)
    assert finish.isEnabled()
    qtbot.mouseClick(finish, Qt.MouseButton.LeftButton)
    assert wizard.result() == QWizard.DialogCode.Accepted

    row = channel_row(bridge)
    assert row["platform"] == "selldone" and row["account"] == str(sandbox.shop_id)
    assert row["base_url"] == sandbox.base_url.rstrip("/")
    imported = bridge.reader.scalar(
        "SELECT COUNT(*) FROM orders WHERE channel_id = ?", (row["id"],)
    )
    assert imported == expected > 0
    assert keyring.get_password("stockbridge", f"channel:{NAME}") == sandbox.token
    files = list((Path(bridge.data_dir)).glob("stockbridge.db*"))  # the WAL holds recent writes
    assert files and all(sandbox.token.encode() not in f.read_bytes() for f in files)
    assert sandbox.token not in row["settings"]


def test_a_wrong_token_is_explained_and_next_stays_disabled(qtbot, bridge, sandbox):
    wizard = open_wizard(qtbot, bridge)
    details = wizard.details
    wrong = "not-the-token-" + "x" * 40
    fill_details(wizard, sandbox, wrong)
    qtbot.mouseClick(details.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: (
            details.test_button.text() == "Test connection" and bool(details.result_label.text())
        ),
        timeout=15_000,
    )
    shown = details.result_label.text()
    assert "Sign-in rejected" in shown
    assert wrong not in shown
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    # Fixing the token clears the old verdict; the next test decides again.
    details.editors["secret"].setText(sandbox.token)
    assert details.result_label.text() == ""
    assert keyring.get_password("stockbridge", f"channel:{NAME}") is None


def test_a_failed_save_is_explained_and_the_merchant_can_go_back(qtbot, bridge, sandbox):
    wizard = open_wizard(qtbot, bridge)
    fill_details(wizard, sandbox, sandbox.token)
    qtbot.mouseClick(wizard.details.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(wizard.details.isComplete, timeout=15_000)
    connect(qtbot, bridge, sandbox)  # the same name taken meanwhile, e.g. from the tray's CLI
    wizard.next()
    importer = wizard.importer
    qtbot.waitUntil(lambda: "Nothing was saved" in importer.message.text(), timeout=15_000)
    assert "exists already" in importer.message.text()
    assert not importer.isComplete()
    back = wizard.button(QWizard.WizardButton.BackButton)
    assert back.isEnabled()
    qtbot.mouseClick(back, Qt.MouseButton.LeftButton)
    assert wizard.currentId() == PAGE_DETAILS


def test_a_platform_without_its_own_guide_gets_a_plain_one(qtbot, bridge):
    selldone = registry.PLATFORMS["selldone"]
    other = dataclasses.replace(
        selldone,
        key="tillcloud",
        label="TillCloud",
        role="Point of sale",
        secret_label="API key",
        account_label="Store code (optional)",
        account_required=False,
        token_link=None,
        other_base_urls={"Sandbox": "https://sandbox.tillcloud.test"},
    )
    wizard = ConnectWizard(bridge)
    qtbot.addWidget(wizard)
    details = wizard.details
    details.build(other)
    assert list(details.editors) == ["secret", "account", "base_url"]
    assert details.editors["secret"].echoMode() == QLineEdit.EchoMode.Password
    assert details.editors["base_url"].text() == selldone.default_base_url
    assert details.name_edit.text() == "TillCloud point of sale"
    assert not details.link_button.isVisibleTo(details)  # no link to offer
    assert not details.test_button.isEnabled()
    details.editors["secret"].setText("key-123456")
    assert details.test_button.isEnabled()  # the optional store code may stay empty


def test_the_name_must_be_new(qtbot, bridge, sandbox):
    connect(qtbot, bridge, sandbox)
    wizard = open_wizard(qtbot, bridge)
    assert wizard.details.name_edit.text() == f"{NAME} 2"  # the default steps aside
    wizard.details.name_edit.setText(NAME.upper())
    assert wizard.details.name_error.text() == "You already have a channel with this name."


def test_an_empty_page_invites_to_connect(qtbot, bridge):
    page = ChannelsPage(bridge)
    qtbot.addWidget(page)
    page.resize(*SIZE)
    page.show()
    assert page.empty.isVisible() and not page.scroll.isVisible()
    page.empty_button.click()
    assert isinstance(page.wizard, ConnectWizard) and page.wizard.isVisible()
    page.wizard.reject()
    shoot(qtbot, page, "channels_empty.png")


def test_channel_card_switches_settings_and_disconnect(qtbot, bridge, sandbox, monkeypatch):
    connect(qtbot, bridge, sandbox)
    page = ChannelsPage(bridge)
    qtbot.addWidget(page)
    page.resize(*SIZE)
    page.show()
    card = page.cards[NAME]
    assert page.scroll.isVisible() and not page.empty.isVisible()
    assert "Selldone · Web shop" in card.subtitle.text()
    qtbot.waitUntil(lambda: "Not checked yet" in card.state_label.text(), timeout=10_000)

    qtbot.mouseClick(card.sync_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Up to date" in page.cards[NAME].state_label.text(), timeout=60_000)
    shoot(qtbot, page, "channels.png")
    page.show_channel(NAME)
    assert "border" in page.cards[NAME].styleSheet()  # lit up until the eye finds it

    card = page.cards[NAME]
    card.enabled_box.setChecked(False)
    qtbot.waitUntil(lambda: channel_row(bridge)["enabled"] == 0, timeout=10_000)
    qtbot.waitUntil(lambda: "Switched off" in page.cards[NAME].state_label.text(), timeout=10_000)

    buffer: QDoubleSpinBox = card.form.editor("stock_buffer")
    buffer.setValue(4)
    card.form.editor("push_stock").setChecked(False)
    qtbot.waitUntil(
        lambda: json.loads(channel_row(bridge)["settings"]).get("push_stock") is False,
        timeout=10_000,
    )
    stored = json.loads(channel_row(bridge)["settings"])
    assert stored["stock_buffer"] == 4.0
    assert card.saved_label.text() == "✓ Saved"

    card.address.setText(sandbox.base_url + "/")
    card.address.editingFinished.emit()
    card.address.setText("ftp://elsewhere")
    card.address.editingFinished.emit()
    assert "https://" in card.saved_label.text()  # refused before reaching the engine
    assert channel_row(bridge)["base_url"] == sandbox.base_url.rstrip("/")

    asked: list[str] = []

    def yes(_parent, title, text, *args):
        asked.append(text)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", yes)
    qtbot.mouseClick(page.cards[NAME].disconnect_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: NAME not in page.cards, timeout=10_000)
    assert "history" in asked[0] and "token" in asked[0]
    assert channel_row(bridge) is None  # kept only as renamed history, hidden from the page
    assert keyring.get_password("stockbridge", f"channel:{NAME}") is None
    assert page.empty.isVisible()


def test_a_failing_channel_says_what_is_wrong_and_takes_a_new_token(
    qtbot, bridge, sandbox, monkeypatch
):
    connect(qtbot, bridge, sandbox)
    sandbox.revoke_token(sandbox.token)
    page = ChannelsPage(bridge)
    qtbot.addWidget(page)
    page.resize(*SIZE)
    page.show()
    qtbot.mouseClick(page.cards[NAME].sync_button, Qt.MouseButton.LeftButton)
    card = page.cards[NAME]
    qtbot.waitUntil(lambda: "Needs attention" in card.state_label.text(), timeout=30_000)
    assert card.error_label.isVisible() and "token" in card.error_label.text()
    assert sandbox.token not in card.error_label.text()
    shoot(qtbot, page, "channels_error.png")

    warnings: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _p, title, text: warnings.append(text))
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("still-wrong-token", True))
    qtbot.mouseClick(card.new_token_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(warnings), timeout=15_000)
    assert "refused the token" in warnings[0]
    assert keyring.get_password("stockbridge", f"channel:{NAME}") == sandbox.token  # kept

    fresh = sandbox.issue_token()
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: (fresh, True))
    qtbot.mouseClick(card.new_token_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Up to date" in page.cards[NAME].state_label.text(), timeout=30_000)
    assert keyring.get_password("stockbridge", f"channel:{NAME}") == fresh
    assert not page.cards[NAME].error_box.isVisible()


def test_settings_form_builds_one_editor_per_kind_and_round_trips():
    declared = (
        Setting("on", True, "bool", "Switch", help="Explains the switch."),
        Setting("count", 3, "int", "Count", minimum=1, maximum=9),
        Setting("share", 0.5, "float", "Share", minimum=0, maximum=1),
        Setting("label", "", "str", "Label"),
        Setting("days", ["mon"], "choices", "Days", choices=("mon", "tue", "wed")),
        Setting("expert", 7, "int", "Expert knob", advanced=True),
    )
    form = SettingsForm(declared)
    kinds = {key: type(form.editor(key)) for key in form.fields}
    assert kinds == {
        "on": QCheckBox,
        "count": QSpinBox,
        "share": QDoubleSpinBox,
        "label": QLineEdit,
        "days": QListWidget,
        "expert": QSpinBox,
    }
    assert (form.editor("count").minimum(), form.editor("count").maximum()) == (1, 9)
    assert form.advanced.isVisibleTo(form) and not form.advanced.is_expanded()
    assert form.advanced.isAncestorOf(form.editor("expert"))
    assert not form.advanced.isAncestorOf(form.editor("count"))
    assert form.values() == {
        "on": True,
        "count": 3,
        "share": 0.5,
        "label": "",
        "days": ["mon"],
        "expert": 7,
    }
    wanted = {
        "on": False,
        "count": 9,
        "share": 0.25,
        "label": "Kegs",
        "days": ["tue", "wed"],
        "expert": 11,
    }
    seen: list[tuple[str, Any]] = []
    form.changed.connect(lambda key, value: seen.append((key, value)))
    form.set_values(wanted)
    assert form.values() == wanted and seen == []  # loading is not editing
    form.editor("count").setValue(4)
    form.editor("days").item(0).setCheckState(Qt.CheckState.Checked)
    assert seen == [("count", 4), ("days", ["mon", "tue", "wed"])]
    # A value the declaration refuses is explained under the editor and not announced.
    form.editor("count").setRange(-5, 20)
    form.editor("count").setValue(-2)
    assert form.errors() == {"count": "Count must be at least 1."}
    assert form.fields["count"].error.text() == "Count must be at least 1."
    assert ("count", -2) not in seen and "count" not in form.values()


def test_settings_page_saves_and_shows_where_data_lives(qtbot, bridge):
    page = SettingsPage(bridge)
    qtbot.addWidget(page)
    page.resize(*SIZE)
    page.show()
    qtbot.waitUntil(lambda: page.keyring_label.text() != "Checking…", timeout=10_000)
    assert page.keyring_label.text().startswith("Memory only")
    assert page.data_path.text() == str(bridge.data_dir)
    page.form.editor("sync_interval_minutes").setValue(15)
    page.form.editor("start_in_tray").setChecked(True)
    qtbot.waitUntil(lambda: bridge.settings.get("start_in_tray") is True, timeout=10_000)
    assert bridge.settings.get("sync_interval_minutes") == 15
    assert page.saved_label.text() == "✓ Saved"
    shoot(qtbot, page, "settings.png")
    QApplication.processEvents()


def test_sello_has_its_own_wizard_page_and_connects(qtbot, tmp_path):
    from app.channels.sello.sandbox import SelloSandbox
    from app.ui.connect_wizard import GUIDES, Connection, ConnectWizard

    assert "30 requests a minute" in GUIDES["sello"].intro
    with SelloSandbox(seed=2, rate_limit=100, window_seconds=1.0) as box:
        bridge = Bridge(tmp_path / "sello")
        try:
            wizard = ConnectWizard(bridge, platform="sello")
            qtbot.addWidget(wizard)
            conn = Connection(
                platform="sello",
                name="Sello marketplaces",
                account="",
                secret=box.token,
                base_url=box.base_url,
                mapping_mode="sku",
            )
            wizard.importer.start(conn)
            qtbot.waitUntil(wizard.importer.isComplete, timeout=30000)
            assert bridge.reader.scalar("SELECT COUNT(*) FROM orders") == len(box.orders)
        finally:
            bridge.stop()
