"""Tables over the store that stay quick with 100,000 rows.

``SqlTableModel`` counts and fetches rows in pages, on demand, from the GUI's read
connection; sorting and searching become ORDER BY / WHERE, so nothing loads the whole
table. ``SqlProxy`` is the proxy the views use; it hands sorting and searching to the
SQL model. It is an identity proxy on purpose: a QSortFilterProxyModel rebuilds its
row mapping (a filterAcceptsRow call per row) on every model reset, which at 100,000
rows cost more than the query itself on each keystroke and header click.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QIdentityProxyModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.store.db import Database

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
ROW_ROLE = Qt.ItemDataRole.UserRole + 2
Index = QModelIndex | QPersistentModelIndex
_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_ROW = int(ROW_ROLE)
_ANSWERED = frozenset({_DISPLAY, _ALIGNMENT, _FOREGROUND, _TOOLTIP, _ROW, int(SORT_ROLE)})
_RIGHT_ALIGNED = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


@dataclass(frozen=True, slots=True)
class Column:
    key: str  # name of the value in the SELECT
    title: str
    sql: str  # expression to sort and search by
    searchable: bool = False
    numeric: bool = False
    # How the search matches this column when not ``sql LIKE ?``: a condition with one
    # ``?`` for the pattern (say, a look-up in a small table instead of a join per row).
    search_sql: str = ""
    fmt: Callable[[Any, dict], str] | None = None
    color: Callable[[Any, dict], str | None] | None = None
    tooltip: Callable[[Any, dict], str | None] | None = None


class SqlTableModel(QAbstractTableModel):
    def __init__(
        self,
        db: Database,
        select: str,
        columns: list[Column],
        *,
        base_where: str = "",
        default_sort: str = "",
        page_size: int = 200,
        count_all: str = "",
        count_select: str = "",
        parent=None,
    ) -> None:
        """``count_all``, if given, counts every row of ``select`` more cheaply (say, one
        table without the joins that only add columns); it is used while no search or
        filter applies. ``count_select``, if given, is ``select`` for counting under a
        search or filter: the same rows, with every column a search or filter names, but
        without what only the shown columns need."""
        super().__init__(parent)
        self.count_all = count_all
        self.count_select = count_select
        self.db = db
        self.select = select  # "SELECT ... FROM ... JOIN ..." without WHERE / ORDER BY
        self.columns = columns
        self.base_where = base_where
        self.default_sort = default_sort
        self.page_size = page_size
        self._search = ""
        self._filters: dict[str, tuple[str, tuple]] = {}
        self._order = default_sort
        self._count = 0
        self._pages: dict[int, list[dict]] = {}
        # Nothing is read until the table is first refreshed or shown: building the
        # window must not count every screen's rows (see TablePage.showEvent).
        self._loaded = False

    # -- query building ---------------------------------------------------------------
    def _where(self) -> tuple[str, list[Any]]:
        parts, args = [], []
        if self.base_where:
            parts.append(f"({self.base_where})")
        for clause, params in self._filters.values():
            parts.append(f"({clause})")
            args.extend(params)
        if self._search:
            terms = [c.search_sql or f"{c.sql} LIKE ?" for c in self.columns if c.searchable]
            for word in self._search.split():
                like = f"%{word.replace('%', '').replace('_', '')}%"
                parts.append("(" + " OR ".join(terms) + ")")
                args.extend([like] * len(terms))
        return (" WHERE " + " AND ".join(parts)) if parts else "", args

    def _query(self, tail: str = "") -> tuple[str, list[Any]]:
        where, args = self._where()
        order = f" ORDER BY {self._order}" if self._order else ""
        return f"{self.select}{where}{order}{tail}", args

    def _recount(self) -> None:
        where, args = self._where()
        self._pages.clear()
        self._loaded = True
        if self.count_all and not where:
            self._count = int(self.db.scalar(self.count_all) or 0)
            return
        if where:
            # A narrow search or filter reads every row to find a first page that is not
            # full; that page is then the whole count, and counting would read them all
            # again. (A broad one fills its first page quickly, then counts.)
            sql, query_args = self._query(f" LIMIT {self.page_size} OFFSET 0")
            first = [dict(r) for r in self.db.all(sql, tuple(query_args))]
            self._pages[0] = first
            if len(first) < self.page_size:
                self._count = len(first)
                return
        sql = f"SELECT COUNT(*) FROM ({self.count_select or self.select}{where})"
        self._count = int(self.db.scalar(sql, tuple(args)) or 0)

    @property
    def loaded(self) -> bool:
        """Whether the rows have been counted since the model was made."""
        return self._loaded

    def ensure_loaded(self) -> None:
        if not self._loaded:
            self.refresh()

    def _page(self, number: int) -> list[dict]:
        page = self._pages.get(number)
        if page is None:
            sql, args = self._query(f" LIMIT {self.page_size} OFFSET {number * self.page_size}")
            page = [dict(r) for r in self.db.all(sql, tuple(args))]
            if len(self._pages) > 50:  # keep memory flat while scrolling through 100k rows
                self._pages.pop(next(iter(self._pages)))
            self._pages[number] = page
        return page

    # -- public controls --------------------------------------------------------------
    def set_search(self, text: str) -> None:
        text = text.strip()
        if text != self._search:
            self._search = text
            self.refresh()

    def set_filter(self, key: str, clause: str | None, params: tuple = ()) -> None:
        if clause is None:
            if self._filters.pop(key, None) is None:
                return
        else:
            self._filters[key] = (clause, params)
        self.refresh()

    def refresh(self) -> None:
        self.beginResetModel()
        self._recount()
        self.endResetModel()

    def row(self, row: int) -> dict | None:
        self.ensure_loaded()
        if not 0 <= row < self._count:
            return None
        page = self._page(row // self.page_size)
        offset = row % self.page_size
        return page[offset] if offset < len(page) else None

    def iter_rows(self) -> Iterator[dict]:
        """Every row of the current filter and order, without paging (for export)."""
        sql, args = self._query()
        for r in self.db.conn.execute(sql, tuple(args)):
            yield dict(r)

    def display(self, column: Column, row: dict) -> str:
        value = row.get(column.key)
        if column.fmt is not None:
            return column.fmt(value, row)
        if value is None:
            return ""
        if isinstance(value, float):
            return f"{value:g}" if value.is_integer() else f"{value:,.2f}"
        return str(value)

    # -- Qt model ---------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt signature
        # Before the first load this is 0 (a view asks while it is being built; loading
        # then would count rows for screens nobody opened).
        return 0 if parent.isValid() else self._count

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section].title
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        # A view asks for a dozen roles per visible cell on every repaint: the ones this
        # model never answers, and column-level ones a column does not have, return
        # before the row is looked up.
        if role not in _ANSWERED or not index.isValid():
            return None
        column = self.columns[index.column()]
        if role == _DISPLAY:
            row = self.row(index.row())
            return None if row is None else self.display(column, row)
        if role == _ALIGNMENT:
            if not column.numeric or self.row(index.row()) is None:
                return None
            return _RIGHT_ALIGNED
        if role == _FOREGROUND:
            if column.color is None:
                return None
            row = self.row(index.row())
            if row is None:
                return None
            colour = column.color(row.get(column.key), row)
            return QBrush(QColor(colour)) if colour else None
        if role == _TOOLTIP:
            if column.tooltip is None:
                return None
            row = self.row(index.row())
            return None if row is None else column.tooltip(row.get(column.key), row)
        row = self.row(index.row())
        if row is None:
            return None
        if role == _ROW:
            return row
        return row.get(column.key)  # SORT_ROLE

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if column < 0:
            self._order = self.default_sort
        else:
            direction = "DESC" if order == Qt.SortOrder.DescendingOrder else "ASC"
            self._order = f"{self.columns[column].sql} {direction}"
            if self.default_sort:
                self._order += f", {self.default_sort}"
        # The rows are the same ones in another order: no need to count them again.
        if not self._loaded:
            return  # read in the new order when first shown
        self.beginResetModel()
        self._pages.clear()
        self.endResetModel()


class SqlProxy(QIdentityProxyModel):
    """The views' proxy; sorting and searching are done by the SQL model underneath.

    Rows map one to one (no per-row work when the model resets).
    """

    def __init__(self, source: SqlTableModel, parent=None) -> None:
        super().__init__(parent)
        self.setSourceModel(source)

    @property
    def sql(self) -> SqlTableModel:
        return self.sourceModel()  # type: ignore[return-value]

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.sql.sort(column, order)

    def setFilterFixedString(self, pattern: str) -> None:  # noqa: N802 - Qt name
        self.sql.set_search(pattern)


class TablePage(QWidget):
    """Search box, filters, a lazily loaded table, a row count and CSV export."""

    selection_changed = Signal(object)  # the selected row dict, or None
    activated = Signal(object)  # a double-clicked row dict

    def __init__(self, model: SqlTableModel, *, noun: str, search_hint: str, parent=None) -> None:
        super().__init__(parent)
        self.model = model
        self.proxy = SqlProxy(model, self)
        self.noun = noun
        self.search = QLineEdit(placeholderText=search_hint, clearButtonEnabled=True)
        self.search.setMinimumWidth(260)
        self._debounce = QTimer(self, singleShot=True, interval=150)
        self._debounce.timeout.connect(lambda: self.proxy.setFilterFixedString(self.search.text()))
        self.search.textChanged.connect(self._debounce.start)
        self.count_label = QLabel()
        self.count_label.setObjectName("muted")
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setToolTip(f"Save the {noun} shown here as a spreadsheet file")
        self.export_button.clicked.connect(self.export_csv)
        self.filters = QHBoxLayout()
        self.filters.setSpacing(8)
        bar = QHBoxLayout()
        bar.addWidget(self.search)
        bar.addLayout(self.filters)
        bar.addStretch(1)
        bar.addWidget(self.count_label)
        bar.addWidget(self.export_button)
        self.view = QTableView()
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        self.view.setAlternatingRowColors(True)
        self.view.setWordWrap(False)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(28)
        header = self.view.horizontalHeader()
        header.setHighlightSections(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setSortIndicatorShown(True)
        self.view.doubleClicked.connect(lambda idx: self.activated.emit(self.row_at(idx.row())))
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.layout_.addLayout(bar)
        self.layout_.addWidget(self.view, 1)
        model.modelReset.connect(self._update_count)
        self.view.selectionModel().selectionChanged.connect(
            lambda *_: self.selection_changed.emit(self.selected())
        )
        self._update_count()

    def add_filter(
        self, label: str, options: list[tuple[str, str | None, tuple]], key: str
    ) -> QComboBox:
        """A drop-down filter: options are (text, SQL clause or None for all, params)."""
        combo = QComboBox()
        combo.setAccessibleName(label)
        for text, clause, params in options:
            combo.addItem(text, (clause, params))

        def changed(i: int) -> None:
            clause, params = combo.itemData(i)
            self.model.set_filter(key, clause, params)

        combo.currentIndexChanged.connect(changed)
        self.filters.addWidget(combo)
        return combo

    def set_column_widths(self, widths: list[int]) -> None:
        for i, w in enumerate(widths):
            self.view.setColumnWidth(i, w)

    def row_at(self, proxy_row: int) -> dict | None:
        return self.model.row(self.proxy.mapToSource(self.proxy.index(proxy_row, 0)).row())

    def selected(self) -> dict | None:
        rows = self.view.selectionModel().selectedRows()
        return self.row_at(rows[0].row()) if rows else None

    def select_where(self, predicate: Callable[[dict], bool], limit: int = 2000) -> bool:
        for i in range(min(self.model.rowCount(), limit)):
            row = self.model.row(i)
            if row is not None and predicate(row):
                self.view.selectRow(i)
                self.view.scrollTo(self.proxy.index(i, 0))
                return True
        return False

    def refresh(self) -> None:
        """Re-read from the store, keeping the selection on the same record when possible."""
        current = self.selected()
        self.model.refresh()
        if current is not None and "id" in current:
            self.select_where(
                lambda r: r.get("id") == current["id"], limit=self.model.page_size * 3
            )

    def showEvent(self, event) -> None:  # noqa: N802 - Qt name
        super().showEvent(event)
        if not self.model.loaded:
            # After the screen's own refresh (which runs right after it is shown), so the
            # rows are read once.
            QTimer.singleShot(0, self.model.ensure_loaded)

    def _update_count(self) -> None:
        n = self.model.rowCount()
        self.count_label.setText(f"{n:,} {self.noun if n != 1 else self.noun.rstrip('s')}")

    def export_csv(self, path: str | None = None) -> str | None:
        if path is None:
            path, _ = QFileDialog.getSaveFileName(
                self, f"Export {self.noun}", f"{self.noun}.csv", "CSV files (*.csv)"
            )
            if not path:
                return None
        write_csv(path, self.model)
        return path


def write_csv(path: str, model: SqlTableModel) -> int:
    """Write what the table shows (all rows of the current search, filters and order)."""
    count = 0
    with open(path, "w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow([c.title for c in model.columns])
        for row in model.iter_rows():
            writer.writerow([model.display(c, row) for c in model.columns])
            count += 1
    return count
