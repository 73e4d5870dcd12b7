"""The TradeGecko part of the connect wizard: sign in with TradeGecko, and the two choices.

Signing in runs TradeGecko's OAuth flow (:func:`app.channels.tradegecko.oauth.sign_in`)
on the engine thread: the browser opens TradeGecko's approval page, a one-shot receiver
on 127.0.0.1 catches the answer, and the resulting sign-in (access and refresh token)
goes into the wizard's token box, from where ``Hub.add_channel`` puts it in the keyring.
A privileged access token pasted into the same box works as well.
"""

from __future__ import annotations

import html
import time
import webbrowser
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app import secrets
from app.channels.errors import ChannelError
from app.channels.tradegecko import oauth
from app.store.exports import EXPORT_ORDERS, EXPORT_SINCE, STOCK_MASTER
from app.ui.settings_form import muted_label
from app.ui.style import BAD, OK

SIGN_IN_SECONDS = 300.0


class TradeGeckoOptions(QWidget):
    """Sign-in button with the app's id and secret, and the stock / orders choices."""

    signed_in = Signal(str)  # the sign-in as one secret string (goes to the token box)

    def __init__(
        self, bridge: Any, base_url: Callable[[], str], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.base_url = base_url
        # Replaced in tests; the default opens the merchant's own browser.
        self.open_browser: Callable[[str], Any] = webbrowser.open
        self._busy = False

        box = QFrame()
        box.setObjectName("signInBox")
        box.setStyleSheet("QFrame#signInBox { border: 1px solid #e5e7eb; border-radius: 8px; }")
        column = QVBoxLayout(box)
        column.setContentsMargins(14, 10, 14, 10)
        column.addWidget(
            muted_label(
                "Instead of a token you can sign in with TradeGecko in your browser. It needs"
                " the app's ID and secret from TradeGecko (Apps → your app)."
            )
        )
        form = QFormLayout()
        self.app_id = QLineEdit(placeholderText="Application ID")
        self.app_id.setAccessibleName("TradeGecko application ID")
        self.app_secret = QLineEdit(placeholderText="Application secret")
        self.app_secret.setAccessibleName("TradeGecko application secret")
        self.app_secret.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow("Application ID", self.app_id)
        form.addRow("Application secret", self.app_secret)
        column.addLayout(form)
        row = QHBoxLayout()
        self.sign_in_button = QPushButton("Sign in with TradeGecko")
        self.sign_in_button.setToolTip("Opens TradeGecko in your web browser")
        self.sign_in_button.clicked.connect(self.sign_in)
        self.status = QLabel()
        self.status.setWordWrap(True)
        row.addWidget(self.sign_in_button)
        row.addWidget(self.status, 1)
        column.addLayout(row)
        for edit in (self.app_id, self.app_secret):
            edit.textChanged.connect(self._refresh)

        self.stock_master = QCheckBox("Use the stock counted in TradeGecko")
        self.stock_master.setChecked(True)
        stock_help = muted_label(
            "TradeGecko's stock on hand, location by location, becomes your stock here and"
            " is sent to your other channels (never more than its online maximum)."
        )
        self.export_orders = QCheckBox("Send my other channels' orders to TradeGecko")
        self.export_orders.setChecked(True)
        orders_help = muted_label(
            "Each new order from your web shops and marketplaces becomes a TradeGecko sales"
            " order, then is invoiced, paid, packed and shipped there as you handle it here."
        )
        for hint in (stock_help, orders_help):
            hint.setContentsMargins(24, 0, 0, 4)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(box)
        layout.addWidget(self.stock_master)
        layout.addWidget(stock_help)
        layout.addWidget(self.export_orders)
        layout.addWidget(orders_help)
        self._refresh()

    def settings(self) -> dict[str, Any]:
        chosen: dict[str, Any] = {
            STOCK_MASTER: self.stock_master.isChecked(),
            EXPORT_ORDERS: self.export_orders.isChecked(),
        }
        if chosen[EXPORT_ORDERS]:  # orders imported from now on go to TradeGecko
            chosen[EXPORT_SINCE] = time.time()
        return chosen

    def _refresh(self) -> None:
        ready = bool(self.app_id.text().strip() and self.app_secret.text().strip())
        self.sign_in_button.setEnabled(ready and not self._busy)

    def _say(self, colour: str, text: str) -> None:
        self.status.setStyleSheet(f"color: {colour};" if colour else "")
        self.status.setText(text)

    def sign_in(self) -> None:
        """Run the browser sign-in on the engine thread; the window stays responsive."""
        app = oauth.OAuthApp(
            self.app_id.text().strip(),
            self.app_secret.text().strip(),
            base_url=(self.base_url() or oauth.DEFAULT_BASE_URL).rstrip("/"),
        )
        secrets.remember(app.client_secret)
        self._busy = True
        self._refresh()
        self._say("#374151", "Approve Stockbridge in the browser window that opened…")
        opener = self.open_browser

        def done(credentials: oauth.OAuthCredentials) -> None:
            if not shiboken6.isValid(self):
                return
            self._busy = False
            self._refresh()
            for value in credentials.tokens():
                secrets.remember(value)
            self._say(OK, "✓ Signed in. Test the connection, then connect.")
            self.signed_in.emit(credentials.to_secret())

        def failed(exc: BaseException) -> None:
            if not shiboken6.isValid(self):
                return
            self._busy = False
            self._refresh()
            if isinstance(exc, ChannelError):
                text = secrets.redact(exc.message)
            else:
                text = secrets.redact(str(exc) or type(exc).__name__)
            self._say(BAD, f"Sign-in did not complete: {html.escape(text)}")

        self.bridge.run(
            lambda _hub: oauth.sign_in(app, open_browser=opener, timeout=SIGN_IN_SECONDS),
            done,
            failed,
        )
