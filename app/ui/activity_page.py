"""Activity: what each sync did, and the problems that need the merchant."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.ui.bridge import Bridge
from app.ui.style import BAD, OK, ago, when
from app.ui.tables import Column, SqlTableModel, TablePage

LOG_SELECT = (
    "SELECT s.id, s.started_at, s.finished_at, s.ok, s.summary, s.error, c.name AS channel"
    " FROM sync_log s LEFT JOIN channels c ON c.id = s.channel_id"
)
FAILED_SELECT = (
    "SELECT o.id, o.kind, o.target, o.payload, o.attempts, o.last_error, o.updated_at, o.state,"
    " c.name AS channel, ord.number AS order_number FROM outbox o JOIN channels c ON c.id = o.channel_id"
    " LEFT JOIN orders ord ON ord.id = o.order_id"
)
QUARANTINE_SELECT = (
    "SELECT q.id, q.kind, q.external_id, q.reason, q.raw, q.first_seen, q.last_seen, c.name AS channel"
    " FROM quarantine q JOIN channels c ON c.id = q.channel_id"
)


def _what(row: dict) -> str:
    if row["kind"] == "stock":
        return "Stock update"
    kind = json.loads(row["payload"] or "{}").get("kind", "")
    words = {
        "progress": "Order progress",
        "tracking": "Tracking details",
        "cancel": "Cancellation",
        "return": "Return",
        "paid": "Payment received",
        "invoice": "Invoice number",
    }
    return f"{words.get(kind, 'Order update')} for {row['order_number'] or row['target']}"


class ActivityPage(QWidget):
    def __init__(self, bridge: Bridge, parent=None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        db = bridge.reader
        self.log_model = SqlTableModel(
            db,
            LOG_SELECT,
            [
                Column(
                    "started_at",
                    "When",
                    "s.started_at",
                    fmt=lambda v, r: when(v),
                    tooltip=lambda v, r: ago(v),
                ),
                Column("channel", "Channel", "c.name", searchable=True),
                Column(
                    "ok",
                    "Result",
                    "s.ok",
                    fmt=lambda v, r: "Running" if v is None else ("OK" if v else "Failed"),
                    color=lambda v, r: None if v is None else (OK if v else BAD),
                ),
                Column(
                    "summary",
                    "What happened",
                    "s.summary",
                    searchable=True,
                    tooltip=lambda v, r: r["error"] or v,
                ),
            ],
            default_sort="s.id DESC",
        )
        self.log = TablePage(self.log_model, noun="syncs", search_hint="Search the activity…")
        self.log.add_filter(
            "Result", [("All results", None, ()), ("Failed only", "s.ok = 0", ())], "ok"
        )
        self.log.set_column_widths([170, 150, 90, 500])

        self.failed_model = SqlTableModel(
            db,
            FAILED_SELECT,
            [
                Column("channel", "Channel", "c.name", searchable=True),
                Column("kind", "Update", "o.kind", fmt=lambda v, r: _what(r)),
                Column(
                    "state",
                    "State",
                    "o.state",
                    fmt=lambda v, r: "Failed" if v == "failed" else "Retrying",
                    color=lambda v, r: BAD if v == "failed" else None,
                ),
                Column("attempts", "Tries", "o.attempts", numeric=True),
                Column(
                    "last_error", "Problem", "o.last_error", searchable=True, tooltip=lambda v, r: v
                ),
            ],
            base_where="o.state = 'failed' OR (o.state = 'pending' AND o.attempts > 0)",
            default_sort="o.id DESC",
        )
        self.failed = TablePage(self.failed_model, noun="updates", search_hint="Search updates…")
        self.retry_button = QPushButton("Retry selected")
        self.retry_all_button = QPushButton("Retry all failed")
        self.retry_button.setObjectName("primary")
        self.retry_button.clicked.connect(self.retry_selected)
        self.retry_all_button.clicked.connect(lambda: self.retry(None))
        self.failed.filters.addWidget(self.retry_button)
        self.failed.filters.addWidget(self.retry_all_button)
        self.failed.set_column_widths([140, 260, 80, 50, 400])

        self.quarantine_model = SqlTableModel(
            db,
            QUARANTINE_SELECT,
            [
                Column("channel", "Channel", "c.name", searchable=True),
                Column(
                    "external_id",
                    "Record",
                    "q.external_id",
                    searchable=True,
                    fmt=lambda v, r: f"{r['kind'].title()} {v}",
                ),
                Column(
                    "reason",
                    "Why it was set aside",
                    "q.reason",
                    searchable=True,
                    tooltip=lambda v, r: v,
                ),
                Column("last_seen", "Last seen", "q.last_seen", fmt=lambda v, r: ago(v)),
            ],
            base_where="q.resolved = 0",
            default_sort="q.last_seen DESC",
        )
        self.quarantine = TablePage(
            self.quarantine_model, noun="records", search_hint="Search set-aside records…"
        )
        show_raw = QPushButton("Show what the channel sent…")
        show_raw.clicked.connect(self.show_raw)
        self.quarantine.filters.addWidget(show_raw)
        self.quarantine.activated.connect(lambda row: self.show_raw(row))
        self.quarantine.set_column_widths([140, 160, 480, 120])

        self.tabs = QTabWidget()
        self.tabs.addTab(self.log, "Sync history")
        self.tabs.addTab(self.failed, "Updates with problems")
        self.tabs.addTab(self.quarantine, "Set aside")
        title = QLabel("Activity")
        title.setObjectName("pageTitle")
        hint = QLabel(
            "Every sync, every update that could not be sent, and every record a channel sent that "
            "Stockbridge could not read. Nothing is dropped: set-aside records are kept with their reason."
        )
        hint.setObjectName("muted")
        hint.setWordWrap(True)
        layout = QVBoxLayout(self)
        head = QHBoxLayout()
        head.addWidget(title)
        head.addStretch(1)
        layout.addLayout(head)
        layout.addWidget(hint)
        layout.addWidget(self.tabs, 1)
        self._stale = False
        bridge.data_changed.connect(self._data_changed)
        self.refresh()

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

    def refresh(self) -> None:
        self.log.refresh()
        self.failed.refresh()
        self.quarantine.refresh()
        problems = self.failed_model.rowCount()
        aside = self.quarantine_model.rowCount()
        self.tabs.setTabText(
            1, f"Updates with problems ({problems})" if problems else "Updates with problems"
        )
        self.tabs.setTabText(2, f"Set aside ({aside})" if aside else "Set aside")

    def show_problems(self) -> None:
        self.tabs.setCurrentIndex(1 if self.failed_model.rowCount() else 2)

    def retry_selected(self) -> None:
        row = self.failed.selected()
        if row is not None:
            self.retry(row["id"])

    def retry(self, row_id: int | None) -> None:
        def work(hub):
            return hub.outbox.retry_failed(row_id=row_id)

        def done(count: int) -> None:
            self.bridge.data_changed.emit()
            self.bridge.sync_now()

        self.bridge.run(work, done)

    def show_raw(self, row: dict | None = None) -> None:
        row = row or self.quarantine.selected()
        if row is None:
            return
        dialog = QDialog(self)
        dialog.setWindowTitle(f"{row['channel']}: {row['kind']} {row['external_id']}")
        text = QPlainTextEdit()
        text.setReadOnly(True)
        try:
            text.setPlainText(json.dumps(json.loads(row["raw"]), indent=2, ensure_ascii=False))
        except ValueError:
            text.setPlainText(row["raw"])
        reason = QLabel(f"Why: {row['reason']}")
        reason.setWordWrap(True)
        reason.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(dialog)
        layout.addWidget(reason)
        layout.addWidget(text)
        dialog.resize(640, 480)
        dialog.open()
