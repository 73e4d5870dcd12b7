"""Tokens and API keys live in the OS keyring, and nowhere else.

Never in SQLite, settings files, logs or error messages: every secret read or written
here is also registered with the log redactor.
"""

from __future__ import annotations

import logging
import threading

import keyring
import keyring.backend
import keyring.errors

SERVICE = "stockbridge"
_known: set[str] = set()
_lock = threading.Lock()


class SecretStoreUnavailable(RuntimeError):
    def __init__(self, detail: str = "") -> None:
        super().__init__(
            "No secure password store (keyring) is available on this machine"
            + (f" ({detail})" if detail else "")
            + ". On a desktop, unlock your system keychain; on a server, set"
            " PYTHON_KEYRING_BACKEND to a keyring backend."
        )


class MissingSecret(LookupError):
    pass


def _account(channel_name: str) -> str:
    return f"channel:{channel_name}"


def remember(secret: str) -> None:
    """Register a secret so the log redactor masks it wherever it appears."""
    if secret and len(secret) >= 6:
        with _lock:
            _known.add(secret)


def redact(text: str) -> str:
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, "••••")
    return text


# Backends that accept a secret and keep nothing: storing there would lose the token.
_FORGETFUL = {"keyring.backends.null.Keyring", "keyring.backends.fail.Keyring"}


def store(channel_name: str, secret: str) -> None:
    remember(secret)
    if backend_name() in _FORGETFUL:
        raise SecretStoreUnavailable(f"the keyring backend {backend_name()} keeps nothing")
    try:
        keyring.set_password(SERVICE, _account(channel_name), secret)
    except keyring.errors.KeyringError as exc:
        raise SecretStoreUnavailable(type(exc).__name__) from None
    except (RuntimeError, OSError) as exc:
        # Some backends fail with plain errors, e.g. Secret Service without a D-Bus session.
        raise SecretStoreUnavailable(type(exc).__name__) from None


def load(channel_name: str) -> str:
    try:
        secret = keyring.get_password(SERVICE, _account(channel_name))
    except keyring.errors.KeyringError as exc:
        raise SecretStoreUnavailable(type(exc).__name__) from None
    except (RuntimeError, OSError) as exc:
        raise SecretStoreUnavailable(type(exc).__name__) from None
    if not secret:
        raise MissingSecret(
            f"No token is stored for channel '{channel_name}'. Add it again with"
            f" `stockbridge channel add ... --token-stdin`."
        )
    remember(secret)
    return secret


def delete(channel_name: str) -> None:
    try:
        keyring.delete_password(SERVICE, _account(channel_name))
    except keyring.errors.PasswordDeleteError:
        pass  # already gone: deleting is the goal
    except keyring.errors.KeyringError as exc:
        raise SecretStoreUnavailable(type(exc).__name__) from None


def backend_name() -> str:
    backend = keyring.get_keyring()
    return f"{type(backend).__module__}.{type(backend).__name__}"


class MemoryKeyring(keyring.backend.KeyringBackend):
    """Holds secrets in this process only. Used by the demo, whose tokens are the
    built-in sandboxes' and die with it."""

    priority = 0  # never chosen automatically

    def __init__(self) -> None:
        super().__init__()
        self._items: dict[tuple[str, str], str] = {}

    def set_password(self, service: str, username: str, password: str) -> None:
        self._items[(service, username)] = password

    def get_password(self, service: str, username: str) -> str | None:
        return self._items.get((service, username))

    def delete_password(self, service: str, username: str) -> None:
        if self._items.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError(username)


def use_memory_store() -> None:
    keyring.set_keyring(MemoryKeyring())


class RedactingFilter(logging.Filter):
    """Masks every registered secret in log records, including exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(text)
            record.exc_info = None
            record.msg = f"{record.msg}\n{record.exc_text}"
            record.exc_text = None
        return True
