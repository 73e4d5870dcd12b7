"""The dashboard: what needs doing today, recent orders, stock running low, channel health.

A merchant should read it in five seconds: three big numbers they can click, a chart
of the last 30 days, and two short lists. Everything comes from ``app.store.reports``
(a few cheap queries: tens of milliseconds on 100,000 orders and products), so
``refresh()`` is safe to call on the GUI thread after each sync. Between refreshes a slow timer only re-words times ("5 min ago"); it never
touches the database.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from functools import partial

from PySide6.QtCore import (
    QAbstractTableModel,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QColor,
    QFont,
    QHideEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QResizeEvent,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.channels.registry import PLATFORMS
from app.store import reports
from app.store.db import Database
from app.store.reports import ChannelHealth, LowStockItem, OrderCounts
from app.ui.charts import StackedBarChart

CHART_DAYS = 30
LOW_STOCK_ROWS = 8

# Status colours, the same hues the rest of the window uses for good / warning / bad;
# readable on white and on a dark window, used as backgrounds only as faint tints.
GREEN = QColor("#15803D")
AMBER = QColor("#B45309")
RED = QColor("#B91C1C")
GREY = QColor("#6B7280")
BLUE = QColor("#2563EB")

STATE_COLOURS = {
    reports.STATE_OK: GREEN,
    reports.STATE_PROBLEM: RED,
    reports.STATE_NEVER: AMBER,
    reports.STATE_PAUSED: GREY,
}
STATE_ORDER = {
    reports.STATE_PROBLEM: 0,
    reports.STATE_NEVER: 1,
    reports.STATE_OK: 2,
    reports.STATE_PAUSED: 3,
}
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# -- words ----------------------------------------------------------------------------
def relative_time(then: float | None, now: float) -> str:
    """How long ago ``then`` was, the way a person says it: "5 min ago", "yesterday"."""
    if then is None:
        return "never"
    seconds = now - then
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    day_then = datetime.fromtimestamp(then).date()
    day_now = datetime.fromtimestamp(now).date()
    days = (day_now - day_then).days
    if days == 0:
        hours = int(seconds // 3600)
        return f"{hours} hour ago" if hours == 1 else f"{hours} hours ago"
    if days == 1:
        return "yesterday"
    if days < 7:
        return f"{days} days ago"
    return f"on {day_then.day} {MONTHS[day_then.month - 1]}"


def _plural(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def quantity_text(value: float) -> str:
    """Whole numbers without decimals; a real minus sign for oversold stock."""
    text = f"{abs(value):.0f}" if float(value).is_integer() else f"{abs(value):.2f}".rstrip("0")
    return f"\u2212{text}" if value < 0 else text


def attention_parts(counts: OrderCounts) -> list[str]:
    """The reasons behind "Needs attention", each in a few merchant words."""
    parts = []
    if counts.needs_mapping:
        parts.append(_plural(counts.needs_mapping, "order needs a product", "orders need products"))
    if counts.failed_updates:
        parts.append(_plural(counts.failed_updates, "update refused", "updates refused"))
    if counts.unreadable:
        parts.append(_plural(counts.unreadable, "unreadable order", "unreadable orders"))
    return parts


def attention_key(counts: OrderCounts) -> str:
    """Where the attention tile leads: straight to mapping when that is all there is."""
    if counts.needs_mapping and not (counts.failed_updates or counts.unreadable):
        return "needs_mapping"
    return "attention"


def _blend(a: QColor, b: QColor, amount: float) -> QColor:
    return QColor.fromRgbF(
        a.redF() * amount + b.redF() * (1 - amount),
        a.greenF() * amount + b.greenF() * (1 - amount),
        a.blueF() * amount + b.blueF() * (1 - amount),
    )


def _muted(widget: QWidget) -> QColor:
    pal = widget.palette()
    return _blend(
        pal.color(QPalette.ColorRole.WindowText), pal.color(QPalette.ColorRole.Window), 0.6
    )


def _label(
    text: str = "",
    *,
    scale: float = 1.0,
    bold: bool = False,
    muted: bool = False,
    kind: type[QLabel] = QLabel,
) -> QLabel:
    label = kind(text)
    font = QFont(label.font())
    if scale != 1.0:
        font.setPointSizeF(font.pointSizeF() * scale)
    font.setBold(bold)
    label.setFont(font)
    if muted:
        label.setProperty("muted", True)
    return label


# -- building blocks ------------------------------------------------------------------
class _Card(QFrame):
    """A white rounded panel; the page stylesheet draws it."""

    def __init__(self, name: str = "card", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)


class _Clickable(_Card):
    """A card that acts as a button: mouse, Enter and Space all click it."""

    clicked = Signal()

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(name, parent)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(
            event.position().toPoint()
        ):
            self.clicked.emit()
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.clicked.emit()
            return
        super().keyPressEvent(event)


class _Tile(_Clickable):
    """One big number with a caption above and a line of explanation below."""

    def __init__(self, name: str, title: str, parent: QWidget | None = None) -> None:
        super().__init__(name, parent)
        self._title = title
        self.title = _label(title, bold=True, muted=True)
        self.number = _label("0", scale=2.9, bold=True)
        self.detail = _label(muted=True)
        self.detail.setWordWrap(True)
        # A chevron says "this opens something" without a button's visual weight.
        chevron = _label("\u203a", scale=2.6, muted=True)
        text = QVBoxLayout()
        text.setSpacing(2)
        text.addWidget(self.title)
        text.addWidget(self.number)
        text.addWidget(self.detail)
        text.addStretch(1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(20, 16, 16, 16)
        layout.addLayout(text, 1)
        layout.addWidget(chevron, 0, Qt.AlignmentFlag.AlignVCenter)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def show_value(self, value: int, detail: str, tone: str = "") -> None:
        """Show a count; ``tone`` "warn" or "alert" tints the tile and colours the number."""
        self.number.setText(f"{value:,}")
        self.detail.setText(detail)
        self.setAccessibleName(f"{self._title}: {value}")
        self.setAccessibleDescription(detail)
        colour = {"warn": AMBER, "alert": RED}.get(tone)
        self.number.setStyleSheet(f"color: {colour.name()};" if colour else "")
        if self.property("tone") != tone:
            self.setProperty("tone", tone)
            # Dynamic properties only restyle after a re-polish.
            self.style().unpolish(self)
            self.style().polish(self)


class _Dot(QWidget):
    """A small filled circle in a state colour."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._colour = GREY
        self.setFixedSize(10, 10)

    def set_colour(self, colour: QColor) -> None:
        self._colour = colour
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self._colour)
        painter.drawEllipse(self.rect().adjusted(1, 1, -1, -1))


class _ElidedLabel(QLabel):
    """One line that ends in "…" when too long, with the full text in its tooltip."""

    def __init__(
        self, text: str = "", parent: QWidget | None = None, *, always_tip: bool = False
    ) -> None:
        super().__init__(parent)
        self._full = ""
        self._always_tip = always_tip
        # Ignored: the layout may make it as narrow as it likes; eliding handles the rest.
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.set_full_text(text)

    def set_full_text(self, text: str) -> None:
        self._full = text
        self._elide()

    def full_text(self) -> str:
        return self._full

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        width = max(10, self.contentsRect().width())
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, width)
        self.setText(shown)
        self.setToolTip(self._full if self._always_tip or shown != self._full else "")


class _ChannelCard(_Clickable):
    """One channel: coloured dot, name, state, when it last synced, what is waiting."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("channel_card", parent)
        self.health: ChannelHealth | None = None
        self.dot = _Dot()
        # Names and details shorten with "…" so a narrow window never clips the state.
        self.name = _label(bold=True, kind=_ElidedLabel)
        self.state = _label(bold=True)
        self.detail = _label(muted=True, kind=_ElidedLabel)
        self.error = _ElidedLabel(always_tip=True)
        self.error.setStyleSheet(f"color: {RED.name()};")
        top = QHBoxLayout()
        top.setSpacing(8)
        top.addWidget(self.dot)
        top.addWidget(self.name, 1)
        top.addWidget(self.state)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 10, 14, 10)
        layout.setSpacing(3)
        layout.addLayout(top)
        layout.addWidget(self.detail)
        layout.addWidget(self.error)

    def show_health(self, health: ChannelHealth, now: float) -> None:
        self.health = health
        colour = BLUE if health.syncing else STATE_COLOURS.get(health.state, GREY)
        self.dot.set_colour(colour)
        self.name.set_full_text(health.name)
        self.state.setText("Syncing now" if health.syncing else health.state)
        self.state.setStyleSheet(f"color: {colour.name()};")
        platform = (
            PLATFORMS[health.platform].label if health.platform in PLATFORMS else health.platform
        )
        parts = [platform]
        if health.state == reports.STATE_PAUSED:
            parts.append("not syncing while paused")
        elif health.last_success is None:
            parts.append("not synced yet")
        else:
            parts.append(f"last synced {relative_time(health.last_success, now)}")
        if health.queued:
            parts.append(_plural(health.queued, "update waiting", "updates waiting"))
        self.detail.set_full_text(" \u00b7 ".join(parts))
        problem = health.problem_text if health.state == reports.STATE_PROBLEM else None
        self.error.set_full_text(problem or "")
        self.error.setVisible(bool(problem))
        self.setAccessibleName(f"{health.name}: {self.state.text()}")
        self.setAccessibleDescription(self.detail.full_text() + (f". {problem}" if problem else ""))


class LowStockModel(QAbstractTableModel):
    """The "Running low" rows: product, SKU, in stock, available, safety stock."""

    HEADERS = ("Product", "SKU", "In stock", "Available", "Safety stock")
    SKU_ROLE = Qt.ItemDataRole.UserRole + 1

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._items: list[LowStockItem] = []

    def set_items(self, items: list[LowStockItem]) -> None:
        self.beginResetModel()
        self._items = list(items)
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._items)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ):
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return self._alignment(section)
        return None

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ):
        if not index.isValid():
            return None
        item = self._items[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                item.name,
                item.sku,
                quantity_text(item.on_hand),
                quantity_text(item.available),
                quantity_text(item.buffer) if item.buffer else "\u2013",
            )[column]
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return self._alignment(column)
        if role == Qt.ItemDataRole.ForegroundRole and column == 3:
            return RED if item.available <= 0 else AMBER
        if role == Qt.ItemDataRole.FontRole and column == 3:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._explain(item)
        if role == self.SKU_ROLE:
            return item.sku
        return None

    @staticmethod
    def _alignment(column: int) -> int:
        horizontal = Qt.AlignmentFlag.AlignLeft if column < 2 else Qt.AlignmentFlag.AlignRight
        return int(horizontal | Qt.AlignmentFlag.AlignVCenter)

    @staticmethod
    def _explain(item: LowStockItem) -> str:
        reserved = quantity_text(item.committed)
        head = f"{item.name} ({item.sku}): {quantity_text(item.on_hand)} in stock, {reserved} reserved for open orders."
        if item.available < 0:
            return f"{head} Oversold by {quantity_text(-item.available)}."
        if item.available == 0:
            return f"{head} Nothing left to sell."
        return f"{head} Below the safety stock of {quantity_text(item.buffer)}."


class _LowStockTable(QTableView):
    """A quiet, read-only table; Enter opens the current product like a double-click."""

    # Below these viewport widths the SKU and "In stock" columns give way to the product
    # name; both stay in each row's tooltip.
    HIDE_SKU_BELOW = 470
    HIDE_ON_HAND_BELOW = 400

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        width = self.viewport().width()
        self.setColumnHidden(1, width < self.HIDE_SKU_BELOW)
        self.setColumnHidden(2, width < self.HIDE_ON_HAND_BELOW)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self.doubleClicked.emit(self.currentIndex())
            return
        super().keyPressEvent(event)


# -- the page -------------------------------------------------------------------------
class DashboardPage(QWidget):
    """The first page a merchant sees: today's work, the last 30 days, stock and channels."""

    open_orders = Signal(str)  # "new", "needs_mapping", "to_dispatch" or "attention"
    open_stock = Signal(str)  # a product SKU
    open_channel = Signal(str)  # a channel name

    def __init__(
        self,
        db: Database,
        parent: QWidget | None = None,
        *,
        clock: Callable[[], float] = time.time,
        load: bool = True,
    ) -> None:
        """``load=False`` leaves the figures to the first ``refresh`` (the main window
        fills them right after it is on screen)."""
        super().__init__(parent)
        self.db = db
        self._clock = clock
        self._counts = OrderCounts(0, 0, 0, 0, 0)
        self._refreshed_at: float | None = None
        self._channel_cards: list[_ChannelCard] = []
        self.setObjectName("dashboard")
        self.setAccessibleName("Dashboard")
        self._build()
        self._apply_style()
        # Only re-words "5 min ago"; a minute's resolution is all those words have.
        self._tick = QTimer(self)
        self._tick.setInterval(30_000)
        self._tick.timeout.connect(self._update_times)
        if load:
            self.refresh()

    # -- layout -----------------------------------------------------------------------
    def _build(self) -> None:
        self.title = _label("Dashboard", scale=1.7, bold=True)
        self.title.setObjectName("pageTitle")  # the main window's style sizes page titles
        self.updated = _label(muted=True)
        header = QHBoxLayout()
        header.addWidget(self.title)
        header.addStretch(1)
        header.addWidget(self.updated, 0, Qt.AlignmentFlag.AlignBottom)

        self.tile_new = _Tile("tile_new", "New orders")
        self.tile_attention = _Tile("tile_attention", "Needs attention")
        self.tile_dispatch = _Tile("tile_dispatch", "To dispatch")
        self.tile_new.clicked.connect(lambda: self.open_orders.emit("new"))
        self.tile_attention.clicked.connect(
            lambda: self.open_orders.emit(attention_key(self._counts))
        )
        self.tile_dispatch.clicked.connect(lambda: self.open_orders.emit("to_dispatch"))
        tiles = QHBoxLayout()
        tiles.setSpacing(16)
        for tile in (self.tile_new, self.tile_attention, self.tile_dispatch):
            tiles.addWidget(tile, 1)

        self.chart = StackedBarChart()
        self.chart.setObjectName("orders_chart")
        self.chart_total = _label(muted=True)
        chart_card = self._section("Orders, last 30 days", self.chart, self.chart_total)

        self.low_model = LowStockModel(self)
        self.low_table = _LowStockTable()
        self.low_table.setObjectName("low_stock_table")
        self.low_table.setAccessibleName("Products running low")
        self.low_table.setModel(self.low_model)
        self._setup_table(self.low_table)
        self.low_table.doubleClicked.connect(self._on_low_stock_opened)
        self.low_empty = _label("Nothing is running low.", muted=True)
        self.low_empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.low_stack = QStackedWidget()
        self.low_stack.addWidget(self.low_table)
        self.low_stack.addWidget(self.low_empty)
        self.low_hint = _label("Double-click to open", muted=True)
        low_card = self._section("Running low", self.low_stack, self.low_hint)

        self.channels_box = QWidget()
        self.channels_box.setObjectName("channels_box")
        self.channels_layout = QVBoxLayout(self.channels_box)
        self.channels_layout.setContentsMargins(0, 0, 0, 0)
        self.channels_layout.setSpacing(8)
        self.channels_empty = _label(
            "No channels yet. Connect your web shop or marketplace to start.", muted=True
        )
        self.channels_empty.setWordWrap(True)
        self.channels_layout.addWidget(self.channels_empty)
        self.channels_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setObjectName("channels_scroll")
        scroll.setWidget(self.channels_box)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.viewport().setAutoFillBackground(False)
        self.channels_box.setAutoFillBackground(False)
        self.channels_summary = _label(muted=True)
        channels_card = self._section("Channels", scroll, self.channels_summary)

        bottom = QHBoxLayout()
        bottom.setSpacing(16)
        bottom.addWidget(low_card, 3)
        bottom.addWidget(channels_card, 2)

        root = QVBoxLayout(self)
        root.setContentsMargins(12, 8, 12, 12)
        root.setSpacing(16)
        root.addLayout(header)
        root.addLayout(tiles)
        root.addWidget(chart_card, 4)
        root.addLayout(bottom, 5)

    def _section(self, title: str, body: QWidget, aside: QWidget) -> _Card:
        """A card with a bold title, a quiet note on the right, and its content below."""
        card = _Card()
        head = QHBoxLayout()
        head.addWidget(_label(title, scale=1.15, bold=True))
        head.addStretch(1)
        head.addWidget(aside)
        layout = QVBoxLayout(card)
        layout.setContentsMargins(18, 14, 18, 14)
        layout.setSpacing(10)
        layout.addLayout(head)
        layout.addWidget(body, 1)
        return card

    @staticmethod
    def _setup_table(table: QTableView) -> None:
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setShowGrid(False)
        table.setWordWrap(False)
        table.setFrameShape(QFrame.Shape.NoFrame)
        table.verticalHeader().hide()
        table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        table.setTextElideMode(Qt.TextElideMode.ElideRight)
        table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 12)
        header = table.horizontalHeader()
        header.setHighlightSections(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(LowStockModel.HEADERS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setMinimumSectionSize(60)

    def _apply_style(self) -> None:
        """Card and tile looks, derived from the palette so light and dark themes both work."""
        pal = self.palette()
        text = pal.color(QPalette.ColorRole.WindowText)
        base = pal.color(QPalette.ColorRole.Base)
        border = _blend(text, base, 0.13).name()
        highlight = pal.color(QPalette.ColorRole.Highlight)
        hover = _blend(highlight, base, 0.55).name()
        selected = _blend(highlight, base, 0.18).name()
        muted = _muted(self).name()
        # Opaque tints of the card colour, so a tinted tile sits on the page like the others.
        amber_tint, amber_edge = _blend(AMBER, base, 0.07).name(), _blend(AMBER, base, 0.45).name()
        red_tint, red_edge = _blend(RED, base, 0.06).name(), _blend(RED, base, 0.40).name()
        self.setStyleSheet(
            f"""
            QFrame#card, QFrame#tile_new, QFrame#tile_attention, QFrame#tile_dispatch,
            QFrame#channel_card {{
                background: palette(base); border: 1px solid {border}; border-radius: 10px;
            }}
            QFrame#channel_card {{ border-radius: 8px; }}
            QFrame#tile_new:hover, QFrame#tile_attention:hover, QFrame#tile_dispatch:hover,
            QFrame#channel_card:hover, QFrame#tile_new:focus, QFrame#tile_attention:focus,
            QFrame#tile_dispatch:focus, QFrame#channel_card:focus {{ border-color: {hover}; }}
            QFrame#tile_attention[tone="warn"] {{
                background: {amber_tint}; border-color: {amber_edge};
            }}
            QFrame#tile_attention[tone="alert"] {{
                background: {red_tint}; border-color: {red_edge};
            }}
            QLabel[muted="true"] {{ color: {muted}; }}
            QWidget#channels_box {{ background: transparent; }}
            QWidget#dashboard QScrollBar:vertical {{
                background: transparent; width: 8px; margin: 0;
            }}
            QWidget#dashboard QScrollBar::handle:vertical {{
                background: {border}; border-radius: 4px; min-height: 24px;
            }}
            QWidget#dashboard QScrollBar::add-line, QWidget#dashboard QScrollBar::sub-line {{
                height: 0; width: 0;
            }}
            QWidget#dashboard QScrollBar::add-page, QWidget#dashboard QScrollBar::sub-page {{
                background: none;
            }}
            QTableView#low_stock_table {{ background: palette(base); border: none; }}
            QTableView#low_stock_table::item {{ padding: 0 6px; border-bottom: 1px solid {border}; }}
            QTableView#low_stock_table::item:selected {{
                background: {selected}; color: palette(text);
            }}
            QTableView#low_stock_table QHeaderView::section {{
                background: palette(base); color: {muted}; border: none;
                border-bottom: 1px solid {border}; padding: 4px 9px; font-weight: normal;
            }}
            """
        )

    def changeEvent(self, event: QEvent) -> None:
        # The colours above are computed from the palette: follow a theme switch.
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_style()
        super().changeEvent(event)

    def showEvent(self, event: QShowEvent) -> None:
        self._tick.start()
        self._update_times()
        super().showEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:
        self._tick.stop()
        super().hideEvent(event)

    def sizeHint(self) -> QSize:
        return QSize(1200, 760)

    # -- data -------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read every figure on the page (a handful of indexed queries)."""
        now = self._clock()
        self._counts = reports.order_counts(self.db)
        self._show_counts(self._counts)
        daily = reports.orders_per_day(self.db, days=CHART_DAYS, now=now)
        self.chart.set_data(daily.days, daily.series)
        self.chart_total.setText(_plural(daily.total, "order", "orders") if daily.total else "")
        self._show_low_stock(reports.low_stock(self.db, limit=LOW_STOCK_ROWS))
        self._show_channels(reports.sync_health(self.db, now=now), now)
        self._refreshed_at = now
        self._update_times()

    def counts(self) -> OrderCounts:
        """The figures behind the three tiles, as last read."""
        return self._counts

    def channel_cards(self) -> list[_ChannelCard]:
        return list(self._channel_cards)

    def _show_counts(self, counts: OrderCounts) -> None:
        self.tile_new.show_value(
            counts.new, "waiting for you to confirm" if counts.new else "You're all caught up"
        )
        parts = attention_parts(counts)
        tone = ""
        if counts.failed_updates or counts.unreadable:
            tone = "alert"
        elif counts.needs_attention:
            tone = "warn"
        self.tile_attention.show_value(
            counts.needs_attention, " \u00b7 ".join(parts) if parts else "Nothing needs you", tone
        )
        self.tile_dispatch.show_value(
            counts.to_dispatch,
            "confirmed and ready to send" if counts.to_dispatch else "Nothing to send right now",
        )

    def _show_low_stock(self, items: list[LowStockItem]) -> None:
        self.low_model.set_items(items)
        self.low_stack.setCurrentWidget(self.low_table if items else self.low_empty)
        self.low_hint.setVisible(bool(items))

    def _show_channels(self, health: list[ChannelHealth], now: float) -> None:
        # Channels that need the merchant come first, so they are never scrolled away.
        health = sorted(health, key=lambda h: (STATE_ORDER.get(h.state, 9), h.name.lower()))
        # Channels are few and refresh() is not on a fast timer, so cards are reused
        # when possible and only added or removed when the channel list changes.
        while len(self._channel_cards) > len(health):
            card = self._channel_cards.pop()
            self.channels_layout.removeWidget(card)
            card.deleteLater()
        while len(self._channel_cards) < len(health):
            card = _ChannelCard(self.channels_box)
            card.clicked.connect(partial(self._on_channel_clicked, card))
            self.channels_layout.insertWidget(len(self._channel_cards), card)
            self._channel_cards.append(card)
        for card, item in zip(self._channel_cards, health, strict=True):
            card.show_health(item, now)
        self.channels_empty.setVisible(not health)
        problems = sum(1 for h in health if h.state == reports.STATE_PROBLEM)
        self.channels_summary.setText(
            _plural(problems, "channel needs a look", "channels need a look") if problems else ""
        )

    def _update_times(self) -> None:
        now = self._clock()
        if self._refreshed_at is not None:
            self.updated.setText(f"Updated {relative_time(self._refreshed_at, now)}")
        for card in self._channel_cards:
            if card.health is not None:
                card.show_health(card.health, now)

    def _on_channel_clicked(self, card: _ChannelCard) -> None:
        if card.health is not None:
            self.open_channel.emit(card.health.name)

    def _on_low_stock_opened(self, index: QModelIndex) -> None:
        if index.isValid():
            self.open_stock.emit(index.data(LowStockModel.SKU_ROLE))


__all__ = [
    "DashboardPage",
    "LowStockModel",
    "attention_key",
    "attention_parts",
    "quantity_text",
    "relative_time",
]
