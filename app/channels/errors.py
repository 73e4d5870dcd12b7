"""One error hierarchy for everything a channel can answer.

Every error has a short ``title`` and a ``message`` a merchant can read. Messages never
contain tokens or keys. ``transient`` tells the outbox whether a retry may help.
"""

from __future__ import annotations


class ChannelError(Exception):
    title = "Channel problem"
    transient = True

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        details: dict | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.details = details or {}

    def __str__(self) -> str:
        return f"{self.title}: {self.message}"


class ConnectionFailed(ChannelError):
    """The server could not be reached or did not answer in time."""

    title = "Cannot reach the channel"
    transient = True


class AuthFailed(ChannelError):
    """401: the token is missing, wrong or revoked. Retrying cannot help."""

    title = "Sign-in rejected"
    transient = False


class AccessDenied(ChannelError):
    """403: the token works but lacks a permission (scope) for this call."""

    title = "Permission missing"
    transient = False


class NotFound(ChannelError):
    title = "Not found on the channel"
    transient = False


class Rejected(ChannelError):
    """The channel refused the request (validation, state rules, app-level error)."""

    title = "The channel refused the change"
    transient = False


class RateLimited(ChannelError):
    title = "Channel asked us to slow down"
    transient = True


class ServerError(ChannelError):
    title = "The channel had a server problem"
    transient = True


class PayloadError(ChannelError):
    """The channel answered with something we cannot read (bad JSON, missing fields)."""

    title = "Unreadable answer from the channel"
    transient = True
