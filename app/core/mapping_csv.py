"""Mapping spreadsheets: product and customer links out to CSV and back in.

The export is also the template: the merchant fills ``product_sku`` (or
``customer_id``) for the rows they want linked and imports the file again. Reading
is pure and checks only the file itself (columns, actions, repeated rows); whether a
listing, SKU or customer exists is the store's check. Accepts what Excel writes: UTF-8
with or without BOM, comma or semicolon separated. Columns the reader does not know
are left alone, so a merchant's own notes column does no harm.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.core.catalog_csv import RowProblem
from app.core.suggest import loose_sku

PRODUCT_COLUMNS = (
    "channel",
    "listing",
    "listing_sku",
    "listing_name",
    "barcode",
    "channel_quantity",
    "product_sku",
    "product_name",
    "state",
    "action",
)
PRODUCT_ACTIONS = ("", "link", "unlink", "ignore", "unignore")
CUSTOMER_COLUMNS = (
    "channel",
    "customer_ref",
    "buyer_name",
    "buyer_email",
    "orders",
    "customer_id",
    "customer_name",
    "customer_email",
    "action",
)
CUSTOMER_ACTIONS = ("", "link", "unlink", "create")

PRODUCT_HELP = (
    "Fill product_sku to link a listing to your product; action may be ignore, unignore"
    " or unlink; rows left blank stay as they are."
)
CUSTOMER_HELP = (
    "Fill customer_id (or customer_email) to link a buyer to your customer; action may"
    " be create (from the buyer's order details) or unlink; rows left blank stay as they are."
)


class MappingFileError(ValueError):
    """The file as a whole cannot be read (not text, no header, a required column missing)."""


@dataclass(frozen=True, slots=True)
class ProductMappingRow:
    line: int
    listing: str
    product_sku: str
    action: str  # one of PRODUCT_ACTIONS
    channel: str = ""


@dataclass(frozen=True, slots=True)
class CustomerMappingRow:
    line: int
    ref: str
    customer_id: int | None
    customer_email: str
    action: str  # one of CUSTOMER_ACTIONS
    channel: str = ""


def _records(
    data: bytes, required: tuple[str, ...], what: str
) -> Iterator[tuple[int, dict[str, str] | RowProblem]]:
    """(line, cells by column) for every non-blank row, or (line, problem) for a bad one."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MappingFileError(
            f"The file is not UTF-8 text (byte {exc.start}). Save it as 'CSV UTF-8' and try again."
        ) from None
    if not text.strip():
        raise MappingFileError("The file is empty.")
    first_line = text.splitlines()[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [h.strip().lower() for h in next(reader)]
    missing = [c for c in required if c not in header]
    if missing:
        raise MappingFileError(
            f"This is not a {what} file: the header needs {', '.join(required)};"
            f" missing: {', '.join(missing)}."
        )
    for record in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        if len(record) > len(header) and any(c.strip() for c in record[len(header) :]):
            yield line, RowProblem(line, f"{len(record)} fields where the header has {len(header)}")
            continue
        cells = {
            name: (record[i].strip() if i < len(record) else "") for i, name in enumerate(header)
        }
        yield line, cells


def read_product_mappings(data: bytes) -> tuple[list[ProductMappingRow], list[RowProblem]]:
    """Rows to apply and rows refused, each refusal with its line number and reason."""
    rows: list[ProductMappingRow] = []
    problems: list[RowProblem] = []
    seen: dict[tuple[str, str], int] = {}  # by channel too: files of two channels may be joined
    for line, cells in _records(data, ("listing", "product_sku"), "product mapping"):
        if isinstance(cells, RowProblem):
            problems.append(cells)
            continue
        listing, sku, action = cells["listing"], cells["product_sku"], cells.get("action", "")
        action, key = action.lower(), (cells.get("channel", ""), listing)
        if not listing:
            problems.append(RowProblem(line, "the listing is empty"))
        elif action not in PRODUCT_ACTIONS:
            problems.append(
                RowProblem(
                    line, f"unknown action '{action}' (use link, unlink, ignore or unignore)"
                )
            )
        elif action == "link" and not sku:
            problems.append(RowProblem(line, "action link needs a product_sku"))
        elif action == "unlink" and sku:
            problems.append(
                RowProblem(line, f"action unlink with product_sku {sku}: clear one of them")
            )
        elif key in seen:
            problems.append(
                RowProblem(line, f"listing {listing} already appears on line {seen[key]}")
            )
        else:
            seen[key] = line
            rows.append(ProductMappingRow(line, listing, sku, action, cells.get("channel", "")))
    return rows, problems


def read_customer_mappings(data: bytes) -> tuple[list[CustomerMappingRow], list[RowProblem]]:
    """Rows to apply and rows refused, each refusal with its line number and reason."""
    rows: list[CustomerMappingRow] = []
    problems: list[RowProblem] = []
    seen: dict[tuple[str, str], int] = {}
    for line, cells in _records(data, ("customer_ref", "customer_id"), "customer mapping"):
        if isinstance(cells, RowProblem):
            problems.append(cells)
            continue
        ref, raw_id = cells["customer_ref"], cells["customer_id"]
        key = (cells.get("channel", ""), ref)
        email, action = cells.get("customer_email", ""), cells.get("action", "").lower()
        customer_id: int | None = None
        if raw_id:
            try:
                customer_id = int(raw_id)
            except ValueError:
                problems.append(RowProblem(line, f"customer_id '{raw_id}' is not a number"))
                continue
        if not ref:
            problems.append(RowProblem(line, "the customer_ref is empty"))
        elif action not in CUSTOMER_ACTIONS:
            problems.append(
                RowProblem(line, f"unknown action '{action}' (use link, create or unlink)")
            )
        elif action == "link" and customer_id is None and not email:
            problems.append(RowProblem(line, "action link needs a customer_id or customer_email"))
        elif action in ("create", "unlink") and customer_id is not None:
            problems.append(
                RowProblem(
                    line, f"action {action} with customer_id {customer_id}: clear one of them"
                )
            )
        elif key in seen:
            problems.append(RowProblem(line, f"customer {ref} already appears on line {seen[key]}"))
        else:
            seen[key] = line
            # With action create or unlink the email is only the export's description.
            rows.append(
                CustomerMappingRow(
                    line,
                    ref,
                    customer_id,
                    email if action in ("", "link") else "",
                    action,
                    cells.get("channel", ""),
                )
            )
    return rows, problems


def _write(columns: tuple[str, ...], rows: Iterable[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}" if value.is_integer() else repr(value)
    return str(value)


def write_product_mappings(rows: Iterable[Mapping[str, Any]]) -> str:
    """CSV text with PRODUCT_COLUMNS; missing keys become empty cells."""
    return _write(PRODUCT_COLUMNS, rows)


def write_customer_mappings(rows: Iterable[Mapping[str, Any]]) -> str:
    """CSV text with CUSTOMER_COLUMNS; missing keys become empty cells."""
    return _write(CUSTOMER_COLUMNS, rows)


# -- checking a file against what the store holds (still pure: the store passes it in) ----
@dataclass(frozen=True, slots=True)
class ListingEdit:
    """What one accepted row asks of a listing."""

    line: int
    listing_id: int
    product_id: int | None  # link to this product; None leaves the link alone
    unlink: bool
    ignored: bool | None  # set or clear "ignored"; None leaves it


@dataclass(frozen=True, slots=True)
class CustomerEdit:
    """What one accepted row asks of a channel buyer's link."""

    line: int
    ref: str
    customer_id: int | None
    unlink: bool
    create: bool


@dataclass(slots=True)
class ImportPlan:
    """The preview: what would change (in words), what stays, what is refused and why."""

    rows: int = 0
    edits: list[Any] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)  # line, record, name, before, after
    unchanged: int = 0
    refused: list[RowProblem] = field(default_factory=list)


def listing_words(product_sku: str | None, ignored: bool) -> str:
    """A listing's mapping in words: 'linked to KEG', 'not linked', 'ignored (linked to KEG)'."""
    word = f"linked to {product_sku}" if product_sku else "not linked"
    if ignored:
        return f"ignored ({word})" if product_sku else "ignored"
    return word


def plan_product_import(
    data: bytes,
    channel: str,
    listings: Mapping[str, Mapping[str, Any]],
    products: Mapping[str, int],
) -> ImportPlan:
    """Check a product mapping file against the channel's listings and the catalogue.

    ``listings`` maps each listing's external id to its ``id``, ``name``,
    ``product_sku`` and ``ignored``; ``products`` maps every local SKU to its id.
    """
    rows, problems = read_product_mappings(data)
    plan = ImportPlan(rows=len(rows) + len(problems))
    loose: dict[str, list[str]] = {}
    skus_by_id = {pid: sku for sku, pid in products.items()}
    for row in rows:
        listing = listings.get(row.listing)
        if row.channel and row.channel != channel:
            problems.append(RowProblem(row.line, f"the row is for channel {row.channel}"))
            continue
        if listing is None:
            problems.append(RowProblem(row.line, f"{channel} has no listing {row.listing}"))
            continue
        product_id = products.get(row.product_sku) if row.product_sku else None
        if row.product_sku and product_id is None:
            if not loose:
                for sku in products:
                    loose.setdefault(loose_sku(sku), []).append(sku)
            near = loose.get(loose_sku(row.product_sku), [])
            hint = f"; did you mean {near[0]}?" if len(near) == 1 else ""
            problems.append(RowProblem(row.line, f"no product has SKU {row.product_sku}{hint}"))
            continue
        ignored = {"ignore": True, "unignore": False}.get(row.action)
        before = listing_words(listing["product_sku"], bool(listing["ignored"]))
        sku_after = None if row.action == "unlink" else listing["product_sku"]
        if product_id is not None:
            sku_after = skus_by_id[product_id]
        after = listing_words(sku_after, bool(listing["ignored"]) if ignored is None else ignored)
        if after == before:
            plan.unchanged += 1
            continue
        plan.edits.append(
            ListingEdit(row.line, listing["id"], product_id, row.action == "unlink", ignored)
        )
        plan.changes.append(
            {
                "line": row.line,
                "record": row.listing,
                "name": listing["name"],
                "before": before,
                "after": after,
            }
        )
    plan.refused = sorted(problems, key=lambda p: p.line)
    return plan


def plan_customer_import(
    data: bytes,
    channel: str,
    buyers: Mapping[str, Mapping[str, Any]],
    customers: Mapping[int, str],
    ids_by_email: Mapping[str, list[int]],
) -> ImportPlan:
    """Check a customer mapping file against the channel's buyers and local customers.

    ``buyers`` maps each buyer reference to its ``name`` and current ``customer_id``;
    ``customers`` maps every local customer id to its label; ``ids_by_email`` maps a
    lower-case email to the customers that have it.
    """
    rows, problems = read_customer_mappings(data)
    plan = ImportPlan(rows=len(rows) + len(problems))
    for row in rows:
        buyer = buyers.get(row.ref)
        if row.channel and row.channel != channel:
            problems.append(RowProblem(row.line, f"the row is for channel {row.channel}"))
            continue
        if buyer is None:
            problems.append(RowProblem(row.line, f"no orders from customer {row.ref} on {channel}"))
            continue
        target = row.customer_id
        if target is None and row.customer_email:
            found = ids_by_email.get(row.customer_email.strip().casefold(), [])
            if len(found) != 1:
                how = "several of your customers have" if found else "none of your customers has"
                problems.append(RowProblem(row.line, f"{how} the email {row.customer_email}"))
                continue
            target = found[0]
        if target is not None and target not in customers:
            problems.append(RowProblem(row.line, f"you have no customer with id {target}"))
            continue
        current = buyer["customer_id"]
        before = f"linked to {customers[current]}" if current in customers else "not linked"
        if row.action == "create":
            after = f"new customer {buyer['name'] or row.ref}"
        elif row.action == "unlink" or (target is None and current is None):
            after = "not linked"
        else:
            after = f"linked to {customers[target if target is not None else current]}"
        if after == before:
            plan.unchanged += 1
            continue
        plan.edits.append(
            CustomerEdit(row.line, row.ref, target, row.action == "unlink", row.action == "create")
        )
        plan.changes.append(
            {
                "line": row.line,
                "record": row.ref,
                "name": buyer["name"],
                "before": before,
                "after": after,
            }
        )
    plan.refused = sorted(problems, key=lambda p: p.line)
    return plan
