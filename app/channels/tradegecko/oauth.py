"""Signing in to TradeGecko with OAuth 2 (authorization code), and keeping the sign-in alive.

The documented flow (reference §2):

1. send the merchant's browser to ``GET /oauth/authorize?response_type=code&client_id=…
   &redirect_uri=…&state=…``; TradeGecko redirects back to ``redirect_uri`` with
   ``?code=…&state=…`` (or ``?error=access_denied``);
2. ``POST /oauth/token`` with ``grant_type=authorization_code`` (client id and secret,
   the code, the same redirect URI) → an access token for 7200 s and a refresh token;
3. ``POST /oauth/token`` with ``grant_type=refresh_token`` → a new access token *and a
   new refresh token*: refresh tokens rotate, the old one is refused from then on.

A desktop app catches step 1's redirect on a loopback port: :class:`LoopbackReceiver`
is a one-shot HTTP server on 127.0.0.1 that checks ``state`` (so a page elsewhere cannot
inject a code of its own), answers a "you can close this tab" page and hands the code
over. The token endpoint takes the documented JSON body.

Because the old refresh token dies at every refresh, the new credentials must reach
durable storage before anything else happens: :class:`OAuthCredentials` serialises to
one string (:meth:`OAuthCredentials.to_secret`) that the engine keeps in the keyring,
and the client hands every refreshed one to its ``token_store`` callback first.

A *privileged access token* (single-account apps) never expires and has no refresh
token: it is used as the secret as it is.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import json
import logging
import secrets
import threading
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from app.channels.errors import AuthFailed, PayloadError, RateLimited, ServerError
from app.channels.http_util import HttpSession

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.tradegecko.com"
AUTHORIZE_PATH = "/oauth/authorize"
TOKEN_PATH = "/oauth/token"
CALLBACK_PATH = "/callback"
# Refresh this long before the documented expiry, so no request meets a dying token.
REFRESH_MARGIN = 120.0
SECRET_KIND = "tradegecko-oauth"
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost")

_DONE_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Stockbridge</title>
</head><body style="font-family:sans-serif;margin:3em"><h1>{title}</h1><p>{text}</p>
</body></html>"""


class OAuthError(AuthFailed):
    """The sign-in did not complete: denied, tampered with, timed out or refused."""

    title = "TradeGecko sign-in did not complete"


@dataclass(frozen=True, slots=True)
class OAuthApp:
    """A registered TradeGecko OAuth application (go.tradegecko.com/oauth/applications)."""

    client_id: str
    client_secret: str = field(repr=False)
    # Must be one of the app's registered redirect URIs; empty = any loopback port
    # (the receiver then picks a free one).
    redirect_uri: str = ""
    base_url: str = DEFAULT_BASE_URL


@dataclass(frozen=True, slots=True)
class OAuthCredentials:
    """An access token with what is needed to renew it. Tokens never appear in repr."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: float | None
    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    scope: str = "public"
    token_type: str = "bearer"

    def expired(self, now: float, margin: float = REFRESH_MARGIN) -> bool:
        """True when the access token is past (or within ``margin`` of) its expiry."""
        return self.expires_at is not None and now >= self.expires_at - margin

    def to_secret(self) -> str:
        """One string for the keyring; :meth:`from_secret` reads it back."""
        return json.dumps(
            {
                "kind": SECRET_KIND,
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
                "expires_at": self.expires_at,
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "redirect_uri": self.redirect_uri,
                "scope": self.scope,
                "token_type": self.token_type,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_secret(cls, secret: str) -> OAuthCredentials:
        """Credentials from :meth:`to_secret`'s string; ValueError for anything else."""
        try:
            data = json.loads(secret)
        except (TypeError, ValueError):
            raise ValueError("not a stored TradeGecko sign-in") from None
        if not isinstance(data, dict) or data.get("kind") != SECRET_KIND:
            raise ValueError("not a stored TradeGecko sign-in")
        access = str(data.get("access_token") or "")
        if not access:
            raise ValueError("the stored TradeGecko sign-in has no access token")
        expires = data.get("expires_at")
        return cls(
            access_token=access,
            refresh_token=str(data.get("refresh_token") or ""),
            expires_at=float(expires) if isinstance(expires, int | float) else None,
            client_id=str(data.get("client_id") or ""),
            client_secret=str(data.get("client_secret") or ""),
            redirect_uri=str(data.get("redirect_uri") or ""),
            scope=str(data.get("scope") or "public"),
            token_type=str(data.get("token_type") or "bearer"),
        )

    @property
    def can_refresh(self) -> bool:
        return bool(self.refresh_token and self.client_id and self.client_secret)

    def tokens(self) -> tuple[str, ...]:
        """The secret parts (for log redaction)."""
        return tuple(t for t in (self.access_token, self.refresh_token, self.client_secret) if t)


def parse_secret(secret: str) -> OAuthCredentials | str:
    """The stored secret as OAuth credentials, or as a privileged access token (a string)."""
    value = (secret or "").strip()
    if value.startswith("{"):
        return OAuthCredentials.from_secret(value)
    if value[:7].lower() == "bearer ":  # pasted together with the header word
        value = value[7:].strip()
    return value


def new_state() -> str:
    """An unguessable ``state`` value for one authorization attempt."""
    return secrets.token_urlsafe(24)


def authorize_url(app: OAuthApp, state: str, redirect_uri: str | None = None) -> str:
    """Where to send the merchant's browser to approve Stockbridge."""
    query = urlencode(
        {
            "response_type": "code",
            "client_id": app.client_id,
            "redirect_uri": redirect_uri or app.redirect_uri,
            "state": state,
        }
    )
    return f"{app.base_url.rstrip('/')}{AUTHORIZE_PATH}?{query}"


# --- the loopback receiver ----------------------------------------------------------


@dataclass(slots=True)
class _Outcome:
    code: str = ""
    error: str = ""


class LoopbackReceiver:
    """A one-shot HTTP receiver on 127.0.0.1 for the authorization redirect.

    Only a request to ``path`` carrying the expected ``state`` ends the wait: a code
    with a wrong or missing state is answered 400 and ignored (it is not the redirect of
    the sign-in this app started), anything else is a 404. The browser always gets a
    page telling the merchant what happened.
    """

    def __init__(self, expected_state: str, *, port: int = 0, path: str = CALLBACK_PATH) -> None:
        if not expected_state:
            raise ValueError("the receiver needs the state it sent")
        self.expected_state = expected_state
        self.port = port
        self.path = path if path.startswith("/") else f"/{path}"
        self._outcome: _Outcome | None = None
        self._done = threading.Event()
        self._server: HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def for_redirect_uri(cls, redirect_uri: str, expected_state: str) -> LoopbackReceiver:
        """A receiver listening where a registered loopback redirect URI points."""
        parts = urlsplit(redirect_uri)
        if parts.scheme != "http" or parts.hostname not in _LOOPBACK_HOSTS:
            raise ValueError("a desktop sign-in needs an http://127.0.0.1:<port>/… redirect URI")
        return cls(expected_state, port=parts.port or 80, path=parts.path or "/")

    @property
    def redirect_uri(self) -> str:
        if self._server is None:
            raise RuntimeError("start the receiver first")
        return f"http://127.0.0.1:{self.port}{self.path}"

    def start(self) -> str:
        """Bind 127.0.0.1 and listen in a daemon thread; returns the redirect URI."""
        if self._server is None:
            self._server = HTTPServer(("127.0.0.1", self.port), self._handler_class())
            self.port = self._server.server_address[1]
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="tradegecko-oauth-receiver",
                daemon=True,
            )
            self._thread.start()
        return self.redirect_uri

    def wait(self, timeout: float) -> str:
        """Block until the redirect arrives; returns the authorization code."""
        if not self._done.wait(timeout):
            raise OAuthError(
                f"no answer from TradeGecko within {timeout:g} seconds: approve Stockbridge"
                " in the browser window, or start the sign-in again"
            )
        outcome = self._outcome or _Outcome(error="no code")
        if outcome.error:
            if outcome.error == "access_denied":
                raise OAuthError("the merchant declined access to TradeGecko in the browser")
            raise OAuthError(f"TradeGecko answered the sign-in with {outcome.error!r}")
        return outcome.code

    async def wait_async(self, timeout: float) -> str:
        return await asyncio.to_thread(self.wait, timeout)

    def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> LoopbackReceiver:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _accept(self, query: dict[str, list[str]]) -> tuple[int, str, str]:
        """Judge one callback; returns (status, page title, page text)."""
        state = (query.get("state") or [""])[0]
        if not state or not hmac.compare_digest(state, self.expected_state):
            return (
                400,
                "Sign-in link not recognised",
                (
                    "This sign-in answer does not belong to the sign-in Stockbridge started."
                    " Start the sign-in again from Stockbridge."
                ),
            )
        if self._done.is_set():
            return (
                200,
                "Already done",
                "Stockbridge already has this answer. You can close this tab.",
            )
        code = (query.get("code") or [""])[0]
        error = (query.get("error") or [""])[0]
        if error or not code:
            self._outcome = _Outcome(error=error or "no code")
            self._done.set()
            return (
                200,
                "Sign-in cancelled",
                (
                    "Stockbridge was not given access to TradeGecko. You can close this tab"
                    " and try again from Stockbridge."
                ),
            )
        self._outcome = _Outcome(code=code)
        self._done.set()
        return (
            200,
            "Stockbridge is connected",
            ("TradeGecko approved Stockbridge. You can close this tab and return to the app."),
        )

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - stdlib name
                parts = urlsplit(self.path)
                if parts.path != receiver.path:
                    self._page(404, "Not found", "Nothing here.")
                    return
                status, title, words = receiver._accept(parse_qs(parts.query))
                self._page(status, title, words)

            def _page(self, status: int, title: str, words: str) -> None:
                payload = _DONE_PAGE.format(title=html.escape(title), text=html.escape(words))
                data = payload.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                """The query holds the code: never write it to stderr."""

        return Handler


# --- the token endpoint -------------------------------------------------------------


def _token_error(response: httpx.Response, *, refreshing: bool) -> Exception:
    try:
        body = response.json()
    except ValueError:
        body = None
    error = str(body.get("error") or "") if isinstance(body, dict) else ""
    status = response.status_code
    if status == 429:
        return RateLimited("TradeGecko is limiting requests; try again shortly", status=429)
    if status >= 500:
        return ServerError(f"TradeGecko's sign-in service answered HTTP {status}", status=status)
    if error == "invalid_client":
        return OAuthError(
            "TradeGecko does not recognise the application ID or secret", status=status
        )
    if refreshing:
        return OAuthError(
            "TradeGecko no longer accepts the saved sign-in (it was renewed elsewhere or"
            " revoked). Sign in with TradeGecko again.",
            status=status,
            details={"error": error},
        )
    return OAuthError(
        "TradeGecko refused the sign-in code (it expired or was already used). Start the"
        " sign-in again.",
        status=status,
        details={"error": error},
    )


def _credentials(
    body: Any, *, client_id: str, client_secret: str, redirect_uri: str, now: float
) -> OAuthCredentials:
    if not isinstance(body, dict) or not str(body.get("access_token") or ""):
        raise PayloadError("TradeGecko's token answer has no access token in it")
    expires_in = body.get("expires_in")
    expires_at = (
        now + float(expires_in)
        if isinstance(expires_in, int | float) and not isinstance(expires_in, bool)
        else None
    )
    return OAuthCredentials(
        access_token=str(body["access_token"]),
        refresh_token=str(body.get("refresh_token") or ""),
        expires_at=expires_at,
        client_id=client_id,
        client_secret=client_secret,
        redirect_uri=redirect_uri,
        scope=str(body.get("scope") or "public"),
        token_type=str(body.get("token_type") or "bearer"),
    )


async def _post_token(
    session: HttpSession,
    form: dict[str, str],
    *,
    refreshing: bool,
    client_secret: str,
    redirect_uri: str,
    now: Callable[[], float],
) -> OAuthCredentials:
    # Never retried after sending: a refresh the server applied has already killed the
    # refresh token we would retry with.
    response = await session.request(
        "POST",
        TOKEN_PATH,
        json=form,
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        idempotent=False,
    )
    if response.status_code != 200:
        raise _token_error(response, refreshing=refreshing)
    try:
        body = response.json()
    except ValueError:
        raise PayloadError("TradeGecko's token answer is not JSON") from None
    return _credentials(
        body,
        client_id=form["client_id"],
        client_secret=client_secret,
        redirect_uri=redirect_uri,
        now=now(),
    )


async def refresh_credentials(
    session: HttpSession,
    credentials: OAuthCredentials,
    *,
    now: Callable[[], float] = time.time,
) -> OAuthCredentials:
    """Trade the refresh token for new credentials (the old refresh token dies here)."""
    if not credentials.can_refresh:
        raise OAuthError("this TradeGecko sign-in cannot be renewed: sign in again")
    fresh = await _post_token(
        session,
        {
            "grant_type": "refresh_token",
            "client_id": credentials.client_id,
            "client_secret": credentials.client_secret,
            "redirect_uri": credentials.redirect_uri,
            "refresh_token": credentials.refresh_token,
        },
        refreshing=True,
        client_secret=credentials.client_secret,
        redirect_uri=credentials.redirect_uri,
        now=now,
    )
    if not fresh.refresh_token:
        # Rotation is documented; a server that sends none keeps the old one valid.
        fresh = replace(fresh, refresh_token=credentials.refresh_token)
    return fresh


async def exchange_code(
    app: OAuthApp,
    code: str,
    *,
    redirect_uri: str | None = None,
    timeout: float = 30.0,
    transport: httpx.AsyncBaseTransport | None = None,
    now: Callable[[], float] = time.time,
) -> OAuthCredentials:
    """Step 2: the authorization code for the first access and refresh tokens."""
    if not code:
        raise OAuthError("TradeGecko sent no authorization code")
    uri = redirect_uri or app.redirect_uri
    session = HttpSession(
        app.base_url, timeout=timeout, transport=transport, secrets=(app.client_secret, code)
    )
    try:
        return await _post_token(
            session,
            {
                "grant_type": "authorization_code",
                "client_id": app.client_id,
                "client_secret": app.client_secret,
                "redirect_uri": uri,
                "code": code,
            },
            refreshing=False,
            client_secret=app.client_secret,
            redirect_uri=uri,
            now=now,
        )
    finally:
        await session.aclose()


async def sign_in(
    app: OAuthApp,
    *,
    open_browser: Callable[[str], Any] = webbrowser.open,
    port: int = 0,
    timeout: float = 300.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> OAuthCredentials:
    """The whole desktop flow: loopback receiver, browser, code exchange.

    With a registered ``app.redirect_uri`` the receiver listens exactly there;
    otherwise on ``port`` (0 = a free one). ``open_browser`` gets the authorize URL
    (the default opens the system browser; a UI may show the link instead).
    """
    state = new_state()
    if app.redirect_uri:
        receiver = LoopbackReceiver.for_redirect_uri(app.redirect_uri, state)
    else:
        receiver = LoopbackReceiver(state, port=port)
    with receiver:
        redirect_uri = receiver.redirect_uri
        open_browser(authorize_url(app, state, redirect_uri))
        code = await receiver.wait_async(timeout)
    return await exchange_code(app, code, redirect_uri=redirect_uri, transport=transport)


__all__ = [
    "AUTHORIZE_PATH",
    "CALLBACK_PATH",
    "DEFAULT_BASE_URL",
    "LoopbackReceiver",
    "OAuthApp",
    "OAuthCredentials",
    "OAuthError",
    "TOKEN_PATH",
    "authorize_url",
    "exchange_code",
    "new_state",
    "parse_secret",
    "refresh_credentials",
    "sign_in",
]
