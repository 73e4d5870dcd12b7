"""Tokens and keys stay in the keyring: never in files, logs, output or error messages.

A whole headless life of three channels runs through the CLI in subprocesses: a wrong
token, three connections, syncs (one with httpx and httpcore logging at DEBUG), adoption,
order actions, a stock count, a Sellar webhook with its secret, a revoked Selldone
token, a rotated Sellar key and its replacement. Then every byte the app left behind
(database, WAL, logs, backups, settings) and everything it printed is searched for every
secret and for fragments of them.

Also here: where a token may be sent (https only, except this computer's own test
servers), that certificates are checked, and that every callback/webhook receiver the
app has listens on the loopback interface only.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from app.channels import registry
from app.channels.sellar.sandbox import SellarSandbox
from app.channels.selldone.sandbox import SelldoneSandbox
from app.hub import Hub

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app"

# `python -m app`, with httpx and httpcore logging at DEBUG into the app's log file.
DEBUG_RUNNER = """
import logging, sys
import app.cli
import app.logging_setup as setup

original = setup.setup_logging

def verbose(*args, **kwargs):
    path = original(*args, **kwargs)
    for name in ("", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    return path

app.cli.setup_logging = verbose
sys.exit(app.cli.main(sys.argv[1:]))
"""


class Cli:
    """Runs the CLI in subprocesses and keeps everything it printed."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.outputs: list[str] = []
        self.env = dict(os.environ)
        self.env.update(
            PYTHON_KEYRING_BACKEND="tests.support.keyring_backend.FileKeyring",
            STOCKBRIDGE_TEST_KEYRING=str(home / "keyring.json"),
            STOCKBRIDGE_DATA_DIR=str(home / "data"),
            PYTHONPATH=str(ROOT),
        )

    def __call__(
        self, *args: str, stdin: str | None = None, ok: bool = True, debug: bool = False
    ) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-c", DEBUG_RUNNER] if debug else [sys.executable, "-m", "app"]
        proc = subprocess.run(
            [*command, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            cwd=ROOT,
            timeout=120,
        )
        self.outputs += [proc.stdout, proc.stderr]
        if ok:
            assert proc.returncode == 0, proc.stderr
        return proc

    def keyring(self) -> dict[str, str]:
        path = self.home / "keyring.json"
        return json.loads(path.read_text()) if path.exists() else {}


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


def fragments(secret: str) -> list[str]:
    """The secret and 12-character pieces of it: a cut or masked copy still leaks."""
    pieces = {secret}
    if len(secret) >= 24:
        pieces |= {secret[:12], secret[len(secret) // 2 - 6 : len(secret) // 2 + 6], secret[-12:]}
    return sorted(pieces)


def leaks(secrets: dict[str, str], texts: dict[str, bytes]) -> list[str]:
    found = []
    for label, secret in secrets.items():
        for piece in fragments(secret):
            for where, data in texts.items():
                if piece.encode() in data:
                    found.append(f"{label} ({piece[:4]}…) in {where}")
    return found


def left_behind(home: Path) -> dict[str, bytes]:
    """Every file the app wrote (database, -wal, -shm, logs, backups), not the keyring."""
    return {
        str(path.relative_to(home)): path.read_bytes()
        for path in sorted(home.rglob("*"))
        if path.is_file() and path.name != "keyring.json"
    }


def test_no_secret_is_left_anywhere(cli: Cli):
    selldone = SelldoneSandbox(seed=3, rate_limit_per_minute=0)
    sellar = SellarSandbox(seed=2)
    boxes: list[Any] = [selldone, sellar]
    sello = None
    if "sello" in registry.PLATFORMS:
        sello = registry.platform("sello").sandbox_class()(seed=2, rate_limit=100_000)
        boxes.append(sello)
    for box in boxes:
        box.start()
    secrets: dict[str, str] = {}
    watcher: sqlite3.Connection | None = None
    try:
        secrets["a mistyped token"] = "wrong-token-7d1f0c2e9b"
        bad = cli(
            "channel", "add", "selldone", "--name", "Web shop", "--shop-id",
            str(selldone.shop_id), "--base-url", selldone.base_url, "--token-stdin",
            stdin=secrets["a mistyped token"] + "\n", ok=False,
        )  # fmt: skip
        assert bad.returncode == 2 and "token" in bad.stderr.lower()

        secrets["Selldone token"] = selldone.token
        secrets["Sellar key"] = sellar.token
        cli(
            "channel", "add", "selldone", "--name", "Web shop", "--shop-id",
            str(selldone.shop_id), "--base-url", selldone.base_url, "--token-stdin",
            stdin=selldone.token + "\n",
        )  # fmt: skip
        # While any connection is open SQLite keeps the WAL file: hold one, so the
        # scan below reads every page the CLI wrote, old row versions included.
        watcher = sqlite3.connect(str(cli.home / "data" / "stockbridge.db"))
        watcher.execute("SELECT COUNT(*) FROM channels").fetchone()
        cli(
            "channel", "add", "sellar", "--name", "Wholesale", "--base-url", sellar.base_url,
            "--token-stdin", stdin=sellar.token + "\n",
        )  # fmt: skip
        if sello is not None:
            secrets["Sello key"] = sello.token
            cli(
                "channel", "add", "sello", "--name", "Marketplaces", "--base-url",
                sello.base_url, "--token-stdin", stdin=sello.token + "\n",
            )  # fmt: skip

        debug = cli("sync", "--once", "--json", debug=True)
        assert all(r["ok"] for r in json.loads(debug.stdout)), debug.stdout
        for name in ("Web shop", "Wholesale"):
            cli("products", "adopt", "--channel", name)
        orders = json.loads(cli("orders", "--status", "requested", "--json").stdout)
        new = next(o for o in orders if o["channel"] == "Web shop" and not o["needs_mapping"])
        cli(
            "order", "dispatch", new["number"], "--tracking-code", "JJD1",
            "--tracking-url", "https://track.example/JJD1",
        )  # fmt: skip
        stock = json.loads(cli("stock", "--json").stdout)
        cli("stock", "count", "--sku", stock[0]["sku"], "--on-hand", "9")

        # Instant updates for Sellar: a webhook whose address carries its own secret.
        hub = Hub(cli.home / "data")
        try:
            hub.channels.update(
                "Wholesale", settings={"webhook_public_url": "https://hooks.example"}
            )
        finally:
            hub.close()
        cli("sync", "--once")
        webhook_keys = [v for k, v in cli.keyring().items() if k.endswith(":webhook")]
        assert webhook_keys, "the webhook secret should be in the keyring"
        secrets["Sellar webhook secret"] = webhook_keys[0]
        assert any(webhook_keys[0] in h["url"] for h in sellar.state.webhooks.values()), (
            "the webhook was not registered, so its secret was never exercised"
        )

        # A revoked token and a rotated key: failing syncs must not echo them.
        selldone.revoke_token(selldone.token)
        secrets["Sellar key after rotation"] = sellar.rotate_key()
        failed = cli("sync", "--once", "--json", ok=False, debug=True)
        assert failed.returncode == 1
        assert {r["channel"] for r in json.loads(failed.stdout) if not r["ok"]} >= {
            "Web shop",
            "Wholesale",
        }
        cli("channel", "token", "Wholesale", "--token-stdin", stdin=sellar.token + "\n")
        cli("sync", "--once", "--channel", "Wholesale")
        cli("status")
        cli("status", "--json")
        cli("outbox", "list")
        cli("channel", "list", "--json")
        files = left_behind(cli.home)
    finally:
        for box in boxes:
            box.stop()
        if watcher is not None:
            watcher.close()

    stored = cli.keyring()
    for label in ("Selldone token", "Sellar key after rotation"):
        assert secrets[label] in stored.values(), f"{label} should be in the keyring"
    assert any(name.endswith(".log") for name in files), sorted(files)
    wal = [data for name, data in files.items() if name.endswith("-wal")]
    assert wal and len(wal[0]) > 4096, "the WAL file was not there to scan"
    printed = {f"output {i}": text.encode() for i, text in enumerate(cli.outputs)}
    found = leaks(secrets, files | printed)
    assert not found, "\n".join(found)

    log_text = "\n".join(
        data.decode("utf-8", "replace") for name, data in files.items() if ".log" in name
    )
    assert "httpcore" in log_text, "the debug run did not log httpx/httpcore at DEBUG"
    for line in log_text.splitlines():
        if "authorization" in line.lower() or "bearer" in line.lower():
            assert not re.search(r"[Bb]earer\s+[A-Za-z0-9._:\-]{8,}", line), line


# ------------------------------------------------------------------ where tokens go
@pytest.mark.parametrize(
    "url",
    [
        "http://example.com",
        "HTTP://EXAMPLE.COM/api",
        "http://192.168.1.20:8080",
        "http://10.255.255.1",
        "http://[2001:db8::1]:8080",
        "http://localhost@example.com",
        "http://127.0.0.1.nip.io",
        "http://localhost.example.com",
    ],
)
def test_a_token_never_goes_to_a_plain_http_address_on_the_network(cli: Cli, url: str):
    proc = cli(
        "channel", "add", "selldone", "--name", "Shop", "--shop-id", "1", "--base-url", url,
        "--token-stdin", "--no-test", stdin="token-that-must-stay-home\n", ok=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "https://" in proc.stderr and "Traceback" not in proc.stderr
    assert "token-that-must-stay-home" not in json.dumps(cli.keyring())
    assert json.loads(cli("channel", "list", "--json").stdout) == []


def test_plain_http_is_accepted_only_for_this_computer(cli: Cli):
    box = SelldoneSandbox(seed=1, rate_limit_per_minute=0)
    with box:
        url = box.base_url.replace("127.0.0.1", "localhost")
        cli(
            "channel", "add", "selldone", "--name", "Shop", "--shop-id", str(box.shop_id),
            "--base-url", url, "--token-stdin", stdin=box.token + "\n",
        )  # fmt: skip
    assert json.loads(cli("channel", "list", "--json").stdout)[0]["base_url"] == url


def test_changing_a_channel_address_to_plain_http_is_refused(tmp_path: Path):
    hub = Hub(tmp_path / "data")
    try:
        hub.channels.add("Shop", "selldone", "https://api.selldone.com", account="1",
                         warehouse_id=hub.catalog.default_warehouse_id())  # fmt: skip
        with pytest.raises(ValueError, match="https"):
            hub.channels.update("Shop", base_url="http://api.selldone.com")
        assert hub.channels.get("Shop").base_url == "https://api.selldone.com"
    finally:
        hub.close()


@pytest.fixture
def self_signed_server(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """An https server on 127.0.0.1 with a certificate nobody trusts; yields its URL and
    the request lines it received (none may arrive if certificates are checked)."""
    pytest.importorskip("cryptography", reason="generating a test certificate needs it")
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    received: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server name
            received.append(f"{self.command} {self.path} {self.headers.get('Authorization')}")
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


def test_certificates_are_checked(cli: Cli, self_signed_server: tuple[str, list[str]]):
    url, received = self_signed_server
    proc = cli(
        "channel", "add", "selldone", "--name", "Shop", "--shop-id", "1", "--base-url", url,
        "--token-stdin", stdin="token-for-an-impostor\n", ok=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "certificate" in proc.stderr.lower() or "ssl" in proc.stderr.lower(), proc.stderr
    assert received == [], "the request (and its token) went to an untrusted server"
    assert "token-for-an-impostor" not in proc.stderr + json.dumps(cli.keyring())


def test_no_code_turns_certificate_checks_off():
    forbidden = re.compile(
        r"verify\s*=\s*False|CERT_NONE|_create_unverified_context|check_hostname\s*=\s*False"
    )
    hits = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in APP.rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if forbidden.search(line)
    ]
    assert hits == []


# ------------------------------------------------------------------------- receivers
def non_loopback_address() -> str | None:
    """An address of this machine on a real interface, if it has one."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # TEST-NET-1: no packet is sent for UDP connect
        address = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") else address


def assert_loopback_only(port: int, bound: str) -> None:
    assert bound == "127.0.0.1", bound
    other = non_loopback_address()
    if other is None:
        return
    with socket.socket() as sock:
        sock.settimeout(1)
        assert sock.connect_ex((other, port)) != 0, f"reachable on {other}:{port}"


def test_the_webhook_receiver_listens_on_this_computer_only():
    from app.sync.webhooks import WebhookReceiver

    receiver = WebhookReceiver(lambda _name, _body: None, port=0)
    receiver.start()
    try:
        host, port = receiver.server.server_address[:2]
        assert_loopback_only(port, host)
    finally:
        receiver.stop()
    for host in ("0.0.0.0", "", "192.168.1.20", "::"):
        with pytest.raises(ValueError):
            WebhookReceiver(lambda _name, _body: None, port=0, host=host)


def test_the_retailcrm_callback_receiver_listens_on_this_computer_only():
    callback = pytest.importorskip("app.channels.retailcrm.callback")
    receiver = callback.CallbackReceiver(lambda *_args: [], client_id="stockbridge-test")
    receiver.start()
    try:
        assert receiver._httpd is not None
        host, port = receiver._httpd.server_address[:2]
        assert_loopback_only(port, host)
    finally:
        receiver.stop()


def test_the_tradegecko_sign_in_receiver_listens_on_this_computer_only():
    oauth = pytest.importorskip("app.channels.tradegecko.oauth")
    receiver = oauth.LoopbackReceiver("state-123", port=0)
    receiver.start()
    try:
        host, port = receiver._server.server_address[:2]
        assert_loopback_only(port, host)
    finally:
        receiver.close()
