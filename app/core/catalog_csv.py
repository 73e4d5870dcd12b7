"""Reading the merchant's catalogue CSV (header ``sku,name,barcode,cost_price,on_hand``).

Accepts what Excel writes: UTF-8 with or without BOM, comma or semicolon separators,
decimal commas with semicolon files. Bad rows are refused with their line number and
reason; good rows are returned for the store to apply in one transaction.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

REQUIRED = ("sku", "name", "barcode", "cost_price", "on_hand")
OPTIONAL = ("warehouse",)


class CatalogFileError(ValueError):
    """The file as a whole cannot be read (wrong header, not text)."""


@dataclass(frozen=True, slots=True)
class CatalogRow:
    line: int
    sku: str
    name: str
    barcode: str
    cost_price: float | None
    on_hand: float | None
    warehouse: str


@dataclass(frozen=True, slots=True)
class RowProblem:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


def _number(text: str, decimal_comma: bool) -> float:
    text = text.strip().replace("\u00a0", "").replace(" ", "")
    if decimal_comma:
        text = text.replace(".", "").replace(",", ".") if "," in text else text
    return float(text)


def parse_catalog(data: bytes) -> tuple[list[CatalogRow], list[RowProblem]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CatalogFileError(
            f"The file is not UTF-8 text (byte {exc.start}). Save it as 'CSV UTF-8' and try again."
        ) from None
    if not text.strip():
        raise CatalogFileError("The file is empty.")
    first_line = text.splitlines()[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [h.strip().lower() for h in next(reader)]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise CatalogFileError(
            f"The header must contain {','.join(REQUIRED)} (optional: warehouse); "
            f"missing: {', '.join(missing)}."
        )
    unknown = [c for c in header if c and c not in REQUIRED + OPTIONAL]
    if unknown:
        raise CatalogFileError(f"Unknown column(s): {', '.join(unknown)}.")
    index = {name: header.index(name) for name in header if name}
    decimal_comma = delimiter == ";"
    rows: list[CatalogRow] = []
    problems: list[RowProblem] = []
    seen: dict[str, int] = {}
    for record in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        if len(record) < len(header):
            record = record + [""] * (len(header) - len(record))
        elif len(record) > len(header):
            problems.append(
                RowProblem(line, f"{len(record)} fields where the header has {len(header)}")
            )
            continue

        def cell(name: str, record=record) -> str:
            return record[index[name]].strip() if name in index else ""

        sku = cell("sku")
        if not sku:
            problems.append(RowProblem(line, "the SKU is empty"))
            continue
        if sku in seen:
            problems.append(RowProblem(line, f"SKU {sku} already appears on line {seen[sku]}"))
            continue
        numbers: dict[str, float | None] = {}
        bad = None
        for name in ("cost_price", "on_hand"):
            raw = cell(name)
            if not raw:
                numbers[name] = None
                continue
            try:
                numbers[name] = _number(raw, decimal_comma)
            except ValueError:
                bad = f"{name} '{raw}' is not a number"
                break
            if numbers[name] < 0:  # type: ignore[operator]
                bad = f"{name} cannot be negative ({raw})"
                break
        if bad:
            problems.append(RowProblem(line, bad))
            continue
        seen[sku] = line
        rows.append(
            CatalogRow(
                line,
                sku,
                cell("name") or sku,
                cell("barcode"),
                numbers["cost_price"],
                numbers["on_hand"],
                cell("warehouse"),
            )
        )
    return rows, problems
