"""TradeGeckoClient: request shapes, auth renewal and errors (MockTransport), then the
real client and OAuth flow against the TradeGecko sandbox over loopback HTTP.

No pytest-asyncio: each test drives its coroutine with ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from app.channels.base import ChannelClient
from app.channels.errors import (
    AccessDenied,
    AuthFailed,
    NotFound,
    PayloadError,
    RateLimited,
    Rejected,
    ServerError,
)
from app.channels.tradegecko import oauth
from app.channels.tradegecko.client import (
    CAP_EXPORT_ORDERS,
    CAP_STOCK_MASTER,
    DEFAULT_BASE_URL,
    TradeGeckoClient,
)
from app.channels.tradegecko.mapping import ExportAddress, ExportLine, ExportOrder, VariantStock
from app.channels.tradegecko.oauth import LoopbackReceiver, OAuthApp, OAuthCredentials, OAuthError
from app.channels.tradegecko.sandbox import TradeGeckoSandbox
from app.channels.tradegecko.webhooks import SIGNATURE_HEADER, verify_signature, webhook_hint
from app.core.models import ChannelListing, OrderPush, OrderStatus

TOKEN = "a" * 64


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


class Sleeps:
    """An injected sleep that records what the client wanted to wait, and waits not."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class RealSleeps(Sleeps):
    """Records and really waits (for the sandbox's short rate-limit windows)."""

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        await asyncio.sleep(seconds)


def mock_client(
    handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any
) -> TradeGeckoClient:
    kwargs.setdefault("sleep", Sleeps())
    token = kwargs.pop("token", TOKEN)
    return TradeGeckoClient(
        "https://api.tradegecko.test", "", token, transport=httpx.MockTransport(handler), **kwargs
    )


def answer(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Callable:
    def handler(_request: httpx.Request) -> httpx.Response:
        if isinstance(body, str | bytes):
            return httpx.Response(status, content=body, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return handler


async def collect(pages: Any) -> list[Any]:
    return [item async for page in pages for item in page]


# === request shapes and errors (MockTransport) =======================================


def test_client_meets_the_channel_protocol_and_declares_its_role():
    client = TradeGeckoClient(DEFAULT_BASE_URL, "", TOKEN)
    try:
        assert isinstance(client, ChannelClient)
        assert client.platform == "tradegecko" and DEFAULT_BASE_URL == "https://api.tradegecko.com"
        assert client.capabilities == {
            "listings",
            "progress",
            "tracking",
            "paid",
            "cancel",
            "return",
            CAP_STOCK_MASTER,
            CAP_EXPORT_ORDERS,
        }
        assert (CAP_STOCK_MASTER, CAP_EXPORT_ORDERS) == ("stock_master", "export_orders")
        assert "stock_push" not in client.capabilities and "orders" not in client.capabilities
        assert client.progress_targets == {
            OrderStatus.CONFIRMED,
            OrderStatus.DISPATCHED,
            OrderStatus.DELIVERED,
        }
        assert client.auth_kind == "privileged" and client.credentials is None
    finally:
        run(client.aclose())


def test_constructor_validates_its_inputs():
    with pytest.raises(ValueError, match="access token is required"):
        TradeGeckoClient(DEFAULT_BASE_URL, "", "  ")
    with pytest.raises(ValueError, match="account ID is a number"):
        TradeGeckoClient(DEFAULT_BASE_URL, "Harbour", TOKEN)
    with pytest.raises(ValueError, match="not a stored TradeGecko sign-in"):
        TradeGeckoClient(DEFAULT_BASE_URL, "", '{"access_token": "x"}')


def test_stock_request_shape_and_incremental_cutoff():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={"variants": []},
            headers={
                "X-Pagination": json.dumps(
                    {"total_records": 0, "total_pages": 1, "last_page": True}
                )
            },
        )

    async def go() -> None:
        async with mock_client(handler, token=f"Bearer {TOKEN}") as client:
            await collect(client.fetch_stock(1_714_641_243.0))

    run(go())
    (request,) = seen
    assert request.url.path == "/variants"
    query = parse_qs(urlsplit(str(request.url)).query)
    assert query == {
        "order": ["created_at asc"],
        "limit": ["250"],
        "page": ["1"],
        "updated_at_min": ["2024-05-02T09:09:03.000Z"],  # five minutes of overlap
    }
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"].startswith("Stockbridge/")


def _variant(i: int) -> dict[str, Any]:
    return {
        "id": i,
        "product_id": 1,
        "name": f"V{i}",
        "sku": f"S{i}",
        "manage_stock": True,
        "locations": [{"location_id": 1, "stock_on_hand": str(i), "committed": "0"}],
    }


def test_paging_follows_x_pagination_or_stops_at_a_short_page():
    pages = {1: [_variant(1), _variant(2)], 2: [_variant(3), _variant(4)], 3: [_variant(5)]}
    asked: list[int] = []

    def paged(with_header: bool) -> Callable[[httpx.Request], httpx.Response]:
        def handler(request: httpx.Request) -> httpx.Response:
            page = int(request.url.params["page"])
            asked.append(page)
            headers = {}
            if with_header:
                headers["X-Pagination"] = json.dumps(
                    {
                        "total_records": 5,
                        "total_pages": 3,
                        "first_page": page == 1,
                        "last_page": page == 3,
                        "out_of_bounds": False,
                        "offset": 0,
                    }
                )
            return httpx.Response(200, json={"variants": pages.get(page, [])}, headers=headers)

        return handler

    async def go(with_header: bool) -> list[VariantStock]:
        async with mock_client(paged(with_header), page_size=2) as client:
            return await collect(client.fetch_stock(None))

    assert [v.variant_id for v in run(go(True))] == ["1", "2", "3", "4", "5"]
    assert asked == [1, 2, 3]
    asked.clear()
    assert len(run(go(False))) == 5 and asked == [1, 2, 3]


def test_a_server_ignoring_page_cannot_loop_forever():
    handler = answer(200, {"variants": [_variant(1), _variant(2)]})

    async def go() -> None:
        async with mock_client(handler, page_size=2) as client:
            await collect(client.fetch_stock(None))

    with pytest.raises(PayloadError, match="same page"):
        run(go())


async def _account(client: TradeGeckoClient) -> Any:
    return await client.check_connection()


@pytest.mark.parametrize(
    ("status", "body", "error", "text"),
    [
        (401, {"type": "Unauthorized"}, AuthFailed, "Create a new privileged token"),
        (402, {}, AccessDenied, "subscription of this account has lapsed"),
        (
            403,
            {"message": "scope"},
            AccessDenied,
            "does not let this sign-in read or change the account (scope)",
        ),
        (404, {"type": "Not Found"}, NotFound, "the account does not exist on TradeGecko"),
        (
            422,
            {"errors": {"name": ["can't be blank"]}},
            Rejected,
            "TradeGecko refused the account: Name can't be blank",
        ),
        (
            400,
            {"type": "Bad Request", "message": "limit must be at most 250"},
            Rejected,
            "limit must be at most 250",
        ),
        (414, "", Rejected, "too many filters"),
        (200, "<html>", PayloadError, "not a JSON object"),
        (200, {"user": {}}, PayloadError, "no account"),
    ],
)
def test_answers_become_the_right_error(status, body, error, text):
    async def go() -> Any:
        async with mock_client(answer(status, body)) as client:
            return await _account(client)

    with pytest.raises(error) as caught:
        run(go())
    assert text in caught.value.message
    assert TOKEN not in str(caught.value)


def test_server_errors_surface_after_bounded_retries():
    attempts: list[int] = []

    def handler(_request: httpx.Request) -> httpx.Response:
        attempts.append(1)
        return httpx.Response(503, text="maintenance")

    async def go() -> None:
        async with mock_client(handler) as client:
            await _account(client)

    with pytest.raises(ServerError) as caught:
        run(go())
    assert caught.value.transient and len(attempts) == 7  # a read: one try, six retries


def test_429_waits_for_the_reset_the_headers_name():
    reset = int(time.time()) + 30
    calls: list[int] = []

    def handler(_request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            return httpx.Response(
                429,
                json={"type": "Too Many Requests"},
                headers={
                    "X-Rate-Limit-Limit": "300",
                    "X-Rate-Limit-Remaining": "0",
                    "X-Rate-Limit-Reset": str(reset),
                },
            )
        return httpx.Response(200, json={"locations": []})

    sleeps = Sleeps()

    async def go() -> Any:
        async with mock_client(handler, sleep=sleeps) as client:
            return await client.fetch_locations()

    assert run(go()) == [] and len(calls) == 2
    assert max(sleeps.calls) == pytest.approx(
        reset - time.time(), abs=2
    )  # no Retry-After: the reset


def test_a_429_that_persists_is_rate_limited_with_the_wait():
    reset = int(time.time()) + 200
    handler = answer(
        429,
        {"type": "Too Many Requests"},
        {"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": str(reset)},
    )

    async def go() -> None:
        async with mock_client(handler) as client:
            await client.fetch_locations()

    with pytest.raises(RateLimited) as caught:
        run(go())
    assert caught.value.retry_after == pytest.approx(200, abs=2)


def test_error_text_echoing_the_token_is_redacted():
    async def go() -> None:
        async with mock_client(answer(400, {"message": f"bad token {TOKEN}"})) as client:
            await _account(client)

    with pytest.raises(Rejected) as caught:
        run(go())
    assert TOKEN not in caught.value.message and "***" in caught.value.message


def test_refusals_that_need_no_request():
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json={})

    async def go() -> None:
        async with mock_client(handler) as client:
            with pytest.raises(Rejected, match="TradeGecko holds the stock"):
                await client.push_stock(ChannelListing("1", "1", "1", "S", "N", 3), 5)
            assert await collect(client.fetch_orders(None)) == []
            with pytest.raises(Rejected, match="no change called 'invoice'"):
                await client.push_order(OrderPush("invoice", "1", invoice_number="X"))
            with pytest.raises(Rejected, match="not a TradeGecko order id"):
                await client.push_order(OrderPush("paid", "SO0001"))
            with pytest.raises(Rejected, match="no lines"):
                await client.export_order(
                    ExportOrder("R-1", "Someone", (), ExportAddress("1 Road"))
                )

    run(go())
    assert requests == []


# --- OAuth renewal (MockTransport) ----------------------------------------------------


def _credentials(expires_at: float | None = None) -> OAuthCredentials:
    return OAuthCredentials(
        "old-access",
        "old-refresh",
        expires_at or time.time() + 3600,
        "cid",
        "csecret",
        "http://127.0.0.1:1/cb",
    )


class TokenServer:
    """Scripted API + token endpoint; logs what happened in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.valid = {"old-access"}
        self.refreshes = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            form = json.loads(request.content)
            self.events.append(("token", form["refresh_token"]))
            self.refreshes += 1
            assert form["grant_type"] == "refresh_token" and form["client_secret"] == "csecret"
            new = f"access-{self.refreshes}"
            self.valid = {new}
            return httpx.Response(
                200,
                json={
                    "access_token": new,
                    "refresh_token": f"refresh-{self.refreshes}",
                    "expires_in": 7200,
                },
            )
        token = request.headers["Authorization"].removeprefix("Bearer ")
        self.events.append(("api", token))
        if token not in self.valid:
            return httpx.Response(401, json={"type": "Unauthorized"})
        return httpx.Response(200, json={"locations": [{"id": 1, "label": "Main"}]})


def test_a_401_renews_the_sign_in_stores_it_first_then_retries():
    server = TokenServer()
    server.valid = set()  # the access token was revoked early

    def store(secret: str) -> None:
        server.events.append(("store", OAuthCredentials.from_secret(secret).refresh_token))

    async def go() -> OAuthCredentials | None:
        async with mock_client(
            server, token=_credentials().to_secret(), token_store=store
        ) as client:
            assert client.auth_kind == "oauth"
            assert [loc.label for loc in await client.fetch_locations()] == ["Main"]
            return client.credentials

    creds = run(go())
    assert server.events == [
        ("api", "old-access"),
        ("token", "old-refresh"),
        ("store", "refresh-1"),
        ("api", "access-1"),
    ]
    assert creds is not None and (creds.access_token, creds.refresh_token) == (
        "access-1",
        "refresh-1",
    )
    assert creds.expires_at == pytest.approx(time.time() + 7200, abs=5)


def test_an_expired_token_is_renewed_before_use_and_only_once_for_concurrent_calls():
    server = TokenServer()
    stored: list[str] = []

    async def go() -> None:
        expired = _credentials(expires_at=time.time() - 10).to_secret()
        async with mock_client(server, token=expired, token_store=stored.append) as client:
            await asyncio.gather(
                client.fetch_locations(), client.fetch_locations(), client.fetch_locations()
            )

    run(go())
    assert server.refreshes == 1 and len(stored) == 1
    assert ("api", "old-access") not in server.events


def test_a_failing_store_holds_the_new_sign_in_back_until_it_is_saved():
    server = TokenServer()
    server.valid = set()
    attempts: list[str] = []

    async def flaky_store(secret: str) -> None:
        attempts.append(secret)
        if len(attempts) == 1:
            raise OSError("keyring locked")

    async def go() -> None:
        async with mock_client(
            server, token=_credentials().to_secret(), token_store=flaky_store
        ) as client:
            with pytest.raises(OSError, match="keyring locked"):
                await client.fetch_locations()
            assert ("api", "access-1") not in server.events  # never used unsaved
            assert await client.fetch_locations()

    run(go())
    assert server.refreshes == 1  # the rotated refresh token is not spent twice
    assert len(attempts) == 2 and attempts[0] == attempts[1]
    assert server.events[-1] == ("api", "access-1")


def test_a_refused_refresh_asks_to_sign_in_again():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return httpx.Response(
                400, json={"error": "invalid_request", "error_description": "..."}
            )
        return httpx.Response(401, json={})

    async def go() -> None:
        async with mock_client(handler, token=_credentials().to_secret()) as client:
            await client.fetch_locations()

    with pytest.raises(OAuthError, match="Sign in with TradeGecko again") as caught:
        run(go())
    assert isinstance(caught.value, AuthFailed) and not caught.value.transient


# === against the sandbox over loopback HTTP ==========================================


@pytest.fixture
def sandbox() -> Iterator[TradeGeckoSandbox]:
    with TradeGeckoSandbox(seed=1) as twin:
        yield twin


Action = Callable[[TradeGeckoClient], Coroutine[Any, Any, Any]]


def on(sandbox: TradeGeckoSandbox, action: Action, **kwargs: Any) -> Any:
    """Run ``action`` with a fresh client talking to the sandbox."""
    kwargs.setdefault("sleep", Sleeps())
    token = kwargs.pop("token", sandbox.token)
    account = kwargs.pop("account", "")

    async def go() -> Any:
        async with TradeGeckoClient(sandbox.base_url, account, token, **kwargs) as client:
            return await action(client)

    return run(go())


def push(order_push: OrderPush) -> Action:
    async def action(client: TradeGeckoClient) -> None:
        await client.push_order(order_push)

    return action


def exporting(order: ExportOrder) -> Action:
    async def action(client: TradeGeckoClient) -> str:
        return await client.export_order(order)

    return action


def stock_pages(since: float | None = None) -> Action:
    async def action(client: TradeGeckoClient) -> list[list[VariantStock]]:
        return [page async for page in client.fetch_stock(since)]

    return action


def variant_of(sandbox: TradeGeckoSandbox, sku: str) -> str:
    return str(sandbox.variants_by_sku(sku)[0]["id"])


def web_order(
    sandbox: TradeGeckoSandbox, reference: str = "SB-web-1001", **changes: Any
) -> ExportOrder:
    fields = {
        "reference": reference,
        "customer_name": "Hemi Walker",
        "customer_email": "hemi@example.org",
        "lines": [
            ExportLine(variant_of(sandbox, "HP-MH-250"), 2, 18.5),
            ExportLine(variant_of(sandbox, "HP-KB-50"), 1, 24.0),
        ],
        "shipping_address": ExportAddress(
            "3 Beach Road", city="Paihia", zip_code="0200", country="New Zealand"
        ),
        "currency": "NZD",
    }
    return ExportOrder(**(fields | changes))


def writes(sandbox: TradeGeckoSandbox, order_id: str) -> list[str]:
    """The order's writes in sequence, as ``METHOD path-tail``."""
    return [
        f"{e['method']} {e['path'].replace(f'/orders/{order_id}', '').lstrip('/') or 'order'}"
        for e in sandbox.request_log
        if e["method"] != "GET"
        and (
            f"/orders/{order_id}" in e["path"]
            or e["path"].startswith(("/fulfillments", "/fulfillment_returns"))
        )
    ]


def test_oauth_sign_in_and_refresh_rotation_against_the_sandbox(sandbox: TradeGeckoSandbox):
    app = OAuthApp(sandbox.client_id, sandbox.client_secret, base_url=sandbox.base_url)
    pages: list[int] = []

    def browser(url: str) -> None:
        # Plays the merchant's browser: approve, follow the redirect to the receiver.
        threading.Thread(
            target=lambda: pages.append(httpx.get(url, follow_redirects=True).status_code)
        ).start()

    creds = run(oauth.sign_in(app, open_browser=browser, timeout=10))
    assert creds.refresh_token and creds.expires_at == pytest.approx(time.time() + 7200, abs=10)
    assert urlsplit(creds.redirect_uri).hostname == "127.0.0.1"
    stored: list[OAuthCredentials] = []

    def store(secret: str) -> None:
        fresh = OAuthCredentials.from_secret(secret)
        # Handed over before the new access token was used for anything.
        used = {e["headers"].get("authorization") for e in sandbox.request_log}
        assert f"Bearer ****{fresh.access_token[-4:]}" not in used
        stored.append(fresh)

    async def renew(client: TradeGeckoClient) -> str:
        info = await client.check_connection()
        sandbox.expire_access_tokens()
        await client.fetch_locations()  # expired → 401 → refresh → retry
        return info.extra["auth"]

    assert on(sandbox, renew, token=creds.to_secret(), token_store=store) == "oauth"
    assert pages == [200]
    (fresh,) = stored
    assert fresh.refresh_token != creds.refresh_token and fresh.access_token != creds.access_token
    last = sandbox.request_log[-1]
    assert last["path"] == "/locations" and last["headers"]["authorization"].endswith(
        fresh.access_token[-4:]
    )
    # The old refresh token is refused from now on; the stored one works.
    reused = httpx.post(
        f"{sandbox.base_url}/oauth/token",
        json={
            "grant_type": "refresh_token",
            "refresh_token": creds.refresh_token,
            "client_id": app.client_id,
            "client_secret": app.client_secret,
        },
    )
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_request"
    with pytest.raises(OAuthError, match="Sign in with TradeGecko again"):
        on(sandbox, lambda c: c.fetch_locations(), token=creds.to_secret())
    assert on(sandbox, lambda c: c.fetch_locations(), token=fresh.to_secret())


def test_the_loopback_receiver_checks_state_and_reports_denial():
    with LoopbackReceiver("expected-state") as receiver:
        stranger = httpx.get(receiver.redirect_uri, params={"code": "x", "state": "forged"})
        assert stranger.status_code == 400 and "not belong" in stranger.text
        assert (
            httpx.get(receiver.redirect_uri.replace("/callback", "/favicon.ico")).status_code == 404
        )
        page = httpx.get(
            receiver.redirect_uri, params={"code": "the-code", "state": "expected-state"}
        )
        assert page.status_code == 200 and "You can close this tab" in page.text
        assert receiver.wait(1) == "the-code"
    with LoopbackReceiver("s") as receiver:
        httpx.get(receiver.redirect_uri, params={"error": "access_denied", "state": "s"})
        with pytest.raises(OAuthError, match="declined"):
            receiver.wait(1)
    with LoopbackReceiver("s") as receiver, pytest.raises(OAuthError, match="no answer"):
        receiver.wait(0.05)
    with pytest.raises(ValueError, match="127.0.0.1"):
        LoopbackReceiver.for_redirect_uri("https://example.com/cb", "s")


def test_per_location_stock_import_matches_the_sandbox(sandbox: TradeGeckoSandbox):
    pages = on(sandbox, stock_pages(), page_size=5)
    stock = {v.variant_id: v for page in pages for v in page}
    assert len(pages) == 3 and len(stock) == 13  # the archived variant is not listed
    locations = sandbox.stock_locations()
    for variant in sandbox.variants.values():
        if variant["status"] != "active":
            continue
        got = stock[str(variant["id"])]
        assert got.locations == [
            (str(loc), *sandbox.stock(variant["id"], loc)) for loc in locations
        ], variant["sku"]
    # Committed stock of open orders is per location: SO0002 holds 2 at the shop.
    honey = stock[variant_of(sandbox, "HP-MH-500")]
    assert honey.at(str(locations[1])) == (str(locations[1]), 6.0, 2.0)

    async def places(client: TradeGeckoClient) -> list[Any]:
        return await client.fetch_locations()

    assert [(loc.id, loc.label) for loc in on(sandbox, places)] == [
        (str(locations[0]), "Auckland Warehouse"),
        (str(locations[1]), "Wellington Shop"),
    ]


def test_the_sales_channel_flags_are_reported_faithfully(sandbox: TradeGeckoSandbox):
    stock = {v.variant_id: v for page in on(sandbox, stock_pages()) for v in page}
    for variant in sandbox.variants.values():
        if variant["status"] == "active":
            got = stock[str(variant["id"])]
            assert (got.manage_stock, got.keep_selling, got.max_online) == (
                variant["manage_stock"],
                variant["keep_selling"],
                variant["max_online"],
            ), variant["sku"]
    kilo = stock[variant_of(sandbox, "HP-MH-1000")]  # 14 on hand, max_online 5
    assert (kilo.max_online, kilo.on_hand, kilo.online_quantity()) == (5.0, 14.0, 5.0)
    gift = stock[variant_of(sandbox, "HP-GC-25")]
    assert gift.manage_stock is False and gift.online_quantity() is None
    balm = stock[variant_of(sandbox, "HP-KB-100")]  # oversold at the shop, may keep selling
    assert balm.keep_selling and balm.on_hand == -2.0 and balm.online_quantity() == 0.0
    candle = stock[variant_of(sandbox, "HP-PC-S")]
    assert candle.keep_selling and candle.max_online == 10.0 and candle.online_quantity() == 10.0


def test_incremental_stock_and_the_webhook_hint(sandbox: TradeGeckoSandbox):
    since = time.time()
    wraps = int(variant_of(sandbox, "HP-BW-S"))
    shop = sandbox.stock_locations()[1]
    sandbox.set_stock(wraps, shop, 3)
    changed = [v for page in on(sandbox, stock_pages(since)) for v in page]
    assert [v.variant_id for v in changed] == [str(wraps)]
    assert changed[0].at(str(shop)).stock_on_hand == 3.0
    event = sandbox.webhook_events[-1]
    hint = webhook_hint(event["body"])
    assert hint is not None and (hint.refetch, hint.object_id) == ("stock", str(wraps))

    async def refetch(client: TradeGeckoClient) -> list[VariantStock]:
        return await client.fetch_variant_stock([hint.object_id, hint.object_id])

    (again,) = on(sandbox, refetch)
    assert again.at(str(shop)).stock_on_hand == 3.0
    assert sandbox.requests_to("/variants", "GET")[-1]["query"] == {
        "ids": [str(wraps)],
        "limit": "250",
        "page": "1",
    }


def test_listings_companies_and_the_connection_check(sandbox: TradeGeckoSandbox):
    async def listings(client: TradeGeckoClient) -> list[ChannelListing]:
        return await collect(client.fetch_listings())

    found = on(sandbox, listings)
    twins = [item for item in found if item.sku == "HP-BW-M"]
    assert len(twins) == 2 and twins[0].external_id != twins[1].external_id
    assert all(item.external_id == item.variant_id for item in found)

    async def companies(client: TradeGeckoClient) -> list[Any]:
        return await collect(client.fetch_companies())

    customers = {c.name: c for c in on(sandbox, companies)}
    assert set(customers) == {"Kauri Cove Café", "Tui Street Deli", "Aroha Ngata", "Jane Tan"}
    kauri = next(c for c in sandbox.companies.values() if c["name"] == "Kauri Cove Café")
    assert customers["Kauri Cove Café"].ref == f"company:{kauri['id']}"
    assert (customers["Jane Tan"].postcode, customers["Jane Tan"].email) == (
        "079903",
        "jane.tan@example.com",
    )

    info = on(sandbox, _account)
    assert (info.name, info.currency, info.extra["auth"]) == (
        "Harbour & Pine Provisions",
        "NZD",
        "privileged",
    )
    assert on(sandbox, _account, account=info.account_id).account_id == info.account_id
    with pytest.raises(AccessDenied, match="belongs to account"):
        on(sandbox, _account, account="1")


def test_an_export_creates_exactly_one_order_although_the_answer_was_lost(
    sandbox: TradeGeckoSandbox,
):
    sandbox.drop_next_create()  # applied, then the connection closes without an answer
    order_id = on(sandbox, exporting(web_order(sandbox)))
    assert sandbox.creates_applied == 1
    posts = sandbox.requests_to("/orders", "POST")
    assert len(posts) == 2  # the create was sent again after the lost answer...
    assert posts[0]["json"] == posts[1]["json"]
    created = sandbox.orders[int(order_id)]  # ...and answered with the order already made
    assert created["reference_number"] == "SB-web-1001" and created["status"] == "active"
    # Exporting again later (an outbox retry after a crash) finds it by reference.
    assert on(sandbox, exporting(web_order(sandbox))) == order_id
    assert sandbox.creates_applied == 1 and len(sandbox.requests_to("/orders", "POST")) == 2
    company = sandbox.companies[created["company_id"]]
    assert (company["name"], company["company_type"], company["email"]) == (
        "Hemi Walker",
        "consumer",
        "hemi@example.org",
    )
    lines = [
        line for line in sandbox.order_line_items.values() if line["order_id"] == int(order_id)
    ]
    assert [(str(line["variant_id"]), line["quantity"], line["price"]) for line in lines] == [
        (variant_of(sandbox, "HP-MH-250"), 2.0, 18.5),
        (variant_of(sandbox, "HP-KB-50"), 1.0, 24.0),
    ]


def test_an_export_that_timed_out_is_not_created_twice(sandbox: TradeGeckoSandbox):
    sandbox.drop_next_create(stall=1.0)  # the server answers after the client gave up
    order_id = on(sandbox, exporting(web_order(sandbox, "SB-web-1002")), timeout=0.4)
    assert sandbox.creates_applied == 1
    assert [o["id"] for o in sandbox.orders.values() if o["reference_number"] == "SB-web-1002"] == [
        int(order_id)
    ]


def test_existing_customers_and_addresses_are_reused(sandbox: TradeGeckoSandbox):
    kauri = next(c for c in sandbox.companies.values() if c["name"] == "Kauri Cove Café")
    companies, addresses = len(sandbox.companies), len(sandbox.addresses)
    same_place = ExportAddress(
        "12 Wharf Road", city="Russell", zip_code="0202", country="New Zealand"
    )
    order = web_order(
        sandbox,
        "SB-b2b-7",
        customer_email="Orders@KauriCove.example",
        customer_company="Kauri Cove Café",
        shipping_address=same_place,
    )
    created = sandbox.orders[int(on(sandbox, exporting(order)))]
    assert created["company_id"] == kauri["id"]
    assert sandbox.addresses[created["shipping_address_id"]]["label"] == "Shipping"
    assert (len(sandbox.companies), len(sandbox.addresses)) == (companies, addresses)
    # A new place for a known company is added once, under a label of its own.
    elsewhere = ExportAddress(
        "8 Strand", city="Russell", zip_code="0202", country="New Zealand", label="Shipping"
    )
    second = sandbox.orders[
        int(
            on(
                sandbox,
                exporting(
                    web_order(
                        sandbox, "SB-b2b-8", company_id=str(kauri["id"]), shipping_address=elsewhere
                    )
                ),
            )
        )
    ]
    added = sandbox.addresses[second["shipping_address_id"]]
    assert (added["address1"], added["label"], added["company_id"]) == (
        "8 Strand",
        "Shipping (2)",
        kauri["id"],
    )
    assert len(sandbox.companies) == companies


def test_the_lifecycle_runs_invoice_pay_pack_fulfil_in_order_and_only_once(
    sandbox: TradeGeckoSandbox,
):
    order_id = on(sandbox, exporting(web_order(sandbox)))
    steps = [
        OrderPush("progress", order_id, target=OrderStatus.CONFIRMED),
        OrderPush("paid", order_id),
        OrderPush("progress", order_id, target=OrderStatus.DISPATCHED, tracking_code="NZP-88"),
    ]
    for step in steps + steps:  # the outbox may send each one twice
        on(sandbox, push(step))
    assert writes(sandbox, order_id) == [
        "PUT order",
        "POST actions/invoice",
        "POST actions/pay",
        "POST actions/pack",
        "POST actions/fulfil",
    ]
    order = sandbox.present("orders", int(order_id))
    assert (
        order["status"],
        order["invoice_status"],
        order["payment_status"],
        order["fulfillment_status"],
    ) == (
        "fulfilled",
        "invoiced",
        "paid",
        "shipped",
    )
    (fulfillment,) = [f for f in sandbox.fulfillments.values() if f["order_id"] == int(order_id)]
    assert (fulfillment["status"], fulfillment["tracking_number"]) == ("fulfilled", "NZP-88")
    auckland = sandbox.stock_locations()[0]
    assert sandbox.stock(int(variant_of(sandbox, "HP-MH-250")), auckland) == (38.0, 0.0)


def test_dispatch_without_confirmation_still_invoices_first_and_delivery_is_recorded(
    sandbox: TradeGeckoSandbox,
):
    order_id = on(sandbox, exporting(web_order(sandbox)))
    on(sandbox, push(OrderPush("progress", order_id, target=OrderStatus.DELIVERED)))
    on(sandbox, push(OrderPush("progress", order_id, target=OrderStatus.DELIVERED)))
    (fulfillment,) = [f for f in sandbox.fulfillments.values() if f["order_id"] == int(order_id)]
    assert writes(sandbox, order_id) == [
        "PUT order",
        "POST actions/invoice",
        "POST actions/pack",
        "POST actions/fulfil",
        f"PUT fulfillments/{fulfillment['id']}",
    ]
    assert fulfillment["received_at"]
    on(
        sandbox,
        push(
            OrderPush(
                "tracking",
                order_id,
                tracking_code="NZP-9",
                tracking_url="https://track.example/NZP-9",
            )
        ),
    )
    on(
        sandbox,
        push(
            OrderPush(
                "tracking",
                order_id,
                tracking_code="NZP-9",
                tracking_url="https://track.example/NZP-9",
            )
        ),
    )
    assert (fulfillment["tracking_number"], fulfillment["tracking_url"]) == (
        "NZP-9",
        "https://track.example/NZP-9",
    )
    assert len(sandbox.requests_to(f"/fulfillments/{fulfillment['id']}", "PUT")) == 2


def test_a_partial_dispatch_ships_only_the_chosen_variants(sandbox: TradeGeckoSandbox):
    order_id = on(sandbox, exporting(web_order(sandbox)))
    honey = variant_of(sandbox, "HP-MH-250")
    partial = OrderPush(
        "progress", order_id, target=OrderStatus.DISPATCHED, fulfil_line_ids=[honey]
    )
    on(sandbox, push(partial))
    on(sandbox, push(partial))
    order = sandbox.present("orders", int(order_id))
    assert (order["status"], order["fulfillment_status"]) == ("finalized", "partial")
    assert len(sandbox.requests_to("/fulfillments", "POST")) == 1
    with pytest.raises(Rejected, match="no line for variant 999"):
        on(
            sandbox,
            push(
                OrderPush(
                    "progress", order_id, target=OrderStatus.DISPATCHED, fulfil_line_ids=["999"]
                )
            ),
        )
    on(sandbox, push(OrderPush("progress", order_id, target=OrderStatus.DISPATCHED)))
    assert sandbox.present("orders", int(order_id))["status"] == "fulfilled"


def test_a_return_creates_one_fulfillment_return(sandbox: TradeGeckoSandbox):
    order_id = on(sandbox, exporting(web_order(sandbox)))
    with pytest.raises(Rejected, match="nothing .* was shipped"):
        on(sandbox, push(OrderPush("return", order_id)))
    on(sandbox, push(OrderPush("progress", order_id, target=OrderStatus.DISPATCHED)))
    on(sandbox, push(OrderPush("return", order_id, reason="Arrived damaged")))
    on(sandbox, push(OrderPush("return", order_id, reason="Arrived damaged")))
    (record,) = [r for r in sandbox.fulfillment_returns.values() if r["order_id"] == int(order_id)]
    assert (record["status"], record["notes"], record["location_id"]) == (
        "returning",
        "Arrived damaged",
        sandbox.stock_locations()[0],
    )
    (posted,) = sandbox.requests_to("/fulfillment_returns", "POST")
    lines = posted["json"]["fulfillment_return"]["fulfillment_return_line_items"]
    assert sorted(item["quantity"] for item in lines) == ["1", "2"]
    assert sandbox.present("orders", int(order_id))["returning_status"] == "returning"
    honey, auckland = int(variant_of(sandbox, "HP-MH-250")), sandbox.stock_locations()[0]
    sandbox.receive_return(record["id"])  # the merchant books the goods in, in TradeGecko
    assert sandbox.stock(honey, auckland) == (40.0, 0.0)


def test_cancel_voids_once_and_blocks_further_progress(sandbox: TradeGeckoSandbox):
    order_id = on(sandbox, exporting(web_order(sandbox)))
    auckland = sandbox.stock_locations()[0]
    honey = int(variant_of(sandbox, "HP-MH-250"))
    assert sandbox.stock(honey, auckland) == (40.0, 2.0)
    on(sandbox, push(OrderPush("cancel", order_id)))
    on(sandbox, push(OrderPush("cancel", order_id)))
    assert writes(sandbox, order_id) == ["POST actions/void"]
    assert sandbox.stock(honey, auckland) == (40.0, 0.0)
    with pytest.raises(Rejected, match="is void"):
        on(sandbox, push(OrderPush("progress", order_id, target=OrderStatus.CONFIRMED)))
    with pytest.raises(NotFound):
        on(sandbox, push(OrderPush("paid", "99999999")))


def test_a_422_becomes_a_readable_rejection(sandbox: TradeGeckoSandbox):
    with pytest.raises(Rejected) as caught:
        on(sandbox, exporting(web_order(sandbox, currency="EUR")))
    assert caught.value.message == (
        "TradeGecko refused sales order SB-web-1001: Currency iso does not match any currency"
        " of the account (EUR)"
    )
    assert caught.value.status == 422 and caught.value.transient is False
    assert caught.value.details["errors"] == {
        "currency_iso": ["does not match any currency of the account (EUR)"]
    }
    assert sandbox.creates_applied == 0
    archived = str(sandbox.variants_by_sku("HP-FT-N")[0]["id"])
    with pytest.raises(Rejected, match="Order line items variant id is invalid"):
        on(sandbox, exporting(web_order(sandbox, lines=[ExportLine(archived, 1)])))


def test_429_is_waited_out():
    with TradeGeckoSandbox(rate_limit=3, window_seconds=1.0) as box:

        async def burst(client: TradeGeckoClient) -> int:
            for _ in range(5):
                await client.fetch_locations()
            return 5

        # Alone, the client reads X-Rate-Limit-Remaining and waits for the reset itself.
        sleeps = RealSleeps()
        assert on(box, burst, sleep=sleeps) == 5
        assert [e["status"] for e in box.requests_to("/locations")] == [200] * 5
        assert sleeps.calls and all(0 < wait <= 1.5 for wait in sleeps.calls)

        # Another program of the same app spends the budget: the next call meets a 429,
        # waits until the window resets and goes on.
        box.clear_request_log()
        with httpx.Client(
            base_url=box.base_url, headers={"Authorization": f"Bearer {box.token}"}
        ) as other:
            for _attempt in range(10):
                refused = next(
                    a for a in iter(lambda: other.get("/locations"), None) if a.status_code == 429
                )
                if int(refused.headers["X-Rate-Limit-Reset"]) - time.time() > 0.4:
                    break  # enough of the window left for the client to meet the 429
                time.sleep(0.5)
        sleeps = RealSleeps()
        started = time.monotonic()
        assert on(box, burst, sleep=sleeps) == 5
        assert time.monotonic() - started < 8
        mine = [e["status"] for e in box.requests_to("/locations")][-6:]
        assert mine[0] == 429 and mine[1:] == [200] * 5
        assert sleeps.calls and max(sleeps.calls) <= 1.5


def test_a_revoked_privileged_token_fails_without_showing_it(sandbox: TradeGeckoSandbox):
    token = sandbox.issue_privileged_token()
    assert on(sandbox, lambda c: c.fetch_locations(), token=token)
    sandbox.revoke_token(token)
    with pytest.raises(AuthFailed) as caught:
        on(sandbox, lambda c: c.fetch_locations(), token=token)
    assert token not in str(caught.value) and "privileged token" in caught.value.message


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[bytes, str]] = []

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((body, self.headers[SIGNATURE_HEADER]))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Quiet."""


def test_signed_webhooks_are_delivered_and_verified():
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    address = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    _Receiver.received = []
    try:
        with TradeGeckoSandbox(deliver_webhooks=True, app_secret="shared-app-secret") as box:

            async def register(client: TradeGeckoClient) -> list[dict[str, Any]]:
                await client.register_webhooks(address)
                return await client.register_webhooks(address)  # again: nothing new

            hooks = on(box, register)
            assert sorted(h["event"] for h in hooks) == [
                "product.create",
                "variant.create",
                "variant.stock_level_update",
            ]
            assert len(box.requests_to("/webhooks", "POST")) == 3
            wraps = box.variants_by_sku("HP-BW-S")[0]["id"]
            box.set_stock(wraps, box.stock_locations()[0], 1)
            deadline = time.monotonic() + 5
            while not _Receiver.received and time.monotonic() < deadline:
                time.sleep(0.02)
        (body, signature), *_ = _Receiver.received
        assert verify_signature(body, signature, "shared-app-secret")
        assert not verify_signature(
            body.replace(str(wraps).encode(), b"1"), signature, "shared-app-secret"
        )
        assert not verify_signature(body, signature, "another-secret")
        hint = webhook_hint(body)
        assert hint is not None and (hint.event, hint.object_id) == (
            "variant.stock_level_update",
            str(wraps),
        )
    finally:
        server.shutdown()
        server.server_close()
