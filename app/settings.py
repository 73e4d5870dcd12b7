"""Settings, declared once: key, default, type, label. The settings page is built from these.

Global settings live in the database's ``settings`` table; per-channel ones in the
channel's settings. No secrets here, ever: those are in the keyring.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from app.store.db import Database


@dataclass(frozen=True, slots=True)
class Setting:
    key: str
    default: Any
    kind: str  # "bool", "int", "float", "str", "choices"
    label: str
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    advanced: bool = False
    choices: tuple[str, ...] = ()

    def coerce(self, value: Any) -> Any:
        """Turn a stored or typed value into this setting's type; raise ValueError with words."""
        if self.kind == "bool":
            if isinstance(value, str):
                return value.strip().lower() in ("1", "true", "yes", "on")
            return bool(value)
        if self.kind in ("int", "float"):
            number = int(value) if self.kind == "int" else float(value)
            if self.minimum is not None and number < self.minimum:
                raise ValueError(f"{self.label} must be at least {self.minimum:g}.")
            if self.maximum is not None and number > self.maximum:
                raise ValueError(f"{self.label} must be at most {self.maximum:g}.")
            return number
        if self.kind == "str" and self.key in ("webhook_public_url", "stock_callback_url"):
            text = str(value or "").strip().rstrip("/")
            if text and not text.lower().startswith("https://"):
                raise ValueError("The public address must start with https://.")
            return text
        if self.kind == "str" and self.key == "invoice_pattern":
            text = str(value).strip()
            if "{seq" not in text:
                raise ValueError("The invoice pattern needs {seq} for the running number.")
            try:
                text.format(year=2026, seq=1)
            except (KeyError, IndexError, ValueError):
                raise ValueError(
                    "Only {year} and {seq} can be used in the invoice pattern."
                ) from None
            return text
        if self.kind == "choices":
            items = list(value) if isinstance(value, (list, tuple)) else [value]
            unknown = [v for v in items if self.choices and v not in self.choices]
            if unknown:
                raise ValueError(f"{self.label}: unknown choice {', '.join(map(str, unknown))}.")
            return items
        return "" if value is None else str(value)


GLOBAL_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "sync_interval_minutes",
        2,
        "int",
        "Check channels every (minutes)",
        minimum=1,
        maximum=240,
        help="How often Stockbridge looks for new orders and sends stock updates.",
    ),
    Setting("notify_new_orders", True, "bool", "Tell me about new orders"),
    Setting(
        "notify_problems",
        True,
        "bool",
        "Tell me when something needs my attention",
        help="Orders waiting for product mapping, failed updates, channels that stopped.",
    ),
    Setting("close_to_tray", True, "bool", "Keep syncing in the tray when the window is closed"),
    Setting(
        "webhook_port",
        8765,
        "int",
        "Port for instant updates",
        minimum=1024,
        maximum=65535,
        advanced=True,
        help="Only this computer can reach it (127.0.0.1); a channel with a public address"
        " for instant updates sends them here through your tunnel.",
    ),
    Setting("start_in_tray", False, "bool", "Start hidden in the tray"),
    Setting(
        "start_at_login",
        False,
        "bool",
        "Start Stockbridge when I log in",
        help="It starts in the tray and keeps your channels in step.",
    ),
    Setting(
        "invoice_pattern",
        "INV-{year}-{seq:05}",
        "str",
        "Invoice numbers look like",
        help="{year} becomes the year and {seq} the running number ({seq:05} pads it to 5 digits).",
    ),
    Setting(
        "low_stock_level",
        3,
        "int",
        "Warn when available stock falls to",
        minimum=0,
        maximum=10000,
        help="Used for products that have no safety buffer of their own.",
    ),
)

CHANNEL_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "sync_interval_minutes",
        0,
        "int",
        "Check this channel every (minutes)",
        minimum=0,
        maximum=240,
        help="0 uses the general setting.",
    ),
    Setting("push_stock", True, "bool", "Send available stock to this channel"),
    Setting(
        "stock_buffer",
        0.0,
        "float",
        "Keep back from this channel (units per product)",
        minimum=0,
        maximum=100000,
        help="Subtracted from available stock before it is sent, so this channel sells less.",
    ),
)

_BY_KEY = {s.key: s for s in GLOBAL_SETTINGS}
WEBHOOK_SETTING = Setting(
    "webhook_public_url",
    "",
    "str",
    "Public address for instant order updates",
    advanced=True,
    help="Optional. An https address that forwards to this computer's port for updates"
    " (Settings); Stockbridge then registers it with the channel. Without it, Stockbridge"
    " checks for orders on its schedule.",
)

# Settings only some platforms have, shown on their channels' cards.
PLATFORM_SETTINGS: dict[str, tuple[Setting, ...]] = {
    "sellar": (WEBHOOK_SETTING,),
    "retailcrm": (
        Setting(
            "store_code",
            "",
            "str",
            "RetailCRM store that receives your stock",
            help="The store's code in RetailCRM (Settings → Stores). Stockbridge picks the first"
            " store when the channel is connected. To fill several stores from your"
            " warehouses, use Stores… on this card.",
        ),
        Setting(
            "stock_callback",
            False,
            "bool",
            "Answer RetailCRM's requests for current stock",
            advanced=True,
            help="Off unless you need it. RetailCRM then asks Stockbridge for stock at the"
            " events below, through the public address; Stockbridge listens on this"
            " computer only, so the address must forward to the port below.",
        ),
        Setting(
            "stock_callback_url",
            "",
            "str",
            "Public address for stock requests",
            advanced=True,
            help="An https address (a tunnel or reverse proxy) that forwards to the port below.",
        ),
        Setting(
            "stock_callback_points",
            "",
            "str",
            "RetailCRM events that ask for stock",
            advanced=True,
            help="The call point codes from RetailCRM's Marketplace documentation, separated"
            " by commas.",
        ),
        Setting(
            "stock_callback_port",
            8766,
            "int",
            "Port for stock requests",
            minimum=1024,
            maximum=65535,
            advanced=True,
        ),
    ),
    "tradegecko": (
        Setting(
            "stock_master",
            False,
            "bool",
            "Use the stock counted in TradeGecko",
            help="TradeGecko's stock on hand, location by location, becomes your stock here"
            " and is sent to your other channels (never more than TradeGecko's online maximum).",
        ),
        Setting(
            "export_orders",
            False,
            "bool",
            "Send my other channels' orders to TradeGecko",
            help="Each new order from your other channels becomes a TradeGecko sales order,"
            " then is invoiced, paid, packed and shipped there as you handle it here.",
        ),
        WEBHOOK_SETTING,
    ),
    "selldone": (
        Setting(
            "import_statuses",
            ["Payed", "COD"],
            "choices",
            "Import orders that are",
            choices=("Payed", "COD", "Canceled"),
            help="Payed and COD are orders to send. Add Canceled to also learn about orders"
            " cancelled in Selldone after payment.",
        ),
    ),
}

_CHANNEL_BY_KEY = {s.key: s for s in CHANNEL_SETTINGS}
for _extra in PLATFORM_SETTINGS.values():
    _CHANNEL_BY_KEY.update({s.key: s for s in _extra})


def channel_settings_for(platform: str) -> tuple[Setting, ...]:
    """Every setting a channel of this platform has, general ones first."""
    return CHANNEL_SETTINGS + PLATFORM_SETTINGS.get(platform, ())


def _autostart_get() -> bool:
    from app.platform_integration import autostart_enabled

    try:
        return autostart_enabled()
    except Exception:  # an unreadable log-in item reads as "off"
        return False


def _autostart_set(enabled: bool) -> None:
    from app.platform_integration import AutostartError, set_autostart

    try:
        set_autostart(enabled)
    except AutostartError as exc:
        raise ValueError(str(exc)) from None


# Settings that live in the operating system (start at log-in): (read, write).
SYSTEM_SETTINGS: dict[str, tuple[Any, Any]] = {"start_at_login": (_autostart_get, _autostart_set)}


class Settings:
    """Global settings backed by the database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, key: str) -> Any:
        setting = _BY_KEY[key]
        if key in SYSTEM_SETTINGS:  # kept by the operating system, not in the database
            return SYSTEM_SETTINGS[key][0]()
        raw = self.db.scalar("SELECT value FROM settings WHERE key = ?", (key,))
        if raw is None:
            return setting.default
        try:
            return setting.coerce(json.loads(raw))
        except (ValueError, TypeError):
            return setting.default

    def set(self, key: str, value: Any) -> Any:
        setting = _BY_KEY[key]
        value = setting.coerce(value)
        if key in SYSTEM_SETTINGS:
            SYSTEM_SETTINGS[key][1](value)
            return value
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value)),
            )
        return value

    def all(self) -> dict[str, Any]:
        return {s.key: self.get(s.key) for s in GLOBAL_SETTINGS}


def channel_setting(settings: dict[str, Any], key: str) -> Any:
    """A per-channel setting with its declared default."""
    setting = _CHANNEL_BY_KEY[key]
    if key not in settings:
        return setting.default
    try:
        return setting.coerce(settings[key])
    except (ValueError, TypeError):
        return setting.default


def coerce_channel_setting(key: str, value: Any) -> Any:
    return _CHANNEL_BY_KEY[key].coerce(value)
