"""Orders: the list, the detail of the selected order, and the actions on it."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.channels import registry
from app.channels.base import CAP_PAID, CAP_PARTIAL_CONFIRM, CAP_RETURN
from app.core import lifecycle
from app.core.models import OrderStatus
from app.ui.bridge import Bridge
from app.ui.order_dialogs import CancelDialog, ConfirmDialog, DispatchDialog
from app.ui.style import (
    BAD,
    MUTED,
    PAYMENT_WORDS,
    WARN,
    age,
    money,
    quantity,
    status_colour,
    status_label,
    when,
)
from app.ui.tables import Column, SqlTableModel, TablePage

ORDER_SELECT = (
    "SELECT o.id, o.number, o.external_id, c.name AS channel, c.platform, o.customer_name, o.status,"
    " o.payment_status, o.total, o.currency, COALESCE(o.placed_at, o.imported_at) AS placed,"
    " o.needs_mapping, o.history_only FROM orders o JOIN channels c ON c.id = o.channel_id"
)

STATUS_FILTERS = [
    ("All orders", None, ()),
    ("New", "o.status = 'requested' AND o.needs_mapping = 0", ()),
    ("Needs mapping", "o.needs_mapping = 1", ()),
    ("To dispatch", "o.status = 'confirmed'", ()),
    ("Dispatched", "o.status = 'dispatched'", ()),
    ("Delivered", "o.status = 'delivered'", ()),
    ("Cancelled", "o.status = 'cancelled'", ()),
    ("Returned", "o.status = 'returned'", ()),
]
FILTER_KEYS = {"new": 1, "needs_mapping": 2, "to_dispatch": 3}


def order_columns() -> list[Column]:
    return [
        Column("number", "Order", "o.number", searchable=True),
        Column(
            "channel",
            "Channel",
            "c.name",
            searchable=True,
            # The few channels are looked up once per search, not joined for each order.
            search_sql="o.channel_id IN (SELECT id FROM channels WHERE name LIKE ?)",
        ),
        Column("customer_name", "Customer", "o.customer_name", searchable=True),
        Column(
            "status",
            "Status",
            "o.needs_mapping DESC, o.status",
            fmt=lambda v, r: status_label(v, bool(r["needs_mapping"])),
            color=lambda v, r: status_colour(v, bool(r["needs_mapping"])),
        ),
        Column(
            "payment_status",
            "Payment",
            "o.payment_status",
            fmt=lambda v, r: PAYMENT_WORDS.get(v, v),
        ),
        Column("total", "Total", "o.total", numeric=True, fmt=lambda v, r: money(v, r["currency"])),
        Column(
            "placed",
            "Age",
            "COALESCE(o.placed_at, o.imported_at)",
            numeric=True,
            fmt=lambda v, r: age(v),
            tooltip=lambda v, r: when(v),
        ),
    ]


class LinesModel(QAbstractTableModel):
    HEAD = ("SKU", "Product", "Qty", "Price", "Stock")

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict] = []
        self.currency = ""

    def set_lines(self, lines: list[dict], currency: str) -> None:
        self.beginResetModel()
        self.lines, self.currency = lines, currency
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return len(self.lines)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return len(self.HEAD)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEAD[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        ln = self.lines[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return [
                ln["sku"] or "—",
                ln["name"],
                quantity(ln["quantity"]),
                money(ln["unit_price"], self.currency),
                _line_state(ln),
            ][col]
        if role == Qt.ItemDataRole.ForegroundRole and col == 4:
            if ln["product_id"] is None:
                return QBrush(QColor(WARN))
            if not ln["fulfil"]:
                return QBrush(QColor(MUTED))
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (2, 3):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


def _line_state(ln: dict) -> str:
    if ln["product_id"] is None:
        return "Not mapped"
    if not ln["fulfil"]:
        return "Not sent"
    if ln["committed"]:
        return "Reserved"
    if ln["deducted"]:
        return "Taken from stock"
    return "—"


class OrderDetail(QWidget):
    """The selected order: lines, buyer, delivery, what was sent to the channel; actions."""

    action_requested = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.order: dict[str, Any] | None = None
        self.title = QLabel("Select an order")
        self.title.setObjectName("pageTitle")
        self.chip = QLabel()
        self.subtitle = QLabel()
        self.subtitle.setObjectName("muted")
        self.lines = LinesModel()
        self.lines_view = QTableView()
        self.lines_view.setModel(self.lines)
        self.lines_view.verticalHeader().setVisible(False)
        head = self.lines_view.horizontalHeader()
        head.setStretchLastSection(False)
        for col in range(len(LinesModel.HEAD)):
            head.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        # The product name takes what is left, so the pane never needs a sideways scroll.
        head.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.lines_view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.lines_view.setWordWrap(False)
        self.lines_view.setSelectionMode(QTableView.SelectionMode.NoSelection)
        self.lines_view.setMaximumHeight(170)
        self.info = QGridLayout()
        self.info.setColumnStretch(1, 1)
        self.history = QLabel()
        self.history.setWordWrap(True)
        self.history.setTextFormat(Qt.TextFormat.RichText)
        self.history.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.buttons: dict[str, QPushButton] = {}
        bar = QHBoxLayout()
        for key, text in (
            ("confirm", "Confirm…"),
            ("dispatch", "Dispatch…"),
            ("deliver", "Mark delivered"),
            ("paid", "Mark paid"),
            ("return", "Mark returned"),
            ("cancel", "Cancel order…"),
        ):
            button = QPushButton(text)
            button.setObjectName(
                "primary"
                if key in ("confirm", "dispatch")
                else ("danger" if key == "cancel" else "")
            )
            button.clicked.connect(lambda _=False, k=key: self.action_requested.emit(k))
            self.buttons[key] = button
            bar.addWidget(button)
        bar.addStretch(1)
        body = QWidget()
        col = QVBoxLayout(body)
        head = QHBoxLayout()
        head.addWidget(self.title)
        head.addWidget(self.chip)
        head.addStretch(1)
        col.addLayout(head)
        col.addWidget(self.subtitle)
        col.addLayout(bar)
        col.addWidget(_section("Items"))
        col.addWidget(self.lines_view)
        col.addWidget(_section("Details"))
        col.addLayout(self.info)
        col.addWidget(_section("Sent to the channel"))
        col.addWidget(self.history)
        col.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(body)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self.show_order(None)

    def show_order(
        self, order: dict[str, Any] | None, capabilities: frozenset[str] = frozenset()
    ) -> None:
        self.order = order
        while self.info.count():
            item = self.info.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        if order is None:
            self.title.setText("Select an order")
            self.chip.clear()
            self.subtitle.setText(
                "Pick an order on the left to see its items and what was sent to the channel."
            )
            self.lines.set_lines([], "")
            self.history.clear()
            for b in self.buttons.values():
                b.setVisible(False)
            return
        status = OrderStatus(order["status"])
        colour = status_colour(order["status"], bool(order["needs_mapping"]))
        self.title.setText(order["number"])
        self.chip.setText(status_label(order["status"], bool(order["needs_mapping"])))
        self.chip.setStyleSheet(
            f"color: white; background: {colour}; border-radius: 9px; padding: 2px 10px;"
        )
        placed = order["placed_at"] or order["imported_at"]
        self.subtitle.setText(
            f"{order['channel']} · placed {when(placed)} · {money(order['total'], order['currency'])}"
            + (" · kept as history (stock not moved)" if order["history_only"] else "")
        )
        self.lines.set_lines(order["lines"], order["currency"])
        receiver = json.loads(order["receiver"] or "{}")
        address = ", ".join(
            str(receiver.get(k))
            for k in ("address", "no", "unit", "postal", "city", "country")
            if receiver.get(k)
        )
        rows = [
            ("Customer", order["customer_name"] or "Guest"),
            ("Email", order["customer_email"]),
            (
                "Deliver to",
                " · ".join(
                    x for x in (receiver.get("name", ""), address, receiver.get("phone", "")) if x
                ),
            ),
            ("Payment", PAYMENT_WORDS.get(order["payment_status"], order["payment_status"])),
            (
                "Tracking",
                " ".join(x for x in (order["tracking_code"], order["tracking_url"]) if x) or "—",
            ),
            ("Invoice", order["invoice_number"] or "—"),
            ("On the channel", order["channel_state"] or "—"),
        ]
        for i, (label, value) in enumerate(r for r in rows if r[1]):
            name = QLabel(label)
            name.setObjectName("muted")
            text = QLabel(value)
            text.setWordWrap(True)
            text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.info.addWidget(name, i, 0, Qt.AlignmentFlag.AlignTop)
            self.info.addWidget(text, i, 1)
        self.history.setText(_history_html(order))
        allowed = lifecycle.ALLOWED[status]
        self.buttons["confirm"].setVisible(OrderStatus.CONFIRMED in allowed)
        self.buttons["dispatch"].setVisible(OrderStatus.DISPATCHED in allowed)
        self.buttons["deliver"].setVisible(
            OrderStatus.DELIVERED in allowed and status is not OrderStatus.REQUESTED
        )
        self.buttons["cancel"].setVisible(OrderStatus.CANCELLED in allowed)
        self.buttons["return"].setVisible(OrderStatus.RETURNED in allowed)
        self.buttons["paid"].setVisible(
            CAP_PAID in capabilities
            and order["payment_status"] in ("unpaid", "cash_on_delivery")
            and status is not OrderStatus.CANCELLED
        )
        unmapped = bool(order["needs_mapping"])
        for key in ("confirm", "dispatch"):
            self.buttons[key].setEnabled(not unmapped)
            self.buttons[key].setToolTip(
                "Map the missing products first (Products screen)." if unmapped else ""
            )
        if CAP_RETURN not in capabilities:
            self.buttons["return"].setToolTip(
                "Recorded here; this channel is not told about returns."
            )


def _section(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("sectionTitle")
    return label


def _history_html(order: dict) -> str:
    items = []
    for e in order["events"]:
        colour = BAD if e["kind"] == "push-failed" else "#374151"
        items.append(
            f"<div style='margin-bottom:4px'><span style='color:{MUTED}'>{when(e['created_at'])}</span>"
            f"&nbsp; <span style='color:{colour}'>{_esc(e['message'])}</span></div>"
        )
    words = {
        "progress": "Order progress",
        "tracking": "Tracking details",
        "cancel": "Cancellation",
        "return": "Return",
        "paid": "Payment received",
        "invoice": "Invoice number",
    }
    for p in order["pending"]:
        kind = json.loads(p["payload"]).get("kind", p["kind"])
        if p["state"] == "failed":
            state = f"<b style='color:{BAD}'>not accepted</b>: {_esc(p['last_error'])} (see Activity to retry)"
        elif p["last_error"]:
            state = (
                f"waiting to send (try {p['attempts'] + 1}; last problem: {_esc(p['last_error'])})"
            )
        else:
            state = "waiting to send"
        items.append(
            f"<div style='margin-bottom:4px'><span style='color:{WARN}'>● {words.get(kind, kind)}</span>"
            f" {state}</div>"
        )
    return "".join(items) or f"<span style='color:{MUTED}'>Nothing yet.</span>"


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class OrdersPage(QWidget):
    def __init__(self, bridge: Bridge, parent=None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.db = bridge.reader
        self.model = SqlTableModel(
            self.db,
            ORDER_SELECT,
            order_columns(),
            default_sort="COALESCE(o.placed_at, o.imported_at) DESC, o.id DESC",
            count_all="SELECT COUNT(*) FROM orders",  # every order has its channel
        )
        self.model.sort(6, Qt.SortOrder.DescendingOrder)
        self.table = TablePage(
            self.model, noun="orders", search_hint="Search order, customer or channel…"
        )
        self.status_filter = self.table.add_filter("Status", STATUS_FILTERS, "status")
        self.channel_filter = self.table.add_filter(
            "Channel", [("All channels", None, ())], "channel"
        )
        self.table.set_column_widths([88, 112, 150, 105, 112, 96, 48])
        header = self.table.view.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(
            2, QHeaderView.ResizeMode.Stretch
        )  # the customer takes the rest
        self.table.view.horizontalHeader().setSortIndicator(6, Qt.SortOrder.DescendingOrder)
        self.detail = OrderDetail()
        self.detail.action_requested.connect(self.act)
        self.table.selection_changed.connect(self._selected)
        split = QSplitter()
        split.addWidget(self.table)
        split.addWidget(self.detail)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([760, 420])
        title = QLabel("Orders")
        title.setObjectName("pageTitle")
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(split, 1)
        self._stale = False
        bridge.data_changed.connect(self._data_changed)
        self._channels: list[str] = []
        self.refresh_channels()

    def _data_changed(self) -> None:
        # A hidden screen only notes the change (its queries are not free on a big
        # store); it catches up when shown.
        if self.isVisible():
            self.refresh()
        else:
            self._stale = True

    def showEvent(self, event) -> None:  # noqa: N802 - Qt name
        super().showEvent(event)
        if self._stale:
            self._stale = False
            self.refresh()

    def refresh_channels(self) -> None:
        names = [r["name"] for r in self.db.all("SELECT name FROM channels ORDER BY name")]
        if names == self._channels:
            return
        self._channels = names
        current = self.channel_filter.currentText()
        self.channel_filter.blockSignals(True)
        self.channel_filter.clear()
        self.channel_filter.addItem("All channels", (None, ()))
        for name in names:
            self.channel_filter.addItem(name, ("c.name = ?", (name,)))
        index = max(0, self.channel_filter.findText(current))
        self.channel_filter.setCurrentIndex(index)
        self.channel_filter.blockSignals(False)

    def show_filter(self, key: str) -> None:
        """Open the list at a dashboard tile's filter ('new', 'needs_mapping', 'to_dispatch')."""
        self.status_filter.setCurrentIndex(FILTER_KEYS.get(key, 0))

    def refresh(self) -> None:
        self.refresh_channels()
        self.table.refresh()
        self._selected(self.table.selected())

    def load(self, order_id: int) -> dict | None:
        row = self.db.one(
            "SELECT o.*, c.name AS channel, c.platform FROM orders o JOIN channels c"
            " ON c.id = o.channel_id WHERE o.id = ?",
            (order_id,),
        )
        if row is None:
            return None
        order = dict(row)
        order["lines"] = [
            dict(r)
            for r in self.db.all(
                "SELECT * FROM order_lines WHERE order_id = ? ORDER BY id", (order_id,)
            )
        ]
        order["events"] = [
            dict(r)
            for r in self.db.all(
                "SELECT kind, message, created_at FROM order_events WHERE order_id = ? ORDER BY id",
                (order_id,),
            )
        ]
        order["pending"] = [
            dict(r)
            for r in self.db.all(
                "SELECT kind, payload, state, attempts, last_error FROM outbox WHERE order_id = ?"
                " AND state != 'done' ORDER BY id",
                (order_id,),
            )
        ]
        return order

    def _selected(self, row: dict | None) -> None:
        order = self.load(row["id"]) if row else None
        caps = registry.capabilities(order["platform"]) if order else frozenset()
        self.detail.show_order(order, caps)

    def act(self, action: str) -> None:
        order = self.detail.order
        if order is None:
            return
        number, ref = order["number"], str(order["id"])
        kwargs: dict[str, Any] = {}
        if action == "confirm":
            partial = CAP_PARTIAL_CONFIRM in registry.capabilities(order["platform"])
            dialog = ConfirmDialog(number, order["lines"], partial=partial, parent=self)
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return
            kwargs["items"] = dialog.chosen()
        elif action == "dispatch":
            dispatch = DispatchDialog(number, self)
            if dispatch.exec() != QDialog.DialogCode.Accepted:
                return
            kwargs["tracking_code"], kwargs["tracking_url"] = dispatch.values()
        elif action == "cancel":
            cancel = CancelDialog(number, self)
            if cancel.exec() != QDialog.DialogCode.Accepted:
                return
            kwargs["reason"] = cancel.code()
        elif action == "return":
            answer = QMessageBox.question(
                self, "Mark returned", f"Put the goods of {number} back on the shelf?"
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.perform(ref, action, order["channel"], **kwargs)

    def perform(self, ref: str, action: str, channel: str, **kwargs: Any) -> None:
        """Apply an action through the engine thread, then send it to the channel."""
        if action == "paid":
            work = lambda hub: hub.mark_paid(ref)  # noqa: E731
        else:
            work = lambda hub: hub.order_action(ref, action, **kwargs)  # noqa: E731

        def done(_result) -> None:
            self.bridge.data_changed.emit()
            self.bridge.sync_channel(channel)

        def failed(exc: BaseException) -> None:
            QMessageBox.warning(self, "Not done", str(exc))

        self.bridge.run(work, done, failed)
