"""Customers: the buyers each channel has sent orders for, and which of your customers
each one is.

A buyer is one channel's customer reference; guests (and orders without a reference)
are one buyer per order, since nothing ties two of them together. A buyer without a
link is in the queue ("Needs a customer"): map it to one of your customers (the picker
in "Your customer" opens with ranked suggestions) or create the customer from the
order's details. A link applies to the buyer's later orders too. Every change is an
undoable batch on the engine thread (app/store/customers.py).
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from PySide6.QtCore import (
    SIGNAL,
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.core.suggest import BuyerFacts, Suggestion, buyer_details
from app.hub import Hub
from app.store.customers import CustomerRepo
from app.store.db import Database
from app.store.mapping import undoable_batch
from app.ui.bridge import Bridge
from app.ui.mapping_wizard import SpreadsheetMenu
from app.ui.picker import CustomerMatches, PickerDelegate, customer_suggestions
from app.ui.style import MUTED, ago, money, status_colour, status_label, when
from app.ui.tables import Column, SqlTableModel, TablePage

Index = QModelIndex | QPersistentModelIndex
ORDERS_LIMIT = 500
CUSTOMER_ROLE = Qt.ItemDataRole.UserRole + 1

# One row per channel buyer. The only MIN/MAX aggregate besides the currency check is
# the last order's time, so SQLite takes the bare name, email, address and currency from
# that latest order. Buyers with a reference are grouped in the order of the
# orders_customer index (no sorting of 100,000 orders); an order without a buyer
# reference is a buyer of its own, added unaggregated. "currencies" is 1, or 2 when the
# buyer paid in more than one (all the screen asks). Every column read here is in the
# orders_customer index, so grouping never visits the orders themselves; the delivery
# address (a JSON text per order) is read for the one buyer shown (latest_receiver).
GROUP_BUYERS = (
    "SELECT o.channel_id, c.name AS channel, o.customer_ref AS ref, NULL AS lone_order,"
    " o.customer_ref AS ext_ref,"
    " o.customer_name AS name, o.customer_email AS email, o.currency, COUNT(*) AS orders,"
    " SUM(o.total) AS spent, 1 + (MIN(o.currency) <> MAX(o.currency)) AS currencies,"
    " MAX(COALESCE(o.placed_at, o.imported_at)) AS last_order,"
    " (o.customer_ref LIKE 'guest:%') AS guest"
    " FROM orders o JOIN channels c ON c.id = o.channel_id WHERE o.customer_ref <> ''"
    " GROUP BY o.channel_id, o.customer_ref"
    " UNION ALL"
    " SELECT o.channel_id, c.name, '', o.id, 'order:' || o.external_id,"  # BUYER_REF
    " o.customer_name, o.customer_email, o.currency, 1, o.total, 1,"
    " COALESCE(o.placed_at, o.imported_at), 1"
    " FROM orders o JOIN channels c ON c.id = o.channel_id WHERE o.customer_ref = ''"
)
CUSTOMER_SELECT = (
    "SELECT b.*, b.channel_id || ':' || b.ext_ref AS id, cl.customer_id,"
    " cu.name AS local_name, cu.email AS local_email FROM temp.channel_buyers b"
    " LEFT JOIN customer_links cl ON cl.channel_id = b.channel_id AND cl.external_ref = b.ext_ref"
    " LEFT JOIN customers cu ON cu.id = cl.customer_id"
)


def snapshot_buyers(db: Database, *, empty: bool = False) -> None:
    """Group every order into buyers once, in a temporary table of the reading connection.

    Grouping 100,000 orders takes about 0.3 s; done for every page, sort and search (as
    a plain view would) each of those waited that long. The copy is rebuilt on refresh;
    temporary tables live in memory beside the connection and never touch the file.
    ``empty`` makes the table without grouping, for a page not shown yet.
    """
    db.execute("DROP TABLE IF EXISTS temp.channel_buyers")
    db.execute(f"CREATE TEMP TABLE channel_buyers AS {GROUP_BUYERS}{' LIMIT 0' if empty else ''}")
    db.execute("CREATE INDEX temp.channel_buyers_last ON channel_buyers (last_order)")


LINK_FILTERS: list[tuple[str, str | None, tuple]] = [
    ("All buyers", None, ()),
    ("Needs a customer", "cl.customer_id IS NULL", ()),
    ("Linked to your customers", "cl.customer_id IS NOT NULL", ()),
]
CUSTOMER_COLUMN = 6


def buyer_name(row: dict[str, Any]) -> str:
    if row["guest"]:
        return f"Guest · {row['name']}" if row["name"] else "Guest"
    return row["name"] or "(no name)"


def spent_text(row: dict[str, Any]) -> str:
    if row["currencies"] > 1:
        return "Several currencies"
    return money(row["spent"], row["currency"])


def customer_columns() -> list[Column]:
    return [
        Column("channel", "Channel", "b.channel", searchable=False),
        Column(
            "name",
            "Customer",
            "b.name",
            searchable=True,
            fmt=lambda v, r: buyer_name(r),
            color=lambda v, r: MUTED if r["guest"] else None,
        ),
        Column("email", "Email", "b.email", searchable=True),
        Column("orders", "Orders", "b.orders", numeric=True),
        Column(
            "last_order",
            "Last order",
            "b.last_order",
            numeric=True,
            fmt=lambda v, r: ago(v),
            tooltip=lambda v, r: when(v),
        ),
        Column("spent", "Spent", "b.spent", numeric=True, fmt=lambda v, r: spent_text(r)),
        Column(
            "local_name",
            "Your customer",
            "cu.name",
            fmt=lambda v, r: v or "Choose…",
            color=lambda v, r: None if v else MUTED,
            tooltip=lambda v, r: "Double-click to choose which of your customers this is",
        ),
    ]


def latest_receiver(db: Database, row: dict[str, Any]) -> dict[str, Any]:
    """The buyer row with its latest order's delivery address (``receiver``) added."""
    if row.get("receiver") is not None:
        return row
    if row["lone_order"] is not None:
        receiver = db.scalar("SELECT receiver FROM orders WHERE id = ?", (row["lone_order"],))
    else:
        receiver = db.scalar(
            "SELECT receiver FROM orders WHERE channel_id = ? AND customer_ref = ?"
            " ORDER BY COALESCE(placed_at, imported_at) DESC, id DESC LIMIT 1",
            (row["channel_id"], row["ref"]),
        )
    return dict(row, receiver=receiver or "{}")


def buyer_facts(row: dict[str, Any]) -> BuyerFacts:
    """What the buyer's latest order tells: name, email, phone and postcode.

    ``row`` needs its ``receiver`` (see latest_receiver); without it only the name and
    email count."""
    try:
        receiver = json.loads(row.get("receiver") or "{}")
    except ValueError:
        receiver = {}
    return buyer_details(row["name"], row["email"], receiver if isinstance(receiver, dict) else {})


class BuyerModel(SqlTableModel):
    """The buyers table; "Your customer" is editable and asks the page to link."""

    link_requested = Signal(object, int)  # buyer row, customer id

    def flags(self, index: Index) -> Qt.ItemFlag:
        flags = super().flags(index)
        if index.column() == CUSTOMER_COLUMN:
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.EditRole and index.column() == CUSTOMER_COLUMN:
            return (self.row(index.row()) or {}).get("local_email") or ""
        return super().data(index, role)

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        row = self.row(index.row())
        if role != Qt.ItemDataRole.EditRole or index.column() != CUSTOMER_COLUMN or row is None:
            return False
        self.link_requested.emit(row, int(value))
        return True


class BuyerOrdersModel(QAbstractTableModel):
    """The selected buyer's orders, newest first."""

    HEAD = ("Order", "Status", "Total", "Placed")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[dict[str, Any]] = []

    def set_rows(self, rows: list[dict[str, Any]]) -> None:
        self.beginResetModel()
        self.rows = rows
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
        o, col = self.rows[index.row()], index.column()
        held = bool(o["needs_mapping"])
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                o["number"],
                status_label(o["status"], held),
                money(o["total"], o["currency"]),
                when(o["placed"]),
            )[col]
        if role == Qt.ItemDataRole.ForegroundRole and col == 1:
            return QBrush(QColor(status_colour(o["status"], held)))
        if role == Qt.ItemDataRole.TextAlignmentRole and col == 2:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class BuyerDetail(QWidget):
    """Who the selected buyer is and every order they placed on that channel."""

    order_activated = Signal(int)  # an order's id, double-clicked
    link_to = Signal(int)  # link the buyer to this customer id
    create_requested = Signal()  # make a customer from the buyer's latest order

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel()
        self.title.setObjectName("pageTitle")
        self.title.setWordWrap(True)
        self.subtitle = QLabel()
        self.subtitle.setObjectName("muted")
        self.subtitle.setWordWrap(True)
        self.facts = QLabel()
        self.facts.setWordWrap(True)
        self.cards = QFrame()
        self.numbers: dict[str, QLabel] = {}
        row = QHBoxLayout(self.cards)
        row.setContentsMargins(0, 4, 0, 4)
        for key, caption, stretch in (
            ("orders", "Orders", 2),
            ("spent", "Spent", 3),
            ("last", "Last order", 3),
        ):
            card = QFrame()
            card.setObjectName("card")
            value = QLabel()
            value.setStyleSheet("font-size: 18px; font-weight: 600; color: #111827;")
            label = QLabel(caption)
            label.setObjectName("muted")
            box = QVBoxLayout(card)
            box.setContentsMargins(12, 8, 12, 8)
            box.addWidget(value)
            box.addWidget(label)
            self.numbers[key] = value
            row.addWidget(card, stretch)
        self.heading = QLabel("Orders")
        self.heading.setObjectName("sectionTitle")
        self.orders = BuyerOrdersModel(self)
        self.view = QTableView()
        self.view.setModel(self.orders)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(26)
        self.view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        self.view.setAlternatingRowColors(True)
        header = self.view.horizontalHeader()
        header.setHighlightSections(False)
        for col, width in enumerate((140, 140, 140)):
            header.resizeSection(col, width)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.view.doubleClicked.connect(
            lambda idx: self.order_activated.emit(int(self.orders.rows[idx.row()]["id"]))
        )
        self.note = QLabel()
        self.note.setObjectName("muted")
        self.match_heading = QLabel("Which of your customers is this?")
        self.match_heading.setObjectName("sectionTitle")
        self.suggested = QListWidget()
        self.suggested.setFixedHeight(120)
        self.suggested.setWordWrap(True)
        self.suggested.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.suggested.setToolTip("Ranked by email, phone, name and postcode")
        self.link_button = QPushButton("Link to this customer")
        self.link_button.setEnabled(False)
        self.suggested.currentRowChanged.connect(lambda r: self.link_button.setEnabled(r >= 0))
        self.suggested.itemDoubleClicked.connect(lambda _: self.link_button.click())
        self.link_button.clicked.connect(
            lambda: self.link_to.emit(int(self.suggested.currentItem().data(CUSTOMER_ROLE)))
        )
        self.create_button = QPushButton("Create from the order's details")
        self.create_button.clicked.connect(self.create_requested)
        choice = QHBoxLayout()
        choice.addWidget(self.link_button)
        choice.addWidget(self.create_button)
        choice.addStretch(1)
        self.matching = QWidget()
        box = QVBoxLayout(self.matching)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.match_heading)
        box.addWidget(self.suggested)
        box.addLayout(choice)
        # Who on the left, their orders on the right.
        who = QVBoxLayout()
        who.setContentsMargins(0, 0, 0, 0)
        who.addWidget(self.title)
        who.addWidget(self.subtitle)
        who.addWidget(self.cards)
        who.addWidget(self.facts)
        who.addWidget(self.matching)
        who.addStretch(1)
        left = QWidget()
        left.setLayout(who)
        left.setFixedWidth(430)
        bought = QVBoxLayout()
        bought.addWidget(self.heading)
        bought.addWidget(self.view, 1)
        bought.addWidget(self.note)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.setSpacing(18)
        layout.addWidget(left)
        layout.addLayout(bought, 1)
        self.show_buyer(None, [])

    def show_buyer(
        self,
        row: dict[str, Any] | None,
        orders: list[dict[str, Any]],
        *,
        can_open: bool = False,
        suggestions: list[Suggestion] | None = None,
    ) -> None:
        """Show ``row`` (a customers list row) and its orders; None shows the empty state."""
        for widget in (self.cards, self.facts, self.heading, self.view, self.note):
            widget.setVisible(row is not None)
        self.matching.setVisible(row is not None and not row["customer_id"])
        self.suggested.clear()
        for s in suggestions or []:
            item = QListWidgetItem(f"{s.label}\n{s.percent}%: {s.reason}")
            item.setData(CUSTOMER_ROLE, s.id)
            self.suggested.addItem(item)
        if not suggestions:
            self.suggested.addItem("No likely match among your customers.")
            self.suggested.item(0).setFlags(Qt.ItemFlag.NoItemFlags)
        self.link_button.setEnabled(False)
        if row is None:
            self.title.setText("Select a customer")
            self.subtitle.setText("Pick a customer above to see their orders.")
            self.orders.set_rows([])
            return
        self.title.setText(buyer_name(row))
        self.subtitle.setText(" · ".join(x for x in (row["channel"], row["email"]) if x))
        count = row["orders"]
        self.numbers["orders"].setText(f"{count:,}")
        self.numbers["spent"].setText(spent_text(row))
        self.numbers["last"].setText(ago(row["last_order"]))
        lines = []
        if count > 1 and len(orders) == count:  # the oldest order is only known when all are
            lines.append(f"Customer since {when(min(o['placed'] for o in orders))}")
        facts = buyer_facts(row)
        reach = " · ".join(
            x for x in (facts.phone, facts.postcode and f"postcode {facts.postcode}") if x
        )
        if reach:
            lines.append(reach)
        if row["local_name"]:
            lines.append(
                f"Linked to your customer {row['local_name']}; their later orders are too."
            )
        elif row["guest"]:
            lines.append("Bought as a guest: the channel keeps no account for this buyer.")
        else:
            lines.append("Not linked to your customer list yet.")
        self.facts.setText("<br>".join(_esc(line) for line in lines))
        self.orders.set_rows(orders)
        notes = (
            [f"Showing the latest {len(orders):,} of {count:,} orders."]
            if count > len(orders)
            else []
        )
        if can_open:
            notes.append("Double-click an order to open it.")
        self.note.setText(" ".join(notes))
        self.note.setVisible(bool(notes))


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class CustomersPage(QWidget):
    """The Customers screen: channel buyers, which of your customers each is, their orders."""

    order_activated = Signal(int)  # the lead window opens this order id on the Orders screen

    def __init__(self, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.db = bridge.reader
        self._channels: list[tuple[int, str]] = []
        self._stale = True  # filled when first shown: opening the window need not wait for it
        self._undo_id: int | None = None
        snapshot_buyers(self.db, empty=True)
        self.model = BuyerModel(
            self.db, CUSTOMER_SELECT, customer_columns(), default_sort="b.last_order DESC, b.rowid"
        )
        self.model.link_requested.connect(lambda row, cid: self._change([row], "link", cid))
        self.table = TablePage(self.model, noun="customers", search_hint="Search name or email…")
        self.channel_filter = self.table.add_filter(
            "Channel", [("All channels", None, ())], "channel"
        )
        self.link_filter = self.table.add_filter("Linked", LINK_FILTERS, "linked")
        view = self.table.view
        view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        view.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.SelectedClicked
        )
        self.picker = PickerDelegate(
            lambda parent: CustomerMatches(self.db, parent),
            lambda index: customer_suggestions(
                self.db, buyer_facts(latest_receiver(self.db, self.model.row(index.row()) or {}))
            ),
            view,
        )
        view.setItemDelegateForColumn(CUSTOMER_COLUMN, self.picker)
        self.table.set_column_widths([130, 240, 250, 90, 120, 130, 180])
        header = view.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSortIndicator(4, Qt.SortOrder.DescendingOrder)
        self.detail = BuyerDetail()
        self.detail.order_activated.connect(self.order_activated)
        self.detail.link_to.connect(lambda cid: self._change(self.selected_rows()[:1], "link", cid))
        self.detail.create_requested.connect(
            lambda: self._change(self.selected_rows()[:1], "create")
        )
        self.table.selection_changed.connect(self._selected)
        self.create_button = QPushButton("Create from order details")
        self.create_button.setToolTip(
            "Make one of your customers from each selected buyer's latest order (name, email,"
            " phone, postcode) and link them"
        )
        self.create_button.clicked.connect(lambda: self._change(self.selected_rows(), "create"))
        self.unlink_button = QPushButton("Unlink")
        self.unlink_button.clicked.connect(
            lambda: self._change([r for r in self.selected_rows() if r["customer_id"]], "unlink")
        )
        self.undo_button = QPushButton("Undo")
        self.undo_button.clicked.connect(self.undo_last)
        self.sheet_button = SpreadsheetMenu(
            self,
            bridge,
            noun="customers",
            channel=self.single_channel,
            export=lambda hub, ch, _: CustomerRepo(hub.db).export_csv(ch),
            load=lambda hub, ch, data, dry: CustomerRepo(hub.db).import_csv(ch, data, dry_run=dry),
            message=self.show_message,
            done=lambda _, text: self._done(text),
        )
        actions = QHBoxLayout()
        for button in (self.create_button, self.unlink_button):
            actions.addWidget(button)
        actions.addStretch(1)
        actions.addWidget(self.sheet_button)
        actions.addWidget(self.undo_button)
        self.banner = QLabel()
        self.banner.setObjectName("card")
        self.banner.setWordWrap(True)
        self.banner.setContentsMargins(12, 8, 12, 8)
        self.banner.hide()
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.detail)
        split.setChildrenCollapsible(False)
        split.setSizes([400, 320])
        title = QLabel("Customers")
        title.setObjectName("pageTitle")
        self.intro = QLabel()
        self.intro.setObjectName("muted")
        self.intro.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.intro)
        layout.addLayout(actions)
        layout.addWidget(self.banner)
        layout.addWidget(split, 1)
        self._refresh_soon = QTimer(self, singleShot=True, interval=0)
        self._refresh_soon.timeout.connect(self.refresh)
        bridge.data_changed.connect(self._data_changed)
        self.channel_filter.currentIndexChanged.connect(lambda _: self._update_counts())
        self.refresh_channels()
        self._selected(None)

    def refresh_channels(self) -> None:
        found = [
            (int(r["id"]), r["name"])
            for r in self.db.all("SELECT id, name FROM channels ORDER BY name")
        ]
        if found == self._channels:
            return
        self._channels = found
        current = self.channel_filter.currentText()
        self.channel_filter.blockSignals(True)
        self.channel_filter.clear()
        self.channel_filter.addItem("All channels", (None, ()))
        for cid, name in found:
            self.channel_filter.addItem(name, ("b.channel_id = ?", (cid,)))
        index = max(0, self.channel_filter.findText(current))
        self.channel_filter.setCurrentIndex(index)
        self.channel_filter.blockSignals(False)
        self.model.set_filter("channel", *self.channel_filter.itemData(index))

    def single_channel(self) -> str | None:
        """The channel the spreadsheet works on: the chosen one, or the only one."""
        index = self.channel_filter.currentIndex()
        if index > 0:
            return self._channels[index - 1][1]
        return self._channels[0][1] if len(self._channels) == 1 else None

    def selected_rows(self) -> list[dict[str, Any]]:
        rows = self.table.view.selectionModel().selectedRows()
        return [r for r in (self.table.row_at(i.row()) for i in rows) if r is not None]

    def _update_counts(self) -> None:
        clause, params = self.channel_filter.currentData() or (None, ())
        row = self.db.one(
            "SELECT COUNT(*), SUM(x.customer_id IS NULL), SUM(x.customer_id IS NOT NULL)"
            f" FROM ({CUSTOMER_SELECT}{' WHERE ' + clause if clause else ''}) x",
            params,
        )
        for i, ((text, _, _), n) in enumerate(zip(LINK_FILTERS, row, strict=True)):
            self.link_filter.setItemText(i, f"{text} ({int(n or 0):,})")
        waiting = int(row[1] or 0)
        self.intro.setText(
            "Buyers as each channel knows them, gathered from their orders. Link each to one of"
            " your customers once and their later orders follow; double-click “Your customer”"
            " to choose." + (f" <b>{waiting:,} need a customer.</b>" if waiting else "")
        )
        batch = undoable_batch(self.db, self._channels[0][0] if len(self._channels) == 1 else None)
        self._undo_id = int(batch["id"]) if batch else None
        self.undo_button.setEnabled(batch is not None)
        self.undo_button.setToolTip(
            f"Undo on {batch['channel']}: {batch['summary']}" if batch else "Nothing to undo"
        )

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
        snapshot_buyers(self.db)
        self.refresh_channels()
        self.table.refresh()
        self._update_counts()
        self._selected(self.table.selected())

    def show_message(self, text: str) -> None:
        self.banner.setText(text)
        self.banner.show()

    def _selected(self, row: dict[str, Any] | None) -> None:
        rows = self.selected_rows()
        self.create_button.setEnabled(any(not r["customer_id"] for r in rows))
        self.unlink_button.setEnabled(any(r["customer_id"] for r in rows))
        if row is None:
            self.detail.show_buyer(None, [])
            return
        row = latest_receiver(self.db, row)
        if row["lone_order"] is not None:
            where, args = "o.id = ?", (row["lone_order"],)
        else:
            where, args = "o.channel_id = ? AND o.customer_ref = ?", (row["channel_id"], row["ref"])
        orders = [
            dict(r)
            for r in self.db.all(
                "SELECT o.id, o.number, o.status, o.needs_mapping, o.total, o.currency,"
                f" COALESCE(o.placed_at, o.imported_at) AS placed FROM orders o WHERE {where}"
                f" ORDER BY placed DESC, o.id DESC LIMIT {ORDERS_LIMIT}",
                args,
            )
        ]
        wired = self.receivers(SIGNAL("order_activated(int)")) > 0
        suggestions = [] if row["customer_id"] else customer_suggestions(self.db, buyer_facts(row))
        self.detail.show_buyer(row, orders, can_open=wired, suggestions=suggestions)

    # -- changes ------------------------------------------------------------------------
    def _change(self, rows: list[dict[str, Any]], action: str, customer_id: int = 0) -> None:
        """Link, create or unlink the buyers of ``rows`` on the engine thread, per channel."""
        grouped: dict[int, list[str]] = defaultdict(list)
        for r in rows:
            if action != "create" or not r["customer_id"]:
                grouped[r["channel_id"]].append(r["ext_ref"])
        if not grouped:
            return

        def work(hub: Hub) -> str:
            repo, texts = CustomerRepo(hub.db), []
            for channel_id, refs in grouped.items():
                channel = hub.channels.by_id(channel_id)
                if action == "link":
                    texts.append(repo.link(channel, refs[0], customer_id).text())
                elif action == "create":
                    texts.append(repo.create_for_buyers(channel, refs).text())
                else:
                    texts.append(repo.unlink(channel, refs).text())
            return " ".join(texts)

        self.bridge.run(work, self._done, self._failed)

    def undo_last(self) -> None:
        batch_id = self._undo_id
        if batch_id is not None:
            self.bridge.run(
                lambda hub: "Undone. " + hub.mapping.undo(batch_id).text(),
                self._done,
                self._failed,
            )

    def _done(self, text: str) -> None:
        self.show_message(text)
        self.bridge.data_changed.emit()
        self.refresh()

    def _failed(self, exc: BaseException) -> None:
        QMessageBox.warning(self, "Customers not changed", str(exc))
