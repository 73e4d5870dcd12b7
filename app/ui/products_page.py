"""Products: every channel's listings and how they link to the merchant's own products.

A listing is a product as one channel shows it. Linked listings get their stock from
the local product; this screen shows which are linked, which need the merchant, and
offers the basic ways to link them (by SKU, by hand, or by creating products).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt, QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.store.db import Database
from app.store.mapping import MappingOutcome
from app.ui.bridge import Bridge
from app.ui.style import ACCENT, MUTED, OK, WARN, quantity
from app.ui.tables import Column, SqlTableModel, TablePage

Index = QModelIndex | QPersistentModelIndex

# Why a listing is where it is. Duplicate and empty SKUs are what automatic linking
# refuses (app/core/mapping.py); "new" means no local product has the SKU yet.
_STATE = (
    "CASE WHEN l.ignored = 1 THEN 'ignored'"
    " WHEN pl.product_id IS NOT NULL THEN 'linked'"
    " WHEN l.sku = '' THEN 'no_sku'"
    " WHEN EXISTS (SELECT 1 FROM listings d WHERE d.sku = l.sku AND d.channel_id = l.channel_id"
    " AND d.id != l.id) THEN 'duplicate'"
    " WHEN EXISTS (SELECT 1 FROM products q WHERE q.sku = l.sku) THEN 'not_linked'"
    " ELSE 'new' END"
)
LISTING_SELECT = (
    "SELECT * FROM (SELECT l.id, l.channel_id, c.name AS channel, l.external_id, l.sku, l.name,"
    " l.quantity, l.ignored, pl.method, p.sku AS product_sku, p.name AS product_name,"
    f" {_STATE} AS state FROM listings l JOIN channels c ON c.id = l.channel_id"
    " LEFT JOIN product_links pl ON pl.listing_id = l.id"
    " LEFT JOIN products p ON p.id = pl.product_id) x"
)
STATE_WORDS = {
    "linked": ("Linked", OK, "Gets its stock from your product {product}."),
    "not_linked": (
        "Not linked",
        ACCENT,
        "You have a product with this SKU: “Link automatically by SKU” links them.",
    ),
    "new": (
        "New",
        ACCENT,
        "None of your products has this SKU yet: create it from the listing, or link it by hand.",
    ),
    "no_sku": (
        "Needs you",
        WARN,
        "The listing has no SKU on the channel: link it by hand, or give it a SKU there.",
    ),
    "duplicate": (
        "Needs you",
        WARN,
        "Several listings on this channel use this SKU, so none is linked"
        " automatically: link each by hand.",
    ),
    "ignored": ("Ignored", MUTED, "You chose to leave this listing alone; its stock is not sent."),
}
STATE_RANK = (
    "CASE x.state WHEN 'no_sku' THEN 0 WHEN 'duplicate' THEN 0 WHEN 'new' THEN 1"
    " WHEN 'not_linked' THEN 2 WHEN 'linked' THEN 3 ELSE 4 END"
)
STATE_FILTERS: list[tuple[str, str | None, tuple]] = [
    ("All listings", None, ()),
    ("Needs you", "x.state IN ('no_sku', 'duplicate')", ()),
    ("New", "x.state = 'new'", ()),
    ("Not linked", "x.state = 'not_linked'", ()),
    ("Linked", "x.state = 'linked'", ()),
    ("Ignored", "x.state = 'ignored'", ()),
]
METHOD_WORDS = {"sku": "SKU", "id": "Listing ID", "manual": "By hand"}
SKU_ROLE = Qt.ItemDataRole.UserRole + 1
NAME_ROLE = Qt.ItemDataRole.UserRole + 2


def listing_columns() -> list[Column]:
    return [
        Column("channel", "Channel", "x.channel", searchable=True),
        Column("external_id", "Listing", "x.external_id", searchable=True),
        Column(
            "sku",
            "SKU",
            "x.sku",
            searchable=True,
            fmt=lambda v, r: v or "no SKU",
            color=lambda v, r: None if v else MUTED,
        ),
        Column("name", "Name", "x.name", searchable=True),
        Column(
            "quantity",
            "Channel qty",
            "x.quantity",
            numeric=True,
            fmt=lambda v, r: quantity(v),
            tooltip=lambda v, r: "What the channel offers for sale, as last read or sent.",
        ),
        Column(
            "product_sku",
            "Your product",
            "x.product_sku",
            searchable=True,
            fmt=lambda v, r: f"{v} — {r['product_name']}" if v else "",
        ),
        Column("method", "Linked by", "x.method", fmt=lambda v, r: METHOD_WORDS.get(v or "", "")),
        Column(
            "state",
            "State",
            STATE_RANK,
            fmt=lambda v, r: STATE_WORDS[v][0],
            color=lambda v, r: STATE_WORDS[v][1],
            tooltip=lambda v, r: STATE_WORDS[v][2].format(
                product=f"{r['product_sku']} — {r['product_name']}"
            ),
        ),
    ]


def outcome_text(outcomes: list[MappingOutcome], *, adopted: bool = False) -> str:
    """What a round of linking did, in one or two sentences."""
    linked = sum(o.linked for o in outcomes)
    created = sum(o.created for o in outcomes)
    conflicts = sum(len(o.conflicts) for o in outcomes)
    unmapped = sum(len(o.unmapped) for o in outcomes)
    released = sum(o.released for o in outcomes)
    if adopted:
        parts = [f"Created {_n(created, 'product')} and linked {_n(linked, 'listing')}."]
    else:
        parts = [f"Linked {_n(linked, 'listing')} by SKU." if linked else "No new links by SKU."]
    if conflicts:
        parts.append(
            f"{_n(conflicts, 'listing')} need you: no SKU, or a SKU used twice on the channel."
        )
    if unmapped:
        parts.append(
            f"{_n(unmapped, 'listing')} have a SKU none of your products has:"
            " create them from the listings or link them by hand."
        )
    return " ".join(parts) + released_text(released)


def released_text(released: int) -> str:
    return f" {_n(released, 'waiting order')} released and stock reserved." if released else ""


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


class ProductMatches(QAbstractListModel):
    """Local products whose SKU or name contains every typed word (at most 50)."""

    LIMIT = 50

    def __init__(self, db: Database, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.db = db
        self.rows: list[tuple[str, str]] = []

    def search(self, text: str) -> None:
        words = text.split()
        where = " AND ".join("(sku LIKE ? OR name LIKE ?)" for _ in words) or "1"
        args: list[Any] = []
        for word in words:
            like = f"%{word.replace('%', '').replace('_', '')}%"
            args += [like, like]
        # SKUs starting with what was typed come first; they are what a merchant types.
        rows = self.db.all(
            f"SELECT sku, name FROM products WHERE {where}"
            f" ORDER BY sku LIKE ? DESC, sku LIMIT {self.LIMIT}",
            (*args, f"{text.strip()}%"),
        )
        self.beginResetModel()
        self.rows = [(r["sku"], r["name"]) for r in rows]
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt signature
        return 0 if parent.isValid() else len(self.rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        sku, name = self.rows[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return f"{sku} — {name}"
        if role == SKU_ROLE:
            return sku
        if role == NAME_ROLE:
            return name
        return None


class LinkDialog(QDialog):
    """Pick the local product a listing gets its stock from."""

    def __init__(
        self, db: Database, listing: dict[str, Any], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Link to your product")
        # Opened with open(), not exec(): nothing else would ever delete it.
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.db = db
        self.chosen: str | None = None
        sku = listing["sku"] or "no SKU"
        intro = QLabel(
            f"<b>{_esc(listing['name'] or listing['external_id'])}</b><br>"
            f"{_esc(listing['channel'])} · listing {_esc(listing['external_id'])} · {_esc(sku)}"
            "<br><br>The listing gets its stock from the product you choose. Orders"
            " waiting for it are processed at once."
        )
        intro.setWordWrap(True)
        intro.setMinimumWidth(420)
        self.search = QLineEdit(
            placeholderText="Type a SKU or product name…", clearButtonEnabled=True
        )
        self.matches = ProductMatches(db, self)
        self.completer = QCompleter(self.matches, self)
        # The model is already filtered in SQL; the completer must not filter it again.
        self.completer.setCompletionMode(QCompleter.CompletionMode.UnfilteredPopupCompletion)
        self.completer.setMaxVisibleItems(12)
        self.search.setCompleter(self.completer)
        self.search.textEdited.connect(self._typed)
        self.completer.activated[QModelIndex].connect(self._picked)
        self.choice = QLabel()
        self.choice.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Link")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        if listing.get("product_sku"):
            now = QLabel(f"Linked now to {listing['product_sku']} — {listing['product_name']}.")
            now.setObjectName("muted")
            layout.addWidget(now)
        layout.addWidget(self.search)
        layout.addWidget(self.choice)
        layout.addWidget(self.buttons)
        self._typed(listing["sku"] or "")
        self.search.setText(listing["sku"] or "")
        self.search.selectAll()  # typing replaces the listing's SKU instead of adding to it

    def _typed(self, text: str) -> None:
        self.matches.search(text)
        exact = next((r for r in self.matches.rows if r[0] == text.strip()), None)
        self._choose(*(exact or (None, "")))
        if self.search.hasFocus() and self.matches.rows:
            self.completer.complete()

    def _picked(self, index: QModelIndex) -> None:
        self._choose(index.data(SKU_ROLE), index.data(NAME_ROLE))

    def _choose(self, sku: str | None, name: str) -> None:
        self.chosen = sku
        if sku:
            self.choice.setText(f"Link to <b>{_esc(sku)}</b> — {_esc(name)}")
        elif self.matches.rows:
            n = len(self.matches.rows)
            shown = f"{n}+" if n == ProductMatches.LIMIT else str(n)
            self.choice.setText(
                f"<span style='color:{MUTED}'>Pick one of the {shown} matching products.</span>"
            )
        else:
            self.choice.setText(
                f"<span style='color:{MUTED}'>No product matches; try part of the name.</span>"
            )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(sku is not None)


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class ProductsPage(QWidget):
    """The Products screen: listings of every channel, their links, the linking actions."""

    def __init__(self, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.db = bridge.reader
        self._channels: list[tuple[int, str, bool]] = []  # id, name, enabled
        self._stale = False
        self.model = SqlTableModel(
            self.db, LISTING_SELECT, listing_columns(), default_sort="x.sku, x.channel, x.id"
        )
        self.table = TablePage(
            self.model, noun="listings", search_hint="Search SKU, name or listing…"
        )
        self.channel_filter = self.table.add_filter(
            "Channel", [("All channels", None, ())], "channel"
        )
        self.state_filter = self.table.add_filter("State", STATE_FILTERS, "state")
        self.table.set_column_widths([110, 100, 110, 200, 112, 230, 96, 110])
        header = self.table.view.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        # Listings that need the merchant first: that is what this screen is visited for.
        header.setSortIndicator(7, Qt.SortOrder.AscendingOrder)
        self.table.selection_changed.connect(self._selected)
        self.table.activated.connect(lambda row: row and self.open_link_dialog())
        self.auto_button = QPushButton("Link automatically by SKU")
        self.auto_button.setObjectName("primary")
        self.auto_button.setToolTip(
            "Links listings whose SKU is exactly one of your products' SKUs"
            " and is used once on the channel."
        )
        self.auto_button.clicked.connect(self.link_automatically)
        self.link_button = QPushButton("Link to product…")
        self.link_button.clicked.connect(self.open_link_dialog)
        self.adopt_button = QPushButton("Create products from listings")
        self.adopt_button.setToolTip(
            "Make your own products from listings none of your products"
            " matches; the channel's quantity becomes the opening stock."
        )
        self.adopt_button.clicked.connect(self.create_products)
        actions = QHBoxLayout()
        for button in (self.auto_button, self.link_button, self.adopt_button):
            actions.addWidget(button)
        actions.addStretch(1)
        self.banner = QFrame()
        self.banner.setObjectName("card")
        self.banner_text = QLabel()
        self.banner_text.setWordWrap(True)
        dismiss = QPushButton("Dismiss")
        dismiss.setFlat(True)
        dismiss.clicked.connect(self.banner.hide)
        row = QHBoxLayout(self.banner)
        row.setContentsMargins(12, 8, 8, 8)
        row.addWidget(self.banner_text, 1)
        row.addWidget(dismiss, 0, Qt.AlignmentFlag.AlignTop)
        self.banner.hide()
        title = QLabel("Products")
        title.setObjectName("pageTitle")
        intro = QLabel(
            "Listings are your products as each channel shows them. A listing linked to"
            " one of your products gets its stock from you; the others are left alone."
        )
        intro.setObjectName("muted")
        intro.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(intro)
        layout.addLayout(actions)
        layout.addWidget(self.banner)
        layout.addWidget(self.table, 1)
        self._refresh_soon = QTimer(self, singleShot=True, interval=0)
        self._refresh_soon.timeout.connect(self.refresh)
        bridge.data_changed.connect(self._data_changed)
        self.channel_filter.currentIndexChanged.connect(lambda _: self._update_counts())
        self.refresh()

    # -- reading ------------------------------------------------------------------------
    def refresh_channels(self) -> None:
        found = [
            (int(r["id"]), r["name"], bool(r["enabled"]))
            for r in self.db.all("SELECT id, name, enabled FROM channels ORDER BY name")
        ]
        if found == self._channels:
            return
        self._channels = found
        current = self.channel_filter.currentText()
        self.channel_filter.blockSignals(True)
        self.channel_filter.clear()
        self.channel_filter.addItem("All channels", (None, ()))
        for cid, name, _ in found:
            self.channel_filter.addItem(name, ("x.channel_id = ?", (cid,)))
        index = max(0, self.channel_filter.findText(current))
        self.channel_filter.setCurrentIndex(index)
        self.channel_filter.blockSignals(False)
        self.model.set_filter("channel", *self.channel_filter.itemData(index))

    def chosen_channels(self) -> list[str]:
        """The channel picked in the filter, or every channel."""
        index = self.channel_filter.currentIndex()
        return [self._channels[index - 1][1]] if index > 0 else [c[1] for c in self._channels]

    def _update_counts(self) -> None:
        """Show how many listings each state filter holds, for the chosen channel."""
        clause, params = self.channel_filter.currentData() or (None, ())
        counts = dict(
            self.db.all(
                f"SELECT y.state, COUNT(*) FROM ({LISTING_SELECT}{' WHERE ' + clause if clause else ''}) y"
                " GROUP BY y.state",
                params,
            )
        )
        counts["needs"] = counts.get("no_sku", 0) + counts.get("duplicate", 0)
        keys = (None, "needs", "new", "not_linked", "linked", "ignored")
        for i, ((text, _, _), key) in enumerate(zip(STATE_FILTERS, keys, strict=True)):
            n = sum(counts.values()) - counts["needs"] if key is None else counts.get(key, 0)
            self.state_filter.setItemText(i, f"{text} ({n:,})")

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
        self.refresh_channels()
        self.table.refresh()
        self._update_counts()
        self._selected(self.table.selected())

    def _selected(self, row: dict[str, Any] | None) -> None:
        self.link_button.setEnabled(row is not None and not row["ignored"])
        self.link_button.setToolTip(
            ""
            if row is None or not row["ignored"]
            else "This listing is ignored; its stock is not sent."
        )

    def show_message(self, text: str) -> None:
        self.banner_text.setText(text)
        self.banner.show()

    # -- actions ------------------------------------------------------------------------
    def link_automatically(self) -> None:
        """Link exact, unique SKUs on the chosen channel (or all), releasing held orders."""
        names = self.chosen_channels()
        if not names:
            self.show_message(
                "Connect a channel first: its listings appear here after its first sync."
            )
            return
        self.auto_button.setEnabled(False)
        self.bridge.run(
            lambda hub: [hub.auto_map(name) for name in names],
            lambda outcomes: self._done(names, outcome_text(outcomes)),
            lambda exc: self._failed("Listings not linked", exc),
        )

    def open_link_dialog(self) -> LinkDialog | None:
        """Open the link dialog for the selected listing (non-blocking); None if none."""
        row = self.table.selected()
        if row is None or row["ignored"]:
            return None
        dialog = LinkDialog(self.db, row, self)

        def accepted() -> None:
            sku, channel, listing = dialog.chosen, row["channel"], row["external_id"]
            if sku is None:
                return
            self.bridge.run(
                lambda hub: hub.link(channel, listing, sku),
                lambda outcome: self._done(
                    [channel],
                    f"Linked {listing} on {channel} to {sku}." + released_text(outcome.released),
                ),
                lambda exc: self._failed("Listing not linked", exc),
            )

        dialog.accepted.connect(accepted)
        dialog.open()
        return dialog

    def create_products(self) -> None:
        """Make local products from listings no product matches (after a confirmation)."""
        names = self.chosen_channels()
        ids = [cid for cid, name, _ in self._channels if name in names]
        marks = ",".join("?" * len(ids)) or "NULL"
        row = self.db.one(
            "SELECT COUNT(DISTINCT CASE WHEN y.state = 'new' THEN y.sku END),"
            " COUNT(CASE WHEN y.state IN ('new', 'not_linked') THEN 1 END),"
            " COUNT(CASE WHEN y.state = 'not_linked' THEN 1 END)"
            f" FROM ({LISTING_SELECT} WHERE x.channel_id IN ({marks})) y",
            ids,
        )
        new, linking, existing = int(row[0]), int(row[1]), int(row[2])
        if not linking:
            self.show_message(
                "Nothing to create: every listing with a unique SKU is linked already."
            )
            return
        where = names[0] if len(names) == 1 else "your channels"
        answer = QMessageBox.question(
            self,
            "Create products from listings",
            f"Create {_n(new, 'new product')} from the listings on {where}?\n\n"
            f"Each new product takes its listing's SKU and name, and the quantity {where}"
            " shows now becomes its opening stock.\n\n"
            f"In all {_n(linking, 'listing')} get linked ({existing:,} to products you already"
            " have). Listings without a SKU, or with a SKU used twice, are left for you.",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        self.adopt_button.setEnabled(False)
        self.bridge.run(
            lambda hub: [hub.adopt(name) for name in names],
            lambda outcomes: self._done(names, outcome_text(outcomes, adopted=True)),
            lambda exc: self._failed("Products not created", exc),
        )

    def _done(self, channels: list[str], message: str) -> None:
        self.auto_button.setEnabled(True)
        self.adopt_button.setEnabled(True)
        self.show_message(message.strip())
        self.bridge.data_changed.emit()
        enabled = {name for _, name, on in self._channels if on}
        for name in channels:
            if name in enabled:  # send the linked listings their stock now
                self.bridge.sync_channel(name)

    def _failed(self, title: str, exc: BaseException) -> None:
        self.auto_button.setEnabled(True)
        self.adopt_button.setEnabled(True)
        QMessageBox.warning(self, title, str(exc))
