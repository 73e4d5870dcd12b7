"""The main window: navigation on the left, one screen at a time, sync state at the bottom."""

from __future__ import annotations

import gc

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QPushButton,
    QStackedWidget,
    QWidget,
)

from app import APP_NAME
from app.ui.activity_page import ActivityPage
from app.ui.bridge import ERROR, PAUSED, SYNCING, Bridge
from app.ui.channels_page import ChannelsPage
from app.ui.customers_page import CustomersPage
from app.ui.dashboard import DashboardPage
from app.ui.icons import icon
from app.ui.orders_page import OrdersPage
from app.ui.products_page import ProductsPage
from app.ui.settings_page import SettingsPage
from app.ui.stock_page import StockPage
from app.ui.style import BAD, OK, STYLE_SHEET, WARN, ago

SCREENS = (
    "Dashboard",
    "Orders",
    "Products",
    "Customers",
    "Stock",
    "Channels",
    "Activity",
    "Settings",
)
DOT = {SYNCING: "#0891b2", ERROR: BAD, PAUSED: "#6b7280"}


def settle_collector() -> None:
    """Move what the app built to start (Qt wrappers, modules, screens) out of the way of
    Python's cycle collector, once: a full collection otherwise walks all of it again
    each time, ~80 ms during which no thread runs — the window froze for that long over
    and over while a big import ran. Done once (objects made later are collected as
    usual); what is frozen stays until the app quits.
    """
    if gc.get_freeze_count():  # done already (a second window, or a test's)
        return
    gc.collect()
    gc.freeze()


class MainWindow(QMainWindow):
    def __init__(self, bridge: Bridge, *, title_suffix: str = "") -> None:
        super().__init__()
        self.bridge = bridge
        self.tray = None  # set by the app once a tray exists
        self._told_about_tray = False
        # Qt adds " — Stockbridge" (the application's display name) itself where the
        # desktop shows it; the window title is what comes before.
        self.setWindowTitle(title_suffix or APP_NAME)
        self.setWindowIcon(icon())
        self.setStyleSheet(STYLE_SHEET)
        self.resize(1280, 800)
        self.setMinimumSize(QSize(980, 620))

        self.nav = QListWidget()
        self.nav.setObjectName("nav")
        self.nav.setFixedWidth(190)
        for name in SCREENS:
            QListWidgetItem(name, self.nav)
        self.stack = QStackedWidget()
        self.dashboard = DashboardPage(bridge.reader, load=False)
        self.orders = OrdersPage(bridge)
        self.products = ProductsPage(bridge)
        self.customers = CustomersPage(bridge)
        self.stock = StockPage(bridge)
        self.channels = ChannelsPage(bridge)
        self.activity = ActivityPage(bridge)
        self.settings_page = SettingsPage(bridge)
        for page in (
            self.dashboard,
            self.orders,
            self.products,
            self.customers,
            self.stock,
            self.channels,
            self.activity,
            self.settings_page,
        ):
            wrapper = QWidget()
            lay = QHBoxLayout(wrapper)
            lay.setContentsMargins(18, 14, 18, 10)
            lay.addWidget(page)
            self.stack.addWidget(wrapper)
        self.nav.currentRowChanged.connect(self._switch)
        central = QWidget()
        row = QHBoxLayout(central)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self.nav)
        row.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        # Status bar: one label per channel, plus pause and sync buttons.
        self.channel_labels: dict[str, QLabel] = {}
        self.status_box = QWidget()
        self.status_row = QHBoxLayout(self.status_box)
        self.status_row.setContentsMargins(6, 0, 6, 0)
        self.status_row.setSpacing(16)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setFlat(True)
        self.pause_button.clicked.connect(lambda: bridge.set_paused(not bridge.paused))
        self.sync_button = QPushButton("Sync now")
        self.sync_button.setFlat(True)
        self.sync_button.clicked.connect(lambda: bridge.sync_now())
        self.statusBar().addWidget(self.status_box, 1)
        self.statusBar().addPermanentWidget(self.pause_button)
        self.statusBar().addPermanentWidget(self.sync_button)

        self.dashboard.open_orders.connect(self.open_orders)
        self.dashboard.open_stock.connect(self.open_stock)
        self.dashboard.open_channel.connect(self.open_channel)
        bridge.sync_state_changed.connect(lambda *_: self.update_status())
        bridge.sync_finished.connect(lambda *_: self.update_status())
        bridge.paused_changed.connect(lambda *_: self.update_status())
        # Each screen refreshes itself when visible (hidden ones catch up when shown);
        # the dashboard is refreshed here while it is the screen in front.
        bridge.data_changed.connect(self._data_changed)
        self._clock = QTimer(self, interval=30_000)
        self._clock.timeout.connect(self.update_status)  # keeps "synced 5 min ago" true
        self._clock.start()
        for i, key in enumerate(("1", "2", "3", "4", "5", "6", "7", "8")):
            QShortcut(
                QKeySequence(f"Ctrl+{key}"), self, activated=lambda i=i: self.nav.setCurrentRow(i)
            )
        QShortcut(QKeySequence("F5"), self, activated=lambda: bridge.sync_now())
        # The first screen is filled right after the window is on screen, not before:
        # on a big store its queries would delay the window itself.
        self.nav.blockSignals(True)
        self.nav.setCurrentRow(0)
        self.nav.blockSignals(False)
        self.stack.setCurrentIndex(0)
        QTimer.singleShot(0, self.refresh_current)
        QTimer.singleShot(0, settle_collector)
        self.update_status()

    # -- navigation -------------------------------------------------------------------
    def _switch(self, row: int) -> None:
        self.stack.setCurrentIndex(row)
        self.refresh_current()

    def go(self, screen: str) -> None:
        self.nav.setCurrentRow(SCREENS.index(screen))

    def _data_changed(self) -> None:
        if self.stack.currentIndex() == SCREENS.index("Dashboard") and self.isVisible():
            self.dashboard.refresh()

    def refresh_current(self) -> None:
        page = self.stack.currentWidget().layout().itemAt(0).widget()
        refresh = getattr(page, "refresh", None)
        if callable(refresh):
            refresh()

    def open_orders(self, key: str) -> None:
        if key == "attention":
            needs_mapping = self.bridge.reader.scalar(
                "SELECT COUNT(*) FROM orders WHERE needs_mapping = 1"
            )
            if not needs_mapping:
                self.go("Activity")
                self.activity.show_problems()
                return
            key = "needs_mapping"
        self.go("Orders")
        self.orders.show_filter(key)

    def open_stock(self, sku: str) -> None:
        self.go("Stock")
        self.stock.show_sku(sku)

    def open_channel(self, name: str) -> None:
        self.go("Channels")
        self.channels.show_channel(name)

    # -- status bar -------------------------------------------------------------------
    def update_status(self) -> None:
        rows = self.bridge.reader.all(
            "SELECT c.name, c.enabled, (SELECT MAX(finished_at) FROM sync_log s WHERE s.channel_id = c.id"
            " AND s.ok = 1) AS last_ok FROM channels c ORDER BY c.name"
        )
        names = {r["name"] for r in rows}
        for gone in set(self.channel_labels) - names:
            self.channel_labels.pop(gone).deleteLater()
        for r in rows:
            label = self.channel_labels.get(r["name"])
            if label is None:
                label = QLabel()
                label.setTextFormat(Qt.TextFormat.RichText)
                self.channel_labels[r["name"]] = label
                self.status_row.addWidget(label)
            st = self.bridge.states.get(r["name"])
            state = st.state if st else "idle"
            if not r["enabled"]:
                colour, words = "#9ca3af", "switched off"
            elif state == SYNCING:
                colour, words = DOT[SYNCING], "syncing…"
            elif state == ERROR:
                colour, words = BAD, "needs attention"
            elif self.bridge.paused:
                colour, words = DOT[PAUSED], "paused"
            else:
                colour = OK if r["last_ok"] else WARN
                words = f"synced {ago(r['last_ok'])}" if r["last_ok"] else "not synced yet"
            label.setText(f"<span style='color:{colour}'>●</span> {r['name']} · {words}")
            if st and st.last_error:
                label.setToolTip(st.last_error)
        if not rows:
            if "" not in self.channel_labels:
                hint = QLabel("No channel connected yet — see Channels.")
                self.channel_labels[""] = hint
                self.status_row.addWidget(hint)
        elif "" in self.channel_labels:
            self.channel_labels.pop("").deleteLater()
        self.pause_button.setText("Resume" if self.bridge.paused else "Pause")
        if self.tray is not None:
            self.tray.update_state()

    # -- background life --------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt name
        keep = self.bridge.settings.get("close_to_tray")
        if self.tray is not None and self.tray.available and keep:
            event.ignore()
            self.hide()
            if not self._told_about_tray:
                self._told_about_tray = True
                self.tray.show_message(
                    "Stockbridge keeps syncing",
                    "It is in the tray. Choose Quit there to stop it.",
                    "info",
                )
            return
        event.accept()
        if self.tray is not None:
            self.tray.quit_app()
