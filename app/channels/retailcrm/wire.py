"""How Stockbridge speaks HTTP to RetailCRM: the account address, query and form
encodings, and the error envelope (platforms/retailcrm.md §2–§5).

* GET filters use PHP bracket notation: ``filter[ids][]=1&filter[ids][]=2``.
* POST bodies are ``application/x-www-form-urlencoded``; nested structures travel as
  JSON strings inside named fields (``offers=[…]``, ``order={…}``).
* Every answer is ``{"success": true|false, …}``; errors carry ``errorMsg`` and maybe
  ``errors`` (an object keyed by field or a list). 503 means "more than 10 requests per
  second"; 403 with ``Wrong "apiKey" value.`` means a bad key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from app.channels.errors import (
    AccessDenied,
    AuthFailed,
    NotFound,
    PayloadError,
    RateLimited,
    Rejected,
    ServerError,
)
from app.channels.http_util import HttpSession, parse_retry_after, redact
from app.channels.retailcrm.mapping import error_text

API_PATH = "/api/v5"
DEFAULT_DOMAIN = "retailcrm.ru"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_KEY_WORDS = ('"apikey" is missing', 'wrong "apikey" value')
_NO_ACCOUNT = "account does not exist"
_NO_METHOD = ("api method not found", "method not found")


def normalise_base_url(base_url: str | None, account: str | None) -> str:
    """The API root (``https://shop.retailcrm.ru/api/v5``) from what the merchant typed.

    ``account`` may be ``shop``, ``shop.retailcrm.ru``, ``https://shop.retailcrm.ru`` or
    any URL of the account (copied from the browser). An explicit ``base_url`` (a
    sandbox, a self-hosted box) wins unless it is a ``{account}`` template. Plain http is
    accepted only on this computer: the API key travels in every request.
    """
    base = (base_url or "").strip()
    name = (account or "").strip()
    if base and "{account}" not in base:
        address = base
    elif name:
        address = name
    else:
        raise ValueError("enter the RetailCRM account address, e.g. shop.retailcrm.ru")
    if "://" not in address:
        host_part = address.split("/", 1)[0]
        if "." not in host_part and ":" not in host_part:
            address = f"{host_part}.{DEFAULT_DOMAIN}"  # the bare account name
        address = f"https://{address}"
    parts = urlsplit(address)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        raise ValueError(f"{address!r} is not a RetailCRM account address")
    if parts.scheme == "http" and host not in _LOOPBACK:
        raise ValueError("RetailCRM accounts are reached over https://; check the address")
    path = parts.path
    cut = path.find("/api/v")
    # Anything after the host (a page of the CRM) is dropped; an API path keeps its
    # prefix (a reverse proxy may mount the API below the root) and becomes v5.
    prefix = path[:cut] if cut >= 0 else ""
    return f"{parts.scheme}://{parts.netloc}{prefix}{API_PATH}"


def php_params(values: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Nested dicts and lists as PHP bracket query pairs, keys in the order given.

    Booleans become ``1``/``0`` (the PHP client's NumericBoolean): the Python client's
    ``True`` is not documented to work. None values are left out.
    """
    pairs: list[tuple[str, str]] = []
    for key, value in values.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if value is None:
            continue
        if isinstance(value, Mapping):
            pairs += php_params(value, name)
        elif isinstance(value, list | tuple | set | frozenset):
            pairs += [(f"{name}[]", _scalar(item)) for item in value if item is not None]
        else:
            pairs.append((name, _scalar(value)))
    return pairs


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def json_field(value: Any) -> str:
    """A nested structure as the JSON string RetailCRM expects inside a form field."""
    return json.dumps(value, separators=(",", ":"))


class Form:
    """Form fields for a POST body, in order (RetailCRM reads ``site`` beside the JSON)."""

    __slots__ = ("fields",)

    def __init__(self, fields: Mapping[str, str | None]) -> None:
        self.fields = [(name, value) for name, value in fields.items() if value is not None]

    def encode(self) -> bytes:
        return urlencode(self.fields).encode("ascii")


class _CrmHttpClient(httpx.AsyncClient):
    """The AsyncClient under :class:`CrmSession`: form bodies, and a notice per attempt.

    ``HttpSession`` builds every request with ``json=``; a :class:`Form` handed over
    there becomes a form body. ``after_send`` is told when each attempt ends, answered
    or failed, so the pacer can count requests from their arrival.
    """

    after_send: Any = None

    def build_request(  # type: ignore[override]
        self, method: str, url: Any, *, json: Any = None, **kwargs: Any
    ) -> httpx.Request:
        if isinstance(json, Form):
            headers = dict(kwargs.pop("headers", None) or {})
            headers["Content-Type"] = FORM_CONTENT_TYPE
            return super().build_request(
                method, url, content=json.encode(), headers=headers, **kwargs
            )
        return super().build_request(method, url, json=json, **kwargs)

    async def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        try:
            return await super().send(request, **kwargs)
        finally:
            if self.after_send is not None:
                self.after_send()


class CrmSession(HttpSession):
    """:class:`HttpSession` (pacing, retries, timeouts) that also POSTs forms and tells an
    :class:`~app.channels.retailcrm.pacing.ArrivalPacer` when each request ended.

    Pass a :class:`Form` as ``json``. Only request building and the end-of-attempt
    notice change: the client object is re-classed in place, so every setting
    HttpSession made (timeouts, transport, proxies from the environment) stays.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._client.__class__ = _CrmHttpClient
        finished = getattr(self.pacer, "finished", None)
        self._client.after_send = finished  # type: ignore[attr-defined]


def raise_for_answer(
    response: httpx.Response, *, what: str, host: str, secrets: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The JSON object of a successful answer; otherwise the ChannelError it stands for."""
    status = response.status_code
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("success") is False and status < 400:
        status = 400  # an error envelope in a 2xx answer is still a refusal
    message = redact(error_text(body), secrets)
    lowered = message.lower()
    if status == 401 or (status == 403 and any(word in lowered for word in _KEY_WORDS)):
        raise AuthFailed(
            "RetailCRM rejected the API key. Create a key in RetailCRM (Settings → Integration"
            " → API access keys) and enter it again.",
            status=status,
        )
    if status == 403:
        raise AccessDenied(
            f"the RetailCRM API key may not read or change {what}. Allow it in the key's"
            " settings in RetailCRM." + (f" RetailCRM says: {message}" if message else ""),
            status=403,
        )
    if _NO_ACCOUNT in lowered or (status in (404, 405) and body is None):
        # RetailCRM answers an unknown account with this message, or an HTML 405 page.
        raise NotFound(
            f"there is no RetailCRM account at {host}: check the account address", status=status
        )
    if status == 404 and any(word == lowered.rstrip(".") for word in _NO_METHOD):
        raise NotFound(
            f"{host} does not answer like the RetailCRM API v5: check the account address",
            status=404,
        )
    if status == 404:
        # The account answered: the thing asked for is missing (callers may expect it).
        raise NotFound(
            f"{what} does not exist in RetailCRM", status=404, details={"missing": "entity"}
        )
    if status in (429, 503):
        raise RateLimited(
            "RetailCRM is limiting requests (at most 10 per second) or is briefly"
            " unavailable; the app will try again shortly",
            status=status,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
        )
    if status >= 500:
        raise ServerError(f"RetailCRM answered HTTP {status} for {what}", status=status)
    if status >= 400:
        raise Rejected(
            f"RetailCRM refused {what}: {message}"
            if message
            else f"RetailCRM refused {what} (HTTP {status})",
            status=status,
            details={"errors": body.get("errors")} if isinstance(body, dict) else {},
        )
    if not isinstance(body, dict):
        raise PayloadError(f"RetailCRM's answer for {what} is not a JSON object", status=status)
    return body
