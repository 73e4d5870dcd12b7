"""A small stacked bar chart painted with QPainter.

QtCharts and pyqtgraph would each add megabytes to the installer for one chart, so the
dashboard draws its own: bars per day stacked by channel, a legend, a y axis with round
ticks, sparse day labels and a hover tooltip. Everything is laid out in logical pixels,
so Qt scales it for high-DPI screens, and colours for text and grid come from the
widget's palette, so it reads in light and dark themes alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QFontMetricsF,
    QHelpEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPalette,
    QPen,
)
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

# Muted, distinguishable hues (colour-blind friendly order, after Tableau 10), chosen to
# look calm on white and still readable on a dark window.
PALETTE: tuple[str, ...] = (
    "#4E79A7",  # blue
    "#F28E2B",  # orange
    "#59A14F",  # green
    "#B07AA1",  # purple
    "#76B7B2",  # teal
    "#EDC948",  # yellow
    "#E15759",  # red
    "#9C755F",  # brown
    "#FF9DA7",  # pink
    "#BAB0AC",  # grey
)

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def series_colour(index: int) -> QColor:
    """The fixed colour of the ``index``-th series; the palette repeats after ten."""
    return QColor(PALETTE[index % len(PALETTE)])


def nice_ticks(max_value: float, target: int = 4) -> list[int]:
    """Round y-axis ticks from 0 that cover ``max_value`` in about ``target`` steps.

    Steps are 1, 2 or 5 times a power of ten, the spacing people read without effort.
    """
    if max_value <= 0:
        return [0, 1]
    raw = max_value / max(1, target)
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next((m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw), 10 * magnitude)
    step = max(1, int(step))
    top = step * math.ceil(max_value / step)
    return list(range(0, top + 1, step))


def day_label(day: date | str) -> str:
    """ "12 Nov" for a date or an ISO date string; other strings are shown as they are."""
    if isinstance(day, str):
        try:
            day = date.fromisoformat(day)
        except ValueError:
            return day
    return f"{day.day} {MONTHS[day.month - 1]}"


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where things go for the current size; recomputed on every paint and hover."""

    plot: QRectF
    slot: float  # horizontal space per day
    bar: float  # bar width within the slot
    top: int  # value at the top of the y axis
    ticks: list[int]
    legend_y: float


class StackedBarChart(QWidget):
    """Daily counts stacked by series (one series per sales channel)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._days: list[date | str] = []
        self._series: list[tuple[str, list[int]]] = []
        self._totals: list[int] = []
        self._hover: int | None = None
        self._empty_text = "No orders in the last 30 days"
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAccessibleName("Orders per day")
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)

    # -- data -------------------------------------------------------------------------
    def set_data(self, days: list[date | str], series: list[tuple[str, list[int]]]) -> None:
        """Show ``series`` (name, one count per day) over ``days``, oldest first."""
        for name, counts in series:
            if len(counts) != len(days):
                raise ValueError(f"series '{name}' has {len(counts)} counts for {len(days)} days")
        self._days = list(days)
        self._series = [(name, [max(0, int(c)) for c in counts]) for name, counts in series]
        self._totals = [0] * len(self._days)
        for _, counts in self._series:
            self._totals = [t + c for t, c in zip(self._totals, counts, strict=True)]
        self._hover = None
        if days:
            self._empty_text = f"No orders in the last {len(days)} days"
        self.setAccessibleDescription(self.summary())
        self.update()

    def days(self) -> list[date | str]:
        return list(self._days)

    def series(self) -> list[tuple[str, list[int]]]:
        return [(name, list(counts)) for name, counts in self._series]

    def totals(self) -> list[int]:
        """The stacked height of each day."""
        return list(self._totals)

    def is_empty(self) -> bool:
        """True when there is nothing to draw, so the empty-state text shows instead."""
        return not any(self._totals)

    def empty_text(self) -> str:
        return self._empty_text

    def summary(self) -> str:
        """One sentence for screen readers: the total and each channel's share."""
        if self.is_empty():
            return self._empty_text
        total = sum(self._totals)
        parts = ", ".join(f"{name} {sum(counts)}" for name, counts in self._series)
        return f"{total} orders in the last {len(self._days)} days: {parts}"

    def tooltip_text(self, index: int) -> str:
        """Rich text for one day: the date, then each channel's count, then the total."""
        rows = "".join(
            f"<tr><td><span style='color:{series_colour(i).name()}'>&#9632;</span>&nbsp;"
            f"{_escape(name)}</td><td align='right'>&nbsp;&nbsp;{counts[index]}</td></tr>"
            for i, (name, counts) in enumerate(self._series)
        )
        total = self._totals[index]
        noun = "order" if total == 1 else "orders"
        return (
            f"<b>{_escape(day_label(self._days[index]))}</b> &middot; {total} {noun}"
            f"<table cellspacing='0' cellpadding='1'>{rows}</table>"
        )

    # -- geometry ---------------------------------------------------------------------
    def sizeHint(self) -> QSize:
        return QSize(720, 260)

    def minimumSizeHint(self) -> QSize:
        return QSize(320, 170)

    def _layout(self) -> _Layout:
        fm = QFontMetricsF(self.font())
        line = fm.height()
        ticks = nice_ticks(max(self._totals, default=0))
        label_w = max(fm.horizontalAdvance(str(t)) for t in ticks)
        legend_y = 2.0
        left = label_w + 12
        top = legend_y + line + 14
        bottom = line + 10
        plot = QRectF(
            left, top, max(1.0, self.width() - left - 8), max(1.0, self.height() - top - bottom)
        )
        slot = plot.width() / max(1, len(self._days))
        # Bars fill most of their slot but keep a visible gap; capped so a short range
        # does not turn into a few fat blocks.
        bar = max(1.0, min(slot * 0.68, 28.0))
        return _Layout(plot, slot, bar, ticks[-1], ticks, legend_y)

    def bar_at(self, pos: QPointF) -> int | None:
        """The index of the day under ``pos`` (anywhere in its column), or None."""
        if self.is_empty():
            return None
        lay = self._layout()
        if not (lay.plot.left() <= pos.x() < lay.plot.right()):
            return None
        if not (lay.plot.top() - 4 <= pos.y() <= lay.plot.bottom()):
            return None
        index = int((pos.x() - lay.plot.left()) // lay.slot)
        return index if 0 <= index < len(self._days) else None

    def bar_rect(self, index: int) -> QRectF:
        """The rectangle of the whole stack for one day, in widget coordinates."""
        return self._bar_rect(self._layout(), index)

    def _bar_rect(self, lay: _Layout, index: int) -> QRectF:
        height = lay.plot.height() * self._totals[index] / lay.top
        x = lay.plot.left() + index * lay.slot + (lay.slot - lay.bar) / 2
        return QRectF(x, lay.plot.bottom() - height, lay.bar, height)

    # -- events -----------------------------------------------------------------------
    def event(self, event: QEvent) -> bool:
        # Tooltips are answered here rather than with setToolTip(), because the text
        # depends on which day is under the pointer.
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            index = self.bar_at(QPointF(event.pos()))
            if index is None:
                QToolTip.hideText()
                event.ignore()
            else:
                QToolTip.showText(event.globalPos(), self.tooltip_text(index), self)
            return True
        return super().event(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        index = self.bar_at(event.position())
        if index != self._hover:
            self._hover = index
            if index is not None and QToolTip.isVisible():
                # Keep the tooltip following the pointer from bar to bar.
                QToolTip.showText(event.globalPosition().toPoint(), self.tooltip_text(index), self)
            self.update()
        super().mouseMoveEvent(event)

    def leaveEvent(self, event: QEvent) -> None:
        if self._hover is not None:
            self._hover = None
            self.update()
        super().leaveEvent(event)

    # -- painting ---------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        text = pal.color(QPalette.ColorRole.WindowText)
        muted = _blend(text, pal.color(QPalette.ColorRole.Window), 0.55)
        if self.is_empty():
            self._paint_empty(painter, muted)
            return
        lay = self._layout()
        self._paint_legend(painter, lay, muted)
        self._paint_grid(painter, lay, text, muted)
        self._paint_bars(painter, lay, pal)
        self._paint_day_labels(painter, lay, muted)

    def _paint_empty(self, painter: QPainter, muted: QColor) -> None:
        rect = QRectF(self.rect()).adjusted(8, 8, -8, -8)
        pen = QPen(_blend(muted, self.palette().color(QPalette.ColorRole.Window), 0.35))
        pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.drawRoundedRect(rect, 8, 8)
        painter.setPen(muted)
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, self._empty_text)

    def _paint_legend(self, painter: QPainter, lay: _Layout, muted: QColor) -> None:
        fm = QFontMetricsF(self.font())
        swatch = 10.0
        x = lay.plot.left()
        for i, (name, _) in enumerate(self._series):
            width = swatch + 6 + fm.horizontalAdvance(name)
            if x + width > self.width() - 4 and x > lay.plot.left():
                break  # more channels than room: the tooltip still lists them all
            y = lay.legend_y + (fm.height() - swatch) / 2
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(series_colour(i))
            painter.drawRoundedRect(QRectF(x, y, swatch, swatch), 2, 2)
            painter.setPen(muted)
            painter.drawText(
                QRectF(x + swatch + 6, lay.legend_y, width, fm.height()),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                name,
            )
            x += width + 18

    def _paint_grid(self, painter: QPainter, lay: _Layout, text: QColor, muted: QColor) -> None:
        fm = QFontMetricsF(self.font())
        grid = QColor(text)
        grid.setAlphaF(0.09)
        for value in lay.ticks:
            y = round(lay.plot.bottom() - lay.plot.height() * value / lay.top) + 0.5
            painter.setPen(QPen(grid, 1))
            painter.drawLine(QPointF(lay.plot.left(), y), QPointF(lay.plot.right(), y))
            painter.setPen(muted)
            painter.drawText(
                QRectF(0, y - fm.height() / 2, lay.plot.left() - 8, fm.height()),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                str(value),
            )

    def _paint_bars(self, painter: QPainter, lay: _Layout, pal: QPalette) -> None:
        if self._hover is not None:
            band = QColor(pal.color(QPalette.ColorRole.Highlight))
            band.setAlphaF(0.10)
            painter.fillRect(
                QRectF(
                    lay.plot.left() + self._hover * lay.slot,
                    lay.plot.top(),
                    lay.slot,
                    lay.plot.height(),
                ),
                band,
            )
        radius = min(3.0, lay.bar / 3)
        painter.setPen(Qt.PenStyle.NoPen)
        for index in range(len(self._days)):
            stack = self._bar_rect(lay, index)
            if stack.height() <= 0:
                continue
            # Clip to a rounded rectangle that runs past the baseline, so only the top of
            # the stack is rounded and the segments inside stay square.
            clip = QPainterPath()
            clip.addRoundedRect(stack.adjusted(0, 0, 0, radius), radius, radius)
            painter.save()
            painter.setClipPath(clip)
            y = stack.bottom()
            for i, (_, counts) in enumerate(self._series):
                if not counts[index]:
                    continue
                h = lay.plot.height() * counts[index] / lay.top
                colour = series_colour(i)
                if self._hover is not None and self._hover != index:
                    colour.setAlphaF(0.75)
                painter.setBrush(colour)
                painter.drawRect(QRectF(stack.left(), y - h, stack.width(), h))
                y -= h
            painter.restore()

    def _paint_day_labels(self, painter: QPainter, lay: _Layout, muted: QColor) -> None:
        fm = QFontMetricsF(self.font())
        widest = max(fm.horizontalAdvance(day_label(d)) for d in self._days) + 12
        # Label every n-th day, counted back from the last (today), so today is always named.
        every = max(1, math.ceil(widest / lay.slot))
        painter.setPen(muted)
        last = len(self._days) - 1
        for index in range(last, -1, -every):
            centre = lay.plot.left() + (index + 0.5) * lay.slot
            rect = QRectF(centre - widest / 2, lay.plot.bottom() + 4, widest, fm.height())
            rect.moveLeft(max(0.0, min(rect.left(), self.width() - widest)))
            painter.drawText(
                rect,
                Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
                day_label(self._days[index]),
            )


def _blend(a: QColor, b: QColor, amount: float) -> QColor:
    """``a`` mixed with ``b``: amount 1 gives ``a``, 0 gives ``b``."""
    return QColor.fromRgbF(
        a.redF() * amount + b.redF() * (1 - amount),
        a.greenF() * amount + b.greenF() * (1 - amount),
        a.blueF() * amount + b.blueF() * (1 - amount),
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


__all__ = ["PALETTE", "StackedBarChart", "day_label", "nice_ticks", "series_colour"]
