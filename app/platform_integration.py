"""What the operating system needs to know about Stockbridge: the installer's app mutex on
Windows, and starting in the tray when the merchant logs in.

Starting at log-in is a per-user switch, stored where each system looks for it:

* Windows: a value in ``HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run``
  (the installer's "start with Windows" task writes the same value, so the setting in
  the app and the installer's checkbox are one switch).
* macOS: a launch agent, ``~/Library/LaunchAgents/com.stockbridge.app.plist``.
* Linux: an XDG autostart entry, ``~/.config/autostart/stockbridge.desktop``.

Each launches the app with ``--minimised`` so it starts syncing in the tray. Every
function takes the paths, registry module and platform as optional arguments, so tests
run each variant on any operating system without touching the real one.
"""

from __future__ import annotations

import os
import plistlib
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.parsers.expat import ExpatError

from app import APP_NAME

# The installer (installer.iss, AppMutex) checks for this name to refuse to update files
# under a running app. Session-local on purpose: the default install is per user, and a
# Global\ name would make one user's running copy block another user's update.
MUTEX_NAME = "StockbridgeAppMutex"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
RUN_VALUE = APP_NAME  # installer.iss writes the same value name
LAUNCH_AGENT_LABEL = "com.stockbridge.app"
DESKTOP_FILE_NAME = "stockbridge.desktop"
MINIMISED_FLAG = "--minimised"
ERROR_ALREADY_EXISTS = 183


class AutostartError(RuntimeError):
    """Starting at log-in could not be switched; the message says why, in words."""


# -- the Windows app mutex ---------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AppMutex:
    """A named mutex held for the life of the process (Windows frees it at exit)."""

    handle: int
    already_existed: bool


_held_mutexes: list[AppMutex] = []  # a reference keeps the handle alive on purpose


def create_app_mutex(
    name: str = MUTEX_NAME, *, platform: str | None = None, kernel32: Any = None
) -> AppMutex | None:
    """Create the named mutex the installer looks for; ``None`` off Windows.

    Call once at start-up, before the window opens. The handle is deliberately never
    closed: the mutex must exist exactly as long as the process does, and Windows
    releases it when the process ends, even after a crash. ``already_existed`` is True
    when another Stockbridge in this session holds it (the single-instance guard, not
    this mutex, decides what to do about that).
    """
    if (platform or sys.platform) != "win32":
        return None
    if kernel32 is None:
        import ctypes
        from ctypes import wintypes

        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
        kernel32.CreateMutexW.argtypes = (wintypes.LPVOID, wintypes.BOOL, wintypes.LPCWSTR)
        kernel32.CreateMutexW.restype = wintypes.HANDLE
        get_last_error = ctypes.get_last_error  # type: ignore[attr-defined]
    else:
        get_last_error = kernel32.GetLastError
    handle = kernel32.CreateMutexW(None, False, name)
    if not handle:
        raise OSError(get_last_error(), f"CreateMutexW({name!r}) failed")
    mutex = AppMutex(int(handle), get_last_error() == ERROR_ALREADY_EXISTS)
    _held_mutexes.append(mutex)
    return mutex


# -- what to launch at log-in ------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LaunchCommand:
    """The program and arguments that start Stockbridge minimised, and where to run it."""

    argv: tuple[str, ...]
    workdir: str | None = None


def launch_command(
    *,
    frozen: bool | None = None,
    executable: str | None = None,
    platform: str | None = None,
) -> LaunchCommand:
    """How to start this Stockbridge in the tray.

    A packaged build is its own (windowed) executable. From source it is ``python -m
    app`` with the same interpreter (its virtual environment has the project installed;
    the checkout is also made the working directory so an uninstalled checkout works
    too). On Windows the console-less ``pythonw.exe`` is preferred so no console window
    opens at log-in.
    """
    frozen = bool(getattr(sys, "frozen", False)) if frozen is None else frozen
    executable = executable or sys.executable
    if frozen:
        # The Windows bundle has a console twin for the CLI; log-in must start the
        # windowed Stockbridge.exe beside it, or a console window would open with it.
        exe = Path(executable)
        windowed = exe.with_name(f"{APP_NAME}.exe")
        if exe.name.lower().endswith("-cli.exe") and windowed.exists():
            executable = str(windowed)
        return LaunchCommand((executable, MINIMISED_FLAG))
    if (platform or sys.platform) == "win32":
        windowless = Path(executable).with_name("pythonw.exe")
        if Path(executable).name.lower() == "python.exe" and windowless.exists():
            executable = str(windowless)
    checkout = str(Path(__file__).resolve().parent.parent)
    return LaunchCommand((executable, "-m", "app", MINIMISED_FLAG), workdir=checkout)


# -- Windows: the Run key ----------------------------------------------------------------
def _winreg(registry: Any) -> Any:
    if registry is not None:
        return registry
    import winreg  # only exists on Windows; callers on other systems inject a stand-in

    return winreg


def _windows_enabled(registry: Any) -> bool:
    reg = _winreg(registry)
    try:
        key = reg.OpenKey(reg.HKEY_CURRENT_USER, RUN_KEY, 0, reg.KEY_READ)
    except FileNotFoundError:
        return False
    try:
        value, _kind = reg.QueryValueEx(key, RUN_VALUE)
    except FileNotFoundError:
        return False
    finally:
        reg.CloseKey(key)
    return bool(str(value).strip())


def _windows_set(enabled: bool, command: LaunchCommand, registry: Any) -> None:
    reg = _winreg(registry)
    if enabled:
        key = reg.CreateKeyEx(reg.HKEY_CURRENT_USER, RUN_KEY, 0, reg.KEY_SET_VALUE)
        try:
            # The Run key holds one command line; list2cmdline quotes paths with spaces
            # ("C:\Users\Anna Meier\...") the way Windows parses them back.
            reg.SetValueEx(key, RUN_VALUE, 0, reg.REG_SZ, subprocess.list2cmdline(command.argv))
        finally:
            reg.CloseKey(key)
        return
    try:
        key = reg.OpenKey(reg.HKEY_CURRENT_USER, RUN_KEY, 0, reg.KEY_SET_VALUE)
    except FileNotFoundError:
        return  # no Run key at all: already off
    try:
        reg.DeleteValue(key, RUN_VALUE)
    except FileNotFoundError:
        pass  # already off
    finally:
        reg.CloseKey(key)


# -- macOS: a launch agent ---------------------------------------------------------------
def launch_agent_path(home: Path | None = None) -> Path:
    return (home or Path.home()) / "Library" / "LaunchAgents" / f"{LAUNCH_AGENT_LABEL}.plist"


def launch_agent(command: LaunchCommand) -> dict[str, Any]:
    """The launch agent's property list: run once at log-in, in the GUI session only."""
    agent: dict[str, Any] = {
        "Label": LAUNCH_AGENT_LABEL,
        "ProgramArguments": list(command.argv),
        "RunAtLoad": True,
        # Interactive: not throttled like a background daemon; Aqua: only in a real
        # log-in session with a menu bar, never for ssh or background sessions.
        "ProcessType": "Interactive",
        "LimitLoadToSessionType": "Aqua",
    }
    if command.workdir:
        agent["WorkingDirectory"] = command.workdir
    return agent


def _mac_enabled(home: Path | None) -> bool:
    path = launch_agent_path(home)
    try:
        with path.open("rb") as f:
            agent = plistlib.load(f)
    except FileNotFoundError:
        return False
    except (plistlib.InvalidFileException, ExpatError, ValueError, OSError):
        return False  # unreadable: launchd would not run it either
    if not isinstance(agent, dict):
        return False
    return not agent.get("Disabled", False) and bool(agent.get("ProgramArguments"))


def _mac_set(enabled: bool, command: LaunchCommand, home: Path | None) -> None:
    path = launch_agent_path(home)
    if not enabled:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, plistlib.dumps(launch_agent(command)))


# -- Linux: an XDG autostart entry -------------------------------------------------------
def autostart_desktop_path(home: Path | None = None) -> Path:
    """$XDG_CONFIG_HOME/autostart/stockbridge.desktop (XDG_CONFIG_HOME defaults to
    ~/.config). An injected ``home`` always uses its own .config, for tests."""
    configured = os.environ.get("XDG_CONFIG_HOME") if home is None else None
    base = Path(configured) if configured else (home or Path.home()) / ".config"
    return base / "autostart" / DESKTOP_FILE_NAME


_EXEC_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def desktop_exec_quote(arg: str) -> str:
    """Quote one argument for a desktop entry's Exec key.

    The Desktop Entry spec wants arguments with reserved characters in double quotes,
    with ", `, $ and \\ escaped by a backslash inside them, and a literal % written %%.
    The key's value is then itself a string, whose backslashes are escaped once more.
    """
    arg = arg.replace("%", "%%")
    if arg and not (_EXEC_RESERVED & set(arg)):
        quoted = arg
    else:
        inner = "".join("\\" + ch if ch in '"`$\\' else ch for ch in arg)
        quoted = f'"{inner}"'
    return quoted.replace("\\", "\\\\")


def desktop_entry(command: LaunchCommand, icon: Path | None = None) -> str:
    lines = [
        "[Desktop Entry]",
        "Type=Application",
        f"Name={APP_NAME}",
        "Comment=Keeps your orders and stock in sync across your sales channels",
        "Exec=" + " ".join(desktop_exec_quote(a) for a in command.argv),
        "Terminal=false",
        "Categories=Office;Finance;",
        "X-GNOME-Autostart-enabled=true",
    ]
    if command.workdir:
        lines.append(f"Path={command.workdir}")
    if icon is not None:
        lines.append(f"Icon={icon}")
    return "\n".join(lines) + "\n"


def _desktop_values(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    group = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("["):
            group = line
        elif group == "[Desktop Entry]" and "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def _linux_enabled(home: Path | None) -> bool:
    try:
        values = _desktop_values(autostart_desktop_path(home).read_text(encoding="utf-8"))
    except (FileNotFoundError, UnicodeDecodeError):
        return False
    # Desktops hide an entry rather than delete it when the user switches it off in their
    # own start-up settings; respect that as "off".
    if values.get("Hidden", "").lower() == "true":
        return False
    if values.get("X-GNOME-Autostart-enabled", "true").lower() == "false":
        return False
    return bool(values.get("Exec"))


def _app_icon_path() -> Path | None:
    base = Path(getattr(sys, "_MEIPASS", Path(__file__).resolve().parent.parent))
    path = base / "resources" / "icons" / "stockbridge-256.png"
    return path if path.exists() else None


def _linux_set(enabled: bool, command: LaunchCommand, home: Path | None) -> None:
    path = autostart_desktop_path(home)
    if not enabled:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, desktop_entry(command, _app_icon_path()).encode("utf-8"))


def _atomic_write(path: Path, data: bytes) -> None:
    """Write beside the target, then rename: a crash never leaves half a file that the
    session manager would choke on at the next log-in."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


# -- the public switch -------------------------------------------------------------------
def _family(platform: str | None) -> str:
    name = platform or sys.platform
    if name == "win32":
        return "windows"
    if name == "darwin":
        return "macos"
    return "linux"  # and the BSDs: XDG autostart is the freedesktop standard


def autostart_enabled(
    *, platform: str | None = None, home: Path | None = None, registry: Any = None
) -> bool:
    """True when Stockbridge is set to start when this user logs in."""
    family = _family(platform)
    if family == "windows":
        return _windows_enabled(registry)
    if family == "macos":
        return _mac_enabled(home)
    return _linux_enabled(home)


def set_autostart(
    enabled: bool,
    *,
    platform: str | None = None,
    home: Path | None = None,
    registry: Any = None,
    command: LaunchCommand | None = None,
) -> None:
    """Switch starting at log-in on or off for this user; idempotent either way.

    Raises AutostartError with a sentence the settings page can show when the system
    refuses (a read-only home, a locked-down registry).
    """
    family = _family(platform)
    command = command or launch_command(platform=platform)
    try:
        if family == "windows":
            _windows_set(enabled, command, registry)
        elif family == "macos":
            _mac_set(enabled, command, home)
        else:
            _linux_set(enabled, command, home)
    except OSError as exc:
        verb = "turn on" if enabled else "turn off"
        raise AutostartError(
            f"Could not {verb} starting {APP_NAME} at log-in: {exc.strerror or exc}."
        ) from exc
