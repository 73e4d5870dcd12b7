"""The TradeGecko sandbox's OAuth 2 server and token registry (reference §2).

* ``GET /oauth/authorize?response_type=code&client_id=…&redirect_uri=…&state=…`` →
  302 to ``redirect_uri?code=…&state=…`` (or ``?error=access_denied&state=…`` when the
  sandbox plays a merchant who declines). A wrong client or redirect URI is answered
  with an error page and *no* redirect (RFC 6749 §4.1.2.1). Redirect URIs: the
  registered list, or — when none is registered — any ``http`` loopback URI, which is
  what a desktop app's receiver uses.
* ``POST /oauth/token`` (JSON as the docs' curl, or form-encoded as the gem):
  ``authorization_code`` (single-use codes, 10 minutes, same redirect URI) and
  ``refresh_token``. Tokens are 64 hex characters, ``expires_in`` 7200, scope
  ``public``. A refresh returns a *new* refresh token and revokes the old pair: reusing
  the old refresh token fails with the documented ``{"error":"invalid_request",…}``.
* Privileged access tokens never expire and cannot be refreshed.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from app.channels.sandbox_http import Request, Response

CODE_LIFETIME = 600.0
ACCESS_TOKEN_TTL = 7200.0
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(slots=True)
class TokenInfo:
    app_id: int
    kind: str  # "privileged" or "oauth"
    expires_at: float | None = None
    revoked: bool = False


@dataclass(slots=True)
class RefreshInfo:
    app_id: int
    client_id: str
    access_token: str
    used: bool = False


@dataclass(slots=True)
class CodeInfo:
    client_id: str
    redirect_uri: str
    expires_at: float
    used: bool = False


def _oauth_error(status: int, error: str, description: str) -> Response:
    return Response(
        status,
        {"error": error, "error_description": description},
        {"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


class OAuthServer:
    """Registered app, issued codes and tokens of one sandbox account."""

    def __init__(
        self,
        app: dict[str, Any],
        privileged_token: str,
        *,
        redirect_uris: tuple[str, ...] | None = None,
        access_token_ttl: float = ACCESS_TOKEN_TTL,
    ) -> None:
        self.app = app
        self.redirect_uris = redirect_uris
        self.access_token_ttl = access_token_ttl
        # "allow" plays a merchant who approves the app, "deny" one who declines.
        self.decision = "allow"
        self.access_tokens: dict[str, TokenInfo] = {
            privileged_token: TokenInfo(app_id=app["id"], kind="privileged")
        }
        self.refresh_tokens: dict[str, RefreshInfo] = {}
        self.codes: dict[str, CodeInfo] = {}
        self.issued: list[dict[str, Any]] = []  # every token answer, for tests

    # ----------------------------------------------------------------- tokens
    def authenticate(self, token: str) -> TokenInfo | str:
        """The token's owner, or why it is refused (a message for the 401)."""
        info = self.access_tokens.get(token) if token else None
        if info is None:
            return "The access token is invalid"
        if info.revoked:
            return "The access token was revoked"
        if info.expires_at is not None and time.time() >= info.expires_at:
            return "The access token expired"
        return info

    def issue_privileged(self) -> str:
        token = secrets.token_hex(32)
        self.access_tokens[token] = TokenInfo(app_id=self.app["id"], kind="privileged")
        return token

    def expire_access_tokens(self) -> None:
        """Every OAuth access token expires now (privileged tokens never do)."""
        for info in self.access_tokens.values():
            if info.kind == "oauth":
                info.expires_at = time.time() - 1

    def revoke(self, token: str) -> None:
        if token in self.access_tokens:
            self.access_tokens[token].revoked = True

    def _issue(self, client_id: str) -> dict[str, Any]:
        access, refresh = secrets.token_hex(32), secrets.token_hex(32)
        now = time.time()
        self.access_tokens[access] = TokenInfo(
            app_id=self.app["id"], kind="oauth", expires_at=now + self.access_token_ttl
        )
        self.refresh_tokens[refresh] = RefreshInfo(self.app["id"], client_id, access)
        answer = {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": int(self.access_token_ttl),
            "refresh_token": refresh,
            "scope": "public",
            "created_at": int(now),
        }
        self.issued.append(dict(answer))
        return answer

    # -------------------------------------------------------------- authorize
    def _redirect_allowed(self, uri: str) -> bool:
        if self.redirect_uris is not None:
            return uri in self.redirect_uris
        parts = urlsplit(uri)
        return parts.scheme == "http" and parts.hostname in _LOOPBACK

    def authorize(self, request: Request) -> Response:
        query = request.query
        client_id = str(query.get("client_id") or "")
        redirect_uri = str(query.get("redirect_uri") or "")
        state = query.get("state")
        if not hmac.compare_digest(client_id, self.app["client_id"]):
            return Response(400, "Client authentication failed: unknown client_id.")
        if not redirect_uri or not self._redirect_allowed(redirect_uri):
            return Response(400, "The redirect uri included is not valid.")
        params: dict[str, str] = {}
        if query.get("response_type") != "code":
            params["error"] = "unsupported_response_type"
        elif self.decision != "allow":
            params["error"] = "access_denied"
        else:
            code = secrets.token_hex(32)
            self.codes[code] = CodeInfo(client_id, redirect_uri, time.time() + CODE_LIFETIME)
            params["code"] = code
        if isinstance(state, str):
            params["state"] = state
        separator = "&" if urlsplit(redirect_uri).query else "?"
        return Response(302, "", {"Location": f"{redirect_uri}{separator}{urlencode(params)}"})

    # ------------------------------------------------------------------ token
    @staticmethod
    def _form(request: Request) -> dict[str, str]:
        kind = (request.header("content-type") or "").lower()
        if "application/x-www-form-urlencoded" in kind:
            return dict(parse_qsl(request.raw_body.decode("utf-8", "replace")))
        body = request.json
        if isinstance(body, dict):
            return {key: str(value) for key, value in body.items() if value is not None}
        return {}

    def token(self, request: Request) -> Response:
        form = self._form(request)
        grant = form.get("grant_type", "")
        if not form.get("client_id") or not form.get("client_secret"):
            return _oauth_error(
                400,
                "invalid_request",
                "The request is missing a required parameter, includes an unsupported parameter value, or is otherwise malformed.",
            )
        if not (
            hmac.compare_digest(form["client_id"], self.app["client_id"])
            and hmac.compare_digest(form["client_secret"], self.app["client_secret"])
        ):
            return _oauth_error(
                401,
                "invalid_client",
                "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.",
            )
        if grant == "authorization_code":
            return self._code_grant(form)
        if grant == "refresh_token":
            return self._refresh_grant(form)
        return _oauth_error(
            400,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server.",
        )

    def _code_grant(self, form: dict[str, str]) -> Response:
        info = self.codes.get(form.get("code", ""))
        if (
            info is None
            or info.used
            or time.time() > info.expires_at
            or info.client_id != form["client_id"]
            or info.redirect_uri != form.get("redirect_uri", "")
        ):
            return _oauth_error(
                400,
                "invalid_grant",
                "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.",
            )
        info.used = True
        return Response(200, self._issue(form["client_id"]), {"Cache-Control": "no-store"})

    def _refresh_grant(self, form: dict[str, str]) -> Response:
        info = self.refresh_tokens.get(form.get("refresh_token", ""))
        if info is None or info.used or info.client_id != form["client_id"]:
            # The documented refresh error (DOCS_OLD: refresh-an-access-token).
            return _oauth_error(
                400,
                "invalid_request",
                "The request is missing a required parameter, includes an unsupported parameter value, or is otherwise malformed.",
            )
        info.used = True
        self.revoke(info.access_token)  # the old pair dies with the rotation
        return Response(200, self._issue(form["client_id"]), {"Cache-Control": "no-store"})


__all__ = ["ACCESS_TOKEN_TTL", "OAuthServer", "TokenInfo"]
