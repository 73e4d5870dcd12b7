import keyring
import keyring.backends.null
import pytest

from app import secrets


class Broken(keyring.backend.KeyringBackend):
    priority = 1

    def set_password(self, service, username, password):
        raise RuntimeError("no D-Bus session")

    def get_password(self, service, username):
        raise RuntimeError("no D-Bus session")

    def delete_password(self, service, username):
        raise RuntimeError("no D-Bus session")


def test_a_backend_that_keeps_nothing_is_refused():
    keyring.set_keyring(keyring.backends.null.Keyring())
    with pytest.raises(secrets.SecretStoreUnavailable, match="keeps nothing"):
        secrets.store("Shop", "token-123456")


def test_backend_errors_become_the_readable_message():
    keyring.set_keyring(Broken())
    with pytest.raises(secrets.SecretStoreUnavailable, match="No secure password store"):
        secrets.store("Shop", "token-123456")
    with pytest.raises(secrets.SecretStoreUnavailable):
        secrets.load("Shop")


def test_round_trip_and_redaction():
    secrets.store("Shop", "tok-abcdef-1234")
    assert secrets.load("Shop") == "tok-abcdef-1234"
    assert "tok-abcdef-1234" not in secrets.redact("Bearer tok-abcdef-1234 refused")
