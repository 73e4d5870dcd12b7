"""Index queries of the TradeGecko sandbox: filters, order and pages (reference §4–§5).

* Filters: ``ids`` (``ids[]=1&ids[]=2`` or ``ids=1,2``), ``created_at_min/max``,
  ``updated_at_min/max`` (ISO 8601; inclusive — §17.18), ``status`` (a per-resource
  default, soft-deleted records hidden) and resource fields; any multi-valued filter
  as an array or a comma list; filters combine with AND; blank values are ignored.
* Order: ``order=<field> <asc|desc>``, default ``created_at desc`` (most recent first).
* Pages: ``page`` (from 1) and ``limit`` (default 50, at most 250 — 400 above, as
  announced; ``limit=0`` counts without rows). ``X-Pagination`` on every list, and a
  ``Link`` header with first/prev/next/last (§17.8); past the end: no rows and
  ``out_of_bounds``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from app.channels.tradegecko.state_values import BadRequest, parse_time

DEFAULT_LIMIT = 50
MAX_LIMIT = 250
SORTABLE = ("created_at", "updated_at", "id")


def values(raw: Any) -> list[str]:
    """A filter value as a list: arrays and comma lists both; blanks dropped."""
    items = raw if isinstance(raw, list) else [raw]
    found: list[str] = []
    for item in items:
        if item is None or isinstance(item, dict):
            continue
        found += [part.strip() for part in str(item).split(",") if part.strip()]
    return found


def _time(query: dict[str, Any], name: str) -> float | None:
    raw = query.get(name)
    if raw in (None, ""):
        return None
    moment = parse_time(raw) if isinstance(raw, str) else None
    if moment is None:
        raise BadRequest(f"{name} must be an ISO 8601 date or time")
    return moment


def filter_rows(
    rows: list[dict[str, Any]],
    query: dict[str, Any],
    *,
    fields: tuple[str, ...] = (),
    default_status: str | None = "active",
    casefold: tuple[str, ...] = (),
    hidden_status: tuple[str, ...] = ("archived", "deleted"),
) -> list[dict[str, Any]]:
    """The rows the query's filters keep."""
    ids = values(query.get("ids"))
    if any(not value.isdigit() for value in ids):
        raise BadRequest("ids must be integers")
    wanted_ids = {int(value) for value in ids}
    bounds = {
        name: _time(query, name)
        for name in ("created_at_min", "created_at_max", "updated_at_min", "updated_at_max")
    }
    statuses = values(query.get("status"))
    kept = []
    for row in rows:
        if wanted_ids and row["id"] not in wanted_ids:
            continue
        if not _in_bounds(row, bounds):
            continue
        status = row.get("status")
        if status is not None:
            if statuses:
                shown = status in statuses
            elif default_status is not None:
                shown = status == default_status
            else:
                shown = status not in hidden_status
            if not shown:
                continue
        if not all(_matches(row, name, query, casefold) for name in fields):
            continue
        kept.append(row)
    return kept


def _in_bounds(row: dict[str, Any], bounds: dict[str, float | None]) -> bool:
    for name, limit in bounds.items():
        if limit is None:
            continue
        moment = parse_time(row.get(name.rsplit("_", 1)[0]))
        if moment is None:
            return False
        if name.endswith("_min") and moment < limit - 1e-6:
            return False
        if name.endswith("_max") and moment > limit + 1e-6:
            return False
    return True


def _matches(
    row: dict[str, Any], name: str, query: dict[str, Any], casefold: tuple[str, ...]
) -> bool:
    wanted = values(query.get(name))
    if not wanted:
        return True
    value = row.get(name)
    if isinstance(value, list):  # tags
        have = {str(v) for v in value}
        return any(w in have for w in wanted)
    text = "" if value is None else str(value)
    if name in casefold:
        return text.lower() in {w.lower() for w in wanted}
    return text in wanted


def sort_rows(rows: list[dict[str, Any]], query: dict[str, Any]) -> list[dict[str, Any]]:
    raw = str(query.get("order") or "created_at desc").strip()
    parts = raw.replace("+", " ").split()
    column = parts[0] if parts else "created_at"
    direction = parts[1].lower() if len(parts) > 1 else "asc"
    if column not in SORTABLE or direction not in ("asc", "desc") or len(parts) > 2:
        raise BadRequest(f"order must be one of {', '.join(SORTABLE)} followed by asc or desc")
    key: Callable[[dict[str, Any]], Any]
    if column == "id":
        key = lambda row: row["id"]  # noqa: E731
    else:
        key = lambda row: (parse_time(row.get(column)) or 0.0, row["id"])  # noqa: E731
    return sorted(rows, key=key, reverse=direction == "desc")


def _int(query: dict[str, Any], name: str, default: int) -> int:
    raw = query.get(name)
    if raw in (None, ""):
        return default
    if not isinstance(raw, str) or not raw.strip().isdigit():
        raise BadRequest(f"{name} must be a whole number")
    return int(raw)


def paginate(
    rows: list[dict[str, Any]], query: dict[str, Any], *, base_url: str, path: str
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """One page of ``rows`` and the ``X-Pagination`` / ``Link`` headers."""
    limit = _int(query, "limit", DEFAULT_LIMIT)
    if limit > MAX_LIMIT:
        raise BadRequest(f"limit must be at most {MAX_LIMIT}")
    page = _int(query, "page", 1)
    if page < 1:
        raise BadRequest("page must be 1 or more")
    total = len(rows)
    if limit == 0:
        pages, chosen, offset = 1, [], 0
        page = 1
    else:
        pages = max(1, math.ceil(total / limit))
        offset = (page - 1) * limit
        chosen = rows[offset : offset + limit]
    out_of_bounds = page > pages
    pagination = {
        "total_records": total,
        "total_pages": pages,
        "first_page": page == 1,
        "last_page": page >= pages,
        "out_of_bounds": out_of_bounds,
        "offset": offset,
    }
    headers = {"X-Pagination": json.dumps(pagination, separators=(",", ":"))}
    if limit:
        links = []
        kept = [(k, v) for k, v in _flat(query) if k not in ("page", "limit")]

        def url(number: int) -> str:
            return f"{base_url}{path}?{urlencode([*kept, ('limit', limit), ('page', number)])}"

        if page > 1:
            links += [f'<{url(1)}>; rel="first"', f'<{url(min(page - 1, pages))}>; rel="prev"']
        if page < pages:
            links += [f'<{url(page + 1)}>; rel="next"', f'<{url(pages)}>; rel="last"']
        if links:
            headers["Link"] = ", ".join(links)
    return chosen, headers


def _flat(query: dict[str, Any]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for key, value in query.items():
        if isinstance(value, list):
            pairs += [(f"{key}[]", str(item)) for item in value]
        elif not isinstance(value, dict):
            pairs.append((key, str(value)))
    return pairs


__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "filter_rows", "paginate", "sort_rows", "values"]
