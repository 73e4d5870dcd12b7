"""The connect wizard's TradeGecko page, driven through its widgets against the
TradeGecko sandbox: a pasted privileged token, and "Sign in with TradeGecko" (the OAuth
round trip through the sandbox's authorize endpoint, the browser played by a thread)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import keyring
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLineEdit, QWizard

from app.channels.tradegecko.oauth import OAuthCredentials
from app.channels.tradegecko.sandbox import TradeGeckoSandbox
from app.ui.bridge import Bridge
from app.ui.connect_wizard import PAGE_DETAILS, PAGE_IMPORT, ConnectWizard

NAME = "TradeGecko"


@pytest.fixture
def tg():
    box = TradeGeckoSandbox(seed=4)
    box.start()
    yield box
    box.stop()


@pytest.fixture
def bridge(qapp, tmp_path):
    b = Bridge(tmp_path / "data")
    yield b
    for window in QApplication.topLevelWidgets():
        window.close()
    b.stop()


def open_page(qtbot, bridge: Bridge, tg: TradeGeckoSandbox) -> ConnectWizard:
    wizard = ConnectWizard(bridge, platform="tradegecko")
    qtbot.addWidget(wizard)
    wizard.resize(1100, 820)
    wizard.show()
    assert wizard.currentId() == PAGE_DETAILS
    details = wizard.details
    assert details.spec.key == "tradegecko" and details.options is not None
    details.advanced.set_expanded(True)
    details.editors["base_url"].setText(tg.base_url)
    return wizard


def row(bridge: Bridge):
    return bridge.reader.one("SELECT * FROM channels WHERE name = ?", (NAME,))


def test_token_path_with_both_choices_connects_and_keeps_the_token_in_the_keyring(
    qtbot, bridge, tg
):
    wizard = open_page(qtbot, bridge, tg)
    details = wizard.details
    options = details.options
    assert details.editors["secret"].echoMode() == QLineEdit.EchoMode.Password
    assert options.stock_master.text() == "Use the stock counted in TradeGecko"
    assert options.export_orders.text() == "Send my other channels' orders to TradeGecko"
    assert not options.sign_in_button.isEnabled()  # needs the app's id and secret
    assert list(details.mapping_buttons) == ["id"]  # variant ids, SKUs only suggested
    options.export_orders.setChecked(False)
    details.editors["secret"].setText(tg.token)
    qtbot.mouseClick(details.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(details.isComplete, timeout=15_000)
    assert "Connected to" in details.result_label.text()
    wizard.button(QWizard.WizardButton.NextButton).click()
    assert wizard.currentId() == PAGE_IMPORT
    qtbot.waitUntil(wizard.importer.isComplete, timeout=60_000)
    saved = row(bridge)
    assert saved["platform"] == "tradegecko" and saved["mapping_mode"] == "id"
    settings = json.loads(saved["settings"])
    assert settings["stock_master"] is True and settings["export_orders"] is False
    assert settings["location_warehouses"]  # the first location feeds the channel's warehouse
    assert keyring.get_password("stockbridge", f"channel:{NAME}") == tg.token
    files = list(Path(bridge.data_dir).glob("stockbridge.db*"))
    assert files and all(tg.token.encode() not in f.read_bytes() for f in files)
    listings = bridge.reader.scalar(
        "SELECT COUNT(*) FROM listings WHERE channel_id = ?", (saved["id"],)
    )
    assert listings > 0


def test_sign_in_with_tradegecko_runs_oauth_off_the_gui_thread(qtbot, bridge, tg):
    wizard = open_page(qtbot, bridge, tg)
    details = wizard.details
    options = details.options
    pages: list[int] = []
    gui = threading.current_thread()
    threads: list[threading.Thread] = []

    def browser(url: str) -> None:
        threads.append(threading.current_thread())
        # The merchant approves in the browser, which follows the redirect back to us.
        threading.Thread(
            target=lambda: pages.append(httpx.get(url, follow_redirects=True).status_code)
        ).start()

    options.open_browser = browser
    options.app_id.setText(tg.client_id)
    options.app_secret.setText(tg.client_secret)
    assert options.sign_in_button.isEnabled()
    qtbot.mouseClick(options.sign_in_button, Qt.MouseButton.LeftButton)
    assert not options.sign_in_button.isEnabled()  # busy while the browser is out
    qtbot.waitUntil(lambda: details.editors["secret"].text().startswith("{"), timeout=20_000)
    assert threads and threads[0] is not gui
    assert pages == [200]
    assert "Signed in" in options.status.text()
    credentials = OAuthCredentials.from_secret(details.editors["secret"].text())
    assert credentials.refresh_token and credentials.client_id == tg.client_id
    qtbot.mouseClick(details.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(details.isComplete, timeout=15_000)
    wizard.button(QWizard.WizardButton.NextButton).click()
    qtbot.waitUntil(wizard.importer.isComplete, timeout=60_000)
    stored = keyring.get_password("stockbridge", f"channel:{NAME}")
    assert OAuthCredentials.from_secret(stored).refresh_token == credentials.refresh_token
    assert credentials.refresh_token not in row(bridge)["settings"]


def test_a_denied_sign_in_is_explained(qtbot, bridge, tg):
    wizard = open_page(qtbot, bridge, tg)
    options = wizard.details.options
    tg.authorize_decision = "deny"
    options.open_browser = lambda url: threading.Thread(
        target=lambda: httpx.get(url, follow_redirects=True)
    ).start()
    options.app_id.setText(tg.client_id)
    options.app_secret.setText(tg.client_secret)
    options.sign_in()
    qtbot.waitUntil(lambda: "did not complete" in options.status.text(), timeout=20_000)
    assert options.sign_in_button.isEnabled()
    assert not wizard.details.editors["secret"].text()
