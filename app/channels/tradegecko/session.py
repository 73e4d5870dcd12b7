"""Authenticated, paced HTTP to TradeGecko, and what its answers mean.

One :class:`GeckoSession` per client. It owns:

* **Auth**: ``Authorization: Bearer <token>`` on every request, from a privileged
  access token or OAuth credentials (:mod:`.oauth`). With OAuth, an expired token is
  renewed before use and a 401 is answered by one refresh and one retry. Refresh tokens
  rotate, so the renewed credentials go to ``token_store`` *before* the new access token
  is used; if storing fails they are held back and storing is retried first next time.
* **Budget**: 300 requests per 300 s per application and account (reference §6). The
  pacer keeps our own count and obeys ``X-Rate-Limit-Remaining`` / ``-Reset`` (epoch
  seconds, no Retry-After); a 429 therefore waits until the reset.
* **Answers**: 200/201 JSON, 204 empty (PUT), 422 ``{"errors": {field: [messages]}}``
  as a :class:`Rejected` in words, 401/402/403/404/429/5xx as the matching error.
* **Paging**: ``page`` + ``limit`` (≤ 250) until ``X-Pagination`` says ``last_page``.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from app import __version__
from app.channels.errors import (
    AccessDenied,
    AuthFailed,
    NotFound,
    PayloadError,
    RateLimited,
    Rejected,
    ServerError,
)
from app.channels.http_util import HttpSession, RequestPacer, SleepFn, redact
from app.channels.tradegecko import oauth
from app.channels.tradegecko.values import errors_in_words, parse_pagination, unwrap_list

log = logging.getLogger(__name__)

REQUESTS_PER_WINDOW = 300
WINDOW_SECONDS = 300.0
MAX_PAGE_SIZE = 250
# Pages after which a listing that never says "last page" is treated as broken.
MAX_PAGES = 10_000

TokenStore = Callable[[str], Awaitable[None] | None]


class GeckoPacer(RequestPacer):
    """The shared pacer, reading TradeGecko's hyphenated ``X-Rate-Limit-*`` headers."""

    def observe(self, headers: Mapping[str, str]) -> None:
        translated: dict[str, str] = {}
        remaining = headers.get("x-rate-limit-remaining")
        reset = headers.get("x-rate-limit-reset")
        if remaining is not None:
            translated["x-ratelimit-remaining"] = remaining
        if reset is not None:
            translated["x-ratelimit-reset"] = reset
        super().observe(translated)


@dataclass(frozen=True, slots=True)
class Answer:
    """A successful answer: the JSON object ({} for 204) and the response headers."""

    body: dict[str, Any]
    headers: httpx.Headers
    status: int


class GeckoSession:
    """HTTP for one TradeGecko account, with the token kept valid."""

    def __init__(
        self,
        base_url: str,
        secret: str,
        *,
        timeout: float = 30.0,
        sleep: SleepFn = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
        token_store: TokenStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        parsed = oauth.parse_secret(secret)
        if isinstance(parsed, str):
            if not parsed:
                raise ValueError("a TradeGecko access token is required")
            self._credentials: oauth.OAuthCredentials | None = None
            self._token = parsed
        else:
            self._credentials = parsed
            self._token = parsed.access_token
        self._unsaved: oauth.OAuthCredentials | None = None
        self._token_store = token_store
        self._clock = clock
        self._refresh_lock = asyncio.Lock()
        self.pacer = GeckoPacer(REQUESTS_PER_WINDOW, WINDOW_SECONDS, sleep=sleep)
        known = [self._token]
        if self._credentials is not None:
            known += [self._credentials.refresh_token, self._credentials.client_secret]
        self.http = HttpSession(
            base_url,
            headers={"Accept": "application/json", "User-Agent": f"Stockbridge/{__version__}"},
            timeout=timeout,
            pacer=self.pacer,
            sleep=sleep,
            transport=transport,
            secrets=known,
        )
        self._secrets = set(filter(None, known))

    @property
    def auth_kind(self) -> str:
        """``oauth`` (renewable sign-in) or ``privileged`` (a token that never expires)."""
        return "privileged" if self._credentials is None else "oauth"

    @property
    def credentials(self) -> oauth.OAuthCredentials | None:
        """The OAuth credentials in use (the latest, once stored), if any."""
        return self._credentials

    async def aclose(self) -> None:
        await self.http.aclose()

    # --- requests -------------------------------------------------------------------

    async def call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: Any = None,
        json_body: Any = None,
        idempotency_key: str | None = None,
    ) -> Answer:
        """One request; raises the ChannelError its answer stands for.

        With an ``idempotency_key`` TradeGecko runs the request at most once, so it is
        retried even after a timeout (the server may have done the work already).
        """
        headers: dict[str, str] = {}
        if json_body is not None:
            headers["Content-Type"] = "application/json"
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        idempotent = True if idempotency_key else None
        response = await self._send(method, path, params, json_body, headers, idempotent)
        return self._read(response, what)

    async def _send(
        self,
        method: str,
        path: str,
        params: Any,
        json_body: Any,
        headers: dict[str, str],
        idempotent: bool | None,
    ) -> httpx.Response:
        for attempt in range(2):
            token = await self._usable_token()
            response = await self.http.request(
                method,
                path,
                params=params,
                json=json_body,
                headers={**headers, "Authorization": f"Bearer {token}"},
                idempotent=idempotent,
            )
            if response.status_code == 401 and attempt == 0 and self._can_refresh():
                await self._refresh(stale=token)
                continue
            return response
        raise AssertionError("unreachable: the second attempt always returns")

    # --- tokens ---------------------------------------------------------------------

    def _can_refresh(self) -> bool:
        return self._credentials is not None and self._credentials.can_refresh

    async def _usable_token(self) -> str:
        if self._unsaved is not None:
            async with self._refresh_lock:
                if self._unsaved is not None:
                    await self._persist()
        credentials = self._credentials
        if (
            credentials is not None
            and credentials.can_refresh
            and credentials.expired(self._clock())
        ):
            await self._refresh(stale=credentials.access_token)
        return self._token

    async def _refresh(self, *, stale: str) -> None:
        async with self._refresh_lock:
            if self._token != stale or self._credentials is None:
                return  # another request renewed it while this one waited
            fresh = await oauth.refresh_credentials(self.http, self._credentials, now=self._clock)
            self._secrets.update(filter(None, (fresh.access_token, fresh.refresh_token)))
            self._unsaved = fresh
            await self._persist()
            log.info("TradeGecko sign-in renewed")

    async def _persist(self) -> None:
        """Hand the renewed credentials to the store, then start using them."""
        fresh = self._unsaved
        if fresh is None:
            return
        if self._token_store is None:
            log.warning("the renewed TradeGecko sign-in is kept in memory only (no token store)")
        else:
            result = self._token_store(fresh.to_secret())
            if inspect.isawaitable(result):
                await result
        self._credentials, self._token, self._unsaved = fresh, fresh.access_token, None

    # --- answers --------------------------------------------------------------------

    def _words(self, text: str) -> str:
        return redact(text, sorted(self._secrets, key=len, reverse=True))

    def _message(self, body: Any) -> str:
        if not isinstance(body, dict):
            return ""
        for key in ("message", "error_description", "error", "type"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return self._words(value.strip())
        return ""

    def _read(self, response: httpx.Response, what: str) -> Answer:
        status = response.status_code
        content = response.content.strip()
        try:
            body: Any = json.loads(content) if content else None
        except ValueError:
            body = None
        if 200 <= status < 300:
            if not content:
                return Answer({}, response.headers, status)
            if not isinstance(body, dict):
                raise PayloadError(
                    f"TradeGecko's answer for {what} is not a JSON object", status=status
                )
            return Answer(body, response.headers, status)
        message = self._message(body)
        if status == 401:
            if self._credentials is None:
                raise AuthFailed(
                    "TradeGecko refused the access token (revoked or mistyped). Create a new"
                    " privileged token in TradeGecko and enter it again.",
                    status=401,
                )
            raise AuthFailed(
                "TradeGecko refused the sign-in even after renewing it. Sign in with"
                " TradeGecko again.",
                status=401,
            )
        if status == 402:
            raise AccessDenied(
                "the TradeGecko subscription of this account has lapsed; renew it in TradeGecko",
                status=402,
            )
        if status == 403:
            raise AccessDenied(
                f"TradeGecko does not let this sign-in read or change {what}"
                + (f" ({message})" if message else ""),
                status=403,
            )
        if status == 404:
            raise NotFound(f"{what} does not exist on TradeGecko", status=404)
        if status == 422:
            errors = body.get("errors") if isinstance(body, dict) else None
            words = self._words(errors_in_words(errors)) or message or "the data was not valid"
            raise Rejected(
                f"TradeGecko refused {what}: {words}",
                status=422,
                details={"errors": errors} if isinstance(errors, dict) else {},
            )
        if status == 429:
            raise RateLimited(
                "TradeGecko's limit of 300 requests per 5 minutes is used up; the app"
                " carries on when it resets",
                status=429,
                retry_after=self._reset_in(response.headers),
            )
        if status >= 500:
            raise ServerError(f"TradeGecko answered HTTP {status} for {what}", status=status)
        if status == 414:
            raise Rejected(f"the request for {what} had too many filters", status=414)
        raise Rejected(
            f"TradeGecko refused the request for {what}"
            + (f": {message}" if message else f" (HTTP {status})"),
            status=status,
        )

    def _reset_in(self, headers: httpx.Headers) -> float | None:
        raw = headers.get("x-rate-limit-reset")
        try:
            reset = float(raw) if raw is not None else None
        except ValueError:
            return None
        return None if reset is None else max(0.0, reset - self._clock())

    # --- paging ---------------------------------------------------------------------

    async def pages(
        self,
        path: str,
        root: str,
        *,
        what: str,
        params: list[tuple[str, Any]] | None = None,
        limit: int = MAX_PAGE_SIZE,
    ) -> AsyncIterator[tuple[list[dict[str, Any]], dict[str, Any]]]:
        """``(rows, body)`` page by page until TradeGecko says it was the last page.

        ``body`` is the whole answer, for sideloaded records next to the rows.
        """
        limit = max(1, min(int(limit), MAX_PAGE_SIZE))
        previous: list[Any] | None = None
        for page in range(1, MAX_PAGES + 1):
            query = [*(params or []), ("limit", limit), ("page", page)]
            answer = await self.call("GET", path, what=what, params=query)
            rows = unwrap_list(answer.body, root)
            pagination = parse_pagination(answer.headers.get("x-pagination"))
            ids = [row.get("id") for row in rows]
            if rows and ids == previous:
                raise PayloadError(f"TradeGecko sent the same page of {what} twice; paging stopped")
            previous = ids
            if rows:
                yield rows, answer.body
            if not rows or (pagination is not None and pagination.out_of_bounds):
                return
            if pagination is not None:
                if pagination.last_page or page >= pagination.total_pages:
                    return
            elif len(rows) < limit:
                return
        raise PayloadError(f"TradeGecko kept sending pages of {what}; paging stopped")


__all__ = ["Answer", "GeckoPacer", "GeckoSession", "MAX_PAGE_SIZE", "TokenStore"]
