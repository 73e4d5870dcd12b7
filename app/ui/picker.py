"""Picking one of the merchant's products (or customers) by typing part of it.

``PickerDelegate`` edits one table cell with a line edit and a completer over a small
model that asks the GUI's read connection for at most 50 matches per keystroke, so it
stays quick with 100,000 products. Before anything is typed the popup shows the ranked
suggestions for that row (app/core/suggest.py) with their reasons. Nothing is written
here: the chosen id goes to the table model's ``setData``, and the page hands the change
to the engine thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRect,
    Qt,
    QTimer,
)
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemDelegate,
    QCompleter,
    QLineEdit,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from app.core.suggest import (
    BuyerFacts,
    CustomerFacts,
    ListingFacts,
    ProductFacts,
    Suggestion,
    name_words,
    normalise_phone,
    rank_customers,
    rank_products,
    skeleton_sku,
)
from app.store.db import Database

Index = QModelIndex | QPersistentModelIndex
POPUP_WIDTH = 660
ID_ROLE = Qt.ItemDataRole.UserRole + 1
KEY_ROLE = Qt.ItemDataRole.UserRole + 2
NAME_ROLE = Qt.ItemDataRole.UserRole + 3
SKU_ROLE = KEY_ROLE  # the product pickers' key is the SKU


@dataclass(frozen=True, slots=True)
class Match:
    id: int
    key: str  # what a merchant types exactly: a SKU, or a customer's email
    name: str
    label: str
    hint: str = ""  # why it is suggested


def _like(word: str) -> str:
    return f"%{word.replace('%', '').replace('_', '')}%"


class MatchModel(QAbstractListModel):
    """Up to ``LIMIT`` matches for what was typed; the row's suggestions while nothing is."""

    LIMIT = 50
    PLACEHOLDER = "Type part of a SKU or name…"

    def __init__(self, db: Database, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.db = db
        self.matches: list[Match] = []
        self.suggested: list[Match] = []

    def set_suggestions(self, suggestions: list[Suggestion]) -> None:
        self.suggested = [self._match_for(s) for s in suggestions]

    def search(self, text: str) -> None:
        """Show what matches ``text``; blank text shows the suggestions."""
        words = text.split()
        found = self.suggested if not words else self._query(words, text.strip())
        self.beginResetModel()
        self.matches = list(found)
        self.endResetModel()

    def exact(self, text: str) -> Match | None:
        """The one record whose key is exactly ``text`` (a typed SKU, then Enter)."""
        text = text.strip()
        if not text:
            return None
        for match in self.matches + self.suggested:
            if match.key == text or match.label == text:
                return match
        found = self._query(text.split(), text)
        return next((m for m in found if m.key == text), None)

    def _query(self, words: list[str], text: str) -> list[Match]:
        raise NotImplementedError

    def _match_for(self, suggestion: Suggestion) -> Match:
        raise NotImplementedError

    @property
    def rows(self) -> list[tuple[str, str]]:
        """(key, name) of what is shown, for the link dialog's "exact match" check."""
        return [(m.key, m.name) for m in self.matches]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt signature
        return 0 if parent.isValid() else len(self.matches)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        match = self.matches[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{match.label}   ·   {match.hint}" if match.hint else match.label
        if role == Qt.ItemDataRole.EditRole:
            return match.label
        if role == Qt.ItemDataRole.ToolTipRole:
            return match.hint or None
        if role == Qt.ItemDataRole.ForegroundRole and match.hint:
            return QBrush(QColor("#1d4ed8"))
        return {ID_ROLE: match.id, KEY_ROLE: match.key, NAME_ROLE: match.name}.get(role)


class ProductMatches(MatchModel):
    """Local products whose SKU or name contains every typed word, SKU prefixes first."""

    def _query(self, words: list[str], text: str) -> list[Match]:
        where = " AND ".join("(sku LIKE ? OR name LIKE ?)" for _ in words)
        args: list[Any] = []
        for word in words:
            args += [_like(word), _like(word)]
        rows = self.db.all(
            f"SELECT id, sku, name FROM products WHERE {where}"
            f" ORDER BY sku LIKE ? DESC, sku LIMIT {self.LIMIT}",
            (*args, f"{text}%"),
        )
        return [Match(r[0], r[1], r[2], _product_label(r[1], r[2])) for r in rows]

    def _match_for(self, s: Suggestion) -> Match:
        sku, _, name = s.label.partition(" — ")
        return Match(s.id, sku, name, s.label, f"{s.percent}%: {s.reason}")


class CustomerMatches(MatchModel):
    """Local customers whose name, email or phone contains every typed word."""

    PLACEHOLDER = "Type part of a name, email or phone number…"

    def _query(self, words: list[str], text: str) -> list[Match]:
        where = " AND ".join("(name LIKE ? OR email LIKE ? OR phone LIKE ?)" for _ in words)
        args: list[Any] = []
        for word in words:
            args += [_like(word)] * 3
        rows = self.db.all(
            f"SELECT id, name, email, phone, postcode FROM customers WHERE {where}"
            f" ORDER BY email LIKE ? DESC, name LIMIT {self.LIMIT}",
            (*args, f"{text}%"),
        )
        return [Match(r[0], r[2] or str(r[0]), r[1], CustomerFacts(*r).label) for r in rows]

    def _match_for(self, s: Suggestion) -> Match:
        row = self.db.one("SELECT email, name FROM customers WHERE id = ?", (s.id,))
        key, name = (row[0] or str(s.id), row[1]) if row else (str(s.id), "")
        return Match(s.id, key, name, s.label, f"{s.percent}%: {s.reason}")


def _product_label(sku: str, name: str) -> str:
    return f"{sku} — {name}" if name else sku


# -- suggestions for one row, read from the display connection -------------------------------
def product_suggestions(db: Database, listing: dict[str, Any], limit: int = 5) -> list[Suggestion]:
    """Ranked products for one listing, from a few indexed look-ups (not the whole catalogue)."""
    sku = (listing.get("sku") or "").strip()
    clauses, args = [], []
    if sku:
        clauses.append("sku = ? COLLATE NOCASE")
        args.append(sku)
        # Dashes, dots and spaces vary between systems; one scan of the SKU column.
        clauses.append(
            "lower(replace(replace(replace(replace(sku, '-', ''), '.', ''), ' ', ''), '_', '')) = ?"
        )
        args.append(skeleton_sku(sku))
    for code in {listing.get("barcode") or "", listing.get("mpn") or ""} - {""}:
        clauses.append("barcode = ? OR sku = ?")
        args += [code, code]
    words = sorted(name_words(listing.get("name") or ""), key=len, reverse=True)[:3]
    for word in words:
        clauses.append("name LIKE ?")
        args.append(_like(word))
    if not clauses:
        return []
    rows = db.all(
        f"SELECT id, sku, name, barcode FROM products WHERE {' OR '.join(clauses)} LIMIT 300",
        tuple(args),
    )
    facts = ListingFacts(
        sku, listing.get("name") or "", listing.get("mpn") or "", listing.get("barcode") or ""
    )
    return rank_products(facts, (ProductFacts(*r) for r in rows), limit=limit)


def customer_suggestions(db: Database, buyer: BuyerFacts, limit: int = 5) -> list[Suggestion]:
    """Ranked customers for one channel buyer, from indexed look-ups."""
    clauses, args = [], []
    if buyer.email:
        clauses.append("email = ? COLLATE NOCASE")
        args.append(buyer.email.strip())
    phone = normalise_phone(buyer.phone)
    if phone:
        clauses.append("replace(replace(replace(phone, ' ', ''), '-', ''), '/', '') LIKE ?")
        args.append(f"%{phone}")
    if buyer.postcode:
        clauses.append("replace(postcode, ' ', '') = ? COLLATE NOCASE")
        args.append(buyer.postcode.replace(" ", ""))
    for word in sorted(name_words(buyer.name), key=len, reverse=True)[:3]:
        clauses.append("name LIKE ?")
        args.append(_like(word))
    if not clauses:
        return []
    rows = db.all(
        "SELECT id, name, email, phone, postcode FROM customers"
        f" WHERE {' OR '.join(clauses)} LIMIT 300",
        tuple(args),
    )
    return rank_customers(buyer, (CustomerFacts(*r) for r in rows), limit=limit)


# -- the editor and its delegate ---------------------------------------------------------------
class PickerEditor(QLineEdit):
    """A line edit whose completer lists matches; remembers the match picked from the list."""

    def __init__(self, matches: MatchModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.matches = matches
        self.chosen: Match | None = None
        self.setClearButtonEnabled(True)
        self.setPlaceholderText(matches.PLACEHOLDER)
        self.completer_ = QCompleter(matches, self)
        # The model is filtered in SQL already; the completer must not filter it again.
        self.completer_.setCompletionMode(QCompleter.CompletionMode.UnfilteredPopupCompletion)
        self.completer_.setMaxVisibleItems(12)
        self.setCompleter(self.completer_)
        self.textEdited.connect(self._typed)

    def _typed(self, text: str) -> None:
        self.chosen = None
        self.matches.search(text)
        self._open()

    def show_suggestions(self) -> None:
        self.matches.search("")
        self._open()

    def _open(self) -> None:
        """Show the list wider than the cell (suggestions carry their reasons), right-aligned
        with it, since "linked to" cells sit at the right of their tables."""
        if not self.matches.rowCount():
            return
        width = max(self.width(), POPUP_WIDTH)
        self.completer_.complete(QRect(self.width() - width, 0, width, self.height()))

    def choice(self) -> Match | None:
        """The match picked from the list, else the one whose SKU (or email) was typed."""
        # Typing clears the pick; the completer writes the picked label into the text only
        # after Enter may already have ended the edit, so the text is not compared.
        if self.chosen is not None:
            return self.chosen
        return self.matches.exact(self.text())


class PickerDelegate(QStyledItemDelegate):
    """Edits a "linked to" cell: the model's ``setData`` receives the chosen record's id.

    ``suggestions(index)`` gives the ranked suggestions for the row being edited.
    """

    def __init__(
        self,
        make_matches: Callable[[QObject], MatchModel],
        suggestions: Callable[[QModelIndex], list[Suggestion]] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.make_matches = make_matches
        self.suggestions = suggestions

    def createEditor(  # noqa: N802 - Qt name
        self, parent: QWidget, option: QStyleOptionViewItem, index: Index
    ) -> QWidget:
        editor = PickerEditor(self.make_matches(parent), parent)
        editor.setFrame(False)

        def picked(picked_index: QModelIndex) -> None:
            editor.chosen = editor.matches.matches[picked_index.row()]
            # The completer writes its text into the editor right after this signal.
            QTimer.singleShot(0, lambda: self._finish(editor))

        editor.completer_.activated[QModelIndex].connect(picked)
        return editor

    def _finish(self, editor: PickerEditor) -> None:
        self.commitData.emit(editor)
        self.closeEditor.emit(editor, QAbstractItemDelegate.EndEditHint.NoHint)

    def setEditorData(self, editor: QWidget, index: Index) -> None:  # noqa: N802
        assert isinstance(editor, PickerEditor)
        editor.setText(str(index.data(Qt.ItemDataRole.EditRole) or ""))
        editor.selectAll()  # typing replaces the current product instead of adding to it
        if self.suggestions is not None:
            editor.matches.set_suggestions(self.suggestions(QModelIndex(index)))
            QTimer.singleShot(0, editor.show_suggestions)

    def setModelData(  # noqa: N802
        self, editor: QWidget, model: QAbstractItemModel, index: Index
    ) -> None:
        assert isinstance(editor, PickerEditor)
        choice = editor.choice()
        if choice is not None:
            model.setData(index, choice.id, Qt.ItemDataRole.EditRole)

    def updateEditorGeometry(  # noqa: N802
        self, editor: QWidget, option: QStyleOptionViewItem, index: Index
    ) -> None:
        editor.setGeometry(option.rect)
