"""How the order payloads a channel sent are kept in ``order_payloads.body``.

A payload is whatever the platform's JSON decoded to: dicts, lists, strings, numbers,
booleans and None. It is stored as a pickle (protocol 5, which every later Python
reads) because encoding one is several times cheaper than JSON and the payload is the
costliest part of importing an order (a Selldone basket is 4-5 KB of nested items).
Anything else inside (a Decimal or a date a client put there) makes the encoder fall
back to JSON text, with ``str`` for what JSON cannot hold, as the store always did;
payloads stored before this table existed are JSON text too. SQLite tells the two
apart: a pickle is a BLOB, JSON is TEXT.

Reading never builds anything but those plain types: the unpickler refuses every
class or function a pickle could name, so a tampered file cannot run code.

Orders whose client kept the page as sent (:class:`RawPage`, Selldone) are stored from
those bytes: the page is compressed on a worker thread while the import works out its
rows (zlib lets other threads run while it compresses), and each order names its page
and its place in the page's list of orders. Other orders imported together are kept
together too: :meth:`PayloadEncoder.encode_page` pickles a batch's payloads as one list
(the keys a JSON decoder shared between them are written once) and compresses it, about
a tenth of the bytes of separate pickles. ``order_payloads`` then names the page and the
order's slot in it (:func:`store_many`, :func:`read`); pages nobody points at any more
are pruned when a payload is replaced.
"""

from __future__ import annotations

import io
import json
import pickle
import sqlite3
import threading
import zlib
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from app.core.models import RawPage

_PROTOCOL = 5
_PAGE_MAGIC = b"SBP1"  # a page: this, then zlib(pickle(list of payloads))
_RAW_PAGE_MAGIC = b"SBJ1"  # a page as sent: this, the JSON path to its list, "\n", zlib(body)
_ZLIB_LEVEL = 1  # the fastest level: 11x smaller than the pickles, ~7 µs an order
# Fewer payloads than this are stored one by one: compressing costs a fixed ~25 µs.
PAGE_MIN = 4
_JSON = json.JSONEncoder(default=str, separators=(",", ":"), check_circular=False)


class _NotPlain(Exception):
    """The payload holds something other than JSON's types."""


class _PlainPickler(pickle.Pickler):
    # Called only for objects outside the pickler's fast path (dict, list, str, int,
    # float, bool, None, tuple, bytes): anything else goes to JSON instead.
    def reducer_override(self, obj: Any) -> Any:
        raise _NotPlain(type(obj).__name__)


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"an order payload may not name {module}.{name}")


class PayloadEncoder:
    """Encodes payloads one after another, reusing its buffer (one per thread)."""

    def __init__(self) -> None:
        self._buffer = io.BytesIO()
        self._pickler = _PlainPickler(self._buffer, _PROTOCOL)

    def _pickled(self, value: Any) -> memoryview | None:
        """``value`` pickled into the reused buffer; None if it holds more than plain data."""
        buffer = self._buffer
        buffer.seek(0)
        buffer.truncate()
        self._pickler.clear_memo()
        try:
            self._pickler.dump(value)
        except _NotPlain:
            return None
        finally:
            self._pickler.clear_memo()  # drop the references to what was pickled
        return buffer.getbuffer()

    def encode(self, payload: Any) -> bytes | str:
        pickled = self._pickled(payload)
        if pickled is None:
            return _JSON.encode(payload)
        with pickled:
            return bytes(pickled)

    def encode_page(self, payloads: list[Any]) -> bytes | None:
        """Several payloads as one compressed page; None if one of them is not plain data."""
        pickled = self._pickled(payloads)
        if pickled is None:
            return None
        with pickled:
            return _PAGE_MAGIC + zlib.compress(pickled, _ZLIB_LEVEL)


def encode(payload: Any) -> bytes | str:
    """One payload's stored form (see :class:`PayloadEncoder` for many)."""
    return PayloadEncoder().encode(payload)


def decode(body: bytes | str | None) -> Any:
    """The payload back as plain data; None when none is stored.

    Raises ValueError naming the problem when the stored body cannot be read.
    """
    if body is None:
        return None
    if isinstance(body, str):
        return json.loads(body)
    try:
        return _PlainUnpickler(io.BytesIO(body)).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
        raise ValueError(f"the stored order payload cannot be read: {exc}") from exc


def encode_raw_page(page: RawPage) -> bytes:
    """A page as the channel sent it, in its stored form."""
    path = json.dumps(list(page.path), separators=(",", ":")).encode()
    return _RAW_PAGE_MAGIC + path + b"\n" + zlib.compress(page.body, _ZLIB_LEVEL)


_encoder_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def encode_raw_pages_soon(pages: Iterable[RawPage]) -> dict[int, Future[bytes]]:
    """Start encoding these pages on the worker thread; their stored forms by id(page)."""
    global _encoder_pool
    with _pool_lock:
        if _encoder_pool is None:
            _encoder_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="payload-pages")
        pool = _encoder_pool
    return {id(page): pool.submit(encode_raw_page, page) for page in pages}


def _decode_raw_page(page: bytes) -> list[Any]:
    header, newline, packed = page[len(_RAW_PAGE_MAGIC) :].partition(b"\n")
    try:
        path = json.loads(header) if newline else None
        found: Any = json.loads(zlib.decompress(packed))
    except (zlib.error, ValueError) as exc:
        raise ValueError(f"the stored payload page cannot be read: {exc}") from exc
    if not isinstance(path, list):
        raise ValueError("the stored payload page names no list of orders")
    for key in path:
        found = found.get(key) if isinstance(found, dict) else None
    if not isinstance(found, list):
        raise ValueError("the stored payload page holds no list of orders where it says")
    return found


def decode_page(page: bytes) -> list[Any]:
    """The payloads of a page, in slot order. Raises ValueError naming the problem."""
    if isinstance(page, bytes) and page.startswith(_RAW_PAGE_MAGIC):
        return _decode_raw_page(page)
    if not isinstance(page, bytes) or not page.startswith(_PAGE_MAGIC):
        raise ValueError("the stored payload page is not one Stockbridge wrote")
    try:
        found = _PlainUnpickler(io.BytesIO(zlib.decompress(page[len(_PAGE_MAGIC) :]))).load()
    except (zlib.error, pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
        raise ValueError(f"the stored payload page cannot be read: {exc}") from exc
    if not isinstance(found, list):
        raise ValueError("the stored payload page holds no list of payloads")
    return found


def store_many(
    conn: sqlite3.Connection,
    payloads: dict[int, Any],
    encoder: PayloadEncoder,
    *,
    replacing: bool,
    sourced: dict[int, tuple[RawPage, int]] | None = None,
    encoded: dict[int, Future[bytes]] | None = None,
) -> None:
    """Keep these orders' payloads, as pages when there are enough.

    ``payloads``: order id → payload, pickled together as one page. ``sourced``: order
    id → (page as sent, index there), each page stored once (``encoded``: stored forms
    already under way, by id(page)). The orders' rows must exist. ``replacing`` says
    some of them had a payload already: its page may then have nobody left pointing at
    it, and is pruned.
    """
    rows: list[tuple] = []
    if sourced:
        page_ids: dict[int, int] = {}
        for order_id, (raw_page, slot) in sourced.items():
            key = id(raw_page)
            if key not in page_ids:
                pending = (encoded or {}).get(key)
                body = pending.result() if pending is not None else encode_raw_page(raw_page)
                page_ids[key] = conn.execute(
                    "INSERT INTO payload_pages (body) VALUES (?)", (body,)
                ).lastrowid
            rows.append((order_id, b"", page_ids[key], slot))
    if payloads:
        ids = list(payloads)
        page = encoder.encode_page(list(payloads.values())) if len(ids) >= PAGE_MIN else None
        if page is None:
            rows += [(i, encoder.encode(payload), None, None) for i, payload in payloads.items()]
        else:
            page_id = conn.execute("INSERT INTO payload_pages (body) VALUES (?)", (page,)).lastrowid
            rows += [(order_id, b"", page_id, slot) for slot, order_id in enumerate(ids)]
    if not rows:
        return
    conn.executemany(
        "INSERT INTO order_payloads (order_id, body, page_id, slot) VALUES (?, ?, ?, ?)"
        if not replacing
        else "INSERT INTO order_payloads (order_id, body, page_id, slot) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (order_id) DO UPDATE SET"
        " body = excluded.body, page_id = excluded.page_id, slot = excluded.slot",
        rows,
    )
    if replacing:
        prune_pages(conn)


def prune_pages(conn: sqlite3.Connection) -> int:
    """Delete the pages no order points at any more (one index probe a page)."""
    return conn.execute(
        "DELETE FROM payload_pages WHERE NOT EXISTS"
        " (SELECT 1 FROM order_payloads op WHERE op.page_id = payload_pages.id)"
    ).rowcount


def _stored(conn: sqlite3.Connection, order_id: int) -> tuple[Any, int | None, Any] | None:
    """An order's (own body, slot, page body), or None when no payload is kept."""
    return conn.execute(
        "SELECT op.body, op.slot, pp.body FROM order_payloads op"
        " LEFT JOIN payload_pages pp ON pp.id = op.page_id WHERE op.order_id = ?",
        (order_id,),
    ).fetchone()


def _from_page(slot: int, page: bytes | None) -> Any:
    if page is None:
        raise ValueError("the stored payload page is missing")
    found = decode_page(page)
    if not 0 <= slot < len(found):
        raise ValueError(f"the stored payload page has no slot {slot}")
    return found[slot]


def read(conn: sqlite3.Connection, order_id: int) -> Any:
    """An order's payload as plain data; None when none is kept. ValueError if unreadable."""
    row = _stored(conn, order_id)
    if row is None:
        return None
    body, slot, page = row
    return decode(body) if slot is None else _from_page(slot, page)


def as_text(body: bytes | str | None) -> str:
    """The payload as JSON text (for showing or exporting), '{}' when none is stored."""
    if body is None:
        return "{}"
    if isinstance(body, str):
        return body
    return json.dumps(decode(body), default=str, ensure_ascii=False)


def read_text(conn: sqlite3.Connection, order_id: int) -> str:
    """An order's payload as JSON text, '{}' when none is kept. ValueError if unreadable."""
    row = _stored(conn, order_id)
    if row is None:
        return "{}"
    body, slot, page = row
    if slot is None:
        return as_text(body)
    return json.dumps(_from_page(slot, page), default=str, ensure_ascii=False)
