"""Smoke-test a frozen Stockbridge bundle: the checks a merchant's first minute would make.

    python packaging/smoke_frozen.py dist/Stockbridge          # Linux / Windows onedir
    python packaging/smoke_frozen.py dist/Stockbridge.app      # macOS

Everything runs the bundle's own executable, never the source tree, with a throwaway
HOME, config and data folders, on loopback only:

1. ``--version`` names the version of the app package it was built from.
2. Linux: every Qt library and plugin in the bundle resolves its Qt dependencies inside
   the bundle (the spec prunes Qt aggressively; this catches over-pruning).
3. keyring: PYTHON_KEYRING_BACKEND selects a bundled backend by name (the fail backend
   must give the app's "no secure password store" message, and the OS backend must at
   least import).
4. ``demo --headless --json``: the built-in Selldone sandbox, import, adopt, a buyer's
   order and the stock commit reaching the shop (token in memory only).
5. The real headless path: ``sandbox serve selldone --port P`` from the same binary in
   the background, ``channel add ... --token-stdin`` into a keyring, then ``sync --once``,
   ``products adopt``, ``sync --once``, ``stock``/``status``/``orders`` in separate
   processes, so the token really travels through the keyring. The keyring backend is a
   file-backed one that this script writes to a temporary folder and keyring loads
   through its own ``keyring-path`` setting: the product ships no plaintext store.
   The token must then appear nowhere in the data folder.
6. The window: ``demo`` under QT_QPA_PLATFORM=offscreen stays up, writes its log and
   database, its own scheduler runs a sync, and a second launch finds it running. Where
   Xvfb is installed, the same on a virtual X display through the xcb plugin, checking
   that the main window is actually mapped.

Exits non-zero with the failing check named; prints each check's time.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import __version__  # noqa: E402 - the version the bundle must report

DEMO_CHANNEL = "Demo web shop"
SANDBOX_LINE = re.compile(
    r"sandbox at (?P<url>http://\S+)\s+Shop ID (?P<shop>\S+)\s+token (?P<token>\S+)"
)

# A keyring backend for this smoke test only: plain JSON in the test's temp folder.
SMOKE_KEYRING = textwrap.dedent(
    '''
    """File-backed keyring for the frozen smoke test. Never shipped in the bundle."""
    import json
    import os

    from keyring.backend import KeyringBackend
    from keyring.errors import PasswordDeleteError


    class FileKeyring(KeyringBackend):
        priority = 1

        def _path(self):
            return os.environ["STOCKBRIDGE_SMOKE_KEYRING"]

        def _load(self):
            try:
                with open(self._path(), encoding="utf-8") as f:
                    return json.load(f)
            except FileNotFoundError:
                return {}

        def _save(self, data):
            with open(self._path(), "w", encoding="utf-8") as f:
                json.dump(data, f)

        def set_password(self, service, username, password):
            data = self._load()
            data[service + "|" + username] = password
            self._save(data)

        def get_password(self, service, username):
            return self._load().get(service + "|" + username)

        def delete_password(self, service, username):
            data = self._load()
            if data.pop(service + "|" + username, None) is None:
                raise PasswordDeleteError(username)
            self._save(data)
    '''
)


class SmokeFailure(AssertionError):
    """One check failed; the message says which and shows the evidence."""


class Skipped(Exception):
    """A check that does not apply on this machine (the message says why)."""


def check(condition: object, message: str) -> None:
    if not condition:
        raise SmokeFailure(message)


# -- the bundle --------------------------------------------------------------------------
def executables(bundle: Path) -> tuple[Path, Path]:
    """(CLI executable, GUI executable) inside a onedir folder or a macOS .app."""
    if bundle.suffix == ".app":
        exe = bundle / "Contents" / "MacOS" / bundle.stem
        return exe, exe
    if sys.platform == "win32":
        return bundle / "stockbridge-cli.exe", bundle / "Stockbridge.exe"
    exe = bundle / "stockbridge"
    return exe, exe


def bundle_size(bundle: Path) -> int:
    """Bytes on disk, counting each real file once (symlinks are free)."""
    return sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file() and not p.is_symlink())


class Sandbox:
    """A throwaway HOME, config and data area; every process runs with its environment."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.home = base / "home"
        self.config = base / "config"
        runtime = base / "runtime"
        for folder in (self.home, self.config, runtime):
            folder.mkdir(parents=True)
        runtime.chmod(0o700)  # Qt insists on a private XDG_RUNTIME_DIR
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("PYTHON_KEYRING_BACKEND", "STOCKBRIDGE_DATA_DIR", "PYTHONPATH")
        }
        env.update(
            HOME=str(self.home),
            USERPROFILE=str(self.home),
            LOCALAPPDATA=str(base / "localappdata"),
            APPDATA=str(base / "appdata"),
            XDG_CONFIG_HOME=str(self.config),
            XDG_DATA_HOME=str(base / "data-home"),
            XDG_CACHE_HOME=str(base / "cache"),
            XDG_STATE_HOME=str(base / "state"),
            XDG_RUNTIME_DIR=str(runtime),
            QT_QPA_PLATFORM="offscreen",
            PYTHONIOENCODING="utf-8",
        )
        self.env = env

    def data(self, name: str) -> Path:
        return self.base / name


def run(
    argv: Sequence[str | Path],
    env: dict[str, str],
    *,
    stdin: str | None = None,
    timeout: float = 120,
    expect: int | None = 0,
) -> subprocess.CompletedProcess[str]:
    """Run one command of the bundle; fail with its output when the exit code is wrong."""
    done = subprocess.run(
        [str(a) for a in argv],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=timeout,
    )
    if expect is not None and done.returncode != expect:
        raise SmokeFailure(
            f"`{' '.join(str(a) for a in argv[1:])}` exited {done.returncode}, expected {expect}\n"
            f"--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
        )
    return done


def run_json(argv: Sequence[str | Path], env: dict[str, str], **kwargs) -> object:
    done = run([*argv, "--json"], env, **kwargs)
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError as exc:
        raise SmokeFailure(
            f"`{argv[1]}` did not print JSON ({exc}):\n{done.stdout[-2000:]}"
        ) from None


def stop(process: subprocess.Popen, *, interrupt: bool = False, grace: float = 10) -> None:
    """End a process started here: Ctrl+C (SIGINT) when it should shut down cleanly and
    report, else a plain terminate; kill only if it ignores that."""
    if process.poll() is not None:
        return
    if interrupt and sys.platform != "win32":
        process.send_signal(signal.SIGINT)
    else:
        process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(grace)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_lines(stream, into: queue.Queue) -> None:
    for line in iter(stream.readline, ""):
        into.put(line)
    into.put(None)


# -- the checks --------------------------------------------------------------------------
def check_version(cli: Path, box: Sandbox) -> str:
    out = run([cli, "--version"], box.env).stdout.strip()
    check(out == f"stockbridge {__version__}", f"--version printed {out!r}, not {__version__}")
    return out


def check_libraries(bundle: Path, box: Sandbox) -> str:
    """Every Qt/Python library in the bundle finds its Qt and Python dependencies."""
    if not sys.platform.startswith("linux") or not shutil.which("ldd"):
        raise Skipped("Linux only")
    ours = re.compile(r"^\s*(lib(Qt6|pyside6|shiboken6|python3)\S*) => not found", re.MULTILINE)
    missing: dict[str, list[str]] = {}
    files = [p for p in bundle.rglob("*.so*") if p.is_file() and not p.is_symlink()]
    for path in files:
        out = subprocess.run(["ldd", str(path)], capture_output=True, text=True).stdout
        names = [m.group(1) for m in ours.finditer(out)]
        if names:
            missing[str(path.relative_to(bundle))] = names
    check(not missing, f"bundled libraries miss bundled dependencies: {missing}")
    return f"{len(files)} libraries resolve"


def check_keyring_selection(cli: Path, box: Sandbox) -> str:
    """PYTHON_KEYRING_BACKEND picks backends by module name; they must be in the bundle."""
    env = dict(box.env, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    done = run(
        [cli, "channel", "add", "selldone", "--name", "Nowhere", "--shop-id", "1",
         "--base-url", "http://127.0.0.1:9", "--no-test", "--token-stdin",
         "--data-dir", box.data("keyring-fail")],
        env, stdin="not-a-real-token\n", expect=2,
    )  # fmt: skip
    check("No secure password store" in done.stderr, f"fail backend: {done.stderr!r}")
    backend = {
        "win32": "keyring.backends.Windows.WinVaultKeyring",
        "darwin": "keyring.backends.macOS.Keyring",
    }.get(sys.platform, "keyring.backends.SecretService.Keyring")
    env = dict(box.env, PYTHON_KEYRING_BACKEND=backend)
    done = run(
        [cli, "channel", "add", "selldone", "--name", "Nowhere", "--shop-id", "1",
         "--base-url", "http://127.0.0.1:9", "--no-test", "--token-stdin",
         "--data-dir", box.data("keyring-os")],
        env, stdin="not-a-real-token\n", expect=None,
    )  # fmt: skip
    # Without a desktop session the OS store may be unusable here; it must still import.
    check(
        "No module named" not in done.stderr and "ModuleNotFoundError" not in done.stderr,
        f"{backend} is not in the bundle: {done.stderr!r}",
    )
    return f"fail backend refused cleanly; {backend.rsplit('.', 2)[-2]} imports"


def check_headless_demo(cli: Path, box: Sandbox) -> str:
    result = run_json([cli, "demo", "--headless", "--data-dir", box.data("demo")], box.env)
    assert isinstance(result, dict)
    first, buyer = result["first_sync"], result["buyer_order"]
    check(first["ok"] and first["orders_created"] > 0, f"first demo sync: {first}")
    check(result["adopt"]["created"] > 0, f"demo adopted nothing: {result['adopt']}")
    check(result["buyer_order_sync"]["ok"], f"buyer order sync: {result['buyer_order_sync']}")
    check(
        buyer["available_after"] == buyer["available_before"] - buyer["quantity"],
        f"the buyer's order did not commit stock: {buyer}",
    )
    check(
        buyer["shop_quantity_after_push"] == buyer["available_after"],
        f"the shop did not receive the new stock: {buyer}",
    )
    return (
        f"{sum(result['orders_by_status'].values())} orders; {buyer['sku']} available "
        f"{buyer['available_before']:g} -> {buyer['available_after']:g}, shop shows "
        f"{buyer['shop_quantity_after_push']:g}"
    )


def install_smoke_keyring(box: Sandbox) -> Path:
    """Write the file backend and a keyringrc.cfg that loads it via keyring-path, in
    every place keyring looks for its config (XDG on Linux/macOS, LOCALAPPDATA on
    Windows). Returns the store file."""
    plugin = box.base / "keyring-plugin"
    plugin.mkdir()
    (plugin / "stockbridge_smoke_keyring.py").write_text(SMOKE_KEYRING, encoding="utf-8")
    config = (
        "[backend]\n"
        "default-keyring = stockbridge_smoke_keyring.FileKeyring\n"
        f"keyring-path = {plugin}\n"
    )
    for root in (box.config / "python_keyring", Path(box.env["LOCALAPPDATA"]) / "Python Keyring"):
        root.mkdir(parents=True, exist_ok=True)
        (root / "keyringrc.cfg").write_text(config, encoding="utf-8")
    store = box.base / "smoke-keyring.json"
    box.env["STOCKBRIDGE_SMOKE_KEYRING"] = str(store)
    return store


def check_cli_sync(cli: Path, box: Sandbox) -> str:
    store = install_smoke_keyring(box)
    data = box.data("cli")
    port = free_port()
    server = subprocess.Popen(
        [str(cli), "sandbox", "serve", "selldone", "--port", str(port)],
        env=box.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=read_lines, args=(server.stdout, lines), daemon=True).start()
    try:
        match, seen, deadline = None, [], time.monotonic() + 60
        while match is None and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            seen.append(line)
            match = SANDBOX_LINE.search(line)
        check(match, f"the sandbox did not start: {''.join(seen)!r}")
        assert match is not None
        url, shop, token = match["url"], match["shop"], match["token"]
        check(url.endswith(f":{port}"), f"sandbox on {url}, asked for port {port}")

        added = run_json(
            [cli, "channel", "add", "selldone", "--name", "Web shop", "--shop-id", shop,
             "--base-url", url, "--token-stdin", "--data-dir", data],
            box.env, stdin=token + "\n",
        )  # fmt: skip
        check(isinstance(added, dict) and added.get("shop"), f"channel add: {added}")
        stored = json.loads(store.read_text(encoding="utf-8"))
        check(token in stored.values(), "the token did not reach the keyring")

        first = run_json([cli, "sync", "--once", "--data-dir", data], box.env)
        check(first and all(r["ok"] for r in first), f"first sync: {first}")
        check(first[0]["orders_created"] > 0, f"first sync imported no orders: {first}")
        run_json([cli, "products", "adopt", "--channel", "Web shop", "--data-dir", data], box.env)
        second = run_json([cli, "sync", "--once", "--data-dir", data], box.env)
        check(all(r["ok"] for r in second), f"second sync: {second}")
        check(second[0]["pushes_sent"] > 0, f"no stock was pushed after adopting: {second}")
        stock = run_json([cli, "stock", "--data-dir", data], box.env)
        check(stock and any(r["committed"] for r in stock), f"nothing committed: {stock}")
        status = run_json([cli, "status", "--data-dir", data], box.env)
        check(status[0]["last_success"], f"status shows no successful sync: {status}")
        orders = run_json([cli, "orders", "--data-dir", data], box.env)
    finally:
        stop(server, interrupt=True)  # the sandbox stops its server on Ctrl+C and exits 0
    if sys.platform != "win32":  # Windows has no Ctrl+C for a child; it is terminated
        check(server.returncode == 0, f"the sandbox did not stop cleanly ({server.returncode})")
    leaks = [
        str(p.relative_to(data))
        for p in data.rglob("*")
        if p.is_file() and token.encode() in p.read_bytes()
    ]
    check(not leaks, f"the token was written outside the keyring: {leaks}")
    return (
        f"{len(orders)} orders, {len(stock)} products, {second[0]['pushes_sent']} updates sent; "
        "token only in the keyring"
    )


def _successful_syncs(database: Path) -> int:
    uri = f"{database.as_uri()}?mode=ro"
    with sqlite3.connect(uri, uri=True, timeout=10) as conn:
        return conn.execute("SELECT COUNT(*) FROM sync_log WHERE ok = 1").fetchone()[0]


def _wait_for(predicate: Callable[[], bool], timeout: float, process: subprocess.Popen) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            if predicate():
                return True
        except sqlite3.Error:
            pass  # the database is still being created
        time.sleep(0.25)
    return False


def _gui_run(gui: Path, env: dict[str, str], data: Path, log: Path, settle: float):
    """Start the demo window; wait until its scheduler has synced; return the process."""
    out = log.open("w", encoding="utf-8")
    process = subprocess.Popen(
        [str(gui), "demo", "--data-dir", str(data)], env=env, stdout=out, stderr=subprocess.STDOUT
    )
    # The demo shop is prepared with two syncs before the window opens; a third one can
    # only come from the window's own timer on the running event loop.
    synced = _wait_for(lambda: _successful_syncs(data / "stockbridge.db") >= 3, 60, process)
    time.sleep(settle)
    return process, out, synced


def check_window_offscreen(bundle: Path, box: Sandbox) -> str:
    # The second launch uses the console executable: on Windows the windowed one has no
    # standard output to say "already running" on.
    cli, gui = executables(bundle)
    data, output = box.data("window"), box.base / "window-output.txt"
    process, out, synced = _gui_run(gui, box.env, data, output, settle=3)
    try:
        alive = process.poll() is None
        text = output.read_text(encoding="utf-8", errors="replace")
        check(alive, f"the window exited with {process.returncode}:\n{text[-3000:]}")
        check(synced, f"the window's scheduler never synced:\n{text[-3000:]}")
        log = data / "logs" / "stockbridge.log"
        check(log.is_file() and log.stat().st_size > 0, "the window wrote no log")
        log_text = log.read_text(encoding="utf-8", errors="replace")
        check("Traceback" not in log_text, f"errors in the log:\n{log_text[-3000:]}")
        check("Could not load the Qt platform plugin" not in text, f"Qt: {text[-2000:]}")
        second = run([cli, "demo", "--data-dir", data], box.env, timeout=60)
        check("already running" in second.stdout, f"second launch: {second.stdout!r}")
        check(process.poll() is None, "the first window died when the second launch knocked")
    finally:
        stop(process)
        out.close()
    return "up, synced on its own timer, logged, answered a second launch"


def check_window_xcb(bundle: Path, box: Sandbox) -> str:
    """The same window on a virtual X display, through the xcb plugin merchants use."""
    _, gui = executables(bundle)
    if not sys.platform.startswith("linux"):
        raise Skipped("Linux only")
    xvfb, xwininfo = shutil.which("Xvfb"), shutil.which("xwininfo")
    if not (xvfb and xwininfo):
        raise Skipped("Xvfb/xwininfo not installed")
    display = f":{free_display()}"
    server = subprocess.Popen(
        [xvfb, display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env = dict(box.env, DISPLAY=display)
    env.pop("QT_QPA_PLATFORM")
    env.pop("WAYLAND_DISPLAY", None)
    process = out = None
    try:
        ready = False
        for _ in range(40):
            if subprocess.run([xwininfo, "-root"], env=env, capture_output=True).returncode == 0:
                ready = True
                break
            time.sleep(0.25)
        check(ready, "Xvfb did not start")
        data = box.data("window-xcb")
        process, out, synced = _gui_run(gui, env, data, box.base / "xcb-output.txt", settle=2)
        text = (box.base / "xcb-output.txt").read_text(encoding="utf-8", errors="replace")
        check(process.poll() is None, f"the xcb window exited:\n{text[-3000:]}")
        check(synced, f"the xcb window's scheduler never synced:\n{text[-3000:]}")
        tree = subprocess.run(
            [xwininfo, "-root", "-tree"], env=env, capture_output=True, text=True
        ).stdout
        candidates = re.findall(r'^\s+(0x[0-9a-f]+) "([^"]*Stockbridge[^"]*)"', tree, re.M)
        mapped = [
            title
            for window, title in candidates
            if "IsViewable"
            in subprocess.run(
                [xwininfo, "-id", window], env=env, capture_output=True, text=True
            ).stdout
        ]
        check(mapped, f"no Stockbridge window is mapped on the X display: {candidates}")
    finally:
        if process is not None:
            stop(process)
        if out is not None:
            out.close()
        stop(server, grace=5)
    return f"window mapped: {mapped[0]!r}"


def free_display() -> int:
    for n in range(90, 200):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            return n
    raise SmokeFailure("no free X display number")


CHECKS: list[tuple[str, Callable[..., str], str]] = [
    ("version", check_version, "cli"),
    ("libraries", check_libraries, "bundle"),
    ("keyring backends", check_keyring_selection, "cli"),
    ("headless demo", check_headless_demo, "cli"),
    ("CLI sync via keyring", check_cli_sync, "cli"),
    ("window (offscreen)", check_window_offscreen, "bundle"),
    ("window (xcb)", check_window_xcb, "bundle"),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Smoke-test a frozen Stockbridge bundle.")
    parser.add_argument("bundle", type=Path, help="dist/Stockbridge or dist/Stockbridge.app")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    args = parser.parse_args(argv)
    bundle = args.bundle.resolve()
    cli, _ = executables(bundle)
    if not cli.is_file():
        print(f"smoke: no executable at {cli}", file=sys.stderr)
        return 2
    base = Path(tempfile.mkdtemp(prefix="stockbridge-smoke-"))
    box = Sandbox(base)
    started = time.monotonic()
    failed = skipped = 0
    try:
        for name, func, target in CHECKS:
            t0 = time.monotonic()
            subject = cli if target == "cli" else bundle
            try:
                detail = func(subject, box)
                print(f"ok    {name:<22} {time.monotonic() - t0:5.1f}s  {detail}", flush=True)
            except Skipped as exc:
                skipped += 1
                print(f"skip  {name:<22} {time.monotonic() - t0:5.1f}s  {exc}", flush=True)
            except (SmokeFailure, subprocess.TimeoutExpired) as exc:
                failed += 1
                print(f"FAIL  {name:<22} {time.monotonic() - t0:5.1f}s  {exc}", flush=True)
    finally:
        if args.keep:
            print(f"temporary folders kept in {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    size = bundle_size(bundle)
    # Worded so CI never mistakes it for a test runner's "N passed, N failed" line.
    verdict = "FAILED" if failed else "all good"
    print(
        f"smoke: {verdict}: {len(CHECKS) - failed - skipped} of {len(CHECKS)} checks ok,"
        f" {skipped} not applicable here, {failed} failing, in {time.monotonic() - started:.1f}s;"
        f" bundle {bundle} is {size / 2**20:.1f} MiB"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
