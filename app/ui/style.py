"""Look and words shared by every screen: colours, status chips, number and time formats."""

from __future__ import annotations

import time
from datetime import datetime

from app.core.lifecycle import LABELS
from app.core.models import OrderStatus

ACCENT = "#2563eb"
OK = "#15803d"
WARN = "#b45309"
BAD = "#b91c1c"
MUTED = "#6b7280"

STATUS_COLOURS = {
    "requested": "#2563eb",
    "confirmed": "#7c3aed",
    "dispatched": "#0e7490",
    "delivered": "#15803d",
    "cancelled": "#6b7280",
    "returned": "#b45309",
    "needs_mapping": WARN,
}

PAYMENT_WORDS = {
    "paid": "Paid",
    "unpaid": "Not paid",
    "cash_on_delivery": "Cash on delivery",
    "refunded": "Refunded",
}

STYLE_SHEET = f"""
QMainWindow, QDialog, QWizard {{ background: #f7f8fa; }}
QListWidget#nav {{ background: #1f2937; color: #e5e7eb; border: none; font-size: 14px; padding-top: 8px; }}
QListWidget#nav::item {{ padding: 10px 16px; border-radius: 6px; margin: 2px 8px; }}
QListWidget#nav::item:selected {{ background: #374151; color: white; }}
QListWidget#nav::item:hover:!selected {{ background: #2b3544; }}
QLabel#pageTitle {{ font-size: 20px; font-weight: 600; color: #111827; }}
QLabel#muted {{ color: {MUTED}; }}
QLabel#sectionTitle {{ font-weight: 600; color: #374151; margin-top: 6px; }}
QFrame#card {{ background: white; border: 1px solid #e5e7eb; border-radius: 8px; }}
QTableView {{ background: white; alternate-background-color: #f9fafb; border: 1px solid #e5e7eb;
              border-radius: 6px; gridline-color: #f3f4f6; selection-background-color: #dbeafe;
              selection-color: #111827; }}
QHeaderView::section {{ background: #f3f4f6; color: #374151; border: none;
                        border-bottom: 1px solid #e5e7eb; padding: 6px 8px; font-weight: 600; }}
QPushButton {{ padding: 6px 14px; border-radius: 6px; border: 1px solid #d1d5db; background: white; }}
QPushButton:hover {{ background: #f3f4f6; }}
QPushButton:disabled {{ color: #9ca3af; background: #f9fafb; }}
QPushButton#primary {{ background: {ACCENT}; color: white; border: 1px solid {ACCENT}; }}
QPushButton#primary:hover {{ background: #1d4ed8; }}
QPushButton#danger {{ color: {BAD}; }}
QLineEdit, QComboBox, QSpinBox, QDoubleSpinBox, QPlainTextEdit {{ padding: 5px 8px; border: 1px solid #d1d5db;
              border-radius: 6px; background: white; }}
QStatusBar {{ background: #eef0f3; color: #374151; }}
"""


def status_label(status: str, needs_mapping: bool = False) -> str:
    if needs_mapping and status == "requested":
        return "Needs mapping"
    try:
        return LABELS[OrderStatus(status)]
    except ValueError:
        return status.title()


def status_colour(status: str, needs_mapping: bool = False) -> str:
    if needs_mapping and status == "requested":
        return STATUS_COLOURS["needs_mapping"]
    return STATUS_COLOURS.get(status, MUTED)


def money(amount: float | None, currency: str = "") -> str:
    if amount is None:
        return ""
    return f"{amount:,.2f} {currency}".strip()


def quantity(value: float | None) -> str:
    if value is None:
        return "—"
    return (
        f"{int(value):,}" if float(value).is_integer() else f"{value:,.2f}".rstrip("0").rstrip(".")
    )


def age(ts: float | None, now: float | None = None) -> str:
    """Short age for tables: '5 min', '3 h', '2 d'."""
    if not ts:
        return ""
    seconds = max(0.0, (now or time.time()) - ts)
    if seconds < 3600:
        return f"{max(1, int(seconds // 60))} min"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} d"


def ago(ts: float | None, now: float | None = None) -> str:
    """Relative time in words: 'just now', '5 min ago', 'yesterday', '3 Nov'."""
    if not ts:
        return "never"
    seconds = (now or time.time()) - ts
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        hours = int(seconds // 3600)
        return f"{hours} hour{'s' if hours != 1 else ''} ago"
    if seconds < 2 * 86400:
        return "yesterday"
    dt = datetime.fromtimestamp(ts)
    return f"{dt.day} {dt:%b %Y}" if seconds > 300 * 86400 else f"{dt.day} {dt:%b}"


def when(ts: float | None) -> str:
    if not ts:
        return ""
    dt = datetime.fromtimestamp(ts)
    return f"{dt.day} {dt:%b %Y, %H:%M}"
