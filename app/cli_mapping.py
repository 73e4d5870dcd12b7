"""`stockbridge mapping …` and `stockbridge customers …`: the mapping screens, headless.

Every change is one undoable batch, as on the Products and Customers screens; files are
the same CSVs the screens export and import. Registered by app/cli.py.
"""

from __future__ import annotations

import argparse
import calendar
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.store.channels import Channel
from app.store.customers import CustomerRepo
from app.store.mapping import CsvImport, ListingChange, MappingError, new_listings

# Exit code when a file was applied (or previewed) but some of its rows were refused.
ROWS_REFUSED = 3


def add_mapping_actions(cmd: Callable[..., argparse.ArgumentParser], actions) -> None:
    """The mapping actions beyond auto, link and list."""
    ex = cmd("export", "write a channel's listings and their links to a CSV file", actions)
    ex.add_argument("--channel", required=True)
    ex.add_argument("file")
    ex.add_argument(
        "--unmapped-template",
        action="store_true",
        help="only the listings without a product: a template to fill in",
    )
    im = cmd("import", "apply a filled mapping CSV as one undoable change", actions)
    im.add_argument("--channel", required=True)
    im.add_argument("file")
    im.add_argument("--preview", action="store_true", help="show what would change, change nothing")
    un = cmd("undo", "undo the latest mapping change (or the one --batch names)", actions)
    un.add_argument("--batch", type=int, help="the change's number, as `mapping history` shows")
    un.add_argument("--channel", help="the latest change of this channel")
    hi = cmd("history", "mapping changes, newest first", actions)
    hi.add_argument("--channel")
    hi.add_argument("--limit", type=int, default=20)
    mo = cmd("mode", "link a channel's listings by SKU (automatic) or by listing id", actions)
    mo.add_argument("--channel", required=True)
    mo.add_argument("mode", choices=("sku", "id"))
    nw = cmd("new", "listings that appeared after setup and still need a product", actions)
    nw.add_argument("--channel")
    ig = cmd("ignore", "leave listings alone: no stock sent, no order waits for them", actions)
    ig.add_argument("--channel", required=True)
    ig.add_argument(
        "--listing", action="append", required=True, help="a listing id (repeat for more)"
    )
    ig.add_argument("--stop", action="store_true", help="stop ignoring these listings")
    ul = cmd("unlink", "take listings' product links away", actions)
    ul.add_argument("--channel", required=True)
    ul.add_argument(
        "--listing", action="append", required=True, help="a listing id (repeat for more)"
    )


def add_customers_command(cmd: Callable[..., argparse.ArgumentParser]) -> None:
    cu = cmd("customers", "map channel buyers to your customers")
    actions = cu.add_subparsers(dest="customers_command", metavar="ACTION", required=True)
    li = cmd("list", "channel buyers and the customer each is linked to", actions)
    li.add_argument("--channel")
    li.add_argument("--unmapped", action="store_true", help="only buyers not linked yet")
    ln = cmd("link", "link a channel buyer to one of your customers", actions)
    ln.add_argument("--channel", required=True)
    ln.add_argument("--ref", required=True, help="the buyer reference, as `customers list` shows")
    ln.add_argument("--customer", type=int, required=True, help="your customer's number")
    cr = cmd("create", "make a customer from an order's details and link its buyer", actions)
    cr.add_argument("--from-order", required=True, metavar="ORDER")
    ex = cmd("export", "write buyers and their customers to a CSV file", actions)
    ex.add_argument("file")
    ex.add_argument("--channel", help="needed when you have more than one channel")
    im = cmd("import", "apply a filled customer mapping CSV as one undoable change", actions)
    im.add_argument("file")
    im.add_argument("--channel", help="needed when you have more than one channel")
    im.add_argument("--preview", action="store_true", help="show what would change, change nothing")


# -- mapping ---------------------------------------------------------------------------------
def run_mapping(args: argparse.Namespace, hub, emit, table) -> int:
    """The actions add_mapping_actions declares; ``emit``/``table`` are app/cli.py's."""
    action = args.mapping_command
    repo = hub.mapping
    if action == "export":
        channel = hub.channels.get(args.channel)
        text = repo.export_csv(channel, unmapped_only=args.unmapped_template)
        rows = _write(args.file, text)
        what = "listing without a product" if args.unmapped_template else "listing"
        emit(args, {"file": args.file, "rows": rows}, f"Wrote {_n(rows, what)} to {args.file}.")
        return 0
    if action == "import":
        channel = hub.channels.get(args.channel)
        result = repo.import_csv(channel, _read(args.file), dry_run=args.preview)
        emit(args, _import_dict(result), _import_text(result, "listing"))
        return ROWS_REFUSED if result.refused else 0
    if action == "undo":
        channel = hub.channels.get(args.channel) if args.channel else None
        outcome = repo.undo(args.batch, channel=channel)
        emit(args, _batch_dict(outcome), f"Undone: {outcome.text()}")
        return 0
    if action == "history":
        rows = _history(hub, args.channel, args.limit)
        emit(
            args,
            rows,
            table(
                [
                    [
                        r["batch"],
                        r["channel"],
                        r["source"],
                        _when(_epoch(r["created_at"])),
                        "undone" if r["undone_at"] else "",
                        r["summary"],
                    ]
                    for r in rows
                ],
                ["batch", "channel", "from", "when", "", "what changed"],
            )
            if rows
            else "No mapping changes yet.",
        )
        return 0
    if action == "mode":
        channel = repo.set_mode(hub.channels.get(args.channel), args.mode)
        words = "by SKU (automatic)" if args.mode == "sku" else "by listing id (you map new ones)"
        emit(
            args,
            {"channel": channel.name, "mapping": channel.mapping_mode},
            f"{channel.name} now links listings {words}.",
        )
        return 0
    if action == "new":
        channel_id = hub.channels.get(args.channel).id if args.channel else None
        rows = [
            {
                "channel": r["channel"],
                "listing": r["external_id"],
                "sku": r["sku"],
                "name": r["name"],
                "first_seen": _iso(r["first_seen"]),
            }
            for r in new_listings(hub.db, channel_id=channel_id)
        ]
        emit(
            args,
            rows,
            table(
                [
                    [
                        r["channel"],
                        r["listing"],
                        r["sku"],
                        r["name"],
                        _when(_epoch(r["first_seen"])),
                    ]
                    for r in rows
                ],
                ["channel", "listing", "sku", "name", "first seen"],
            )
            if rows
            else "No new listings wait for a product.",
        )
        return 0
    # ignore / unlink
    channel = hub.channels.get(args.channel)
    ids = _listing_ids(hub, channel, args.listing)
    if action == "ignore":
        changes = [ListingChange(i, ignored=not args.stop) for i in ids]
    else:
        changes = [ListingChange(i, unlink=True) for i in ids]
    outcome = repo.apply(channel, changes, source="table")
    emit(args, _batch_dict(outcome), outcome.text())
    return 0


def _listing_ids(hub, channel: Channel, refs: list[str]) -> list[int]:
    found = []
    for ref in refs:
        row = hub.channels.listing(channel.id, ref)
        if row is None:
            raise MappingError(
                f"{channel.name} has no listing '{ref}'. See"
                f' `stockbridge mapping list --channel "{channel.name}"`.'
            )
        found.append(int(row["id"]))
    return found


def _history(hub, channel: str | None, limit: int) -> list[dict[str, Any]]:
    where, params = "", ()
    if channel:
        where, params = " WHERE b.channel_id = ?", (hub.channels.get(channel).id,)
    return [
        {
            "batch": r["id"],
            "channel": r["channel"],
            "source": r["source"],
            "summary": r["summary"],
            "released": r["released"],
            "created_at": _iso(r["created_at"]),
            "undone_at": _iso(r["undone_at"]),
        }
        for r in hub.db.all(
            "SELECT b.*, c.name AS channel FROM mapping_batches b JOIN channels c"
            f" ON c.id = b.channel_id{where} ORDER BY b.id DESC LIMIT ?",
            (*params, max(1, int(limit))),
        )
    ]


# -- customers -------------------------------------------------------------------------------
def run_customers(args: argparse.Namespace, hub, emit, table) -> int:
    action = args.customers_command
    repo = CustomerRepo(hub.db)
    if action == "list":
        channels = [hub.channels.get(args.channel)] if args.channel else hub.channels.all()
        names = {r["id"]: r["name"] or r["email"] for r in hub.db.all("SELECT * FROM customers")}
        rows = [
            dict(b, channel=ch.name, customer=names.get(b["customer_id"], ""))
            for ch in channels
            for b in repo.buyers(ch, unlinked_only=args.unmapped)
        ]
        emit(
            args,
            rows,
            table(
                [
                    [
                        r["channel"],
                        r["ref"],
                        r["name"],
                        r["email"],
                        r["orders"],
                        f"{r['customer']} (#{r['customer_id']})" if r["customer_id"] else "—",
                    ]
                    for r in rows
                ],
                ["channel", "buyer", "name", "email", "orders", "your customer"],
            )
            if rows
            else ("Every buyer is linked to a customer." if args.unmapped else "No buyers yet."),
        )
        return 0
    if action == "link":
        channel = hub.channels.get(args.channel)
        outcome = repo.link(channel, args.ref, args.customer)
        emit(args, dataclasses.asdict(outcome), outcome.text())
        return 0
    if action == "create":
        outcome = repo.create_from_order(hub.orders.find(args.from_order))
        emit(args, dataclasses.asdict(outcome), outcome.text())
        return 0
    channel = _only_channel(hub, args.channel)
    if action == "export":
        rows = _write(args.file, repo.export_csv(channel))
        emit(args, {"file": args.file, "rows": rows}, f"Wrote {_n(rows, 'buyer')} to {args.file}.")
        return 0
    result = repo.import_csv(channel, _read(args.file), dry_run=args.preview)
    emit(args, _import_dict(result), _import_text(result, "buyer"))
    return ROWS_REFUSED if result.refused else 0


def _only_channel(hub, name: str | None) -> Channel:
    if name:
        return hub.channels.get(name)
    channels = hub.channels.all()
    if len(channels) == 1:
        return channels[0]
    if not channels:
        raise MappingError("You have no channels yet; add one with `stockbridge channel add`.")
    raise MappingError(
        "Name the channel with --channel (you have " + ", ".join(ch.name for ch in channels) + ")."
    )


# -- files and output ------------------------------------------------------------------------
def _read(file: str) -> bytes:
    path = Path(file)
    if not path.is_file():
        raise MappingError(f"No file at {path}.")
    return path.read_bytes()


def _write(file: str, text: str) -> int:
    """Write the CSV (UTF-8 with BOM, so spreadsheets read accents); returns its data rows."""
    path = Path(file)
    if path.is_dir():
        raise MappingError(f"{path} is a folder; give a file name.")
    try:
        path.write_text(text, encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise MappingError(f"Could not write {path}: {exc.strerror or exc}.") from None
    return max(0, text.count("\n") - 1)


def _import_dict(result: CsvImport) -> dict[str, Any]:
    outcome = result.outcome
    return {
        "preview": result.dry_run,
        "rows": result.rows,
        "changes": result.changes,
        "unchanged": result.unchanged,
        "refused": [{"line": p.line, "reason": p.reason} for p in result.refused],
        "batch": getattr(outcome, "batch_id", None),
        "released": getattr(outcome, "released", 0),
    }


def _import_text(result: CsvImport, noun: str) -> str:
    verb = "Would change" if result.dry_run else "Changed"
    lines = [
        f"{verb} {_n(len(result.changes), noun)}; {result.unchanged:,} unchanged;"
        f" {len(result.refused):,} refused."
    ]
    for c in result.changes:
        lines.append(
            f"  line {c['line']}: {c['record']} ({c['name']}): {c['before']} → {c['after']}"
        )
    for p in result.refused:
        lines.append(f"  refused line {p.line}: {p.reason}")
    if result.outcome is not None:
        lines.append(result.outcome.text())
    elif result.dry_run and result.changes:
        lines.append("Nothing was changed; run again without --preview to apply.")
    return "\n".join(lines)


def _batch_dict(outcome) -> dict[str, Any]:
    return dict(dataclasses.asdict(outcome), text=outcome.text())


def _iso(ts: float | None) -> str | None:
    """A time for --json, as the other commands write it (UTC)."""
    return None if ts is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _epoch(iso: str | None) -> float | None:
    return None if iso is None else calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ"))


def _when(ts: float | None) -> str:
    """A time for people, in local time."""
    return "" if ts is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"
