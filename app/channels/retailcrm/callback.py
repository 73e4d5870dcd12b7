"""A small receiver for RetailCRM's ``inventoriesUpload`` callback (off by default).

When the module is registered with a callback address, RetailCRM POSTs to
``baseUrl + url`` at the configured call points and the warehouse system answers with
current stock (seed: "Updating leftovers and cost prices, initiated by the system").
What is known of the request (platforms/retailcrm.md §9.2–§9.3):

* it is a form (``application/x-www-form-urlencoded``; multipart is accepted too) whose
  ``clientId`` field names the account: a wrong or missing one is answered 403, as
  RetailCRM's own module bundle does;
* the offers asked about come as a JSON string, assumed to be in the ``offers`` field
  (the docs do not name it), each ``{id?, externalId?, xmlId?, site?}``;
* the answer is ``{"success": true, "offers": [{id|externalId|xmlId, stores: [{code,
  available, purchasePrice}]}]}``, the shape of the REST upload.

The receiver binds 127.0.0.1 only. RetailCRM lives on the internet, so the merchant
needs a tunnel or reverse proxy to this port for the callback to arrive; that is their
choice to make, which is why the receiver is never started by default.
"""

from __future__ import annotations

import email.parser
import email.policy
import hmac
import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from app.channels.retailcrm import inventory as inv
from app.channels.retailcrm.inventory import InventoryEntry

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
MAX_BODY = 5 * 1024 * 1024  # a stock question about thousands of offers fits easily

# Called with the offers RetailCRM asks about; answers with the entries to report.
InventoryHandler = Callable[[list[dict[str, Any]]], list[InventoryEntry]]


def parse_form(content_type: str, body: bytes) -> dict[str, str]:
    """Fields of an urlencoded or multipart form body (the first value of each name)."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "multipart/form-data":
        head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        fields: dict[str, str] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            if isinstance(name, str) and name not in fields:
                fields[name] = payload.decode("utf-8", "replace")
        return fields
    fields = {}
    for name, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        fields.setdefault(name, value)
    return fields


class CallbackReceiver:
    """Serves ``POST {path}`` on 127.0.0.1 for RetailCRM's ``inventoriesUpload`` callback.

    ``handler`` runs on the receiver's thread; it must not block for long (RetailCRM
    waits for the answer). ``start`` returns the local base URL.
    """

    def __init__(
        self,
        handler: InventoryHandler,
        *,
        client_id: str,
        path: str = "/inventories",
        port: int = 0,
        store_types: dict[str, str] | None = None,
    ) -> None:
        if not client_id.strip():
            raise ValueError("the receiver needs the clientId the module was registered with")
        self.handler = handler
        self.path = "/" + path.strip().lstrip("/")
        self.port = port
        self.store_types = dict(store_types or {})
        self.calls: list[dict[str, Any]] = []  # every accepted call's offers, for display
        self._client_id = client_id.strip()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._httpd is not None

    def start(self) -> str:
        if self._httpd is None:
            self._httpd = ThreadingHTTPServer((LOOPBACK, self.port), _handler_for(self))
            self._httpd.daemon_threads = True
            self.port = self._httpd.server_address[1]
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.1},
                name=f"retailcrm-callback:{self.port}",
                daemon=True,
            )
            self._thread.start()
        return f"http://{LOOPBACK}:{self.port}"

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._httpd = self._thread = None
        httpd.shutdown()
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> CallbackReceiver:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def answer(self, content_type: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """Status and JSON answer for one callback body (the HTTP layer only frames it)."""
        fields = parse_form(content_type, body)
        sent = fields.get("clientId", "")
        if not sent or not hmac.compare_digest(sent.encode(), self._client_id.encode()):
            return 403, {"success": False, "errorMsg": "Wrong clientId"}
        try:
            offers = json.loads(fields.get("offers") or "[]")
        except ValueError:
            return 400, {"success": False, "errorMsg": "offers is not valid JSON"}
        if not isinstance(offers, list) or not all(isinstance(o, dict) for o in offers):
            return 400, {"success": False, "errorMsg": "offers must be a list of objects"}
        try:
            entries = self.handler(offers)
        except Exception as exc:  # the CRM gets an answer, the log gets the details
            log.exception("inventoriesUpload callback handler failed")
            return 500, {"success": False, "errorMsg": f"Stockbridge could not answer: {exc}"}
        self.calls.append({"offers": offers, "answered": len(entries)})
        return 200, {"success": True, "offers": inv.upload_offers(entries, self.store_types)}


def _handler_for(receiver: CallbackReceiver) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "StockbridgeCallback/1.0"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            log.debug("callback %s", format % args)

        def _send(self, status: int, body: dict[str, Any]) -> None:
            payload = json.dumps(body, separators=(",", ":")).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_POST(self) -> None:  # noqa: N802 - stdlib name
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self.close_connection = True
                self._send(413, {"success": False, "errorMsg": "request too large"})
                return
            body = self.rfile.read(length) if length > 0 else b""
            if urlsplit(self.path).path != receiver.path:
                self._send(404, {"success": False, "errorMsg": "Not found"})
                return
            status, answer = receiver.answer(self.headers.get("Content-Type") or "", body)
            self._send(status, answer)

        def do_GET(self) -> None:  # noqa: N802 - stdlib name
            self._send(405, {"success": False, "errorMsg": "Method Not Allowed"})

    return _Handler
