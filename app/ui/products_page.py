"""Products: every channel's listings and which of the merchant's products each one is.

A listing is a product as one channel shows it. A linked listing gets its stock from the
local product; an unmapped one is left alone and its orders wait. The "Your product"
cell is edited in place with a picker; bulk actions work on the selected listings; the
wizard and the spreadsheet round trip handle a whole channel. Every change is one
undoable batch on the engine thread (app/store/mapping.py).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.store.mapping import ListingChange, MappingOutcome, undoable_batch
from app.ui.bridge import Bridge
from app.ui.mapping_wizard import MappingWizard, SpreadsheetMenu, merged
from app.ui.picker import PickerDelegate, PickerEditor, ProductMatches, product_suggestions
from app.ui.style import ACCENT, MUTED, OK, WARN, quantity
from app.ui.tables import Column, SqlTableModel, TablePage

Index = QModelIndex | QPersistentModelIndex

# Why a listing is where it is, worked out live from the listing, its link and the
# catalogue; the store keeps the same on each listing (listings.why). The conflict
# reasons are the ones automatic linking refuses or the wizard flags: no SKU, a SKU used
# twice on the channel, a SKU several of your products share apart from case, and a
# link made before the SKU changed on the channel.
_WHY = (
    "CASE WHEN l.ignored = 1 THEN 'ignored'"
    " WHEN pl.product_id IS NOT NULL THEN CASE WHEN l.sku != '' AND p.sku != l.sku"
    " AND EXISTS (SELECT 1 FROM products q WHERE q.sku = l.sku) THEN 'stale' ELSE 'linked' END"
    " WHEN l.sku = '' THEN 'no_sku'"
    " WHEN EXISTS (SELECT 1 FROM listings d WHERE d.channel_id = l.channel_id AND d.sku = l.sku"
    " AND d.id != l.id) THEN 'duplicate'"
    " WHEN (SELECT COUNT(*) FROM products q WHERE q.sku = l.sku COLLATE NOCASE) > 1"
    " THEN 'several'"
    " WHEN EXISTS (SELECT 1 FROM products q WHERE q.sku = l.sku) THEN 'exact'"
    " ELSE 'none' END"
)
_STATE = (
    "CASE WHEN y.why IN ('no_sku', 'duplicate', 'several', 'stale') THEN 'conflict'"
    " WHEN y.why IN ('exact', 'none') THEN 'unmapped' ELSE y.why END"
)
# Each listing with why it is where it is (the state is worked out from ``why``).
_WHY_SELECT = (
    "SELECT l.id, l.channel_id, c.name AS channel, l.external_id, l.sku, l.mpn, l.barcode,"
    " l.name, l.quantity, l.ignored, l.is_new, pl.method, p.sku AS product_sku,"
    f" p.name AS product_name, {_WHY} AS why FROM listings l"
    " JOIN channels c ON c.id = l.channel_id"
    " LEFT JOIN product_links pl ON pl.listing_id = l.id"
    " LEFT JOIN products p ON p.id = pl.product_id"
)
LISTING_SELECT = f"SELECT * FROM (SELECT y.*, {_STATE} AS state FROM ({_WHY_SELECT}) y) x"
STATE_WORDS = {
    "linked": ("Linked", OK),
    "unmapped": ("Unmapped", ACCENT),
    "conflict": ("Conflict", WARN),
    "ignored": ("Ignored", MUTED),
}
WHY_WORDS = {
    "linked": "Gets its stock from your product {product}.",
    "exact": "Your product {sku} has this SKU: “Link by SKU” links them.",
    "none": "None of your products has this SKU: pick one under “Your product”,"
    " or create a product from the listing.",
    "no_sku": "The listing has no SKU on the channel: pick its product under “Your product”.",
    "duplicate": "Several listings on this channel use this SKU, so none links by itself:"
    " pick each one's product.",
    "several": "Several of your products have this SKU apart from upper and lower case:"
    " pick the right one.",
    "stale": "Linked to {product}, but its SKU is another of your products' SKU."
    " Was the SKU changed on the channel?",
    "ignored": "You chose to leave this listing alone; its stock is not sent.",
}
STATE_RANK = (
    "CASE x.state WHEN 'conflict' THEN 0 WHEN 'unmapped' THEN 1 WHEN 'linked' THEN 2 ELSE 3 END"
)
# What the table shows: every listing with the reason the store keeps on it
# (listings.why, recomputed by triggers whenever a listing, link or product it depends
# on changes; see migration listing_why), so nothing is worked out per refresh. The
# state is _STATE spelt as a plain CASE over the eight values of ``why``; the rank
# (conflict 0, unmapped 1, linked 2, ignored 3) is the stored listings.why_rank, and
# the index on (why_rank, sku, …) gives the order the screen opens in and the counts.
# LISTING_SELECT works the same out live from the other tables (the definition the
# stored reason is held to; see tests/unit/test_listing_why.py).
_ROW_STATE = (
    "CASE l.why WHEN 'linked' THEN 'linked' WHEN 'ignored' THEN 'ignored'"
    " WHEN 'exact' THEN 'unmapped' WHEN 'none' THEN 'unmapped' ELSE 'conflict' END"
)
ROWS_SELECT = (
    "SELECT * FROM (SELECT l.id, l.channel_id, c.name AS channel, l.external_id, l.sku,"
    " l.mpn, l.barcode, l.name, l.quantity, l.ignored, l.is_new, pl.method,"
    " l.linked_sku AS product_sku, p.name AS product_name, l.why, "
    f"{_ROW_STATE} AS state, l.why_rank AS rank FROM listings l"
    " JOIN channels c ON c.id = l.channel_id"
    " LEFT JOIN product_links pl ON pl.listing_id = l.id"
    " LEFT JOIN products p ON p.id = pl.product_id) x"
)
# The same listings for counting under a search or filter: listings alone (the linked
# product's SKU is kept on the listing too), so a keystroke in the search box does not
# look up every listing's link and product.
COUNT_SELECT = (
    "SELECT * FROM (SELECT l.id, l.channel_id, l.external_id, l.sku, l.barcode, l.name,"
    " l.is_new, l.linked_sku AS product_sku, l.why_rank AS rank FROM listings l) x"
)

# Not correlated, so SQLite builds the set of waiting listings once per query.
_HOLDING = (
    "x.channel_id || ':' || x.external_id IN (SELECT o.channel_id || ':' || ln.listing_ref"
    " FROM orders o JOIN order_lines ln ON ln.order_id = o.id"
    " WHERE o.needs_mapping = 1 AND ln.product_id IS NULL)"
)
STATE_FILTERS: list[tuple[str, str | None, tuple]] = [
    ("All listings", None, ()),
    # By rank (conflict 0, unmapped 1, linked 2, ignored 3): read from the rank index.
    ("Needs you", "x.rank = 0", ()),
    ("Unmapped", "x.rank = 1", ()),
    ("New on the channel", "x.is_new = 1 AND x.rank IN (0, 1)", ()),
    ("Holding orders", _HOLDING, ()),
    ("Linked", "x.rank = 2", ()),
    ("Ignored", "x.rank = 3", ()),
]
METHOD_WORDS = {"sku": "SKU", "id": "Listing ID", "manual": "By hand"}
PRODUCT_COLUMN = 6
BIG_SELECTION = 500  # selections larger than this are not read row by row
MODES = [("sku", "By SKU (automatic)"), ("id", "By listing ID (you choose)")]


def _product_text(value: Any, row: dict) -> str:
    return f"{value} — {row['product_name']}" if value else "Choose…"


def _state_text(value: Any, row: dict) -> str:
    word = STATE_WORDS[value][0]
    if row["why"] == "exact":  # "Link by SKU" (or the next sync) links it
        word += " · SKU match"
    return f"{word} · new" if row["is_new"] and value in ("unmapped", "conflict") else word


def listing_columns() -> list[Column]:
    return [
        Column(
            "channel",
            "Channel",
            "x.channel",
            searchable=True,
            search_sql="x.channel_id IN (SELECT id FROM channels WHERE name LIKE ?)",
        ),
        Column("external_id", "Listing", "x.external_id", searchable=True),
        Column(
            "sku",
            "SKU",
            "x.sku",
            searchable=True,
            fmt=lambda v, r: v or "no SKU",
            color=lambda v, r: None if v else MUTED,
        ),
        Column(
            "barcode",
            "MPN / barcode",
            "x.barcode",
            searchable=True,
            fmt=lambda v, r: " / ".join(c for c in (r["mpn"], v) if c),
        ),  # fmt: skip
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
            fmt=_product_text,
            color=lambda v, r: None if v else MUTED,
            tooltip=lambda v, r: "Double-click to choose the product",
        ),
        Column("method", "Linked by", "x.method", fmt=lambda v, r: METHOD_WORDS.get(v or "", "")),
        Column(
            "state",
            "State",
            "x.rank",
            fmt=_state_text,
            color=lambda v, r: STATE_WORDS[v][1],
            tooltip=lambda v, r: WHY_WORDS[r["why"]].format(
                product=f"{r['product_sku']} — {r['product_name']}", sku=r["sku"]
            ),
        ),
    ]


_PLAIN = Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemNeverHasChildren
_EDITABLE = _PLAIN | Qt.ItemFlag.ItemIsEditable


class ListingModel(SqlTableModel):
    """The listings table; "Your product" is editable and asks the page to link."""

    link_requested = Signal(object, int)  # listing row, product id

    def flags(self, index: Index) -> Qt.ItemFlag:
        # Constant and row-free: views ask every cell's flags when a large selection is
        # read (millions of calls for 100,000 rows). An ignored listing may be linked
        # too; it stays ignored until the merchant says otherwise.
        return _EDITABLE if index.column() == PRODUCT_COLUMN else _PLAIN

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.EditRole and index.column() == PRODUCT_COLUMN:
            row = self.row(index.row())
            return (row or {}).get("product_sku") or ""
        return super().data(index, role)

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        row = self.row(index.row())
        if role != Qt.ItemDataRole.EditRole or index.column() != PRODUCT_COLUMN or row is None:
            return False
        self.link_requested.emit(row, int(value))
        return True


def outcome_text(outcomes: list[MappingOutcome], *, adopted: bool = False) -> str:
    """What a round of automatic linking or adopting did, in one or two sentences."""
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
            " create them from the listings or choose their products."
        )
    return " ".join(parts) + released_text(released)


def released_text(released: int) -> str:
    return f" {_n(released, 'waiting order')} released and stock reserved." if released else ""


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


class ProductsPage(QWidget):
    """The Products screen: listings, their links, and every way to change them."""

    def __init__(self, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.db = bridge.reader
        self._channels: list[tuple[int, str, bool, str]] = []  # id, name, enabled, mode
        self._stale = True  # filled when first shown: opening the window need not wait for it
        self._counts_stale = True
        self._just_filled = False
        self._undo_id: int | None = None
        self.model = ListingModel(
            self.db,
            ROWS_SELECT,
            listing_columns(),
            default_sort="x.sku, x.channel, x.id",
            count_all="SELECT COUNT(*) FROM listings",
            count_select=COUNT_SELECT,
        )
        self.model.link_requested.connect(self._link_picked)
        self.table = TablePage(
            self.model, noun="listings", search_hint="Search SKU, name or listing…"
        )
        self.channel_filter = self.table.add_filter(
            "Channel", [("All channels", None, ())], "channel"
        )
        self.state_filter = self.table.add_filter("State", STATE_FILTERS, "state")
        view = self.table.view
        view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        view.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.SelectedClicked
        )
        self.picker = PickerDelegate(
            lambda parent: ProductMatches(self.db, parent),
            lambda index: product_suggestions(self.db, self.model.row(index.row()) or {}),
            view,
        )
        view.setItemDelegateForColumn(PRODUCT_COLUMN, self.picker)
        self.table.set_column_widths([88, 88, 120, 120, 200, 98, 192, 84, 150])
        header = view.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        # Listings that need the merchant first: that is what this screen is visited for.
        header.setSortIndicator(8, Qt.SortOrder.AscendingOrder)
        view.selectionModel().selectionChanged.connect(lambda *_: self._selection_changed())

        self.wizard_button = QPushButton("Mapping wizard…")
        self.wizard_button.setObjectName("primary")
        self.wizard_button.setToolTip(
            "Go through a channel's listings: what links by itself, what conflicts, what is left"
        )
        self.wizard_button.clicked.connect(self.open_wizard)
        self.auto_button = QPushButton("Link by SKU")
        self.auto_button.clicked.connect(self.link_automatically)
        self.adopt_button = QPushButton("Create products")
        self.adopt_button.clicked.connect(self.create_products)
        self.link_button = QPushButton("Choose product…")
        self.link_button.clicked.connect(self.open_link_dialog)
        self.unlink_button = QPushButton("Unlink")
        self.unlink_button.setToolTip("The selected listings stop getting stock from your products")
        self.unlink_button.clicked.connect(self.unlink_selected)
        self.ignore_button = QPushButton("Ignore")
        self.ignore_button.clicked.connect(self.toggle_ignored)
        self.undo_button = QPushButton("Undo")
        self.undo_button.clicked.connect(self.undo_last)
        self.sheet_button = SpreadsheetMenu(
            self,
            bridge,
            noun="listings",
            channel=lambda: (self.single_channel() or (0, None))[1],
            export=lambda hub, ch, template: hub.mapping.export_csv(ch, unmapped_only=template),
            load=lambda hub, ch, data, dry_run: hub.mapping.import_csv(ch, data, dry_run=dry_run),
            message=self.show_message,
            done=self._done,
            template="Export unmapped listings to fill in…",
        )
        self.mode_combo = QComboBox()
        self.mode_combo.setAccessibleName("How this channel's listings link")
        for key, text in MODES:
            self.mode_combo.addItem(text, key)
        self.mode_combo.activated.connect(self._mode_chosen)
        actions = QHBoxLayout()
        for button in (
            self.wizard_button,
            self.auto_button,
            self.adopt_button,
            self.link_button,
            self.unlink_button,
            self.ignore_button,
        ):
            actions.addWidget(button)
        actions.addStretch(1)
        actions.addWidget(self.sheet_button)
        actions.addWidget(self.undo_button)

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
        self.mode_label = QLabel("Listings link")
        self.mode_label.setObjectName("muted")
        heading = QHBoxLayout()
        heading.addWidget(title)
        heading.addStretch(1)
        heading.addWidget(self.mode_label)
        heading.addWidget(self.mode_combo)
        self.intro = QLabel()
        self.intro.setObjectName("muted")
        self.intro.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(heading)
        layout.addWidget(self.intro)
        layout.addLayout(actions)
        layout.addWidget(self.banner)
        layout.addWidget(self.table, 1)
        self._refresh_soon = QTimer(self, singleShot=True, interval=0)
        self._refresh_soon.timeout.connect(self.refresh)
        bridge.data_changed.connect(self._data_changed)
        self.channel_filter.currentIndexChanged.connect(lambda _: self._channel_changed())
        self.refresh_channels()
        self._update_channel_actions()

    # -- reading ------------------------------------------------------------------------
    def refresh_channels(self) -> None:
        found = [
            (int(r["id"]), r["name"], bool(r["enabled"]), r["mapping_mode"])
            for r in self.db.all(
                "SELECT id, name, enabled, mapping_mode FROM channels ORDER BY name"
            )
        ]
        if found == self._channels:
            return
        self._channels = found
        current = self.channel_filter.currentText()
        self.channel_filter.blockSignals(True)
        self.channel_filter.clear()
        self.channel_filter.addItem("All channels", (None, ()))
        for cid, name, *_ in found:
            self.channel_filter.addItem(name, ("x.channel_id = ?", (cid,)))
        index = max(0, self.channel_filter.findText(current))
        self.channel_filter.setCurrentIndex(index)
        self.channel_filter.blockSignals(False)
        self.model.set_filter("channel", *self.channel_filter.itemData(index))

    def chosen_channels(self) -> list[str]:
        """The channel picked in the filter, or every channel."""
        index = self.channel_filter.currentIndex()
        return [self._channels[index - 1][1]] if index > 0 else [c[1] for c in self._channels]

    def single_channel(self) -> tuple[int, str, bool, str] | None:
        """The one channel the channel-wide actions work on: the chosen one, or the only one."""
        index = self.channel_filter.currentIndex()
        if index > 0:
            return self._channels[index - 1]
        return self._channels[0] if len(self._channels) == 1 else None

    def selected_rows(self) -> list[dict[str, Any]]:
        """The selected listings. A large selection is read in one pass of the table's query:
        page by page, each page would sort the whole list again."""
        ranges = self.table.view.selectionModel().selection()
        numbers = sorted({row for r in ranges for row in range(r.top(), r.bottom() + 1)})
        if len(numbers) <= BIG_SELECTION:
            return [r for r in (self.table.row_at(n) for n in numbers) if r is not None]
        wanted = set(numbers)  # the proxy neither sorts nor filters: its rows are the model's
        return [row for i, row in enumerate(self.model.iter_rows()) if i in wanted]

    def _channel_changed(self) -> None:
        if self.isVisible():
            self._update_counts()
        else:
            self._counts_stale = True
        self._update_channel_actions()

    def _update_counts(self) -> None:
        """Show how many listings each state filter holds, for the chosen channel."""
        self._counts_stale = False
        clause, params = self.channel_filter.currentData() or (None, ())
        where = f" WHERE {clause}" if clause else ""
        # Per rank (conflict 0, unmapped 1, linked 2, ignored 3): one pass in the order
        # of listings_why_rank, counting and adding per group (six sums of comparisons
        # over every listing cost twice as much).
        per_rank = {
            int(r[0]): (int(r[1]), int(r[2] or 0))
            for r in self.db.all(
                "SELECT x.why_rank, COUNT(*), SUM(x.is_new) FROM listings x"
                f" INDEXED BY listings_why_rank{where} GROUP BY x.why_rank",
                params,
            )
        }
        (conflict, new_c), (unmapped, new_u), (linked, _), (ignored, _) = (
            per_rank.get(rank, (0, 0)) for rank in range(4)
        )
        # The same listings _HOLDING picks, found from the (few) unmapped lines of held
        # orders instead of testing every listing.
        holding = self.db.scalar(
            "SELECT COUNT(*) FROM (SELECT DISTINCT o.channel_id, ln.listing_ref"
            " FROM orders o JOIN order_lines ln ON ln.order_id = o.id"
            " WHERE o.needs_mapping = 1 AND ln.product_id IS NULL) h"
            " JOIN listings x ON x.channel_id = h.channel_id AND x.external_id = h.listing_ref"
            f"{where}",
            params,
        )
        total = conflict + unmapped + linked + ignored
        row = (total, conflict, unmapped, new_c + new_u, holding, linked, ignored)
        for i, ((text, _, _), n) in enumerate(zip(STATE_FILTERS, row, strict=True)):
            self.state_filter.setItemText(i, f"{text} ({int(n or 0):,})")
        held = self.db.scalar(
            "SELECT COUNT(*) FROM orders o WHERE o.needs_mapping = 1"
            + (" AND o.channel_id = ?" if clause else ""),
            params,
        )
        text = (
            "Listings are your products as each channel shows them. A linked listing gets its"
            " stock from your product; double-click “Your product” to choose it."
        )
        if held:
            text += (
                f" <b style='color:{WARN}'>{_n(int(held), 'order')} wait for a product</b>:"
                " filter by “Holding orders” to map their listings."
            )
        self.intro.setText(text)

    def _update_channel_actions(self) -> None:
        one = self.single_channel()
        for widget in (self.wizard_button, self.sheet_button, self.mode_combo):
            widget.setEnabled(one is not None)
            widget.setToolTip("" if one else "Pick a channel in the filter first")
        if one is not None:
            self.wizard_button.setToolTip(f"Go through the listings of {one[1]} step by step")
            self.mode_combo.setCurrentIndex(0 if one[3] == "sku" else 1)
        self.mode_label.setText(f"{one[1]} listings link" if one else "Listings link")
        batch = undoable_batch(self.db, one[0] if one else None)
        self._undo_id = int(batch["id"]) if batch else None
        self.undo_button.setEnabled(batch is not None)
        self.undo_button.setToolTip(
            f"Undo on {batch['channel']}: {batch['summary']}" if batch else "Nothing to undo"
        )

    def _selection_changed(self) -> None:
        # Rows counted from the selection's ranges: selectedRows() asks every cell's flags.
        ranges = self.table.view.selectionModel().selection()
        n = len({row for r in ranges for row in range(r.top(), r.bottom() + 1)})
        big = n > BIG_SELECTION  # buttons stay on; the action reads the rows when clicked
        rows = [] if big else self.selected_rows()
        self.auto_button.setText(f"Link {n:,} by SKU" if n > 1 else "Link by SKU")
        self.auto_button.setToolTip(
            "Links the selected listings (or, with none selected, every listing) whose SKU is"
            " exactly one of your products' SKUs and is used once on the channel."
        )
        self.adopt_button.setText(f"Create {n:,} products" if n > 1 else "Create products")
        self.adopt_button.setToolTip(
            "Make your own products from the selected listings (or every listing none of your"
            " products matches); the channel's quantity becomes the opening stock."
        )
        self.link_button.setEnabled(n == 1 and not rows[0]["ignored"])
        self.unlink_button.setEnabled(big or any(r["product_sku"] for r in rows))
        all_ignored = bool(rows) and all(r["ignored"] for r in rows)
        self.ignore_button.setText("Stop ignoring" if all_ignored else "Ignore")
        self.ignore_button.setEnabled(n > 0)
        self.ignore_button.setToolTip(
            "Send the selected listings their stock again"
            if all_ignored
            else "Leave the selected listings alone: no stock is sent and they are never linked"
            " by SKU"
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
        if self._stale and not self.model.loaded:
            # First time on screen: filled at once. The window's own refresh of the
            # screen it switched to follows in the same turn and is then skipped.
            self.refresh()
            self._just_filled = True
            QTimer.singleShot(0, self._filled_turn_over)
        elif self._stale:
            self._refresh_soon.start()
        elif self._counts_stale:
            self._update_counts()

    def _filled_turn_over(self) -> None:
        self._just_filled = False

    def refresh(self) -> None:
        """Re-read everything shown from the store, keeping the selection."""
        if self._just_filled:
            return
        self._refresh_soon.stop()
        self._stale = False
        self.refresh_channels()
        self.table.refresh()
        self._counts_stale = not self.isVisible()
        if not self._counts_stale:
            self._update_counts()
        self._update_channel_actions()
        self._selection_changed()

    def show_message(self, text: str) -> None:
        self.banner_text.setText(text)
        self.banner.show()

    def show_new(self, channel: str | None = None) -> None:
        """Show the listings that appeared on ``channel`` (or any) since it was set up."""
        if channel is not None:
            self.channel_filter.setCurrentIndex(max(0, self.channel_filter.findText(channel)))
        self.state_filter.setCurrentIndex(3)

    # -- actions ------------------------------------------------------------------------
    def _run(self, work, channels: list[str], title: str) -> None:
        """Run a mapping change on the engine thread; report, refresh and send the stock."""
        for button in (self.auto_button, self.adopt_button, self.unlink_button, self.ignore_button):
            button.setEnabled(False)
        self.bridge.run(
            work,
            lambda result: self._done(
                channels, result if isinstance(result, str) else result.text()
            ),
            lambda exc: self._failed(title, exc),
        )

    def _by_channel(self, rows: list[dict[str, Any]], **change: Any) -> dict[str, list]:
        grouped: dict[str, list[ListingChange]] = defaultdict(list)
        for r in rows:
            grouped[r["channel"]].append(ListingChange(r["id"], **change))
        return dict(grouped)

    def _apply(self, grouped: dict[str, list[ListingChange]], title: str) -> None:
        self._run(
            lambda hub: merged(
                hub.mapping.apply(hub.channels.get(name), changes, source="bulk")
                for name, changes in grouped.items()
            ),
            list(grouped),
            title,
        )

    def link_automatically(self) -> None:
        """Link exact, unique SKUs among the selected listings, or on the chosen channel(s)."""
        rows = self.selected_rows()
        if len(rows) > 1:
            grouped: dict[str, list[int]] = defaultdict(list)
            for r in rows:
                grouped[r["channel"]].append(r["id"])
            self._run(
                lambda hub: merged(
                    hub.mapping.link_by_sku(hub.channels.get(name), ids)
                    for name, ids in grouped.items()
                ),
                list(grouped),
                "Listings not linked",
            )
            return
        names = self.chosen_channels()
        if not names:
            self.show_message(
                "Connect a channel first: its listings appear here after its first sync."
            )
            return
        self._run(
            lambda hub: outcome_text([hub.auto_map(name) for name in names]),
            names,
            "Listings not linked",
        )

    def _link_picked(self, row: dict[str, Any], product_id: int) -> None:
        """The picker in the table chose a product for one listing."""
        self._apply(self._by_channel([row], product_id=product_id), "Listing not linked")

    def open_link_dialog(self) -> PickerEditor | None:
        """Open the product picker on the selected listing's "Your product" cell."""
        rows = self.table.view.selectionModel().selectedRows()
        if len(rows) != 1 or (self.table.row_at(rows[0].row()) or {}).get("ignored", 1):
            return None
        index = rows[0].siblingAtColumn(PRODUCT_COLUMN)
        self.table.view.setCurrentIndex(index)
        self.table.view.edit(index)
        editor = self.table.view.indexWidget(index)
        return editor if isinstance(editor, PickerEditor) else None

    def unlink_selected(self) -> None:
        rows = [r for r in self.selected_rows() if r["product_sku"]]
        if rows:
            self._apply(self._by_channel(rows, unlink=True), "Listings not unlinked")

    def toggle_ignored(self) -> None:
        """Ignore the selected listings, or stop ignoring them when all are ignored."""
        rows = self.selected_rows()
        if rows:
            ignore = not all(r["ignored"] for r in rows)
            self._apply(self._by_channel(rows, ignored=ignore), "Listings not changed")

    def create_products(self) -> None:
        """Make local products from the selected listings, or from every unmatched listing."""
        rows = [r for r in self.selected_rows() if not r["product_sku"]]
        if len(self.selected_rows()) > 1:
            no_sku = [r for r in rows if not r["sku"]]
            if no_sku:
                self.show_message(
                    f"{_n(len(no_sku), 'selected listing')} have no SKU, so no product can be"
                    " made from them: choose their products instead."
                )
                return
            if rows:
                self._apply(self._by_channel(rows, create=True), "Products not created")
            return
        names = self.chosen_channels()
        ids = [cid for cid, name, *_ in self._channels if name in names]
        marks = ",".join("?" * len(ids)) or "NULL"
        row = self.db.one(
            "SELECT COUNT(DISTINCT CASE WHEN y.why = 'none' THEN y.sku END),"
            " COUNT(CASE WHEN y.why IN ('none', 'exact') THEN 1 END),"
            " COUNT(CASE WHEN y.why = 'exact' THEN 1 END)"
            f" FROM listings y WHERE y.channel_id IN ({marks})",
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
        self._run(
            lambda hub: outcome_text([hub.adopt(name) for name in names], adopted=True),
            names,
            "Products not created",
        )

    def undo_last(self) -> None:
        """Undo the latest mapping change of the chosen channel (or of any channel)."""
        batch_id = self._undo_id
        if batch_id is None:
            return
        channel = self.db.scalar(
            "SELECT c.name FROM mapping_batches b JOIN channels c ON c.id = b.channel_id"
            " WHERE b.id = ?",
            (batch_id,),
        )
        self._run(
            lambda hub: "Undone. " + hub.mapping.undo(batch_id).text(),
            [channel] if channel else [],
            "Not undone",
        )

    def _mode_chosen(self, index: int) -> None:
        one = self.single_channel()
        mode = self.mode_combo.itemData(index)
        if one is None or mode == one[3]:
            return
        name = one[1]
        explain = (
            "New listings whose SKU is exactly one of your products' SKUs link by themselves."
            if mode == "sku"
            else "Nothing links by itself: new listings wait for you to choose their products."
        )

        def work(hub) -> str:
            hub.mapping.set_mode(hub.channels.get(name), mode)
            return f"{name} now links by {'SKU' if mode == 'sku' else 'listing ID'}. {explain}"

        self._run(work, [], "Not changed")

    def open_wizard(self) -> MappingWizard | None:
        one = self.single_channel()
        if one is None:
            self.show_message("Pick a channel in the filter first: the wizard works on one.")
            return None
        wizard = MappingWizard(self.bridge, one[1], self)
        wizard.applied.connect(lambda text: self._done([one[1]], text))
        wizard.open()
        return wizard

    def export_mappings(self, path: str | None = None, *, unmapped_only: bool = False) -> None:
        """Save the chosen channel's links (or its unmapped listings, to fill in) as CSV."""
        self.sheet_button.export(path, template=unmapped_only)

    def import_mappings(self, path: str | None = None) -> None:
        """Read a filled links file, show what would change, apply it when the merchant agrees."""
        self.sheet_button.import_file(path)

    def _done(self, channels: list[str], message: str) -> None:
        self.show_message(message.strip())
        self.bridge.data_changed.emit()
        enabled = {name for _, name, on, _ in self._channels if on}
        for name in channels:
            if name in enabled:  # send the linked listings their stock now
                self.bridge.sync_channel(name)
        self.refresh()

    def _failed(self, title: str, exc: BaseException) -> None:
        self._selection_changed()
        QMessageBox.warning(self, title, str(exc))
