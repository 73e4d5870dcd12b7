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
"""

from __future__ import annotations

import io
import json
import pickle
from typing import Any

_PROTOCOL = 5
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

    def encode(self, payload: Any) -> bytes | str:
        buffer = self._buffer
        buffer.seek(0)
        buffer.truncate()
        self._pickler.clear_memo()
        try:
            self._pickler.dump(payload)
        except _NotPlain:
            return _JSON.encode(payload)
        return buffer.getvalue()


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


def as_text(body: bytes | str | None) -> str:
    """The payload as JSON text (for showing or exporting), '{}' when none is stored."""
    if body is None:
        return "{}"
    if isinstance(body, str):
        return body
    return json.dumps(decode(body), default=str, ensure_ascii=False)
