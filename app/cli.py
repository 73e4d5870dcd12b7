"""Headless commands: `stockbridge <command>`. Every command takes --data-dir and --json.

User errors end with one line naming the problem and a non-zero exit code, never a
traceback; unexpected errors are logged in full and summarised in one line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from app import __version__, cli_mapping, config, secrets
from app.channels import registry
from app.channels.errors import ChannelError
from app.core.catalog_csv import CatalogFileError
from app.core.mapping_csv import MappingFileError
from app.hub import HubError
from app.logging_setup import setup_logging
from app.store.channels import UnknownChannel
from app.store.db import SchemaTooNew
from app.store.mapping import MappingError
from app.store.orders import ActionRefused, OrderNotFound

log = logging.getLogger("stockbridge.cli")

USER_ERRORS = (
    ChannelError,
    secrets.SecretStoreUnavailable,
    secrets.MissingSecret,
    UnknownChannel,
    registry.UnknownPlatform,
    CatalogFileError,
    ActionRefused,
    OrderNotFound,
    MappingError,
    MappingFileError,
    SchemaTooNew,
    HubError,
)


class CliError(Exception):
    """A problem with the command line itself."""


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        default=argparse.SUPPRESS,
        help="where Stockbridge keeps its data (default: your user data folder,"
        " or $STOCKBRIDGE_DATA_DIR)",
    )
    parser.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print machine-readable JSON"
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="stockbridge", description="Orders in, stock out, one local ledger."
    )
    p.add_argument("--version", action="version", version=f"stockbridge {__version__}")
    p.add_argument("--minimised", action="store_true", help="start in the tray (used at log-in)")
    _common(p)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def cmd(name: str, help_text: str, parent=sub) -> argparse.ArgumentParser:
        sp = parent.add_parser(name, help=help_text, description=help_text)
        _common(sp)
        return sp

    ch = cmd("channel", "connect, list and remove sales channels")
    chs = ch.add_subparsers(dest="channel_command", metavar="ACTION", required=True)
    add = cmd("add", "connect a channel (the token is read from standard input)", chs)
    add.add_argument("platform", choices=sorted(registry.PLATFORMS))
    add.add_argument("--name", required=True, help="your name for this channel, e.g. 'Web shop'")
    add.add_argument(
        "--shop-id",
        "--account",
        dest="account",
        default="",
        help="the shop / account id (Selldone: the shop ID; Sellar: optional supplier ID)",
    )
    add.add_argument(
        "--base-url", help="API address (default: the platform's own; a sandbox's for tests)"
    )
    add.add_argument(
        "--token-stdin",
        action="store_true",
        required=True,
        help="read the token from standard input (it goes to the system keyring)",
    )
    add.add_argument(
        "--mapping",
        choices=("sku", "id"),
        default=None,
        help="link products automatically by SKU, or by the channel's product id"
        " (default: sku; TradeGecko: id, its SKUs are not unique)",
    )
    add.add_argument("--warehouse", help="the local warehouse this channel sells from")
    add.add_argument(
        "--stock-master",
        action="store_true",
        help="TradeGecko: its per-location stock on hand becomes your local on-hand",
    )
    add.add_argument(
        "--export-orders",
        action="store_true",
        help="TradeGecko: send the other channels' orders to it as sales orders",
    )
    add.add_argument(
        "--location-warehouse",
        action="append",
        default=[],
        metavar="LOC=WH",
        help="TradeGecko: which local warehouse a location's stock goes to, e.g."
        ' 12="Main warehouse" (repeatable; default: the first location feeds --warehouse)',
    )
    add.add_argument("--no-test", action="store_true", help="skip the connection test")
    cmd("list", "list connected channels", chs)
    rm = cmd("remove", "disconnect a channel (its orders stay as history)", chs)
    rm.add_argument("name")
    tok = cmd(
        "token", "give a connected channel a new token or key (read from standard input)", chs
    )
    tok.add_argument("name")
    tok.add_argument("--token-stdin", action="store_true", required=True)
    link = cmd("token-link", "print the link that creates a token on the platform", chs)
    link.add_argument("platform", choices=sorted(registry.PLATFORMS))
    stores = cmd("stores", "RetailCRM: which store shows which local warehouse's stock", chs)
    stores.add_argument("name")
    stores.add_argument(
        "--map",
        nargs="+",
        metavar="STORE=WAREHOUSE",
        help="store code = warehouse name or number (STORE= takes a store out)",
    )
    drift = cmd("drift", "RetailCRM: compare its stock with Stockbridge's numbers", chs)
    drift.add_argument("name")
    drift.add_argument("--fix", action="store_true", help="send the correct numbers now")
    offers = cmd("offers", "RetailCRM: offers left unlinked because their ids disagree", chs)
    offers.add_argument("name")

    sy = cmd("sync", "pull orders and listings, push stock and order updates")
    sy.add_argument("--once", action="store_true", help="one round, then exit")
    sy.add_argument("--channel", help="only this channel")
    sy.add_argument(
        "--force", action="store_true", help="also try channels paused after repeated failures"
    )
    sy.add_argument(
        "--interval", type=float, default=120.0, help="seconds between rounds (default 120)"
    )

    cmd("status", "sync state of every channel")

    od = cmd("orders", "list orders")
    od.add_argument(
        "--status",
        help="requested, confirmed, dispatched, delivered, cancelled, returned or needs_mapping",
    )
    od.add_argument("--channel")
    od.add_argument("--limit", type=int)

    order = cmd("order", "show an order, or confirm / dispatch / deliver / cancel / return it")
    order.add_argument(
        "action", choices=("show", "confirm", "dispatch", "deliver", "cancel", "return", "paid")
    )
    order.add_argument(
        "order", help="order number (e.g. SM-48215), CHANNEL:EXTERNAL_ID or local id"
    )
    order.add_argument(
        "--items", nargs="+", help="when confirming: the line ids to fulfil (others dropped)"
    )
    order.add_argument("--tracking-code", default="")
    order.add_argument("--tracking-url", default="")
    order.add_argument("--reason", default="", help="cancel / return reason")

    st = cmd("stock", "show stock, adjust it or record a count")
    st.add_argument("--sku")
    sts = st.add_subparsers(dest="stock_command", metavar="ACTION")
    adj = cmd("adjust", "change on-hand stock by a quantity, with a reason", sts)
    adj.add_argument("--sku", required=True)
    adj.add_argument("--by", type=float, required=True)
    adj.add_argument("--reason", required=True)
    adj.add_argument("--warehouse")
    cnt = cmd("count", "record a stock count (sets on-hand)", sts)
    cnt.add_argument("--sku", required=True)
    cnt.add_argument("--on-hand", type=float, required=True)
    cnt.add_argument("--warehouse")

    pr = cmd("products", "import your catalogue or adopt a channel's listings")
    prs = pr.add_subparsers(dest="products_command", metavar="ACTION", required=True)
    imp = cmd("import", "import a CSV: sku,name,barcode,cost_price,on_hand[,warehouse]", prs)
    imp.add_argument("file")
    imp.add_argument(
        "--dry-run", action="store_true", help="show what would change, change nothing"
    )
    ado = cmd("adopt", "create local products from a channel's listings", prs)
    ado.add_argument("--channel", required=True)

    mp = cmd("mapping", "link channel listings to local products")
    mps = mp.add_subparsers(dest="mapping_command", metavar="ACTION", required=True)
    ma = cmd("auto", "link listings whose SKU is exact and unique", mps)
    ma.add_argument("--channel", required=True)
    ml = cmd("link", "link one listing to the local product with a SKU", mps)
    ml.add_argument("--channel", required=True)
    ml.add_argument("--listing", required=True, help="the listing id as `mapping list` shows it")
    ml.add_argument("--sku", required=True)
    mli = cmd("list", "a channel's listings and their links", mps)
    mli.add_argument("--channel", required=True)
    cli_mapping.add_mapping_actions(cmd, mps)
    cli_mapping.add_customers_command(cmd)

    ob = cmd("outbox", "updates waiting to be sent to channels")
    obs = ob.add_subparsers(dest="outbox_command", metavar="ACTION", required=True)
    oli = cmd("list", "queued and failed updates", obs)
    oli.add_argument("--channel")
    ore = cmd("retry", "send failed updates again", obs)
    ore.add_argument("--channel")
    ore.add_argument("--id", type=int)

    dm = cmd("demo", "try Stockbridge on the built-in sandbox shop")
    dm.add_argument("--headless", action="store_true", help="no window: sync and print the result")
    dm.add_argument("--seed", type=int, default=1)

    sb = cmd("sandbox", "run a platform's local sandbox twin")
    sbs = sb.add_subparsers(dest="sandbox_command", metavar="ACTION", required=True)
    serve = cmd("serve", "serve a sandbox on 127.0.0.1 until interrupted", sbs)
    serve.add_argument("platform", choices=sorted(registry.PLATFORMS))
    serve.add_argument("--port", type=int, default=0)
    serve.add_argument("--seed", type=int, default=1)
    serve.add_argument("--extra-orders", type=int, default=0)
    serve.add_argument(
        "--faults",
        help="inject faults, e.g. rate=0.2,kinds=500+503+429+reset+truncate+malformed,seed=7",
    )
    bk = cmd("backup", "copy your data to a backup file (checked), or list the automatic ones")
    bk.add_argument(
        "file", nargs="?", help="where to write it (default: the backups folder, stamped now)"
    )
    bk.add_argument("--list", action="store_true", help="list the automatic daily backups")
    rs = cmd("restore", "replace your data with a backup (the current data is kept as a copy)")
    rs.add_argument("file", help="the backup file")
    rs.add_argument("--yes", action="store_true", help="restore without asking")
    return p


# -- output ------------------------------------------------------------------------------
def _emit(args: argparse.Namespace, data: Any, text: str | None = None) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, default=str, ensure_ascii=False))
    elif text is not None:
        print(text)


def _table(rows: list[list[Any]], header: list[str]) -> str:
    cells = [header] + [["" if v is None else str(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(v.ljust(widths[i]) for i, v in enumerate(r)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _qty(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


# -- commands ----------------------------------------------------------------------------
def _hub(args: argparse.Namespace):
    from app.hub import Hub

    return Hub(args.data_path)


def cmd_channel(args: argparse.Namespace) -> int:
    action = args.channel_command
    if action == "token-link":
        spec = registry.platform(args.platform)
        link = spec.token_link() if spec.token_link else ""
        _emit(
            args,
            {"platform": spec.key, "link": link},
            f"Open this link while signed in to {spec.label}, pick your shop and copy the token:\n{link}",
        )
        return 0
    hub = _hub(args)
    try:
        if action == "add":
            settings = _platform_options(args)
            mapping = args.mapping or registry.platform(args.platform).default_mapping
            secret = sys.stdin.readline().strip() if not sys.stdin.isatty() else _prompt_secret()
            from app.hub import HubError

            try:
                channel, info = asyncio.run(
                    hub.add_channel(
                        args.platform,
                        args.name,
                        account=args.account,
                        secret=secret,
                        base_url=args.base_url,
                        mapping_mode=mapping,
                        warehouse=args.warehouse,
                        settings=settings,
                        test=not args.no_test,
                    )
                )
            except HubError as exc:
                raise CliError(str(exc)) from None
            shop = f" ({info.name})" if info else ""
            _emit(
                args,
                {
                    "name": channel.name,
                    "platform": channel.platform,
                    "base_url": channel.base_url,
                    "account": channel.account,
                    "shop": info.name if info else None,
                },
                f"Connected {channel.name}{shop}. The token is in the system keyring"
                f" ({secrets.backend_name()}).",
            )
        elif action == "token":
            secret = sys.stdin.readline().strip() if not sys.stdin.isatty() else _prompt_secret()
            info = asyncio.run(hub.replace_secret(args.name, secret))
            shop = f" ({info.name})" if info else ""
            _emit(
                args,
                {"name": args.name, "shop": info.name if info else None},
                f"New key for {args.name}{shop} stored in the keyring; syncing resumes.",
            )
        elif action == "list":
            rows = hub.channel_list()
            _emit(
                args,
                rows,
                _table(
                    [
                        [
                            r["name"],
                            r["platform"],
                            r["account"],
                            r["base_url"],
                            r["mapping"],
                            "yes" if r["enabled"] else "no",
                        ]
                        for r in rows
                    ],
                    ["channel", "platform", "account", "address", "mapping", "enabled"],
                )
                if rows
                else "No channels yet. Add one with `stockbridge channel add`.",
            )
        elif action in ("stores", "drift", "offers"):
            from app.channels.retailcrm import commands

            run = {
                "stores": commands.run_stores,
                "drift": commands.run_drift,
                "offers": commands.run_offers,
            }[action]
            try:
                run(args, hub, _emit, _table)
            except commands.CommandError as exc:
                raise CliError(str(exc)) from None
        elif action == "remove":
            hub.remove_channel(args.name)
            _emit(args, {"removed": args.name}, f"Removed {args.name}; its orders stay as history.")
    finally:
        hub.close()
    return 0


def _platform_options(args: argparse.Namespace) -> dict[str, Any]:
    """Channel settings from the platform-only options of `channel add`."""
    chosen = [
        flag
        for flag, given in (
            ("--stock-master", args.stock_master),
            ("--export-orders", args.export_orders),
            ("--location-warehouse", bool(args.location_warehouse)),
        )
        if given
    ]
    if args.platform != "tradegecko":
        if chosen:
            raise CliError(f"{', '.join(chosen)} only apply to TradeGecko channels.")
        return {}
    from app.channels.tradegecko.sync import parse_location_map

    try:
        locations = parse_location_map(args.location_warehouse)
    except ValueError as exc:
        raise CliError(f"--location-warehouse: {exc}") from None
    if locations and not args.stock_master:
        raise CliError("--location-warehouse only matters with --stock-master.")
    settings: dict[str, Any] = {
        "stock_master": bool(args.stock_master),
        "export_orders": bool(args.export_orders),
    }
    if args.export_orders:  # orders imported from now on go to TradeGecko
        settings["export_since"] = time.time()
    if locations:
        settings["location_warehouses"] = locations
    return settings


def _prompt_secret() -> str:
    import getpass

    return getpass.getpass("Token: ")


def cmd_sync(args: argparse.Namespace) -> int:
    hub = _hub(args)
    try:
        if args.once:
            reports = asyncio.run(hub.sync(args.channel, force=args.force))
            _print_reports(args, reports)
            return 0 if all(r.ok for r in reports) else 1
        return asyncio.run(_sync_forever(hub, args))
    finally:
        hub.close()


async def _sync_forever(hub, args: argparse.Namespace) -> int:
    from app.settings import Settings
    from app.sync.webhooks import WebhookReceiver

    loop = asyncio.get_running_loop()
    receiver = None
    if any(ch.enabled and ch.settings.get("webhook_public_url") for ch in hub.channels.all()):
        # Webhooks arrive on the receiver's thread; the re-read runs on this loop.
        def hint(name: str, body: bytes) -> None:
            loop.call_soon_threadsafe(lambda: loop.create_task(hub.engine.apply_hint(name, body)))

        receiver = WebhookReceiver(hint, port=Settings(hub.db).get("webhook_port"))
        receiver.start()
    stock_callbacks = _stock_callbacks(hub, loop)
    try:
        while True:
            _print_reports(args, await hub.sync(args.channel))
            for name, problem in stock_callbacks.reconcile(hub.channels.all()).items():
                print(f"{name}: RetailCRM stock requests are off: {problem}", file=sys.stderr)
            await asyncio.sleep(max(5.0, args.interval))
    finally:
        if receiver is not None:
            receiver.stop()
        stock_callbacks.stop()


def _stock_callbacks(hub, loop):
    """RetailCRM stock requests (when switched on), answered on this loop's thread."""
    from app.channels.retailcrm import service
    from app.channels.retailcrm.callback_host import CallbackHost

    async def work(name: str, offers: list) -> list:
        return service.answer_callback(hub, name, offers)

    return CallbackHost(
        lambda name, offers: asyncio.run_coroutine_threadsafe(work(name, offers), loop).result(20)
    )


def _print_reports(args: argparse.Namespace, reports) -> None:
    if getattr(args, "json", False):
        _emit(args, [r.as_dict() for r in reports])
        return
    if not reports:
        print("No channels to sync. Add one with `stockbridge channel add`.")
    for r in reports:
        print(f"{r.channel}: {'OK' if r.ok else 'FAILED'} — {r.summary()}")


def cmd_status(args: argparse.Namespace) -> int:
    hub = _hub(args)
    try:
        rows = hub.status()
        _emit(
            args,
            rows,
            _table(
                [
                    [
                        r["channel"],
                        r["last_success"] or "never",
                        r["queued_pushes"],
                        r["failed_pushes"],
                        r["needs_mapping"],
                        r["last_error"] or r["last_result"],
                    ]
                    for r in rows
                ],
                ["channel", "last success", "queued", "failed", "need mapping", "last result"],
            )
            if rows
            else "No channels yet.",
        )
    finally:
        hub.close()
    return 0


def cmd_orders(args: argparse.Namespace) -> int:
    hub = _hub(args)
    try:
        rows = hub.order_list(status=args.status, channel=args.channel, limit=args.limit)
        _emit(
            args,
            rows,
            _table(
                [
                    [
                        o["number"],
                        o["channel"],
                        o["status"] + (" (needs mapping)" if o["needs_mapping"] else ""),
                        o["payment_status"],
                        f"{o['total']:.2f} {o['currency']}",
                        o["customer"],
                        sum(ln["quantity"] for ln in o["lines"]),
                    ]
                    for o in rows
                ],
                ["order", "channel", "status", "payment", "total", "customer", "items"],
            )
            if rows
            else "No orders.",
        )
    finally:
        hub.close()
    return 0


def cmd_order(args: argparse.Namespace) -> int:
    hub = _hub(args)
    try:
        if args.action == "show":
            o = hub.order_detail(args.order)
        elif args.action == "paid":
            o = hub.mark_paid(args.order)
        else:
            o = hub.order_action(
                args.order,
                args.action,
                items=args.items,
                tracking_code=args.tracking_code,
                tracking_url=args.tracking_url,
                reason=args.reason,
            )
        text = [
            f"{o['number']} on {o['channel']}: {o['status']}, {o['payment_status']},"
            f" {o['total']:.2f} {o['currency']}"
        ]
        for ln in o["lines"]:
            state = "" if ln["mapped"] else "  (not mapped)"
            drop = "" if ln["fulfil"] else "  (not fulfilled)"
            text.append(
                f"  line {ln['line']}: {_qty(ln['quantity'])} × {ln['sku'] or '—'} {ln['name']}{state}{drop}"
            )
        if o["tracking_code"] or o["tracking_url"]:
            text.append(f"  tracking: {o['tracking_code']} {o['tracking_url']}".rstrip())
        for e in o.get("history", []):
            text.append(f"  {e['at']}  {e['message']}")
        _emit(args, o, "\n".join(text))
    finally:
        hub.close()
    return 0


def cmd_stock(args: argparse.Namespace) -> int:
    from app.hub import HubError

    hub = _hub(args)
    try:
        try:
            if args.stock_command == "adjust":
                rows = [hub.adjust_stock(args.sku, args.by, args.reason, args.warehouse)]
            elif args.stock_command == "count":
                rows = [hub.count_stock(args.sku, args.on_hand, args.warehouse)]
            else:
                rows = hub.stock(args.sku)
        except HubError as exc:
            raise CliError(str(exc)) from None
        _emit(
            args,
            rows,
            _table(
                [
                    [
                        r["sku"],
                        r["name"],
                        _qty(r["on_hand"]),
                        _qty(r["committed"]),
                        _qty(r["available"]),
                    ]
                    for r in rows
                ],
                ["sku", "name", "on hand", "committed", "available"],
            )
            if rows
            else "No products yet.",
        )
    finally:
        hub.close()
    return 0


def cmd_products(args: argparse.Namespace) -> int:
    hub = _hub(args)
    try:
        if args.products_command == "import":
            path = Path(args.file)
            if not path.is_file():
                raise CliError(f"No file at {path}.")
            result = hub.import_catalog(path.read_bytes(), dry_run=args.dry_run)
            verb = "Would create" if args.dry_run else "Created"
            lines = [
                f"{verb} {result['created']} products, update {result['updated']}"
                + ("" if args.dry_run else f", stock changed for {result['stock_changed']}")
                + "."
            ]
            for p in result["refused"]:
                lines.append(f"  refused line {p['line']}: {p['reason']}")
            _emit(args, result, "\n".join(lines))
            return 0 if not result["refused"] else 3
        outcome = hub.adopt(args.channel)
        _emit(
            args,
            _outcome_dict(outcome),
            f"Created {outcome.created} products and linked {outcome.linked} listings;"
            f" {outcome.released} waiting orders released." + _conflict_text(outcome),
        )
    finally:
        hub.close()
    return 0


def _outcome_dict(outcome) -> dict[str, Any]:
    return {
        "linked": outcome.linked,
        "created": outcome.created,
        "released": outcome.released,
        "conflicts": outcome.conflicts,
        "unmapped": outcome.unmapped,
    }


def _conflict_text(outcome) -> str:
    lines = [
        f"\n  needs you: {c['listing']} ({c['sku'] or 'no SKU'}, {c['name']}): {c['reason']}"
        for c in outcome.conflicts
    ]
    return "".join(lines)


def cmd_mapping(args: argparse.Namespace) -> int:
    hub = _hub(args)
    try:
        if args.mapping_command not in ("list", "auto", "link"):
            return cli_mapping.run_mapping(args, hub, _emit, _table)
        if args.mapping_command == "list":
            rows = hub.listings(args.channel)
            _emit(
                args,
                rows,
                _table(
                    [
                        [
                            r["listing"],
                            r["sku"],
                            r["name"],
                            _qty(r["channel_quantity"]),
                            r["product_sku"] or "—",
                            r["method"] or ("ignored" if r["ignored"] else "unmapped"),
                        ]
                        for r in rows
                    ],
                    ["listing", "sku", "name", "channel qty", "local sku", "link"],
                )
                if rows
                else "No listings yet; run `stockbridge sync --once` first.",
            )
            return 0
        if args.mapping_command == "auto":
            outcome = hub.auto_map(args.channel)
            text = (
                f"Linked {outcome.linked} listings by SKU; {len(outcome.unmapped)} have no local product;"
                f" {outcome.released} waiting orders released." + _conflict_text(outcome)
            )
        else:
            outcome = hub.link(args.channel, args.listing, args.sku)
            text = (
                f"Linked {args.listing} to {args.sku}; {outcome.released} waiting orders released."
            )
        _emit(args, _outcome_dict(outcome), text)
    finally:
        hub.close()
    return 0


def cmd_customers(args: argparse.Namespace) -> int:
    hub = _hub(args)
    try:
        return cli_mapping.run_customers(args, hub, _emit, _table)
    finally:
        hub.close()


def cmd_outbox(args: argparse.Namespace) -> int:
    hub = _hub(args)
    try:
        channel_id = hub.channels.get(args.channel).id if args.channel else None
        if args.outbox_command == "retry":
            n = hub.outbox.retry_failed(channel_id, args.id)
            _emit(
                args,
                {"requeued": n},
                f"{n} failed updates queued again; they go out with the next sync.",
            )
            return 0
        rows = hub.outbox.rows(channel_id=channel_id)
        names = {c.id: c.name for c in hub.channels.all()}
        data = [
            {
                "id": r["id"],
                "channel": names.get(r["channel_id"]),
                "kind": r["kind"],
                "target": r["target"],
                "state": r["state"],
                "attempts": r["attempts"],
                "last_error": r["last_error"],
            }
            for r in rows
        ]
        _emit(
            args,
            data,
            _table(
                [
                    [
                        d["id"],
                        d["channel"],
                        d["kind"],
                        d["target"],
                        d["state"],
                        d["attempts"],
                        d["last_error"],
                    ]
                    for d in data
                ],
                ["id", "channel", "kind", "target", "state", "tries", "last error"],
            )
            if data
            else "Nothing waiting.",
        )
    finally:
        hub.close()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    if args.headless:
        from app.demo import run_headless_demo

        return run_headless_demo(args)
    from app.ui.app import run_gui

    explicit = getattr(args, "data_dir", None)
    folder = Path(explicit) if explicit else config.data_dir() / "demo"
    return run_gui(folder, demo=True, seed=args.seed)


def cmd_window(args: argparse.Namespace) -> int:
    from app.ui.app import run_gui

    return run_gui(args.data_path, hidden=getattr(args, "minimised", False))


def cmd_sandbox(args: argparse.Namespace) -> int:
    import time

    spec = registry.platform(args.platform)
    try:
        box = spec.sandbox_class()(seed=args.seed, port=args.port, extra_orders=args.extra_orders)
    except ValueError as exc:
        raise CliError(f"{spec.label} sandbox: {exc}") from None
    if args.faults:
        from app.channels.faults import FaultPlan, FaultSpecError

        try:
            box.set_fault_plan(FaultPlan.parse(args.faults))
        except FaultSpecError as exc:
            raise CliError(f"--faults: {exc}") from None
    url = box.start()
    account = getattr(box, "shop_id", None)
    where = f"  {spec.account_label} {account}" if account is not None else ""
    print(f"{spec.label} sandbox at {url}{where}  token {box.token}", flush=True)
    if getattr(box, "client_secret", None):  # an OAuth application to sign in with
        print(f"OAuth app: client id {box.client_id}  secret {box.client_secret}", flush=True)
    print("Press Ctrl+C to stop.", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        box.stop()
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    import time

    from app.store import backup

    if args.list:
        found = backup.daily_backups(args.data_path)
        _emit(
            args,
            [b.as_dict() for b in found],
            _table(
                [
                    [
                        b.path.name,
                        f"{b.size / 1_048_576:.1f} MB",
                        time.strftime("%Y-%m-%d %H:%M", time.localtime(b.taken_at)),
                    ]
                    for b in found
                ],
                ["Backup", "Size", "Taken"],
            )
            if found
            else f"No automatic backups yet in {backup.daily_dir(args.data_path)}.",
        )
        return 0
    target = (
        Path(args.file)
        if args.file
        else backup.daily_dir(args.data_path)
        / (f"stockbridge-asked-{time.strftime('%Y-%m-%d-%H%M%S')}{backup.SUFFIX}")
    )
    hub = _hub(args)
    try:
        made = backup.backup_to(hub.db.conn, target)
    except backup.BackupFailed as exc:
        print(f"stockbridge: backup not made: {exc}", file=sys.stderr)
        return 1
    finally:
        hub.close()
    _emit(
        args, made.as_dict(), f"Backed up to {made.path} ({made.size / 1_048_576:.1f} MB, checked)."
    )
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from app.store import backup

    source = Path(args.file)
    try:
        _version, orders = backup.inspect_backup(source)
    except backup.BackupFailed as exc:
        print(f"stockbridge: not restored: {exc}", file=sys.stderr)
        return 1
    if not args.yes:
        raise CliError(
            f"{source.name} holds {orders:,} orders; restoring replaces all current data"
            " (kept as a copy in the backups folder). Run again with --yes to restore."
        )
    if _window_running(args.data_path):
        raise CliError("Stockbridge is open on this data: restore from Settings, or quit it first")
    hub = _hub(args)
    try:
        restored = backup.restore_from(hub.db.conn, source, args.data_path)
    except backup.BackupFailed as exc:
        print(f"stockbridge: not restored: {exc}", file=sys.stderr)
        return 1
    finally:
        hub.close()
    _emit(
        args,
        restored.as_dict(),
        f"Restored {restored.orders:,} orders from {source}. The data before the restore is in"
        f" {restored.safety_copy.path}.",
    )
    return 0


def _window_running(data_dir: Path) -> bool:
    """Whether a Stockbridge window (or tray) has this data folder open."""
    from PySide6.QtNetwork import QLocalSocket

    from app.ui.single_instance import server_name

    socket = QLocalSocket()
    socket.connectToServer(server_name(data_dir))
    running = socket.waitForConnected(300)
    socket.abort()
    return running


COMMANDS = {
    "backup": cmd_backup,
    "restore": cmd_restore,
    "channel": cmd_channel,
    "sync": cmd_sync,
    "status": cmd_status,
    "orders": cmd_orders,
    "order": cmd_order,
    "stock": cmd_stock,
    "products": cmd_products,
    "mapping": cmd_mapping,
    "customers": cmd_customers,
    "outbox": cmd_outbox,
    "demo": cmd_demo,
    "sandbox": cmd_sandbox,
    "window": cmd_window,
}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        args.command = "window"
    explicit = getattr(args, "data_dir", None) is not None or bool(
        __import__("os").environ.get(config.DATA_DIR_ENV)
    )
    args.data_path = config.data_dir(getattr(args, "data_dir", None))
    if args.command not in ("sandbox",):
        setup_logging(config.log_dir(args.data_path, explicit=explicit))
    try:
        return COMMANDS[args.command](args)
    except CliError as exc:
        print(f"stockbridge: {exc}", file=sys.stderr)
        return 2
    except USER_ERRORS as exc:
        text = secrets.redact(str(exc))
        log.warning("%s: %s", args.command, text)
        print(f"stockbridge: {text}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - last line of defence: one line, full log
        log.exception("unexpected error in %s", args.command)
        print(
            f"stockbridge: unexpected problem ({type(exc).__name__}: {secrets.redact(str(exc))})."
            f" Details are in the log.",
            file=sys.stderr,
        )
        return 1


def sandbox_main() -> int:
    return main(["sandbox", "serve", *sys.argv[1:]])
