"""Instant updates: a small receiver for channel webhooks, bound to this computer only.

A desktop behind a router cannot be reached from the internet, so webhooks are an
option: the merchant exposes a public address (a tunnel or reverse proxy) that forwards
to this receiver. Each channel's webhook address carries a secret; a call without the
right secret is refused. A delivery is never trusted as data: it only says which order
to read again from the channel's API (or, when it names none, to sync now).
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets as pysecrets
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from app import secrets
from app.core.addresses import is_loopback

log = logging.getLogger(__name__)

MAX_BODY = 1_000_000
Hint = Callable[[str, bytes], None]  # (channel name, raw body)


def secret_account(channel: str) -> str:
    return f"{channel}:webhook"


def webhook_secret(channel: str, *, create: bool = True) -> str | None:
    """The channel's webhook secret, kept in the keyring like every other secret."""
    try:
        return secrets.load(secret_account(channel))
    except secrets.MissingSecret:
        if not create:
            return None
    value = pysecrets.token_urlsafe(24)
    secrets.store(secret_account(channel), value)
    return value


def public_hook_url(public_base: str, channel: str, secret: str) -> str:
    """The address to register on the channel: the merchant's public base + our path."""
    return f"{public_base.rstrip('/')}/hooks/{quote(channel, safe='')}?{urlencode({'key': secret})}"


class WebhookReceiver:
    """HTTP server on 127.0.0.1 that accepts POST /hooks/<channel>?key=<secret>."""

    def __init__(
        self,
        on_hint: Hint,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        lookup_secret: Callable[[str], str | None] | None = None,
    ) -> None:
        if not is_loopback(host):
            raise ValueError("The webhook receiver only listens on this computer (127.0.0.1).")
        self.on_hint = on_hint
        self.lookup_secret = lookup_secret or (lambda name: webhook_secret(name, create=False))
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # the URL carries the secret: never log it
                return

            def do_POST(self) -> None:  # noqa: N802 - http.server name
                status = receiver.handle(self.path, self.headers.get("Content-Length"), self.rfile)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps({"accepted": status == 202}).encode())

            def do_GET(self) -> None:  # noqa: N802 - a liveness check for the merchant's tunnel
                self.send_response(200 if self.path == "/hooks/health" else 404)
                self.end_headers()

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> str:
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="webhooks", daemon=True
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def handle(self, path: str, length: str | None, stream) -> int:
        parts = urlsplit(path)
        segments = parts.path.strip("/").split("/")
        if len(segments) != 2 or segments[0] != "hooks":
            return 404
        channel = unquote(segments[1])
        given = (parse_qs(parts.query).get("key") or [""])[0]
        expected = self.lookup_secret(channel)
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            log.warning("refused a webhook call for %s: wrong or missing key", channel)
            return 403
        try:
            size = int(length or 0)
        except ValueError:
            return 400
        if size < 0 or size > MAX_BODY:
            return 413
        body = stream.read(size) if size else b""
        try:
            self.on_hint(channel, body)
        except Exception:  # the sender cannot help with our problems; the poll catches up
            log.exception("webhook for %s could not be handled", channel)
        return 202
