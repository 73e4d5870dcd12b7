""" "Check stock in RetailCRM…": where the CRM's numbers differ from Stockbridge's.

The check reads every offer's stock from RetailCRM on the engine thread (a busy bar
shows meanwhile); the differences fill a table; "Send the correct numbers" queues just
those offers and sends them, then checks again.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.ui.bridge import Bridge
from app.ui.style import OK

Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()
COLUMNS = ("SKU", "Offer", "Store", "In RetailCRM", "Stockbridge", "Difference")


class DriftModel(QAbstractTableModel):
    """The differences of one check, one row per offer and store."""

    def __init__(self) -> None:
        super().__init__()
        self.drifts: list[Any] = []

    def set_drifts(self, drifts: list[Any]) -> None:
        self.beginResetModel()
        self.drifts = list(drifts)
        self.endResetModel()

    def rowCount(self, parent: Index = _ROOT) -> int:  # noqa: N802 - Qt name
        return 0 if parent.isValid() else len(self.drifts)

    def columnCount(self, parent: Index = _ROOT) -> int:  # noqa: N802 - Qt name
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        d = self.drifts[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                d.sku,
                d.offer_id,
                d.store,
                f"{d.crm_quantity:g}",
                f"{d.quantity:g}",
                d.what,
            )[index.column()]
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() in (3, 4):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class DriftDialog(QDialog):
    def __init__(self, bridge: Bridge, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.name = name
        self.report: Any = None
        self.busy = False
        self.setWindowTitle(f"Stock in RetailCRM — {name}")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # busy: RetailCRM answers page by page
        self.progress.setTextVisible(False)
        self.model = DriftModel()
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(
            len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch
        )
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.buttons.rejected.connect(self.reject)
        self.recheck_button = QPushButton("Check again")
        self.recheck_button.clicked.connect(self.check)
        self.fix_button = QPushButton("Send the correct numbers")
        self.fix_button.setToolTip("Send Stockbridge's stock for the offers listed here only")
        self.fix_button.clicked.connect(self.fix)
        self.buttons.addButton(self.recheck_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.addButton(self.fix_button, QDialogButtonBox.ButtonRole.ActionRole)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.progress)
        layout.addWidget(self.table, 1)
        self.all_match = QLabel("✓  Every offer in RetailCRM shows the stock Stockbridge sends.")
        self.all_match.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.all_match.setStyleSheet(f"color: {OK}; font-size: 15px; font-weight: 600;")
        self.all_match.setVisible(False)
        layout.addWidget(self.all_match, 1)
        layout.addWidget(self.buttons)
        self.resize(760, 420)
        self.check()

    def _working(self, text: str) -> None:
        self.busy = True
        self.summary.setText(text)
        self.progress.setVisible(True)
        self.fix_button.setEnabled(False)
        self.recheck_button.setEnabled(False)

    def _failed(self, exc: BaseException) -> None:
        self.busy = False
        self.progress.setVisible(False)
        self.recheck_button.setEnabled(True)
        self.fix_button.setEnabled(bool(self.report and self.report.drifts))
        self.summary.setText(f"Could not finish: {exc}")

    def check(self) -> None:
        from app.channels.retailcrm import service

        self._working("Reading the stock of every offer from RetailCRM…")
        self.bridge.run(
            lambda hub: service.check_drift(hub, self.name), self.show_report, self._failed
        )

    def show_report(self, report) -> None:
        self.busy = False
        self.report = report
        self.progress.setVisible(False)
        self.recheck_button.setEnabled(True)
        self.model.set_drifts(report.drifts)
        self.table.resizeColumnsToContents()
        self.table.setVisible(bool(report.drifts))
        self.all_match.setVisible(not report.drifts)
        stores = ", ".join(report.stores)
        if report.drifts:
            text = (
                f"{len(report.drifts)} of {report.checked} offer/store pairs ({stores}) show"
                " other numbers in RetailCRM than Stockbridge would send."
            )
        else:
            text = f"RetailCRM shows Stockbridge's numbers for all {report.checked} offer/store pairs ({stores})."
        if not report.stock_sent:
            text += " Sending stock to this channel is switched off in its settings."
        self.summary.setText(text)
        self.fix_button.setEnabled(bool(report.drifts))

    def fix(self) -> None:
        from app.channels.retailcrm import service

        if not self.report or not self.report.drifts:
            return
        drifts = list(self.report.drifts)
        self._working(f"Sending the correct numbers for {len(drifts)} offer/store pairs…")

        def sent(_count: int) -> None:
            self.bridge.data_changed.emit()
            self.check()

        self.bridge.run(lambda hub: service.fix_drift(hub, self.name, drifts), sent, self._failed)
