"""Changing many mappings at once: the product-mapping wizard and the spreadsheet round trip.

The wizard reads a channel's plan on the engine thread (app/store/mapping.py): what
links by SKU, what conflicts, what is left. The merchant decides per listing (link to a
product, create one, ignore, or leave for later) and everything is applied in one
undoable batch, with the held orders it releases. The import preview shows what a
filled spreadsheet would change, and what it refuses, before anything is written.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import fields
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QTableView,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from app.channels import registry
from app.core.models import LinkMethod
from app.core.suggest import Suggestion
from app.hub import Hub
from app.store.channels import Channel
from app.store.mapping import (
    BatchOutcome,
    CsvImport,
    ListingChange,
    MappingPlan,
    orders_released_by,
)
from app.ui.bridge import Bridge
from app.ui.connect_wizard import heading, platform_badge
from app.ui.picker import PickerDelegate, ProductMatches
from app.ui.style import MUTED, OK, WARN

Index = QModelIndex | QPersistentModelIndex
SAMPLE = 20
STRONG = 0.9  # suggestions this sure may be accepted in one go (never automatically)


def merged(outcomes: Iterable[BatchOutcome]) -> BatchOutcome:
    """Several channels' batches as one outcome, for one message."""
    total = BatchOutcome()
    for outcome in outcomes:
        for f in fields(BatchOutcome):
            if f.name != "batch_id":
                setattr(total, f.name, getattr(total, f.name) + getattr(outcome, f.name))
        total.batch_id = outcome.batch_id or total.batch_id
    return total


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def import_text(result: CsvImport) -> str:
    """What an applied spreadsheet did, with what it refused."""
    text = result.outcome.text() if result.outcome is not None else "Nothing to change."
    if result.refused:
        text += f" {len(result.refused):,} rows were refused (shown before importing)."
    return text


class RowsModel(QAbstractTableModel):
    """A read-only table of plain tuples."""

    def __init__(self, head: tuple[str, ...], rows: list[tuple], parent: QWidget | None = None):
        super().__init__(parent)
        self.head, self.rows = head, rows

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt signature
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.head)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.head[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if index.isValid() and role == Qt.ItemDataRole.DisplayRole:
            return str(self.rows[index.row()][index.column()])
        return None


def table(model: QAbstractTableModel, widths: list[int], stretch: int) -> QTableView:
    view = QTableView()
    view.setModel(model)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setDefaultSectionSize(26)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)
    header = view.horizontalHeader()
    header.setHighlightSections(False)
    for column, width in enumerate(widths):
        header.resizeSection(column, width)
    header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    return view


# -- deciding per listing ------------------------------------------------------------------------
LEAVE, LINK, CREATE, IGNORE = "leave", "link", "create", "ignore"


class DecisionModel(QAbstractTableModel):
    """Listings the merchant decides on; "Your decision" is edited with the product picker."""

    HEAD = ("Listing", "SKU", "Name", "Why", "Best suggestion", "Your decision")
    DECISION = 5
    changed = Signal()

    def __init__(self, wizard: MappingWizard, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.wizard = wizard
        self.rows: list[dict] = []
        self.reasons: list[str] = []
        self._suggestions: dict[int, list[Suggestion]] = {}
        self.decisions: dict[int, tuple[str, int | None, str]] = {}  # listing id → decision

    def load(self, rows: list[dict], reasons: list[str], known: dict[int, list]) -> None:
        self.beginResetModel()
        self.rows, self.reasons, self._suggestions = rows, reasons, known
        self.endResetModel()

    def suggestions(self, row: int) -> list[Suggestion]:
        """Ranked products for a row, worked out when first shown (lists can be long)."""
        if row not in self._suggestions:
            self._suggestions[row] = self.wizard.plan.suggest(self.rows[row])
        return self._suggestions[row]

    def decide(self, row: int, what: str, product: Suggestion | None = None) -> None:
        listing = self.rows[row]
        if what == LEAVE:
            self.decisions.pop(listing["id"], None)
        elif what == LINK and product is not None:
            self.decisions[listing["id"]] = (LINK, product.id, product.label)
        elif what == CREATE:
            self.decisions[listing["id"]] = (CREATE, None, listing["sku"])
        elif what == IGNORE:
            self.decisions[listing["id"]] = (IGNORE, None, "")
        self.dataChanged.emit(self.index(row, self.DECISION), self.index(row, self.DECISION))
        self.changed.emit()

    def decision_text(self, row: int) -> str:
        what, _, label = self.decisions.get(self.rows[row]["id"], (LEAVE, None, ""))
        return {
            LINK: f"Link to {label}",
            CREATE: f"Create product {label}",
            IGNORE: "Ignore the listing",
            LEAVE: "Leave for later",
        }[what]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt signature
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEAD)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEAD[section]
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        flags = super().flags(index)
        return flags | Qt.ItemFlag.ItemIsEditable if index.column() == self.DECISION else flags

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        r, col = index.row(), index.column()
        listing = self.rows[r]
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 4:
                best = self.suggestions(r)
                return f"{best[0].percent}%  {best[0].label}" if best else "—"
            if col == self.DECISION:
                return self.decision_text(r)
            return (listing["external_id"], listing["sku"] or "no SKU", listing["name"],
                    self.reasons[r])[col]  # fmt: skip
        if role == Qt.ItemDataRole.EditRole and col == self.DECISION:
            return ""
        if role == Qt.ItemDataRole.ToolTipRole and col == 4:
            return "\n".join(f"{s.label}: {s.percent}%, {s.reason}" for s in self.suggestions(r))
        if role == Qt.ItemDataRole.ToolTipRole and col == 3:
            return self.reasons[r]
        if role == Qt.ItemDataRole.ForegroundRole and col == self.DECISION:
            what = self.decisions.get(listing["id"], (LEAVE,))[0]
            return QBrush(QColor({LEAVE: MUTED, IGNORE: MUTED, CREATE: OK}.get(what, "#111827")))
        if role == Qt.ItemDataRole.ForegroundRole and col == 2 and not listing["sku"]:
            return QBrush(QColor(MUTED))
        return None

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        if role != Qt.ItemDataRole.EditRole or index.column() != self.DECISION:
            return False
        row = self.wizard.bridge.reader.one("SELECT sku, name FROM products WHERE id = ?", (value,))
        if row is None:
            return False
        label = f"{row[0]} — {row[1]}" if row[1] else row[0]
        self.decide(index.row(), LINK, Suggestion(int(value), label, 1.0, ()))
        return True


class DecisionPage(QWizardPage):
    """The conflicts page and the unmapped page: a table of listings and what to do."""

    def __init__(self, title: str, intro: str, empty: str, wizard: MappingWizard) -> None:
        super().__init__()
        self.setTitle(heading(title))
        self.intro, self.empty = intro, empty
        self.model = DecisionModel(wizard, self)
        self.model.changed.connect(self._count)
        self.view = table(self.model, [86, 110, 170, 190, 210], DecisionModel.DECISION)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.SelectedClicked
        )
        self.picker = PickerDelegate(
            lambda parent: ProductMatches(wizard.bridge.reader, parent),
            lambda index: self.model.suggestions(index.row()),
            self.view,
        )
        self.view.setItemDelegateForColumn(DecisionModel.DECISION, self.picker)
        self.counts = QLabel()
        self.counts.setObjectName("muted")
        buttons = QHBoxLayout()
        self.buttons: dict[str, QPushButton] = {}
        for key, text, tip in (
            ("best", "Use best suggestion", "Link each selected listing to its best suggestion"),
            ("strong", f"Accept all of {round(STRONG * 100)}% or more",
             "Link every listing here whose best suggestion is this sure"),
            (CREATE, "Create product", "Make a product from each selected listing (its SKU,"
             " name and the channel's quantity)"),
            (IGNORE, "Ignore", "Leave the selected listings alone: no stock is sent"),
            (LEAVE, "Leave for later", "Decide about the selected listings another time"),
        ):  # fmt: skip
            button = QPushButton(text)
            button.setToolTip(tip)
            button.clicked.connect(lambda _=False, k=key: self.act(k))
            buttons.addWidget(button)
            self.buttons[key] = button
        buttons.addStretch(1)
        hint = QLabel(
            "Double-click “Your decision” to pick any of your products; the list opens with"
            " the suggestions and why they are suggested."
        )
        hint.setObjectName("muted")
        hint.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(hint)
        layout.addLayout(buttons)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.counts)

    def load(
        self, rows: list[dict], reasons: list[str], known: dict[int, list] | None = None
    ) -> None:
        self.model.load(rows, reasons, known or {})
        self.setSubTitle(self.intro if rows else self.empty)
        self.view.setVisible(bool(rows))
        self._count()

    def selected(self) -> list[int]:
        return sorted({i.row() for i in self.view.selectionModel().selectedRows()})

    def act(self, key: str) -> None:
        rows = range(self.model.rowCount()) if key == "strong" else self.selected()
        no_sku = 0
        for r in rows:
            if key in ("best", "strong"):
                best = self.model.suggestions(r)
                if best and (key == "best" or best[0].score >= STRONG):
                    self.model.decide(r, LINK, best[0])
            elif key == CREATE and not self.model.rows[r]["sku"]:
                no_sku += 1  # nothing to name a product by
            else:
                self.model.decide(r, key)
        self._count()
        if no_sku:
            self.counts.setText(
                self.counts.text() + f" {no_sku:,} selected have no SKU, so no product can be"
                " made from them: pick their products instead."
            )

    def _count(self) -> None:
        decided = [d[0] for d in self.model.decisions.values()]
        total = self.model.rowCount()
        self.counts.setText(
            f"{total:,} listings: {decided.count(LINK):,} to link, {decided.count(CREATE):,}"
            f" to create, {decided.count(IGNORE):,} to ignore,"
            f" {total - len(decided):,} left for later."
        )


# -- the wizard ------------------------------------------------------------------------------------
class AutoPage(QWizardPage):
    """What links by SKU: how many, and a sample to check."""

    def __init__(self, wizard: MappingWizard) -> None:
        super().__init__()
        self.wizard_ = wizard
        self.setTitle(heading("Links made by SKU"))
        self.setSubTitle(f"Reading the listings of {wizard.channel}…")
        self.count = QLabel()
        self.count.setWordWrap(True)
        self.include = QCheckBox()
        self.include.setChecked(True)
        self.include.hide()
        self.sample = RowsModel(("Listing", "SKU", "Name on the channel", "Your product"), [])
        self.view = table(self.sample, [100, 130, 240], 3)
        self.held = QLabel()
        self.held.setObjectName("muted")
        layout = QVBoxLayout(self)
        layout.addWidget(self.count)
        layout.addWidget(self.include)
        layout.addWidget(self.held)
        layout.addWidget(self.view, 1)
        layout.addStretch(0)  # takes the room when there is no sample to show

    def load(self, plan: MappingPlan) -> None:
        n = len(plan.auto)
        if plan.mode == "sku":
            self.setSubTitle(
                f"{plan.channel} links by SKU: a listing whose SKU is exactly one of your"
                " products' SKUs, used once on the channel, links by itself."
            )
            self.count.setText(
                f"<b>{n:,} listings link by SKU</b> when you apply."
                if n
                else "<b>No further listing links by SKU</b>: every exact, unique SKU is linked"
                " already. Next come the conflicts and the listings without a product."
            )
        else:
            self.setSubTitle(
                f"{plan.channel} links by listing ID: nothing links unless you say so."
            )
            self.count.setText(
                f"<b>{n:,} listings have exactly the SKU of one of your products.</b>"
                if n
                else "No listing has exactly the SKU of one of your products."
            )
            self.include.setText(f"Link these {n:,} listings to those products")
            self.include.setVisible(bool(n))
        self.sample.beginResetModel()
        self.sample.rows = [
            (row["external_id"], row["sku"], row["name"], product.label)
            for row, product in plan.auto[:SAMPLE]
        ]
        self.sample.endResetModel()
        self.view.setVisible(bool(n))
        self.layout().setStretch(4, 0 if n else 1)
        more = f" The first {SAMPLE} are shown." if n > SAMPLE else ""
        self.held.setText(
            f"{plan.held_orders:,} orders from {plan.channel} wait for a product.{more}"
        )
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802 - Qt name
        return self.wizard_.plan is not None


class SummaryPage(QWizardPage):
    """What will change, and how many waiting orders that releases; applied on Finish."""

    def __init__(self, wizard: MappingWizard) -> None:
        super().__init__()
        self.wizard_ = wizard
        self.setTitle(heading("Summary"))
        self.setSubTitle("Nothing has changed yet. Apply makes all of it at once, as one change.")
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.status = QLabel()
        self.status.setObjectName("muted")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addStretch(1)
        layout.addWidget(self.status)
        self.busy = False
        self.empty = False  # nothing decided: Apply stays off

    def initializePage(self) -> None:  # noqa: N802 - Qt name
        wizard = self.wizard_
        changes = wizard.changes()
        counts = {LINK: 0, CREATE: 0, IGNORE: 0}
        linking: set[str] = set()
        ignoring: set[str] = set()
        rows = {r["id"]: r for page in wizard.decision_pages for r in page.model.rows}
        rows |= {r["id"]: r for r, _ in wizard.plan.auto}
        for change in changes:
            kind = CREATE if change.create else IGNORE if change.ignored else LINK
            counts[kind] += 1
            (ignoring if kind == IGNORE else linking).add(rows[change.listing_id]["external_id"])
        undecided = sum(p.model.rowCount() - len(p.model.decisions) for p in wizard.decision_pages)
        released = orders_released_by(wizard.bridge.reader, wizard.channel_id, linking, ignoring)
        lines = [
            f"Link <b>{_n(counts[LINK], 'listing')}</b> to your products",
            f"Create <b>{_n(counts[CREATE], 'product')}</b> from listings (the channel's"
            " quantity becomes the opening stock)",
            f"Ignore <b>{_n(counts[IGNORE], 'listing')}</b>",
            f"Leave <b>{_n(undecided, 'listing')}</b> for later",
        ]
        held = wizard.plan.held_orders
        if released:
            orders = (
                f"<p style='color:{OK}'><b>Releases {released:,} of the {held:,} waiting"
                " orders</b>: their stock is reserved and the channels are sent the new"
                " quantities.</p>"
            )
        elif held:
            orders = (
                f"<p style='color:{WARN}'><b>None of the {held:,} waiting orders is released"
                "</b>: each still has a listing left without a product.</p>"
            )
        else:
            orders = "<p>No order is waiting for a product.</p>"
        self.text.setText(
            "<ul>"
            + "".join(f"<li>{line}</li>" for line in lines)
            + "</ul>"
            + orders
            + "<p>You can undo the whole run afterwards with Undo on the Products screen.</p>"
        )
        self.empty = not changes
        self.status.setText(
            "Nothing to apply: every listing was left for later." if self.empty else ""
        )
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802 - Qt name
        return not self.empty

    def validatePage(self) -> bool:  # noqa: N802 - Qt name
        """Finish: apply once, on the engine thread; the wizard closes when it is done."""
        if self.wizard_.outcome is not None:
            return True
        if not self.busy:
            self.busy = True
            self.status.setText("Applying…")
            self.wizard_.apply()
        return False


class MappingWizard(QWizard):
    """Map one channel's listings: automatic links, conflicts, unmapped, summary."""

    applied = Signal(str)  # what the run did, for the products screen's banner

    def __init__(self, bridge: Bridge, channel: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.channel = channel
        self.channel_id = int(
            bridge.reader.scalar("SELECT id FROM channels WHERE name = ?", (channel,))
        )
        self.plan: MappingPlan | None = None
        self.outcome: BatchOutcome | None = None
        self.setWindowTitle(f"Map the products of {channel}")
        if sys.platform != "darwin":  # macOS has its own native wizard look
            self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setTitleFormat(Qt.TextFormat.RichText)
        platform = bridge.reader.scalar("SELECT platform FROM channels WHERE name = ?", (channel,))
        self.setPixmap(
            QWizard.WizardPixmap.LogoPixmap,
            platform_badge(registry.platform(platform), 48).pixmap(48, 48),
        )
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setMinimumSize(900, 600)
        self.auto = AutoPage(self)
        self.conflicts = DecisionPage(
            "Conflicts",
            "These cannot link by themselves. The suggestions are ranked by SKU (ignoring case,"
            " spaces and dashes), barcode or MPN, and name.",
            "No conflicts: no listing lacks a SKU or shares one.",
            self,
        )
        self.unmapped = DecisionPage(
            "Listings without a product",
            "None of your products has these SKUs. Choose a product, create one from the"
            " listing, ignore it, or leave it for later.",
            "Every listing has a product or a conflict to settle.",
            self,
        )
        self.decision_pages = (self.conflicts, self.unmapped)
        self.summary = SummaryPage(self)
        for page in (self.auto, self.conflicts, self.unmapped, self.summary):
            self.addPage(page)
        self.setButtonText(QWizard.WizardButton.FinishButton, "Apply")
        bridge.run(
            lambda hub: hub.mapping.plan(hub.channels.get(channel)),
            self._loaded,
            self._failed,
        )

    def _loaded(self, plan: MappingPlan) -> None:
        self.plan = plan
        self.auto.load(plan)
        self.conflicts.load(
            [c.listing for c in plan.conflicts],
            [c.reason for c in plan.conflicts],
            {i: c.suggestions for i, c in enumerate(plan.conflicts)},
        )
        self.unmapped.load(
            plan.unmapped,
            [
                "No product has this SKU." if row["sku"] else "The listing has no SKU."
                for row in plan.unmapped
            ],
        )

    def changes(self) -> list[ListingChange]:
        """What Finish applies: the SKU links (unless declined) and every decision."""
        assert self.plan is not None
        found: list[ListingChange] = []
        if self.plan.mode == "sku" or self.auto.include.isChecked():
            found += [
                ListingChange(row["id"], product_id=product.id, method=LinkMethod.SKU)
                for row, product in self.plan.auto
            ]
        for page in self.decision_pages:
            for listing_id, (what, product_id, _) in page.model.decisions.items():
                if what == LINK:
                    found.append(ListingChange(listing_id, product_id=product_id))
                elif what == CREATE:
                    found.append(ListingChange(listing_id, create=True))
                elif what == IGNORE:
                    found.append(ListingChange(listing_id, ignored=True))
        return found

    def apply(self) -> None:
        changes, channel = self.changes(), self.channel
        self.bridge.run(
            lambda hub: hub.mapping.apply(hub.channels.get(channel), changes, source="wizard"),
            self._applied,
            self._failed,
        )

    def _applied(self, outcome: BatchOutcome) -> None:
        self.outcome = outcome
        self.applied.emit(outcome.text())
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self.summary.busy = False
        self.summary.status.setText(f"<span style='color:{WARN}'>{exc}</span>")
        self.auto.setSubTitle(f"<span style='color:{WARN}'>{exc}</span>")


class ImportPreviewDialog(QDialog):
    """What a filled spreadsheet would change and what it refuses; Apply imports it."""

    def __init__(
        self, preview: CsvImport, title: str, noun: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Import {title}")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.resize(860, 520)
        n = len(preview.changes)
        summary = QLabel(
            f"{preview.rows:,} rows read: <b>{n:,} would change</b>,"
            f" {preview.unchanged:,} already as in the file,"
            f" <span style='color:{WARN if preview.refused else MUTED}'>"
            f"{len(preview.refused):,} refused</span>. Nothing has changed yet; the import"
            " can be undone afterwards."
        )
        summary.setWordWrap(True)
        self.changes = RowsModel(
            ("Line", noun.capitalize(), "Name", "Now", "After the import"),
            [(c["line"], c["record"], c["name"], c["before"], c["after"]) for c in preview.changes],
            self,
        )
        self.refused = RowsModel(
            ("Line", "Why it is refused"), [(p.line, p.reason) for p in preview.refused], self
        )
        self.tabs = QTabWidget()
        self.tabs.addTab(table(self.changes, [60, 120, 200, 180], 4), f"Changes ({n:,})")
        self.tabs.addTab(table(self.refused, [60], 1), f"Refused ({len(preview.refused):,})")
        if not n and preview.refused:
            self.tabs.setCurrentIndex(1)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText(f"Apply {n:,} changes" if n != 1 else "Apply 1 change")
        ok.setEnabled(bool(n))
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(summary)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.buttons)


class SpreadsheetMenu(QToolButton):
    """A mapping screen's "Spreadsheet" menu: export the links, a template to fill, import.

    ``export(hub, channel, template)`` returns the CSV text and ``load(hub, channel, data,
    dry_run)`` checks or applies a file; both run on the engine thread. ``channel()``
    names the one channel the screen works on (None: ask the merchant to pick one).
    """

    def __init__(
        self,
        page: QWidget,
        bridge: Bridge,
        *,
        noun: str,
        channel: Callable[[], str | None],
        export: Callable[[Hub, Channel, bool], str],
        load: Callable[[Hub, Channel, bytes, bool], CsvImport],
        message: Callable[[str], None],
        done: Callable[[list[str], str], None],
        template: str | None = None,
    ) -> None:
        super().__init__(page, text="Spreadsheet ▾")
        self.page, self.bridge, self.noun = page, bridge, noun
        # Looks like the screen's push buttons; the arrow is in the text.
        self.setStyleSheet(
            "QToolButton { padding: 6px 14px; border-radius: 6px; border: 1px solid #d1d5db;"
            " background: white; } QToolButton:hover { background: #f3f4f6; }"
            " QToolButton::menu-indicator { image: none; width: 0; }"
        )
        self.channel, self._export, self._load = channel, export, load
        self.message, self.done = message, done
        self.preview: ImportPreviewDialog | None = None
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self)
        menu.addAction("Export links…", lambda: self.export())
        if template:
            menu.addAction(template, lambda: self.export(template=True))
        menu.addSeparator()
        menu.addAction("Import links…", lambda: self.import_file())
        self.setMenu(menu)

    def _channel(self) -> str | None:
        name = self.channel()
        if name is None:
            self.message("Pick a channel in the filter first: a spreadsheet is per channel.")
        return name

    def export(self, path: str | None = None, *, template: bool = False) -> None:
        name = self._channel()
        if name is None:
            return
        if path is None:
            suggested = f"{name} {'to fill in' if template else 'links'}.csv"
            path, _ = QFileDialog.getSaveFileName(self.page, "Export", suggested, "CSV (*.csv)")
            if not path:
                return
        target = Path(path)

        def work(hub: Hub) -> str:
            text = self._export(hub, hub.channels.get(name), template)
            # Written beside, then renamed: the file never exists half-written.
            partial = target.with_name(f".{target.name}.partial")
            partial.write_text(text, encoding="utf-8-sig")  # the BOM makes Excel read UTF-8
            os.replace(partial, target)
            rows = max(0, text.count("\n") - 1)
            return f"Saved {rows:,} {self.noun} of {name} to {target.name}."

        self.bridge.run(work, self.message, self._failed)

    def import_file(self, path: str | None = None) -> None:
        """Check a filled file on the engine thread, then show what it would change."""
        name = self._channel()
        if name is None:
            return
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self.page, "Import links", "", "CSV (*.csv)")
            if not path:
                return
        source = Path(path)
        data = source.read_bytes()
        self.bridge.run(
            lambda hub: self._load(hub, hub.channels.get(name), data, True),
            lambda preview: self._show(name, data, preview, source.name),
            self._failed,
        )

    def _show(self, name: str, data: bytes, preview: CsvImport, filename: str) -> None:
        self.preview = ImportPreviewDialog(preview, f"{filename} into {name}", self.noun, self.page)
        self.preview.accepted.connect(
            lambda: self.bridge.run(
                lambda hub: import_text(self._load(hub, hub.channels.get(name), data, False)),
                lambda text: self.done([name], text),
                self._failed,
            )
        )
        self.preview.open()

    def _failed(self, exc: BaseException) -> None:
        QMessageBox.warning(self.page, "Spreadsheet", str(exc))
