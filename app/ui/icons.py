"""Stockbridge's icon, drawn with QPainter so it is crisp at every size, plus tray states.

Packaged builds also ship the rendered PNG/ICO/ICNS files from resources/icons; when
those exist they are used, and the drawing is the fallback when running from source.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap

STATE_COLOURS = {"idle": "#2563eb", "syncing": "#0891b2", "error": "#dc2626", "paused": "#6b7280"}


def resources_dir() -> Path:
    """resources/ beside the app package in a checkout, or inside a frozen bundle."""
    base = Path(getattr(sys, "_MEIPASS", Path(__file__).resolve().parents[2]))
    return base / "resources"


def draw(size: int, state: str = "idle") -> QPixmap:
    """A rounded tile with a bridge arch over three stacked boxes; a badge shows the state."""
    pix = QPixmap(size, size)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    s = size / 64.0
    tile = QColor(STATE_COLOURS["idle"] if state in ("idle", "syncing") else STATE_COLOURS[state])
    p.setBrush(QBrush(tile))
    p.setPen(Qt.PenStyle.NoPen)
    p.drawRoundedRect(QRectF(2 * s, 2 * s, 60 * s, 60 * s), 14 * s, 14 * s)
    # Boxes: the stock.
    p.setBrush(QColor("white"))
    for x, y in ((14, 36), (30, 36), (22, 22)):
        p.drawRoundedRect(QRectF(x * s, y * s, 14 * s, 12 * s), 2 * s, 2 * s)
    # The bridge: an arch spanning the tile.
    pen = QPen(QColor("white"), 4 * s)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    p.setPen(pen)
    p.setBrush(Qt.BrushStyle.NoBrush)
    arch = QPainterPath(QPointF(8 * s, 52 * s))
    arch.cubicTo(QPointF(18 * s, 12 * s), QPointF(46 * s, 12 * s), QPointF(56 * s, 52 * s))
    p.drawPath(arch)
    p.drawLine(QPointF(8 * s, 54 * s), QPointF(56 * s, 54 * s))
    if state in ("syncing", "error", "paused"):
        badge = QColor(STATE_COLOURS[state])
        p.setPen(QPen(QColor("white"), 3 * s))
        p.setBrush(badge)
        p.drawEllipse(QRectF(40 * s, 40 * s, 22 * s, 22 * s))
        mark = QPen(QColor("white"), 3 * s)
        mark.setCapStyle(Qt.PenCapStyle.RoundCap)
        p.setPen(mark)
        if state == "error":
            p.drawLine(QPointF(51 * s, 45 * s), QPointF(51 * s, 52 * s))
            p.drawPoint(QPointF(51 * s, 57 * s))
        elif state == "paused":
            p.drawLine(QPointF(48 * s, 46 * s), QPointF(48 * s, 56 * s))
            p.drawLine(QPointF(54 * s, 46 * s), QPointF(54 * s, 56 * s))
        else:
            p.drawArc(QRectF(45 * s, 45 * s, 12 * s, 12 * s), 30 * 16, 280 * 16)
    p.end()
    return pix


def icon(state: str = "idle") -> QIcon:
    result = QIcon()
    folder = resources_dir() / "icons"
    name = "stockbridge" if state == "idle" else f"stockbridge-{state}"
    for size in (16, 24, 32, 48, 64, 128, 256):
        path = folder / f"{name}-{size}.png"
        result.addPixmap(QPixmap(str(path)) if path.exists() else draw(size, state))
    return result
