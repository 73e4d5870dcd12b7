"""Connect a channel: choose the platform, enter and test its access, then import.

What differs between platforms is data, not code: a ``PlatformGuide`` says which fields
the platform needs, how to explain them and which link gets the token. Selldone has a
full guide; a platform without one gets a plain guide built from its registry entry.
Nothing is saved until the merchant moves past a successful connection test, and the
token only ever goes to the keyring (``Hub.add_channel`` stores it there).
"""

from __future__ import annotations

import dataclasses
import html
import sys
from dataclasses import dataclass
from typing import Any

import shiboken6
from PySide6.QtCore import QRect, QRegularExpression, QSize, Qt, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QDesktopServices,
    QFont,
    QIcon,
    QPainter,
    QPixmap,
    QRegularExpressionValidator,
)
from PySide6.QtWidgets import (
    QButtonGroup,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from app import secrets
from app.channels import registry
from app.channels.errors import ChannelError
from app.core.models import ShopInfo
from app.ui.bridge import Bridge
from app.ui.settings_form import CollapsibleSection, muted_label
from app.ui.style import ACCENT, BAD, MUTED, OK, WARN

PAGE_PLATFORM, PAGE_DETAILS, PAGE_IMPORT = 0, 1, 2
BADGE_COLOURS = {"selldone": "#0ea5e9", "sellar": "#d97706", "tradegecko": "#16a34a"}
BLURB_ROLE = Qt.ItemDataRole.UserRole + 1


@dataclass(frozen=True, slots=True)
class Field:
    """One thing the merchant types in to connect. ``key`` is secret, account or base_url."""

    key: str
    label: str
    placeholder: str = ""
    help: str = ""
    digits_only: bool = False
    required: bool = True
    advanced: bool = False


@dataclass(frozen=True, slots=True)
class MappingChoice:
    mode: str  # "sku" or "id", as Hub.add_channel takes it
    title: str
    explanation: str


@dataclass(frozen=True, slots=True)
class PlatformGuide:
    """Everything the platform page shows for one platform."""

    key: str
    blurb: str  # one line on the choice page
    intro: str
    steps: tuple[str, ...]
    fields: tuple[Field, ...]
    default_name: str
    mapping: tuple[MappingChoice, ...]
    link_text: str = ""  # opens Platform.token_link when the platform has one


DEFAULT_MAPPING = (
    MappingChoice(
        "sku",
        "By SKU — automatic",
        "Listings whose SKU matches exactly one of your products are linked for you. "
        "Duplicates and empty SKUs are left for you to link.",
    ),
    MappingChoice(
        "id",
        "By the channel's product number — stable, manual",
        "You link each listing once; the link survives SKU changes on the channel.",
    ),
)

GUIDES: dict[str, PlatformGuide] = {
    "selldone": PlatformGuide(
        key="selldone",
        blurb="Orders from your Selldone web shop; stock sent back to its products.",
        intro="Stockbridge reads the orders and products of your Selldone shop and keeps the "
        "shop's stock in step with yours. Selldone lets it in with a token that you "
        "create while signed in to your shop.",
        steps=(
            "Click “Get a token from Selldone” and sign in if Selldone asks.",
            "Choose your shop and allow access. Selldone shows a long token and your shop ID.",
            "Copy both into the boxes below, then test the connection.",
        ),
        link_text="Get a token from Selldone",
        fields=(
            Field(
                "secret",
                "Token",
                "Paste the token from Selldone",
                "It is kept in your computer's password store, never in Stockbridge's files.",
            ),
            Field(
                "account",
                "Shop ID",
                "e.g. 3817",
                "The number shown next to the token.",
                digits_only=True,
            ),
            Field(
                "base_url",
                "Selldone address",
                "https://api.selldone.com",
                "Leave as it is unless you connect to a test shop.",
                advanced=True,
            ),
        ),
        default_name="Selldone web shop",
        mapping=(
            DEFAULT_MAPPING[0],
            MappingChoice(
                "id",
                "By Selldone product id — stable, manual",
                "You link each Selldone product once; the link survives SKU changes in the shop.",
            ),
        ),
    ),
    # Sellar's key is activated by the supplier in Sellar; it has no link to open.
    "sellar": PlatformGuide(
        key="sellar",
        blurb="Wholesale orders from pubs and shops on Sellar; stock sent back to your items.",
        intro="Stockbridge reads your Sellar orders and keeps the stock of your items on Sellar "
        "in step with yours. Sellar lets it in with your developer API key.",
        steps=(
            "Sign in to Sellar and activate your developer API key in your settings.",
            "Copy the key (it starts with SLR.) into the box below, then test the connection.",
        ),
        fields=(
            Field(
                "secret",
                "API key",
                "SLR.…",
                "It is kept in your computer's password store, never in Stockbridge's files.",
            ),
            Field(
                "account",
                "Supplier ID",
                "optional",
                "Fill it in to be sure the key is your own supplier account's.",
                digits_only=True,
                required=False,
            ),
            Field(
                "base_url",
                "Sellar address",
                "https://api.sellar.io",
                "Leave as it is; Sellar's test system is https://api-staging.sellar.io.",
                advanced=True,
            ),
        ),
        default_name="Sellar wholesale",
        mapping=DEFAULT_MAPPING,
    ),
    # Sello's key comes from its settings page; the account needs nothing else.
    "sello": PlatformGuide(
        key="sello",
        blurb="Orders from the marketplaces Sello lists you on; stock sent back to Sello.",
        intro="Stockbridge reads the orders Sello gathers from your marketplaces and keeps the "
        "quantity of your Sello products in step with your stock. Sello lets it in with an "
        "API key. Sello allows 30 requests a minute, so a big stock update is spread over a "
        "few minutes, most urgent products first.",
        steps=(
            "In Sello, open Settings → Integrations → API and create a key for Stockbridge.",
            "Copy the whole key (it may contain a colon) into the box below, then test the "
            "connection.",
        ),
        fields=(
            Field(
                "secret",
                "API key",
                "key:secret",
                "It is kept in your computer's password store, never in Stockbridge's files.",
            ),
            Field(
                "base_url",
                "Sello address",
                "https://api.sello.io/v5",
                "Leave as it is.",
                advanced=True,
            ),
        ),
        default_name="Sello marketplaces",
        mapping=DEFAULT_MAPPING,
    ),
    # TradeGecko: the merchant's inventory; a sign-in in the browser or a privileged token.
    "tradegecko": PlatformGuide(
        key="tradegecko",
        blurb="Your stock from TradeGecko; your other channels' orders sent to it.",
        intro="Stockbridge can take your stock from TradeGecko, location by location, and "
        "send your other channels' orders to it as sales orders.",
        steps=(
            "Click “Sign in with TradeGecko” below and approve Stockbridge, or, for your own"
            " account only, create a privileged access token in TradeGecko (Apps → your app)"
            " and paste it here.",
            "Choose what TradeGecko does for you, then test the connection.",
        ),
        fields=(
            Field(
                "secret",
                "Access token",
                "Filled in by the sign-in, or paste a privileged token",
                "It is kept in your computer's password store, never in Stockbridge's files.",
            ),
            Field(
                "base_url",
                "TradeGecko address",
                "https://api.tradegecko.com",
                "Leave as it is.",
                advanced=True,
            ),
        ),
        default_name="TradeGecko",
        mapping=(
            MappingChoice(
                "id",
                "By TradeGecko variant — you link each once",
                "TradeGecko allows the same SKU on several variants, so Stockbridge links by"
                " variant and only suggests matches by SKU.",
            ),
        ),
    ),
    # RetailCRM: Stockbridge becomes the account's warehouse system when it connects.
    "retailcrm": PlatformGuide(
        key="retailcrm",
        blurb="Your CRM's orders to ship; stock and cost prices sent back to its stores.",
        intro="Stockbridge becomes the warehouse system of your RetailCRM account: it sends "
        "available stock and cost prices to a RetailCRM store, reads the orders to ship, and "
        "marks them shipped when you dispatch them.",
        steps=(
            "In RetailCRM, open Settings → Integration → API access keys and create a key with"
            " access to orders, the catalogue, stores and integration modules.",
            "Type your account address and paste the key below, then test the connection.",
        ),
        fields=(
            Field(
                "base_url",
                "Account address",
                "https://yourshop.retailcrm.ru",
                "The address you open RetailCRM at.",
            ),
            Field(
                "secret",
                "API key",
                "",
                "It is kept in your computer's password store, never in Stockbridge's files.",
            ),
        ),
        default_name="RetailCRM",
        mapping=DEFAULT_MAPPING,
    ),
}


def guide_for(spec: registry.Platform) -> PlatformGuide:
    """The platform's own guide, or a plain one from its registry labels."""
    known = GUIDES.get(spec.key)
    if known is not None:
        return known
    return PlatformGuide(
        key=spec.key,
        blurb=f"Orders from {spec.label}; stock sent back to it.",
        intro=f"Stockbridge reads your orders from {spec.label} and keeps its stock in step "
        f"with yours. {spec.label} lets it in with your {spec.secret_label}.",
        steps=(
            f"Find your {spec.secret_label} in your {spec.label} account settings.",
            "Copy it into the box below, then test the connection.",
        ),
        link_text=f"Open {spec.label}" if spec.token_link else "",
        fields=(
            Field(
                "secret",
                spec.secret_label,
                help="It is kept in your computer's password store, never in Stockbridge's files.",
            ),
            *(
                (Field("account", spec.account_label, required=spec.account_required),)
                if spec.account_label
                else ()
            ),
            Field(
                "base_url",
                f"{spec.label} address",
                spec.default_base_url,
                "Leave as it is unless you connect to a test account"
                + "".join(f"; {name}: {url}" for name, url in spec.other_base_urls.items())
                + ".",
                advanced=True,
            ),
        ),
        default_name=f"{spec.label} {spec.role.lower()}",
        mapping=DEFAULT_MAPPING,
    )


def heading(text: str) -> str:
    """A wizard page title (the wizard shows titles as rich text)."""
    return (
        f"<span style='font-size:17px; font-weight:600; color:#111827'>{html.escape(text)}</span>"
    )


def badge(letter: str, colour: str, size: int) -> QPixmap:
    """A rounded tile with one white letter."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(QColor(colour))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawRoundedRect(0, 0, size, size, size / 4, size / 4)
    font = QFont()
    font.setPixelSize(int(size * 0.5))
    font.setBold(True)
    painter.setFont(font)
    painter.setPen(QColor("white"))
    painter.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter, letter)
    painter.end()
    return pixmap


def platform_badge(spec: registry.Platform, size: int = 40) -> QIcon:
    """The platform's initial on its colour, so a list of platforms is not a wall of text."""
    return QIcon(badge(spec.label[:1].upper(), BADGE_COLOURS.get(spec.key, ACCENT), size))


async def check_connection(
    spec: registry.Platform, base_url: str, account: str, secret: str
) -> ShopInfo:
    """Try the access details without saving anything (runs on the engine loop)."""
    client = spec.make_client(base_url, account, {}, secret)
    try:
        return await client.check_connection()
    finally:
        await client.aclose()


def error_words(exc: BaseException, fallback_title: str = "Could not connect") -> tuple[str, str]:
    """(title, message) for a failure, with any known secret masked."""
    if isinstance(exc, ChannelError):
        return exc.title, secrets.redact(exc.message)
    return fallback_title, secrets.redact(str(exc) or type(exc).__name__)


def name_taken(bridge: Bridge, name: str) -> bool:
    # NOCASE: "Web shop" and "web shop" side by side would only confuse the merchant.
    return (
        bridge.reader.scalar(
            "SELECT 1 FROM channels WHERE name = ? COLLATE NOCASE", (name.strip(),)
        )
        is not None
    )


class PlatformDelegate(QStyledItemDelegate):
    """Draws a platform as a card: its badge, name and role, and one line on what it does."""

    HEIGHT = 76

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Any) -> None:
        state = option.state  # type: ignore[attr-defined]
        selected = bool(state & QStyle.StateFlag.State_Selected)
        hovered = bool(state & QStyle.StateFlag.State_MouseOver)
        rect = option.rect.adjusted(1, 2, -1, -4)  # type: ignore[attr-defined]
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QColor(ACCENT if selected else "#d1d5db" if hovered else "#e5e7eb"))
        painter.setBrush(QColor("#eff6ff" if selected else "white"))
        painter.drawRoundedRect(rect, 8, 8)
        icon: QIcon = index.data(Qt.ItemDataRole.DecorationRole)
        icon.paint(painter, QRect(rect.left() + 16, rect.center().y() - 20, 40, 40))
        left, width = rect.left() + 72, rect.width() - 88
        title = QFont(option.font)  # type: ignore[attr-defined]
        title.setBold(True)
        title.setPointSizeF(title.pointSizeF() * 1.15)
        painter.setFont(title)
        painter.setPen(QColor("#111827"))
        align = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        painter.drawText(
            QRect(left, rect.top() + 12, width, 24), align, index.data(Qt.ItemDataRole.DisplayRole)
        )
        painter.setFont(option.font)  # type: ignore[attr-defined]
        painter.setPen(QColor(MUTED))
        painter.drawText(
            QRect(left, rect.top() + 38, width, 20), align, index.data(BLURB_ROLE) or ""
        )
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: Any) -> QSize:  # noqa: N802
        return QSize(option.rect.width(), self.HEIGHT)  # type: ignore[attr-defined]


class PlatformPage(QWizardPage):
    """Page 1: which platform to connect."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle(heading("Which channel do you want to connect?"))
        self.setPixmap(QWizard.WizardPixmap.LogoPixmap, badge("+", ACCENT, 48))
        self.setSubTitle("Pick where your orders come from. You can connect more channels later.")
        self.platform_list = QListWidget()
        self.platform_list.setItemDelegate(PlatformDelegate(self.platform_list))
        self.platform_list.setStyleSheet("QListWidget { background: transparent; border: none; }")
        self.platform_list.setMouseTracking(True)  # hover highlight
        for spec in registry.PLATFORMS.values():
            item = QListWidgetItem(platform_badge(spec), f"{spec.label} — {spec.role}")
            item.setData(Qt.ItemDataRole.UserRole, spec.key)
            item.setData(BLURB_ROLE, guide_for(spec).blurb)
            self.platform_list.addItem(item)
        # As tall as its cards (scrolling beyond five), so the note sits right below them.
        rows = min(max(1, self.platform_list.count()), 5)
        self.platform_list.setFixedHeight(rows * PlatformDelegate.HEIGHT + 4)
        self.platform_list.currentRowChanged.connect(lambda _row: self.completeChanged.emit())
        self.platform_list.itemDoubleClicked.connect(lambda _item: self.wizard().next())
        more = muted_label("Other platforms appear here as Stockbridge learns to talk to them.")
        layout = QVBoxLayout(self)
        layout.addWidget(self.platform_list)
        layout.addWidget(more)
        layout.addStretch(1)

    def chosen(self) -> str | None:
        item = self.platform_list.currentItem()
        return None if item is None else item.data(Qt.ItemDataRole.UserRole)

    def choose(self, key: str) -> None:
        for row in range(self.platform_list.count()):
            if self.platform_list.item(row).data(Qt.ItemDataRole.UserRole) == key:
                self.platform_list.setCurrentRow(row)

    def isComplete(self) -> bool:  # noqa: N802 - Qt name
        return self.chosen() is not None


@dataclass(frozen=True, slots=True)
class Connection:
    """What the details page collected; never logged or shown (it holds the token)."""

    platform: str
    name: str
    account: str
    secret: str
    base_url: str
    mapping_mode: str
    settings: dict[str, Any] = dataclasses.field(default_factory=dict)  # TradeGecko choices

    def __repr__(self) -> str:
        return f"Connection({self.platform!r}, {self.name!r}, account={self.account!r})"


class DetailsPage(QWizardPage):
    """Page 2: the platform's access details, a name, the mapping choice and a test."""

    def __init__(self, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.spec: registry.Platform | None = None
        self.guide: PlatformGuide | None = None
        self.editors: dict[str, QLineEdit] = {}
        self.mapping_buttons: dict[str, QRadioButton] = {}
        self.options: Any = None  # the platform's own choices (TradeGecko)
        self.shop: ShopInfo | None = None  # set by a successful test of the current details
        self._attempt = 0  # lets a result that arrives after an edit be ignored
        self._body: QWidget | None = None
        self.setButtonText(QWizard.WizardButton.NextButton, "Connect and import")
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)

    def initializePage(self) -> None:  # noqa: N802 - Qt name
        key = self.wizard().platform_page.chosen() or next(iter(registry.PLATFORMS))
        if self.spec is None or self.spec.key != key:
            self.build(registry.platform(key))

    def build(self, spec: registry.Platform) -> None:
        """(Re)create the page's widgets for one platform, from its guide."""
        if self._body is not None:  # another platform was picked: start afresh
            self._layout.removeWidget(self._body)
            self._body.hide()
            self._body.deleteLater()
        self.spec, self.guide = spec, guide_for(spec)
        guide = self.guide
        self.editors.clear()
        self.mapping_buttons.clear()
        self.shop = None
        self.setTitle(heading(f"Connect {spec.label}"))
        self.setSubTitle(guide.intro)
        self.setPixmap(QWizard.WizardPixmap.LogoPixmap, platform_badge(spec, 48).pixmap(48, 48))

        body = QWidget()
        column = QVBoxLayout(body)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(10)
        steps = QLabel(
            "".join(
                f"<div style='margin-bottom:3px'><b>{i}.</b>&nbsp; {html.escape(step)}</div>"
                for i, step in enumerate(guide.steps, 1)
            )
        )
        steps.setWordWrap(True)
        guide_box = QFrame()
        guide_box.setObjectName("guideBox")
        guide_box.setStyleSheet(
            "QFrame#guideBox { background: #eff6ff; border: 1px solid #bfdbfe; border-radius: 8px; }"
            " QFrame#guideBox QLabel { color: #1e3a8a; }"
        )
        steps_row = QHBoxLayout(guide_box)
        steps_row.setContentsMargins(14, 10, 12, 10)
        steps_row.addWidget(steps, 1)
        self.link_button = QPushButton(guide.link_text)
        self.link_button.setVisible(bool(guide.link_text and spec.token_link))
        self.link_button.setToolTip("Opens in your web browser")
        self.link_button.clicked.connect(self.open_token_link)
        steps_row.addWidget(self.link_button, 0, Qt.AlignmentFlag.AlignVCenter)
        column.addWidget(guide_box)

        form = QFormLayout()
        form.setHorizontalSpacing(16)
        form.setVerticalSpacing(8)
        advanced_form = QFormLayout()
        for field in guide.fields:
            edit = QLineEdit(placeholderText=field.placeholder)
            edit.setAccessibleName(field.label)
            edit.setObjectName(f"field_{field.key}")
            if field.key == "base_url":
                # A template address ({account}) is the merchant's to fill in.
                edit.setText("" if "{" in spec.default_base_url else spec.default_base_url)
            if field.digits_only:
                edit.setValidator(
                    QRegularExpressionValidator(QRegularExpression(r"\d{0,18}"), edit)
                )
                edit.setMaximumWidth(200)
            edit.textChanged.connect(self._details_edited)
            self.editors[field.key] = edit
            editor: QWidget = edit
            if field.key == "secret":
                editor = self._secret_row(edit)
            holder = QWidget()
            box = QVBoxLayout(holder)
            box.setContentsMargins(0, 0, 0, 0)
            box.setSpacing(2)
            box.addWidget(editor)
            if field.help:
                box.addWidget(muted_label(field.help))
            (advanced_form if field.advanced else form).addRow(field.label, holder)

        self.name_edit = QLineEdit(self._free_name(guide.default_name))
        self.name_edit.setAccessibleName("Channel name")
        self.name_edit.textChanged.connect(self._name_edited)
        self.name_error = QLabel()
        self.name_error.setStyleSheet(f"color: {BAD};")
        self.name_error.setVisible(False)
        name_box = QVBoxLayout()
        name_box.setSpacing(2)
        name_box.addWidget(self.name_edit)
        name_box.addWidget(self.name_error)
        form.addRow("Name in Stockbridge", name_box)

        mapping_box = QVBoxLayout()
        mapping_box.setSpacing(2)
        self.mapping_group = QButtonGroup(body)
        for i, choice in enumerate(guide.mapping):
            radio = QRadioButton(choice.title)
            radio.setChecked(i == 0)
            self.mapping_group.addButton(radio)
            self.mapping_buttons[choice.mode] = radio
            mapping_box.addWidget(radio)
            hint = muted_label(choice.explanation)
            hint.setContentsMargins(24, 0, 0, 4)
            mapping_box.addWidget(hint)
        form.addRow("Link products", mapping_box)
        column.addLayout(form)
        self.options = None
        if spec.key == "tradegecko":
            from app.ui.tradegecko_page import TradeGeckoOptions

            self.options = TradeGeckoOptions(
                self.bridge, lambda: self.editors["base_url"].text().strip()
            )
            self.options.signed_in.connect(self.editors["secret"].setText)
            column.addWidget(self.options)

        self.advanced = CollapsibleSection("Advanced")
        advanced_body = QWidget()
        advanced_body.setLayout(advanced_form)
        self.advanced.add_widget(advanced_body)
        self.advanced.setVisible(advanced_form.rowCount() > 0)
        column.addWidget(self.advanced)

        test_row = QHBoxLayout()
        self.test_button = QPushButton("Test connection")
        self.test_button.setObjectName("primary")
        self.test_button.clicked.connect(self.test_connection)
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        self.result_label.setTextFormat(Qt.TextFormat.RichText)
        test_row.addWidget(self.test_button, 0, Qt.AlignmentFlag.AlignTop)
        test_row.addWidget(self.result_label, 1)
        column.addLayout(test_row)
        column.addStretch(1)
        # Some platforms ask for more than fits: scroll rather than squeeze the fields.
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(body)
        self._layout.addWidget(scroll)
        self._body = scroll
        self._details_edited()

    def _secret_row(self, edit: QLineEdit) -> QWidget:
        edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.show_button = QPushButton("Show")
        self.show_button.setCheckable(True)
        self.show_button.setToolTip("Show or hide what you pasted")

        def toggle(shown: bool) -> None:
            edit.setEchoMode(QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password)
            self.show_button.setText("Hide" if shown else "Show")

        self.show_button.toggled.connect(toggle)
        row = QWidget()
        line = QHBoxLayout(row)
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(edit, 1)
        line.addWidget(self.show_button)
        return row

    def _free_name(self, wanted: str) -> str:
        name, n = wanted, 2
        while name_taken(self.bridge, name):
            name, n = f"{wanted} {n}", n + 1
        return name

    # -- state ------------------------------------------------------------------------
    def connection(self) -> Connection:
        assert self.spec is not None
        text = {key: edit.text().strip() for key, edit in self.editors.items()}
        mode = next((m for m, b in self.mapping_buttons.items() if b.isChecked()), "sku")
        return Connection(
            self.spec.key,
            self.name_edit.text().strip(),
            text.get("account", ""),
            text.get("secret", ""),
            (text.get("base_url") or self.spec.default_base_url).rstrip("/"),
            mode,
            self.options.settings() if self.options is not None else {},
        )

    def _missing(self) -> list[str]:
        assert self.guide is not None
        return [
            f.label
            for f in self.guide.fields
            if f.required and not self.editors[f.key].text().strip()
        ]

    def _details_edited(self) -> None:
        # Any change to the access details makes the last test meaningless.
        self._attempt += 1
        self.shop = None
        self.test_button.setEnabled(not self._missing())
        self.test_button.setText("Test connection")
        self._show_result("", "")
        self.completeChanged.emit()

    def _name_edited(self) -> None:
        name = self.name_edit.text().strip()
        problem = (
            "Give the channel a name."
            if not name
            else "You already have a channel with this name."
            if name_taken(self.bridge, name)
            else ""
        )
        self.name_error.setText(problem)
        self.name_error.setVisible(bool(problem))
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802 - Qt name
        return (
            self.shop is not None
            and not self.name_error.text()
            and bool(self.name_edit.text().strip())
        )

    def open_token_link(self) -> None:
        if self.spec is not None and self.spec.token_link is not None:
            QDesktopServices.openUrl(QUrl(self.spec.token_link()))

    def _show_result(self, colour: str, text: str) -> None:
        self.result_label.setStyleSheet(f"color: {colour};" if colour else "")
        self.result_label.setText(text)

    def test_connection(self) -> None:
        """Check the details on the engine thread; nothing is saved."""
        details = self.connection()
        if not details.base_url.startswith(("http://", "https://")):
            self.advanced.set_expanded(True)
            self._show_result(BAD, "The address must start with https://")
            return
        assert self.spec is not None
        spec, attempt = self.spec, self._attempt
        secrets.remember(details.secret)  # masked in logs from here on, even if the test fails
        self.test_button.setEnabled(False)
        self.test_button.setText("Testing…")
        self._show_result("#374151", f"Checking with {html.escape(spec.label)}…")

        def passed(shop: ShopInfo) -> None:
            if not shiboken6.isValid(self) or attempt != self._attempt:
                return
            self.shop = shop
            self.test_button.setEnabled(True)
            self.test_button.setText("Test again")
            currency = f" · prices in {html.escape(shop.currency)}" if shop.currency else ""
            self._show_result(
                OK,
                f"<b>✓ Connected to {html.escape(shop.name)}</b>{currency}<br>"
                "Click “Connect and import” to bring in its orders.",
            )
            self.completeChanged.emit()

        def failed(exc: BaseException) -> None:
            if not shiboken6.isValid(self) or attempt != self._attempt:
                return
            title, message = error_words(exc)
            self.test_button.setEnabled(True)
            self.test_button.setText("Test connection")
            self._show_result(BAD, f"<b>{html.escape(title)}</b><br>{html.escape(message)}")
            self.completeChanged.emit()

        self.bridge.run(
            lambda _hub: check_connection(spec, details.base_url, details.account, details.secret),
            passed,
            failed,
        )


class ImportPage(QWizardPage):
    """Page 3: save the channel, read its products and orders, then say what came in."""

    added = Signal(str)  # the channel is saved (token in the keyring)

    STEPS = (
        ("save", "Save the connection"),
        ("listings", "Read the shop's listings"),
        ("orders", "Read the shop's orders"),
    )

    def __init__(self, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self._titles(False)
        self._name: str | None = None
        self._running = False
        self._finished = False
        self._detached = False
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)  # busy: a shop does not say up front how many orders it has
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(8)
        self.bar.setStyleSheet(
            "QProgressBar { border: none; background: #e5e7eb; border-radius: 4px; }"
            f" QProgressBar::chunk {{ background: {ACCENT}; border-radius: 4px; }}"
        )
        self.step_labels: dict[str, QLabel] = {}
        steps = QVBoxLayout()
        steps.setSpacing(6)
        for key, _text in self.STEPS:
            label = QLabel()
            label.setTextFormat(Qt.TextFormat.RichText)
            self.step_labels[key] = label
            steps.addWidget(label)
        self.count_label = QLabel()
        self.count_label.setStyleSheet("font-size: 15px; color: #111827;")
        self.message = QLabel()  # the summary, or what went wrong
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.RichText)
        self.tiles = QHBoxLayout()
        self.tiles.setSpacing(12)
        self.stop_button = QPushButton("Stop the import")
        self.stop_button.setToolTip(
            "What was read so far is kept; the rest comes in with the next sync."
        )
        self.stop_button.clicked.connect(self.stop_import)
        self.stop_button.setVisible(False)
        self._job: int | None = None
        layout = QVBoxLayout(self)
        layout.setSpacing(12)
        layout.addLayout(steps)
        layout.addWidget(self.bar)
        layout.addWidget(self.count_label)
        layout.addWidget(self.stop_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addLayout(self.tiles)
        layout.addWidget(self.message)
        layout.addStretch(1)
        bridge.progress.connect(self._progress)

    # -- page life --------------------------------------------------------------------
    def _titles(self, done: bool) -> None:
        if done:
            self.setTitle(heading("You are connected"))
            self.setSubTitle("Here is what Stockbridge brought in. Nothing more to do here.")
        else:
            self.setTitle(heading("Importing"))
            self.setSubTitle(
                "Stockbridge is reading your shop. A big shop can take a minute or two."
            )

    def initializePage(self) -> None:  # noqa: N802 - Qt name
        details: DetailsPage = self.wizard().details  # type: ignore[attr-defined]
        if details.spec is not None:
            self.setPixmap(
                QWizard.WizardPixmap.LogoPixmap, platform_badge(details.spec, 48).pixmap(48, 48)
            )
        self._titles(False)
        self.start(details.connection())

    def cleanupPage(self) -> None:  # noqa: N802 - Qt name (called on Back)
        self._name, self._running, self._finished = None, False, False
        self._clear_tiles()
        self.message.clear()

    def isComplete(self) -> bool:  # noqa: N802 - Qt name
        return self._finished

    def detach(self) -> None:
        """The wizard is closing: work still running finishes without touching this page."""
        self._detached = True

    def _alive(self) -> bool:
        return not self._detached and shiboken6.isValid(self)

    # -- the work ---------------------------------------------------------------------
    def start(self, conn: Connection) -> None:
        """Save the channel through the engine, then run its first sync."""
        self._name, self._running, self._finished = conn.name, True, False
        self._clear_tiles()
        self.message.clear()
        self.count_label.setText("Saving the connection…")
        self.count_label.setVisible(True)
        self.bar.setVisible(True)
        self._set_step("save", "active")
        self._set_step("listings", "todo")
        self._set_step("orders", "todo")
        self.completeChanged.emit()

        def add(hub: Any) -> Any:
            return hub.add_channel(
                conn.platform,
                conn.name,
                account=conn.account,
                secret=conn.secret,
                base_url=conn.base_url,
                mapping_mode=conn.mapping_mode,
                settings=dict(conn.settings),
                test=False,
            )

        self.bridge.run(add, lambda _result: self._added(conn.name), self._add_failed)

    def _added(self, name: str) -> None:
        self.bridge.data_changed.emit()
        if not self._alive():
            self.bridge.sync_channel(name)  # the wizard was closed: let the usual path import
            return
        self.added.emit(name)
        self._set_step("save", "done", "Connection saved")
        self._set_step("listings", "active")
        self.count_label.setText("Reading the shop's products…")

        async def first_sync(hub: Any) -> dict[str, Any]:
            (report,) = await hub.sync(name)
            return report.as_dict()

        self._job = self.bridge.run(first_sync, self._synced, self._sync_failed)
        self.stop_button.setVisible(True)

    def stop_import(self) -> None:
        """The merchant stopped the first import: keep what came in, finish the wizard."""
        if self._job is None or not self.bridge.cancel(self._job):
            return
        self._job = None
        self._stop()
        self._finished = True
        self.completeChanged.emit()
        self.bridge.data_changed.emit()
        self._set_step("orders", "failed", "Import stopped")
        self.count_label.setText("Import stopped")
        self.message.setText(
            "<p>The channel is saved and what was read so far is kept. The rest comes in "
            "with the next sync, or press <b>Sync now</b> on the Channels page.</p>"
        )

    def _add_failed(self, exc: BaseException) -> None:
        if not self._alive():
            return
        title, message = error_words(exc)
        self._stop()
        self._set_step("save", "failed")
        self.count_label.setText("")
        self.message.setText(
            f"<p style='color:{BAD}'><b>{html.escape(title)}</b><br>"
            f"{html.escape(message)}</p><p>Nothing was saved. Click Back to check "
            "the details and try again.</p>"
        )

    def _sync_failed(self, exc: BaseException) -> None:
        self._synced({"ok": False, "error": error_words(exc)[1]})

    def _progress(self, channel: str, stage: str, count: int) -> None:
        if not self._running or channel != self._name or not self._alive():
            return
        if stage == "listings":
            self.count_label.setText(f"{count:,} listing{'s' if count != 1 else ''} read…")
        elif stage == "orders":
            self._set_step("listings", "done")
            self._set_step("orders", "active")
            self.count_label.setText(f"{count:,} order{'s' if count != 1 else ''} read…")
        elif stage == "sending":
            self.count_label.setText(f"{count:,} stock update{'s' if count != 1 else ''} sent…")

    def _synced(self, report: dict[str, Any]) -> None:
        self.bridge.data_changed.emit()
        if not self._alive():
            return
        self._stop()
        self._finished = True
        self.completeChanged.emit()
        if not report.get("ok"):
            self._set_step("listings", "failed")
            self._set_step("orders", "failed")
            self.count_label.setText("Connected, but the first import stopped")
            self.message.setText(
                f"<p style='color:{BAD}'>{html.escape(str(report.get('error', '')))}</p>"
                "<p>The channel is saved. Stockbridge tries again at its next check, or press "
                "<b>Sync now</b> on the Channels page.</p>"
            )
            return
        listings, orders = report.get("listings_seen", 0), report.get("orders_created", 0)
        self._set_step(
            "listings", "done", f"{listings:,} listing{'s' if listings != 1 else ''} read"
        )
        self._set_step("orders", "done", f"{orders:,} order{'s' if orders != 1 else ''} imported")
        self.count_label.setVisible(False)  # the steps and tiles say it now
        self._titles(True)
        self.show_summary(report)

    def _stop(self) -> None:
        self._running = False
        self.bar.setVisible(False)
        self.stop_button.setVisible(False)

    # -- showing ----------------------------------------------------------------------
    def _set_step(self, key: str, state: str, text: str | None = None) -> None:
        text = text or dict(self.STEPS)[key]
        mark, colour = {
            "todo": ("○", "#9ca3af"),
            "active": ("●", ACCENT),
            "done": ("✓", OK),
            "failed": ("✕", BAD),
        }[state]
        weight = "600" if state == "active" else "400"
        self.step_labels[key].setText(
            f"<span style='color:{colour}; font-size:15px'>{mark}</span>"
            f"&nbsp;&nbsp;<span style='font-weight:{weight}'>"
            f"{html.escape(text)}</span>"
        )

    def _clear_tiles(self) -> None:
        while self.tiles.count():
            item = self.tiles.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()

    def _tile(self, number: int, text: str, colour: str = "#111827") -> None:
        tile = QFrame()
        tile.setObjectName("card")
        box = QVBoxLayout(tile)
        box.setContentsMargins(16, 10, 16, 10)
        value = QLabel(f"{number:,}")
        value.setStyleSheet(f"font-size: 24px; font-weight: 600; color: {colour};")
        box.addWidget(value)
        box.addWidget(muted_label(text))
        self.tiles.addWidget(tile, 1)

    def show_summary(self, report: dict[str, Any]) -> None:
        """The first import in the merchant's words: what came in, and what to do next."""
        name = self._name or ""
        created, waiting = report.get("orders_created", 0), report.get("needs_mapping", 0)
        history = int(
            self.bridge.reader.scalar(
                "SELECT COUNT(*) FROM orders o JOIN channels c ON c.id = o.channel_id"
                " WHERE c.name = ? AND o.history_only = 1",
                (name,),
            )
            or 0
        )
        own_products = int(self.bridge.reader.scalar("SELECT COUNT(*) FROM products") or 0)
        self._clear_tiles()
        self._tile(created, "orders imported")
        self._tile(report.get("listings_seen", 0), "listings in the shop")
        self._tile(waiting, "orders waiting for a product link", WARN if waiting else OK)
        parts = []
        if history:
            parts.append(
                f"{history:,} of the orders were already dispatched, delivered or cancelled: "
                "they are kept as history and do not change your stock."
            )
        if report.get("linked"):
            parts.append(
                f"{report['linked']:,} of the shop's products were linked to yours by SKU."
            )
        if report.get("quarantined"):
            parts.append(
                f"{report['quarantined']:,} orders could not be read and were set aside "
                "with the reason."
            )
        if waiting:
            parts.append(
                f"<b>Next step:</b> open <b>Products</b> and link the shop's products to "
                f"yours. The {waiting:,} waiting order{'s' if waiting != 1 else ''} then "
                "reserve their stock straight away."
            )
        if not own_products:
            parts.append(
                "Your own product list is still empty. Under <b>Products</b> you can bring "
                "it in from a spreadsheet, or take over the shop's products as yours."
            )
        minutes = self.bridge.settings.get("sync_interval_minutes")
        parts.append(
            f"From now on Stockbridge checks {html.escape(name)} every {minutes} "
            f"minute{'s' if minutes != 1 else ''}. Click <b>Done</b> to close."
        )
        self.message.setText("".join(f"<p>{p}</p>" for p in parts))


class ConnectWizard(QWizard):
    """Connect a sales channel in three steps. ``connected(name)`` fires once it is saved."""

    connected = Signal(str)

    def __init__(
        self, bridge: Bridge, parent: QWidget | None = None, platform: str | None = None
    ) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.channel_name: str | None = None
        self.setWindowTitle("Connect a channel")
        if sys.platform != "darwin":  # macOS has its own native wizard look
            self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        # The import cannot be called back once it runs; closing leaves it to finish.
        self.setOption(QWizard.WizardOption.NoCancelButtonOnLastPage, True)
        self.setTitleFormat(Qt.TextFormat.RichText)
        self.setButtonText(QWizard.WizardButton.FinishButton, "Done")
        self.setMinimumSize(720, 600)
        self.resize(760, 700)  # room for the longest page (TradeGecko) without scrolling
        self.platform_page = PlatformPage()
        self.details = DetailsPage(bridge)
        self.importer = ImportPage(bridge)
        self.setPage(PAGE_PLATFORM, self.platform_page)
        self.setPage(PAGE_DETAILS, self.details)
        self.setPage(PAGE_IMPORT, self.importer)
        self.importer.added.connect(self._added)
        if platform is not None and platform.lower() in registry.PLATFORMS:
            self.platform_page.choose(platform.lower())
            self.setStartId(PAGE_DETAILS)
        elif len(registry.PLATFORMS) == 1:
            self.platform_page.platform_list.setCurrentRow(0)

    def _added(self, name: str) -> None:
        self.channel_name = name
        # Saved now: going back would try to connect the same channel twice.
        self.details.setCommitPage(True)
        self.connected.emit(name)

    def done(self, result: int) -> None:
        """Close; an import still running carries on in the background."""
        self.importer.detach()
        super().done(result)
