"""Channels: one card per connected sales channel, its state, switches and settings."""

from __future__ import annotations

import html
import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

import shiboken6
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app import secrets
from app.channels import registry
from app.settings import channel_setting, channel_settings_for
from app.ui.bridge import PAUSED, SYNCING, Bridge, ChannelState
from app.ui.connect_wizard import ConnectWizard, error_words, platform_badge
from app.ui.retailcrm_drift_dialog import DriftDialog
from app.ui.retailcrm_stores_dialog import StoreMapDialog, supports_store_map
from app.ui.settings_form import CollapsibleSection, SettingsForm, muted_label
from app.ui.status_map_dialog import StatusMapDialog, supports_status_map
from app.ui.style import ACCENT, BAD, MUTED, OK, WARN, ago

# Hub.remove_channel keeps a channel that has orders, renamed and switched off, so its
# orders still say where they came from. Those are history, not connections.
log = logging.getLogger(__name__)

REMOVED = re.compile(r" \(removed \d{4}-\d{2}-\d{2} \d{2}:\d{2}\)$")
CHANNEL_ROWS = (
    "SELECT name, platform, base_url, account, enabled, settings FROM channels"
    " ORDER BY name COLLATE NOCASE"
)


def _timestamp(iso: str | None) -> float | None:
    if not iso:
        return None
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def channel_state(
    row: dict[str, Any], status: dict[str, Any] | None, live: ChannelState | None, paused: bool
) -> tuple[str, str, str]:
    """(colour, words, problem) for a channel: what the merchant most needs to know first.

    ``status`` is the engine's record (hub.status()); ``live`` is the window's own view of
    the syncs it ran, which is newer for the moment between a sync ending and the record
    being read again.
    """
    status = status or {}
    last_ok = _timestamp(status.get("last_success"))
    last_run = _timestamp(status.get("last_sync")) or 0.0
    problem = status.get("last_error") or ""
    if live is not None and live.last_finished and live.last_finished > last_run:
        problem = live.last_error
        if not problem:
            last_ok = max(last_ok or 0.0, live.last_finished)
    if not row["enabled"]:
        return MUTED, "Switched off: no orders are read and no stock is sent", ""
    if live is not None and live.state == SYNCING:
        return ACCENT, "Checking now…", problem
    if paused or (live is not None and live.state == PAUSED):
        return MUTED, "Paused", problem
    if problem:
        since = f" · last success {ago(last_ok)}" if last_ok else ""
        return BAD, f"Needs attention{since}", problem
    if not status and live is None:
        return MUTED, "Checking state…", ""
    if last_ok is None:
        return WARN, "Not checked yet", ""
    return OK, f"Up to date · checked {ago(last_ok)}", ""


class ChannelCard(QFrame):
    """One channel: who it is, how it is doing, and what the merchant can change."""

    sync_requested = Signal(str)
    enabled_toggled = Signal(str, bool)
    setting_changed = Signal(str, str, object)  # channel, key, value
    address_changed = Signal(str, str)
    disconnect_requested = Signal(str)
    token_requested = Signal(str)
    statuses_requested = Signal(str)
    stores_requested = Signal(str)
    drift_requested = Signal(str)

    def __init__(self, row: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        self.name: str = row["name"]
        self.row = row
        spec = registry.PLATFORMS.get(row["platform"])
        badge = QLabel()
        if spec is not None:
            badge.setPixmap(platform_badge(spec, 36).pixmap(36, 36))
        title = QLabel(self.name)
        title.setTextFormat(Qt.TextFormat.PlainText)
        title.setStyleSheet("font-size: 16px; font-weight: 600; color: #111827;")
        account = f" · {spec.account_label} {row['account']}" if spec and row["account"] else ""
        kind = f"{spec.label} · {spec.role}" if spec else row["platform"].title()
        self.subtitle = muted_label(kind + account)
        names = QVBoxLayout()
        names.setSpacing(0)
        names.addWidget(title)
        names.addWidget(self.subtitle)
        self.enabled_box = QCheckBox("Enabled")
        self.enabled_box.setToolTip(
            "When off, Stockbridge neither reads orders from this channel nor sends it stock."
        )
        self.enabled_box.toggled.connect(lambda on: self.enabled_toggled.emit(self.name, on))
        self.sync_button = QPushButton("Sync now")
        self.sync_button.setToolTip("Read new orders and send waiting updates now")
        self.sync_button.clicked.connect(lambda: self.sync_requested.emit(self.name))
        self.disconnect_button = QPushButton("Disconnect…")
        self.disconnect_button.setObjectName("danger")
        self.disconnect_button.clicked.connect(lambda: self.disconnect_requested.emit(self.name))
        head = QHBoxLayout()
        head.setSpacing(12)
        head.addWidget(badge, 0, Qt.AlignmentFlag.AlignTop)
        head.addLayout(names, 1)
        head.addWidget(self.enabled_box)
        head.addWidget(self.sync_button)
        if supports_status_map(row["platform"]):
            self.statuses_button = QPushButton("Order statuses…")
            self.statuses_button.setToolTip(
                "Choose what each of the channel's order statuses means"
            )
            self.statuses_button.clicked.connect(lambda: self.statuses_requested.emit(self.name))
            head.addWidget(self.statuses_button)
        if supports_store_map(row["platform"]):
            self.stores_button = QPushButton("Stores…")
            self.stores_button.setToolTip("Choose which warehouse each RetailCRM store shows")
            self.stores_button.clicked.connect(lambda: self.stores_requested.emit(self.name))
            head.addWidget(self.stores_button)
            self.drift_button = QPushButton("Check stock in RetailCRM…")
            self.drift_button.setToolTip(
                "Compare RetailCRM's stock with Stockbridge's and send the correct numbers"
            )
            self.drift_button.clicked.connect(lambda: self.drift_requested.emit(self.name))
            head.addWidget(self.drift_button)
        head.addWidget(self.disconnect_button)

        self.state_label = QLabel()
        self.state_label.setTextFormat(Qt.TextFormat.RichText)
        self.detail_label = muted_label("")
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.setStyleSheet(f"color: {BAD};")
        self.error_box = QFrame()
        self.error_box.setObjectName("problem")
        self.error_box.setStyleSheet(
            "QFrame#problem { background: #fef2f2; border: 1px solid #fecaca; border-radius: 6px; }"
        )
        self.error_box.setVisible(False)
        self.new_token_button = QPushButton("Enter a new token…")
        self.new_token_button.clicked.connect(lambda: self.token_requested.emit(self.name))
        problem = QHBoxLayout(self.error_box)
        problem.setContentsMargins(12, 8, 8, 8)
        problem.addWidget(self.error_label, 1)
        problem.addWidget(self.new_token_button, 0, Qt.AlignmentFlag.AlignVCenter)

        self.declared = channel_settings_for(row["platform"])
        self.form = SettingsForm(self.declared)
        self.form.changed.connect(
            lambda key, value: self.setting_changed.emit(self.name, key, value)
        )
        self.address = QLineEdit(row["base_url"])
        self.address.setAccessibleName("API address")
        self.address.editingFinished.connect(self._address_edited)
        self.form.add_advanced_row(
            "API address",
            self.address,
            "Where Stockbridge reaches this channel. Change it only to use a test shop.",
        )
        replace = QPushButton("Replace token…")
        replace.clicked.connect(lambda: self.token_requested.emit(self.name))
        access = QWidget()
        access_row = QHBoxLayout(access)
        access_row.setContentsMargins(0, 0, 0, 0)
        access_row.addWidget(replace)
        access_row.addStretch(1)
        self.form.add_advanced_row(
            "Access",
            access,
            "For a token you created again on the channel. Orders and links stay.",
        )
        self.saved_label = QLabel()
        self.saved_label.setVisible(False)
        self._saved_timer = QTimer(self, singleShot=True, interval=2500)
        self._saved_timer.timeout.connect(lambda: self.saved_label.setVisible(False))
        self.settings = CollapsibleSection("Settings for this channel")
        self.settings.add_widget(self.form)
        self.settings.add_widget(self.saved_label)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 14, 18, 12)
        layout.setSpacing(6)
        layout.addLayout(head)
        layout.addWidget(self.state_label)
        layout.addWidget(self.detail_label)
        layout.addWidget(self.error_box)
        layout.addWidget(self.settings)
        self.show_row(row)

    def show_row(self, row: dict[str, Any]) -> None:
        """Show the stored switches; quietly, as this is not the merchant editing."""
        self.row = row
        self.enabled_box.blockSignals(True)
        self.enabled_box.setChecked(bool(row["enabled"]))
        self.enabled_box.blockSignals(False)
        stored = {s.key: channel_setting(row["settings"], s.key) for s in self.declared}
        if stored != self.form.values():
            self.form.set_values(stored)
        if not self.address.hasFocus():
            self.address.setText(row["base_url"])
        self.sync_button.setEnabled(bool(row["enabled"]))

    def show_state(
        self, status: dict[str, Any] | None, live: ChannelState | None, paused: bool
    ) -> None:
        colour, words, problem = channel_state(self.row, status, live, paused)
        self.state_label.setText(
            f"<span style='color:{colour}; font-size:14px'>●</span>&nbsp; "
            f"<span style='color:#111827'>{html.escape(words)}</span>"
        )
        syncing = live is not None and live.state == SYNCING
        self.sync_button.setEnabled(bool(self.row["enabled"]) and not syncing)
        details = []
        if status:
            if status.get("queued_pushes"):
                details.append(f"{_plural(status['queued_pushes'], 'update')} waiting to be sent")
            if status.get("failed_pushes"):
                details.append(
                    f"{_plural(status['failed_pushes'], 'update')} refused by the channel"
                )
            if status.get("needs_mapping"):
                details.append(
                    f"{_plural(status['needs_mapping'], 'order')} waiting for a product link"
                )
            if status.get("quarantined"):
                details.append(f"{_plural(status['quarantined'], 'order')} set aside as unreadable")
        self.detail_label.setText(" · ".join(details))
        self.detail_label.setVisible(bool(details))
        self.error_label.setText(problem)
        self.error_box.setVisible(bool(problem))

    def show_saved(self, problem: str = "") -> None:
        self.saved_label.setStyleSheet(f"color: {BAD if problem else OK}; font-weight: 600;")
        self.saved_label.setText(problem or "✓ Saved")
        self.saved_label.setVisible(True)
        if not problem:
            self._saved_timer.start()

    def _address_edited(self) -> None:
        url = self.address.text().strip().rstrip("/")
        if url == self.row["base_url"]:
            return
        if not url.startswith(("http://", "https://")):
            self.show_saved("The address must start with https://")
            return
        self.address_changed.emit(self.name, url)

    def highlight(self, on: bool) -> None:
        self.setStyleSheet(f"QFrame#card {{ border: 2px solid {ACCENT}; }}" if on else "")


class ChannelsPage(QWidget):
    """Every connected channel as a card; connect, sync, switch off, tune or disconnect."""

    def __init__(self, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.cards: dict[str, ChannelCard] = {}
        self.statuses: dict[str, dict[str, Any]] = {}
        self.wizard: ConnectWizard | None = None
        self._status_running = False
        self._status_again = False

        title = QLabel("Channels")
        title.setObjectName("pageTitle")
        subtitle = muted_label(
            "Where your orders come from. Each channel gets your available stock."
        )
        self.connect_button = QPushButton("Connect a channel…")
        self.connect_button.setObjectName("primary")
        self.connect_button.clicked.connect(self.connect_channel)
        head = QHBoxLayout()
        titles = QVBoxLayout()
        titles.setSpacing(2)
        titles.addWidget(title)
        titles.addWidget(subtitle)
        head.addLayout(titles, 1)
        head.addWidget(self.connect_button, 0, Qt.AlignmentFlag.AlignTop)

        self.list_body = QWidget()
        self.card_column = QVBoxLayout(self.list_body)
        self.card_column.setContentsMargins(0, 4, 8, 4)
        self.card_column.setSpacing(12)
        self.card_column.addStretch(1)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setWidget(self.list_body)
        self.empty = self._empty_state()

        layout = QVBoxLayout(self)
        layout.setSpacing(12)
        layout.addLayout(head)
        layout.addWidget(self.scroll, 1)
        layout.addWidget(self.empty, 1)

        self._refresh_timer = QTimer(self, singleShot=True, interval=50)
        self._refresh_timer.timeout.connect(self._refresh_if_shown)
        self._stale = False
        self._clock = QTimer(self, interval=30_000)  # keeps "checked 5 min ago" true
        self._clock.timeout.connect(self._show_states)
        self._clock.start()
        bridge.data_changed.connect(self._refresh_timer.start)
        bridge.sync_finished.connect(lambda *_: self._refresh_timer.start())  # coalesced
        bridge.sync_state_changed.connect(lambda *_: self._show_states())
        bridge.paused_changed.connect(lambda *_: self._show_states())
        self.refresh()

    def _empty_state(self) -> QWidget:
        card = QFrame()
        card.setObjectName("card")
        card.setFixedWidth(560)
        box = QVBoxLayout(card)
        box.setContentsMargins(36, 32, 36, 32)
        box.setSpacing(12)
        heading = QLabel("Connect your first sales channel")
        heading.setStyleSheet("font-size: 18px; font-weight: 600; color: #111827;")
        heading.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text = muted_label(
            "Stockbridge brings the orders from your web shop and marketplaces into one place, "
            "reserves the stock each order needs, and keeps every channel's stock up to date.\n\n"
            "Connecting takes about two minutes: you need the token your shop gives you, and the "
            "next screens show you where to find it."
        )
        text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        # A centred layout item ignores height-for-width, so reserve the wrapped height.
        text.setMinimumHeight(text.heightForWidth(560 - 2 * 36))
        self.empty_button = QPushButton("Connect a channel…")
        self.empty_button.setObjectName("primary")
        self.empty_button.clicked.connect(self.connect_channel)
        box.addWidget(heading)
        box.addWidget(text)
        box.addWidget(self.empty_button, 0, Qt.AlignmentFlag.AlignCenter)
        holder = QWidget()
        outer = QVBoxLayout(holder)
        outer.addStretch(1)
        outer.addWidget(card, 0, Qt.AlignmentFlag.AlignHCenter)
        outer.addStretch(2)
        return holder

    # -- reading ----------------------------------------------------------------------
    def channel_rows(self) -> list[dict[str, Any]]:
        rows = []
        for r in self.bridge.reader.all(CHANNEL_ROWS):
            if not REMOVED.search(r["name"]):
                rows.append(dict(r, settings=json.loads(r["settings"] or "{}")))
        return rows

    def _refresh_if_shown(self) -> None:
        # A hidden page only notes that it is stale; it catches up when shown again.
        if self.isVisible():
            self.refresh()
        else:
            self._stale = True

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt name
        super().showEvent(event)
        if self._stale:
            self.refresh()

    def refresh(self) -> None:
        """Re-read the channels; cards are rebuilt only when channels come or go."""
        self._stale = False
        rows = self.channel_rows()
        names = [r["name"] for r in rows]
        if names != list(self.cards):
            self._rebuild(rows)
        for row in rows:
            self.cards[row["name"]].show_row(row)
        self.empty.setVisible(not rows)
        self.scroll.setVisible(bool(rows))
        self.connect_button.setVisible(bool(rows))
        self._show_states()
        self.load_status()

    def _rebuild(self, rows: list[dict[str, Any]]) -> None:
        for card in self.cards.values():
            self.card_column.removeWidget(card)
            card.hide()
            card.deleteLater()
        self.cards.clear()
        for row in rows:
            card = ChannelCard(row)
            card.sync_requested.connect(self.bridge.sync_channel)
            card.enabled_toggled.connect(self.set_enabled)
            card.setting_changed.connect(self.save_setting)
            card.address_changed.connect(self.save_address)
            card.disconnect_requested.connect(self.disconnect_channel)
            card.token_requested.connect(self.replace_token)
            card.statuses_requested.connect(self.edit_statuses)
            card.stores_requested.connect(self.edit_stores)
            card.drift_requested.connect(self.check_drift)
            self.card_column.insertWidget(self.card_column.count() - 1, card)
            self.cards[row["name"]] = card
        if len(rows) == 1:  # one channel: nothing to hide its settings from
            next(iter(self.cards.values())).settings.set_expanded(True)

    def load_status(self) -> None:
        """Ask the engine for every channel's last sync, queue and problems."""
        if self._status_running:
            self._status_again = True
            return
        self._status_running = True

        def done(statuses: list[dict[str, Any]]) -> None:
            self._status_running = False
            if not shiboken6.isValid(self):
                return
            self.statuses = {s["channel"]: s for s in statuses}
            self._show_states()
            if self._status_again:
                self._status_again = False
                self.load_status()

        def failed(exc: BaseException) -> None:
            self._status_running = False
            log.warning("channel states could not be read: %s", secrets.redact(str(exc)))

        self.bridge.run(lambda hub: hub.status(), done, failed)

    def _show_states(self) -> None:
        for name, card in self.cards.items():
            card.show_state(
                self.statuses.get(name), self.bridge.states.get(name), self.bridge.paused
            )

    # -- actions ----------------------------------------------------------------------
    def connect_channel(self) -> ConnectWizard:
        """Open the connect wizard; the new channel is shown once the wizard closes."""
        self.wizard = ConnectWizard(self.bridge, self)
        self.wizard.finished.connect(self._wizard_closed)
        self.wizard.open()
        return self.wizard

    def _wizard_closed(self, _result: int) -> None:
        name = None
        if self.wizard is not None:
            name = self.wizard.channel_name
            self.wizard.deleteLater()  # an import it started carries on without it
            self.wizard = None
        self.refresh()
        if name:
            self.show_channel(name)

    def show_channel(self, name: str) -> None:
        """Scroll to a channel's card and light it up briefly."""
        if name not in self.cards:
            self.refresh()
        card = self.cards.get(name)
        if card is None:
            return
        self.scroll.ensureWidgetVisible(card, 0, 24)
        card.highlight(True)
        QTimer.singleShot(2500, lambda: shiboken6.isValid(card) and card.highlight(False))

    def _update(self, name: str, changes: dict[str, Any], announce: bool) -> None:
        card = self.cards.get(name)

        def done(_channel: Any) -> None:
            if card is not None and shiboken6.isValid(card):
                card.show_saved()
            if announce:
                self.bridge.data_changed.emit()

        def failed(exc: BaseException) -> None:
            if card is not None and shiboken6.isValid(card):
                card.show_saved(f"Not saved: {error_words(exc)[1]}")

        self.bridge.run(lambda hub: hub.channels.update(name, **changes), done, failed)

    def set_enabled(self, name: str, on: bool) -> None:
        self._update(name, {"enabled": on}, announce=True)
        if on and not self.bridge.paused:
            # Switched back on: show it working instead of waiting for the next check.
            QTimer.singleShot(0, lambda: self.bridge.sync_channel(name))

    def save_setting(self, name: str, key: str, value: Any) -> None:
        self._update(name, {"settings": {key: value}}, announce=False)

    def save_address(self, name: str, url: str) -> None:
        self._update(name, {"base_url": url}, announce=True)

    def edit_statuses(self, name: str) -> StatusMapDialog:
        dialog = StatusMapDialog(self.bridge, name, self)
        dialog.open()
        return dialog

    def edit_stores(self, name: str) -> StoreMapDialog:
        dialog = StoreMapDialog(self.bridge, name, self)
        dialog.open()
        return dialog

    def check_drift(self, name: str) -> DriftDialog:
        dialog = DriftDialog(self.bridge, name, self)
        dialog.open()
        return dialog

    def replace_token(self, name: str) -> None:
        """Take a new token for a channel, test it, and only then put it in the keyring."""
        row = self.cards[name].row if name in self.cards else None
        if row is None:
            return
        spec = registry.platform(row["platform"])
        token, ok = QInputDialog.getText(
            self,
            f"New {spec.secret_label} for {name}",
            f"Paste the new {spec.secret_label} from {spec.label}. Stockbridge tests it "
            "before it replaces the old one.",
            QLineEdit.EchoMode.Password,
        )
        token = token.strip()
        if not ok or not token:
            return
        secrets.remember(token)  # masked in logs even if the test below fails

        def done(_result: Any) -> None:
            self.bridge.sync_channel(name)

        def failed(exc: BaseException) -> None:
            QMessageBox.warning(self, *error_words(exc, "Token not replaced"))

        # Hub.replace_secret tests first: only a token that works replaces the old one.
        self.bridge.run(lambda hub: hub.replace_secret(name, token), done, failed)

    def disconnect_channel(self, name: str) -> None:
        """Ask, then forget the channel's connection; its orders stay as history."""
        spec = (
            registry.PLATFORMS.get(self.cards[name].row["platform"]) if name in self.cards else None
        )
        where = spec.label if spec else "the channel"
        answer = QMessageBox.question(
            self,
            f"Disconnect {name}?",
            f"Stockbridge will stop reading orders from “{name}” and stop sending it stock.\n\n"
            "The orders it already brought in stay here as history, and your stock does not "
            "change. The token is removed from this computer's password store; to connect "
            f"again you will need a new one from {where}.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return

        def done(_result: Any) -> None:
            self.bridge.states.pop(name, None)
            self.statuses.pop(name, None)
            self.bridge.data_changed.emit()

        def failed(exc: BaseException) -> None:
            QMessageBox.warning(self, *error_words(exc, "Not disconnected"))

        self.bridge.run(lambda hub: hub.remove_channel(name), done, failed)
