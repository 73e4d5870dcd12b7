"""Stock: what is on the shelf, what orders have reserved, what the channels are offered.

The list sums every warehouse (or shows one); the detail explains a product's number
with the movements that made it and offers the merchant's corrections (adjust, count,
safety buffer). Corrections run on the engine thread, which queues the new quantity
for the channels in the same transaction; the page then asks for a sync.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from html import escape
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.hub import Hub
from app.ui.bridge import Bridge
from app.ui.stock_dialogs import (
    AdjustStockDialog,
    CountStockDialog,
    SafetyBufferDialog,
    signed,
)
from app.ui.style import BAD, MUTED, OK, WARN, quantity, when
from app.ui.tables import Column, SqlTableModel, TablePage

Index = QModelIndex | QPersistentModelIndex
LEDGER_LIMIT = 500

# The channels a product is listed on, as one JSON array per row: [channel, quantity last
# sent, listing id, waiting to send]. One correlated lookup per shown row keeps the list
# one query; the outbox check uses its partial index on (channel_id, dedupe_key).
_SENT_JSON = (
    "(SELECT json_group_array(json_array(c.name, l.quantity, l.external_id,"
    " EXISTS (SELECT 1 FROM outbox o WHERE o.channel_id = l.channel_id"
    " AND o.dedupe_key = 'stock:' || l.id AND o.state = 'pending')))"
    " FROM product_links pl JOIN listings l ON l.id = pl.listing_id"
    " JOIN channels c ON c.id = l.channel_id"
    " WHERE pl.product_id = p.id AND l.ignored = 0 AND c.enabled = 1)"
)
_SENT_SORT = (
    "(SELECT MIN(l.quantity) FROM product_links pl JOIN listings l ON l.id = pl.listing_id"
    " JOIN channels c ON c.id = l.channel_id"
    " WHERE pl.product_id = s.id AND l.ignored = 0 AND c.enabled = 1)"
)
_AVAILABLE = "(s.on_hand - s.committed - s.safety_buffer)"
LEVEL_FILTERS: list[tuple[str, str | None, tuple]] = [
    ("All stock levels", None, ()),
    ("Running low", f"{_AVAILABLE} <= s.safety_buffer", ()),
    ("Nothing available", f"{_AVAILABLE} <= 0", ()),
]


def stock_select(warehouse_id: int | None = None) -> str:
    """The list's SELECT: products with their stock summed over warehouses (or one).

    The sums are correlated lookups on stock_levels' primary key rather than a grouped
    subquery: SQLite materialises a grouped subquery whole for every page (about 0.4 s
    at 100,000 products), while these run only for the rows a page shows (a few ms).
    """
    scope = "" if warehouse_id is None else f" AND warehouse_id = {int(warehouse_id)}"
    return (
        f"SELECT s.*, {_AVAILABLE} AS available FROM (SELECT p.id, p.sku, p.name, p.barcode,"
        " p.safety_buffer,"
        f" COALESCE((SELECT SUM(on_hand) FROM stock_levels WHERE product_id = p.id{scope}), 0)"
        " AS on_hand,"
        f" COALESCE((SELECT SUM(committed) FROM stock_levels WHERE product_id = p.id{scope}), 0)"
        f" AS committed, {_SENT_JSON} AS sent FROM products p) s"
    )


def sent_to_channels(row: dict[str, Any]) -> list[tuple[str, float | None, str, bool]]:
    """The row's listings as (channel, quantity last sent, listing, waiting to send)."""
    parsed = row.get("_sent")
    if parsed is None:  # parse once per fetched row, not on every repaint
        parsed = row["_sent"] = [
            (str(c), q, str(ext), bool(w)) for c, q, ext, w in json.loads(row["sent"] or "[]")
        ]
    return parsed


def sent_text(_value: Any, row: dict[str, Any]) -> str:
    items = sent_to_channels(row)
    if not items:
        return "Not listed"
    known = [q for _, q, _, _ in items if q is not None]
    if not known:
        value = "—"
    elif min(known) == max(known):
        value = quantity(min(known))
    else:
        value = f"{quantity(min(known))}–{quantity(max(known))}"
    return value + (" · sending" if any(w for *_, w in items) else "")


def sent_tooltip(_value: Any, row: dict[str, Any]) -> str | None:
    items = sent_to_channels(row)
    if not items:
        return "No channel listing is linked to this product, so no channel is told its stock."
    lines = [
        f"{channel}: {quantity(q)}" + (" — sending the new quantity" if waiting else "")
        for channel, q, _, waiting in items
    ]
    return "Last quantity each channel was given:\n" + "\n".join(lines)


def available_colour(value: float | None, row: dict[str, Any]) -> str | None:
    if value is None:
        return None
    if value <= 0:
        return BAD
    if value <= row["safety_buffer"]:
        return WARN
    return None


def stock_columns() -> list[Column]:
    def qty(v: Any, _r: dict) -> str:
        return quantity(v)

    return [
        Column("sku", "SKU", "s.sku", searchable=True),
        Column("name", "Product", "s.name", searchable=True),
        Column("on_hand", "On hand", "s.on_hand", numeric=True, fmt=qty),
        Column("committed", "Reserved", "s.committed", numeric=True, fmt=qty),
        Column("available", "Available", _AVAILABLE, numeric=True, fmt=qty, color=available_colour),
        Column("safety_buffer", "Safety buffer", "s.safety_buffer", numeric=True, fmt=qty),
        Column(
            "sent",
            "Sent to channels",
            _SENT_SORT,
            numeric=True,
            fmt=sent_text,
            tooltip=sent_tooltip,
            color=lambda v, r: (
                MUTED
                if not sent_to_channels(r)
                else (WARN if any(w for *_, w in sent_to_channels(r)) else None)
            ),
        ),
    ]


def movement_words(m: dict[str, Any]) -> str:
    """A ledger row's reason as the merchant would say it."""
    reason, note = m["reason"], (m.get("note") or "").strip()
    if m.get("number"):
        status = reason.removeprefix("order ").strip()
        return f"Order {m['number']} {'new' if status == 'requested' else status}"
    if reason == "adjustment":
        return f"Adjustment: {note}" if note else "Adjustment"
    if reason in ("stock count", "count"):
        return "Stock count" + (f" ({note})" if note else "")
    if reason == "opening stock":
        return "Opening stock" + (f" ({note})" if note else "")
    text = reason[:1].upper() + reason[1:]
    return f"{text}: {note}" if note else text


def short_when(ts: float) -> str:
    """'Today 14:05', '3 Nov 14:05' this year, '3 Nov 2024' before."""
    dt, now = datetime.fromtimestamp(ts), datetime.now()
    if dt.date() == now.date():
        return f"Today {dt:%H:%M}"
    if dt.year == now.year:
        return f"{dt.day} {dt:%b %H:%M}"
    return f"{dt.day} {dt:%b %Y}"


class MovementsModel(QAbstractTableModel):
    """The newest stock movements of one product, with the on-hand balance after each."""

    HEAD = ("When", "On hand", "Reserved", "After", "Why", "Warehouse")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[dict[str, Any]] = []

    def set_rows(self, rows: list[dict[str, Any]], on_hand_now: float) -> None:
        """``rows`` newest first; the balance walks back from today's on hand."""
        balance = on_hand_now
        out = []
        for r in rows:
            out.append({**r, "after": balance})
            balance -= r["on_hand_delta"]
        self.beginResetModel()
        self.rows = out
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt signature
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEAD)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEAD[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        m, col = self.rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                short_when(m["created_at"]),
                signed(m["on_hand_delta"]),
                signed(m["committed_delta"]),
                quantity(m["after"]),
                movement_words(m),
                m["warehouse"],
            )[col]
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (1, 2, 3):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and col == 1 and m["on_hand_delta"]:
            return QBrush(QColor(OK if m["on_hand_delta"] > 0 else BAD))
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(m, col)
        return None

    def _tooltip(self, m: dict[str, Any], col: int) -> str | None:
        if col == 0:
            return when(m["created_at"])
        if col == 3:
            return "On hand after this change"
        if col == 4 and m.get("number"):
            line = f"{quantity(m['line_qty'])} × {m['line_sku']}"
            return f"{m['channel']} order {m['number']}: {line}"
        return movement_words(m) if col == 4 else None


def _big_number(caption: str) -> tuple[QFrame, QLabel]:
    card = QFrame()
    card.setObjectName("card")
    value = QLabel("—")
    value.setStyleSheet("font-size: 26px; font-weight: 600; color: #111827;")
    label = QLabel(caption)
    label.setObjectName("muted")
    box = QVBoxLayout(card)
    box.setContentsMargins(14, 10, 14, 10)
    box.addWidget(value)
    box.addWidget(label)
    return card, value


def _section(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("sectionTitle")
    return label


class StockDetail(QWidget):
    """The selected product: its three numbers, why they are what they are, corrections."""

    action_requested = Signal(str)  # "adjust", "count" or "buffer"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("Select a product")
        self.title.setObjectName("pageTitle")
        self.title.setWordWrap(True)
        self.subtitle = QLabel()
        self.subtitle.setObjectName("muted")
        self.subtitle.setWordWrap(True)
        cards = QHBoxLayout()
        self.cards: list[QFrame] = []
        self.numbers: dict[str, QLabel] = {}
        for key, caption in (
            ("on_hand", "On hand"),
            ("committed", "Reserved"),
            ("available", "Available"),
        ):
            card, value = _big_number(caption)
            self.cards.append(card)
            self.numbers[key] = value
            cards.addWidget(card)
        self.sentence = QLabel()
        self.sentence.setWordWrap(True)
        self.where = QLabel()
        self.where.setObjectName("muted")
        self.where.setWordWrap(True)
        self.buttons: dict[str, QPushButton] = {}
        bar = QHBoxLayout()
        for key, text in (
            ("adjust", "Adjust stock…"),
            ("count", "Count stock…"),
            ("buffer", "Safety buffer…"),
        ):
            button = QPushButton(text)
            if key == "adjust":
                button.setObjectName("primary")
            button.clicked.connect(lambda _=False, k=key: self.action_requested.emit(k))
            self.buttons[key] = button
            bar.addWidget(button)
        bar.addStretch(1)
        self.channels = QLabel()
        self.channels.setWordWrap(True)
        self.movements = MovementsModel(self)
        self.ledger = QTableView()
        self.ledger.setModel(self.movements)
        self.ledger.verticalHeader().setVisible(False)
        self.ledger.verticalHeader().setDefaultSectionSize(26)
        self.ledger.setSelectionMode(QTableView.SelectionMode.NoSelection)
        self.ledger.setAlternatingRowColors(True)
        self.ledger.setWordWrap(False)
        header = self.ledger.horizontalHeader()
        header.setHighlightSections(False)
        for col, width in enumerate((120, 90, 90, 70, 200, 130)):
            header.resizeSection(col, width)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.ledger_note = QLabel()
        self.ledger_note.setObjectName("muted")
        # Numbers on the left, the ledger that explains them on the right.
        summary = QVBoxLayout()
        summary.addWidget(self.title)
        summary.addWidget(self.subtitle)
        summary.addLayout(cards)
        summary.addWidget(self.sentence)
        summary.addWidget(self.where)
        summary.addLayout(bar)
        self.channels_title = _section("On the channels")
        summary.addWidget(self.channels_title)
        summary.addWidget(self.channels)
        summary.addStretch(1)
        history = QVBoxLayout()
        self.ledger_title = _section("What changed the stock")
        history.addWidget(self.ledger_title)
        history.addWidget(self.ledger, 1)
        history.addWidget(self.ledger_note)
        left = QWidget()
        left.setLayout(summary)
        left.setFixedWidth(430)
        summary.setContentsMargins(0, 0, 0, 0)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.setSpacing(18)
        layout.addWidget(left)
        layout.addLayout(history, 1)
        self.show_product(None)

    def show_product(
        self,
        row: dict[str, Any] | None,
        *,
        warehouse: str | None = None,
        breakdown: list[dict[str, Any]] | None = None,
        movements: list[dict[str, Any]] | None = None,
        total_movements: int = 0,
        several_warehouses: bool = False,
    ) -> None:
        """Show ``row`` (a stock list row) and its ledger; None shows the empty state."""
        filled = row is not None
        for widget in (
            *self.cards,
            *self.buttons.values(),
            self.ledger,
            self.channels,
            self.channels_title,
            self.ledger_title,
        ):
            widget.setVisible(filled)
        for widget in (self.sentence, self.where, self.ledger_note):
            widget.setVisible(filled)
        if row is None:
            self.title.setText("Select a product")
            self.subtitle.setText(
                "Pick a product above to see its stock and every change that made it."
            )
            self.movements.set_rows([], 0)
            return
        self.title.setText(row["name"])
        self.subtitle.setText(
            " · ".join(
                x
                for x in (f"SKU {row['sku']}", row.get("barcode") and f"barcode {row['barcode']}")
                if x
            )
        )
        on_hand, reserved, buffer = row["on_hand"], row["committed"], row["safety_buffer"]
        available = on_hand - reserved - buffer
        self.numbers["on_hand"].setText(quantity(on_hand))
        self.numbers["committed"].setText(quantity(reserved))
        self.numbers["available"].setText(quantity(available))
        colour = available_colour(available, row) or "#111827"
        self.numbers["available"].setStyleSheet(
            f"font-size: 26px; font-weight: 600; color: {colour};"
        )
        sentence = (
            f"Available {quantity(available)} = on hand {quantity(on_hand)} − reserved"
            f" {quantity(reserved)} − safety buffer {quantity(buffer)}"
        )
        if warehouse:
            sentence = f"In {warehouse}: {sentence[0].lower()}{sentence[1:]}"
        if available < 0:
            sentence += ". Orders have reserved more than you have; the channels are offered 0."
        self.sentence.setText(sentence)
        parts = [
            f"{b['warehouse']}: {quantity(b['on_hand'])} on hand"
            + (f", {quantity(b['committed'])} reserved" if b["committed"] else "")
            for b in breakdown or []
        ]
        if warehouse:
            self.where.setText(
                "Only this warehouse is shown; the channels are offered the total of all."
            )
        else:
            self.where.setText(" · ".join(parts) if len(parts) > 1 else "")
        self.where.setVisible(bool(self.where.text()))
        items = sent_to_channels(row)
        self.channels.setText(
            "<br>".join(
                f"{escape(c)} <span style='color:{MUTED}'>({escape(ext)})</span>: {quantity(q)}"
                + (f" <span style='color:{WARN}'>· sending the new quantity</span>" if w else "")
                for c, q, ext, w in items
            )
            or f"<span style='color:{MUTED}'>Not linked to any channel listing yet (see Products).</span>"
        )
        self.movements.set_rows(movements or [], on_hand)
        self.ledger.setColumnHidden(5, not several_warehouses or bool(warehouse))
        if not movements:
            self.ledger_note.setText("No stock changes recorded yet.")
        elif total_movements > len(movements):
            self.ledger_note.setText(
                f"Showing the latest {len(movements):,} of {total_movements:,} changes."
            )
        else:
            self.ledger_note.setText(
                f"{total_movements:,} change{'s' if total_movements != 1 else ''}."
            )


def set_safety_buffer(hub: Hub, product_id: int, buffer: float) -> None:
    """Change the buffer and queue the new available quantity for every linked listing."""
    with hub.db.transaction():
        hub.catalog.update_product(product_id, safety_buffer=buffer)
        hub.orders.enqueue_stock_pushes({product_id})


class StockPage(QWidget):
    """The Stock screen: the list over products, the selected product's detail."""

    def __init__(self, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.db = bridge.reader
        self._warehouse_id: int | None = None
        self._warehouses: list[tuple[int, str]] = []
        self._stale = False
        self.model = SqlTableModel(self.db, stock_select(), stock_columns(), default_sort="s.sku")
        self.table = TablePage(self.model, noun="products", search_hint="Search SKU or product…")
        self.warehouse_filter = QComboBox()
        self.warehouse_filter.setAccessibleName("Warehouse")
        self.warehouse_filter.currentIndexChanged.connect(self._warehouse_chosen)
        self.table.filters.addWidget(self.warehouse_filter)
        self.level_filter = self.table.add_filter("Stock level", LEVEL_FILTERS, "level")
        self.table.set_column_widths([130, 280, 100, 104, 104, 130, 150])
        # The product name takes the spare width, so the numbers stay side by side.
        self.table.view.horizontalHeader().setStretchLastSection(False)
        self.table.view.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.view.horizontalHeader().setSortIndicator(0, Qt.SortOrder.AscendingOrder)
        self.detail = StockDetail()
        self.detail.action_requested.connect(self.act)
        self.table.selection_changed.connect(self._selected)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.detail)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)
        split.setSizes([360, 330])
        title = QLabel("Stock")
        title.setObjectName("pageTitle")
        intro = QLabel(
            "On hand is what is on your shelves, reserved is promised to new orders, and"
            " available is what your channels are offered."
        )
        intro.setObjectName("muted")
        intro.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(intro)
        layout.addWidget(split, 1)
        self._refresh_soon = QTimer(self, singleShot=True, interval=0)
        self._refresh_soon.timeout.connect(self.refresh)
        bridge.data_changed.connect(self._data_changed)
        self.refresh_warehouses()

    # -- reading ------------------------------------------------------------------------
    def refresh_warehouses(self) -> None:
        found = [
            (int(r["id"]), r["name"])
            for r in self.db.all("SELECT id, name FROM warehouses ORDER BY is_default DESC, name")
        ]
        if found == self._warehouses:
            return
        self._warehouses = found
        self.warehouse_filter.blockSignals(True)
        self.warehouse_filter.clear()
        self.warehouse_filter.addItem("All warehouses", None)
        for wid, name in found:
            self.warehouse_filter.addItem(name, wid)
        index = self.warehouse_filter.findData(self._warehouse_id)
        self.warehouse_filter.setCurrentIndex(max(0, index))
        self.warehouse_filter.blockSignals(False)
        if index < 0 and self._warehouse_id is not None:
            self._warehouse_chosen(0)

    def _warehouse_chosen(self, index: int) -> None:
        self._warehouse_id = self.warehouse_filter.itemData(index)
        self.model.select = stock_select(self._warehouse_id)
        self.table.refresh()
        self._selected(self.table.selected())

    def warehouse_name(self) -> str | None:
        """The warehouse the list is narrowed to, or None for all of them."""
        return None if self._warehouse_id is None else self.warehouse_filter.currentText()

    def _data_changed(self) -> None:
        # Hidden pages only note the change: a refresh costs queries nobody would see. A
        # visible one refreshes on the next turn of the event loop, unless the window
        # refreshes it directly first (refresh() cancels the deferred one).
        if self.isVisible():
            self._refresh_soon.start()
        else:
            self._stale = True

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt name
        super().showEvent(event)
        if self._stale:
            self._refresh_soon.start()

    def refresh(self) -> None:
        """Re-read everything shown from the store, keeping the selection."""
        self._refresh_soon.stop()
        self._stale = False
        self.refresh_warehouses()
        self.table.refresh()
        self._selected(self.table.selected())

    def _selected(self, row: dict[str, Any] | None) -> None:
        if row is None:
            self.detail.show_product(None)
            return
        scope, args = (
            ("", (row["id"],))
            if self._warehouse_id is None
            else (" AND m.warehouse_id = ?", (row["id"], self._warehouse_id))
        )
        movements = [
            dict(r)
            for r in self.db.all(
                "SELECT m.created_at, m.on_hand_delta, m.committed_delta, m.reason, m.note,"
                " w.name AS warehouse, o.number, c.name AS channel, ol.sku AS line_sku,"
                " ol.quantity AS line_qty FROM stock_movements m"
                " JOIN warehouses w ON w.id = m.warehouse_id"
                " LEFT JOIN order_lines ol ON ol.id = m.order_line_id"
                " LEFT JOIN orders o ON o.id = ol.order_id LEFT JOIN channels c ON c.id = o.channel_id"
                f" WHERE m.product_id = ?{scope} ORDER BY m.created_at DESC, m.id DESC"
                f" LIMIT {LEDGER_LIMIT}",
                args,
            )
        ]
        total = len(movements)
        if total == LEDGER_LIMIT:
            total = int(
                self.db.scalar(
                    f"SELECT COUNT(*) FROM stock_movements m WHERE m.product_id = ?{scope}", args
                )
            )
        breakdown = [
            dict(r)
            for r in self.db.all(
                "SELECT w.name AS warehouse, l.on_hand, l.committed FROM stock_levels l"
                " JOIN warehouses w ON w.id = l.warehouse_id WHERE l.product_id = ?"
                " AND (l.on_hand != 0 OR l.committed != 0) ORDER BY w.is_default DESC, w.name",
                (row["id"],),
            )
        ]
        self.detail.show_product(
            row,
            warehouse=self.warehouse_name(),
            breakdown=breakdown,
            movements=movements,
            total_movements=total,
            several_warehouses=len(self._warehouses) > 1,
        )

    def show_sku(self, sku: str) -> bool:
        """Select the product with ``sku``, narrowing the list to it when it is far down."""

        def match(r: dict) -> bool:
            return r["sku"] == sku

        if self.table.select_where(match):
            return True
        self.level_filter.setCurrentIndex(0)
        self.table.search.blockSignals(True)  # apply at once instead of after the debounce
        self.table.search.setText(sku)
        self.table.search.blockSignals(False)
        self.model.set_search(sku)
        return self.table.select_where(match)

    # -- corrections --------------------------------------------------------------------
    def act(self, action: str) -> None:
        {
            "adjust": self.open_adjust_dialog,
            "count": self.open_count_dialog,
            "buffer": self.open_buffer_dialog,
        }[action]()

    def _stock_by_warehouse(self, product_id: int) -> dict[str, float]:
        rows = self.db.all(
            "SELECT warehouse_id, on_hand FROM stock_levels WHERE product_id = ?", (product_id,)
        )
        held = {int(r["warehouse_id"]): float(r["on_hand"]) for r in rows}
        return {name: held.get(wid, 0.0) for wid, name in self._warehouses}

    def _default_warehouse(self) -> str:
        return self.warehouse_name() or self._warehouses[0][1]

    def open_adjust_dialog(self) -> AdjustStockDialog | None:
        """Open the adjust dialog for the selected product, without blocking; None if none."""

        def apply(hub: Hub, sku: str, values: tuple[float, str, str]) -> object:
            by, reason, warehouse = values
            return hub.adjust_stock(sku, by, reason, warehouse=warehouse)

        return self._open_correction(AdjustStockDialog, apply, "Stock not adjusted")

    def open_count_dialog(self) -> CountStockDialog | None:
        """Open the stock count dialog for the selected product; None if none."""

        def apply(hub: Hub, sku: str, values: tuple[float, str, str]) -> object:
            counted, note, warehouse = values
            return hub.count_stock(sku, counted, warehouse=warehouse, note=note)

        return self._open_correction(CountStockDialog, apply, "Stock count not recorded")

    def _open_correction(
        self,
        dialog_class: type[AdjustStockDialog] | type[CountStockDialog],
        apply: Callable[[Hub, str, tuple[float, str, str]], object],
        failure_title: str,
    ) -> Any:
        """A per-warehouse correction dialog for the selected row, applied when accepted."""
        row = self.table.selected()
        if row is None:
            return None
        dialog = dialog_class(
            row["sku"],
            row["name"],
            self._stock_by_warehouse(row["id"]),
            self._default_warehouse(),
            parent=self,
        )

        def accepted() -> None:
            values = dialog.values()
            self._apply(lambda hub: apply(hub, row["sku"], values), failure_title)

        dialog.accepted.connect(accepted)
        dialog.open()
        return dialog

    def open_buffer_dialog(self) -> SafetyBufferDialog | None:
        """Open the safety buffer dialog for the selected product; None if none."""
        row = self.table.selected()
        if row is None:
            return None
        totals = self.db.one(
            "SELECT COALESCE(SUM(on_hand), 0), COALESCE(SUM(committed), 0)"
            " FROM stock_levels WHERE product_id = ?",
            (row["id"],),
        )
        dialog = SafetyBufferDialog(
            row["sku"], row["name"], row["safety_buffer"], totals[0], totals[1], parent=self
        )

        def accepted() -> None:
            buffer = dialog.value()
            self._apply(
                lambda hub: set_safety_buffer(hub, row["id"], buffer), "Safety buffer not changed"
            )

        dialog.accepted.connect(accepted)
        dialog.open()
        return dialog

    def _apply(self, work: Any, failure_title: str) -> None:
        def done(_result: Any) -> None:
            self.bridge.data_changed.emit()
            self.bridge.sync_now()  # the new quantity is queued; send it now, not at the next tick

        def failed(exc: BaseException) -> None:
            QMessageBox.warning(self, failure_title, str(exc))

        self.bridge.run(work, done, failed)
