"""Start at log-in on each platform, and the Windows app mutex the installer relies on.

Linux and macOS write real files in a temporary HOME; the Windows Run key goes through a
stand-in for winreg that keeps winreg's rules (missing keys and values raise
FileNotFoundError, a key opened for reading cannot be written).
"""

from __future__ import annotations

import plistlib
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from app import platform_integration as pi
from app.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
FROZEN_MAC = pi.LaunchCommand(("/Applications/Stockbridge.app/Contents/MacOS/Stockbridge",))


@pytest.fixture
def temp_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    return home


# -- the launch command ------------------------------------------------------------------
def test_frozen_build_launches_itself_minimised():
    cmd = pi.launch_command(frozen=True, executable="/opt/Stockbridge/stockbridge")
    assert cmd.argv == ("/opt/Stockbridge/stockbridge", "--minimised")
    assert cmd.workdir is None


def test_frozen_windows_console_twin_launches_the_windowed_exe(tmp_path):
    cli = tmp_path / "stockbridge-cli.exe"
    cli.write_text("")
    assert pi.launch_command(frozen=True, executable=str(cli)).argv[0] == str(cli)
    (tmp_path / "Stockbridge.exe").write_text("")
    cmd = pi.launch_command(frozen=True, executable=str(cli))
    assert cmd.argv == (str(tmp_path / "Stockbridge.exe"), "--minimised")


def test_source_checkout_launches_python_m_app_from_the_checkout():
    cmd = pi.launch_command(frozen=False, executable="/venv/bin/python", platform="linux")
    assert cmd.argv == ("/venv/bin/python", "-m", "app", "--minimised")
    assert cmd.workdir == str(ROOT)


def test_source_on_windows_prefers_the_console_less_interpreter(tmp_path):
    python = tmp_path / "python.exe"
    python.write_text("")
    assert pi.launch_command(frozen=False, executable=str(python), platform="win32").argv[0] == (
        str(python)
    )
    (tmp_path / "pythonw.exe").write_text("")
    cmd = pi.launch_command(frozen=False, executable=str(python), platform="win32")
    assert cmd.argv[0] == str(tmp_path / "pythonw.exe")


def test_the_minimised_flag_is_one_the_app_accepts():
    assert build_parser().parse_args([pi.MINIMISED_FLAG]).minimised is True


def test_the_source_launch_command_really_starts_this_app():
    cmd = pi.launch_command(frozen=False)
    argv = [a for a in cmd.argv if a != pi.MINIMISED_FLAG] + ["--version"]
    done = subprocess.run(argv, cwd=cmd.workdir, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith("stockbridge ")


# -- Linux -------------------------------------------------------------------------------
def test_linux_autostart_round_trip_in_a_temp_home(temp_home):
    assert not pi.autostart_enabled(platform="linux")
    cmd = pi.LaunchCommand(("/opt/Stock bridge/stockbridge", "--minimised"))
    pi.set_autostart(True, platform="linux", command=cmd)

    entry = temp_home / ".config" / "autostart" / "stockbridge.desktop"
    text = entry.read_text(encoding="utf-8")
    assert text.startswith("[Desktop Entry]\n")
    assert "Type=Application\n" in text
    exec_line = next(line for line in text.splitlines() if line.startswith("Exec="))
    assert shlex.split(exec_line[len("Exec=") :]) == list(cmd.argv)
    assert pi.autostart_enabled(platform="linux")

    pi.set_autostart(True, platform="linux", command=cmd)  # idempotent
    assert pi.autostart_enabled(platform="linux")
    pi.set_autostart(False, platform="linux")
    assert not entry.exists()
    assert not pi.autostart_enabled(platform="linux")
    pi.set_autostart(False, platform="linux")  # already off is fine


def test_linux_honours_xdg_config_home(temp_home, tmp_path, monkeypatch):
    config = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    pi.set_autostart(True, platform="linux", command=FROZEN_MAC)
    assert (config / "autostart" / "stockbridge.desktop").is_file()
    assert not (temp_home / ".config").exists()


@pytest.mark.parametrize("extra", ["Hidden=true", "X-GNOME-Autostart-enabled=false", "Hidden=True"])
def test_linux_entry_switched_off_by_the_desktop_counts_as_off(temp_home, extra):
    pi.set_autostart(True, platform="linux", command=FROZEN_MAC)
    entry = pi.autostart_desktop_path()
    entry.write_text(entry.read_text().replace("X-GNOME-Autostart-enabled=true\n", "") + extra)
    assert not pi.autostart_enabled(platform="linux")


@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        ("/usr/bin/stockbridge", "/usr/bin/stockbridge"),
        ("--minimised", "--minimised"),
        ("/home/anna/My Shop/stockbridge", '"/home/anna/My Shop/stockbridge"'),
        ("/srv/$HOME/x", '"/srv/\\\\$HOME/x"'),
        ("100%", "100%%"),
        ('say "hi"', '"say \\\\"hi\\\\""'),
        ("C:\\x", '"C:\\\\\\\\x"'),
    ],
)
def test_desktop_exec_quoting_follows_the_desktop_entry_spec(arg, expected):
    assert pi.desktop_exec_quote(arg) == expected


def test_linux_failure_is_reported_in_words(temp_home):
    # A file where the autostart folder should be: mkdir fails even for root.
    (temp_home / ".config").mkdir()
    (temp_home / ".config" / "autostart").write_text("not a folder")
    with pytest.raises(pi.AutostartError, match="Could not turn on starting Stockbridge"):
        pi.set_autostart(True, platform="linux", command=FROZEN_MAC)


# -- macOS -------------------------------------------------------------------------------
def test_macos_launch_agent_round_trip_in_a_temp_home(temp_home):
    assert not pi.autostart_enabled(platform="darwin")
    cmd = pi.LaunchCommand(
        ("/Applications/Stockbridge.app/Contents/MacOS/Stockbridge", "--minimised")
    )
    pi.set_autostart(True, platform="darwin", command=cmd)

    path = temp_home / "Library" / "LaunchAgents" / "com.stockbridge.app.plist"
    with path.open("rb") as f:
        agent = plistlib.load(f)
    assert agent["Label"] == "com.stockbridge.app"
    assert agent["ProgramArguments"] == list(cmd.argv)
    assert agent["RunAtLoad"] is True
    assert agent["LimitLoadToSessionType"] == "Aqua"
    assert "WorkingDirectory" not in agent
    assert pi.autostart_enabled(platform="darwin")

    pi.set_autostart(False, platform="darwin")
    assert not path.exists()
    assert not pi.autostart_enabled(platform="darwin")


def test_macos_source_run_sets_the_working_directory(temp_home):
    cmd = pi.launch_command(frozen=False, executable="/venv/bin/python", platform="darwin")
    pi.set_autostart(True, platform="darwin", command=cmd)
    with pi.launch_agent_path().open("rb") as f:
        agent = plistlib.load(f)
    assert agent["WorkingDirectory"] == str(ROOT)
    assert agent["ProgramArguments"] == ["/venv/bin/python", "-m", "app", "--minimised"]


def test_macos_disabled_or_broken_agent_counts_as_off(temp_home):
    pi.set_autostart(True, platform="darwin", command=FROZEN_MAC)
    path = pi.launch_agent_path()
    with path.open("rb") as f:
        agent = plistlib.load(f)
    path.write_bytes(plistlib.dumps({**agent, "Disabled": True}))
    assert not pi.autostart_enabled(platform="darwin")
    path.write_bytes(b"<plist><dict><key>Label")
    assert not pi.autostart_enabled(platform="darwin")


def test_injected_home_wins_over_the_environment(temp_home, tmp_path):
    other = tmp_path / "other"
    pi.set_autostart(True, platform="darwin", home=other, command=FROZEN_MAC)
    assert pi.autostart_enabled(platform="darwin", home=other)
    assert not pi.autostart_enabled(platform="darwin")


# -- Windows (a winreg stand-in) ---------------------------------------------------------
class FakeWinreg:
    """The slice of winreg that platform_integration uses, with winreg's failure modes."""

    HKEY_CURRENT_USER = "HKCU"
    KEY_READ = 0x20019
    KEY_SET_VALUE = 0x0002
    REG_SZ = 1

    def __init__(self, keys: dict[str, dict[str, tuple[object, int]]] | None = None) -> None:
        self.keys = keys if keys is not None else {}
        self.open_handles = 0

    def _path(self, root: str, sub: str) -> str:
        return f"{root}\\{sub}"

    def OpenKey(self, root, sub, reserved=0, access=KEY_READ):  # noqa: N802 - winreg's names
        path = self._path(root, sub)
        if path not in self.keys:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        self.open_handles += 1
        return (path, access)

    def CreateKeyEx(self, root, sub, reserved=0, access=KEY_SET_VALUE):  # noqa: N802
        path = self._path(root, sub)
        self.keys.setdefault(path, {})
        self.open_handles += 1
        return (path, access)

    def CloseKey(self, handle):  # noqa: N802
        self.open_handles -= 1

    def QueryValueEx(self, handle, name):  # noqa: N802
        values = self.keys[handle[0]]
        if name not in values:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        return values[name]

    def SetValueEx(self, handle, name, reserved, kind, value):  # noqa: N802
        if not handle[1] & self.KEY_SET_VALUE:
            raise PermissionError(5, "Access is denied")
        self.keys[handle[0]][name] = (value, kind)

    def DeleteValue(self, handle, name):  # noqa: N802
        if not handle[1] & self.KEY_SET_VALUE:
            raise PermissionError(5, "Access is denied")
        if self.keys[handle[0]].pop(name, None) is None:
            raise FileNotFoundError(2, "The system cannot find the file specified")


RUN = "HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run"
WIN_EXE = "C:\\Users\\Anna Meier\\AppData\\Local\\Programs\\Stockbridge\\Stockbridge.exe"


def test_windows_run_value_round_trip():
    reg = FakeWinreg({RUN: {"OneDrive": ("C:\\od.exe /background", 1)}})
    assert not pi.autostart_enabled(platform="win32", registry=reg)
    cmd = pi.LaunchCommand((WIN_EXE, "--minimised"))
    pi.set_autostart(True, platform="win32", registry=reg, command=cmd)
    assert reg.keys[RUN]["Stockbridge"] == (f'"{WIN_EXE}" --minimised', reg.REG_SZ)
    assert pi.autostart_enabled(platform="win32", registry=reg)

    pi.set_autostart(False, platform="win32", registry=reg)
    assert "Stockbridge" not in reg.keys[RUN]
    assert reg.keys[RUN]["OneDrive"] == ("C:\\od.exe /background", 1)  # others untouched
    assert not pi.autostart_enabled(platform="win32", registry=reg)
    pi.set_autostart(False, platform="win32", registry=reg)  # already off is fine
    assert reg.open_handles == 0


def test_windows_without_a_run_key():
    reg = FakeWinreg()
    assert not pi.autostart_enabled(platform="win32", registry=reg)
    pi.set_autostart(False, platform="win32", registry=reg)
    assert reg.keys == {}
    pi.set_autostart(True, platform="win32", registry=reg, command=pi.LaunchCommand(("a.exe",)))
    assert reg.keys[RUN]["Stockbridge"][0] == "a.exe"
    assert reg.open_handles == 0


def test_windows_refusal_is_reported_in_words():
    class LockedDown(FakeWinreg):
        def CreateKeyEx(self, *args, **kwargs):  # noqa: N802
            raise PermissionError(5, "Access is denied")

    with pytest.raises(pi.AutostartError, match="Access is denied"):
        pi.set_autostart(
            True, platform="win32", registry=LockedDown(), command=pi.LaunchCommand(("a.exe",))
        )


# -- the app mutex -----------------------------------------------------------------------
class FakeKernel32:
    def __init__(self, handle: int = 0x1F4, last_error: int = 0) -> None:
        self.calls: list[tuple] = []
        self.handle = handle
        self.last_error = last_error

    def CreateMutexW(self, attributes, initial_owner, name):  # noqa: N802
        self.calls.append((attributes, initial_owner, name))
        return self.handle

    def GetLastError(self):  # noqa: N802
        return self.last_error


def test_app_mutex_only_on_windows():
    kernel = FakeKernel32()
    assert pi.create_app_mutex(platform="linux", kernel32=kernel) is None
    assert pi.create_app_mutex(platform="darwin", kernel32=kernel) is None
    assert kernel.calls == []


def test_app_mutex_is_created_with_the_installers_name_and_kept():
    kernel = FakeKernel32(handle=0x2A)
    mutex = pi.create_app_mutex(platform="win32", kernel32=kernel)
    assert kernel.calls == [(None, False, "StockbridgeAppMutex")]
    assert mutex == pi.AppMutex(0x2A, already_existed=False)
    assert mutex in pi._held_mutexes  # the handle stays referenced for the process's life

    second = pi.create_app_mutex(platform="win32", kernel32=FakeKernel32(0x2B, last_error=183))
    assert second is not None and second.already_existed


def test_app_mutex_failure_raises():
    with pytest.raises(OSError, match="CreateMutexW"):
        pi.create_app_mutex(platform="win32", kernel32=FakeKernel32(handle=0, last_error=5))


@pytest.mark.skipif(sys.platform != "win32", reason="real kernel32 only on Windows")
def test_app_mutex_with_the_real_kernel32():
    mutex = pi.create_app_mutex("StockbridgeTestMutex-unit")
    assert mutex is not None and mutex.handle and not mutex.already_existed


# -- the installer agrees with the app ---------------------------------------------------
def _iss() -> str:
    """installer.iss with its simple string #defines substituted, as ISPP would."""
    text = (ROOT / "installer.iss").read_text(encoding="utf-8")
    defines = dict(re.findall(r'^#define (\w+) "([^"]*)"$', text, re.MULTILINE))
    return re.sub(r"\{#(\w+)\}", lambda m: defines.get(m.group(1), m.group(0)), text)


def test_installer_waits_for_the_mutex_the_app_creates():
    match = re.search(r"^AppMutex=(.+)$", _iss(), re.MULTILINE)
    assert match, "installer.iss has no AppMutex"
    assert pi.MUTEX_NAME in [name.strip() for name in match.group(1).split(",")]


def test_installer_start_with_windows_writes_the_apps_run_value():
    registry = [
        line
        for line in _iss().splitlines()
        if line.startswith("Root:") and "CurrentVersion\\Run" in line
    ]
    assert registry, "installer.iss has no Run registry entry"
    for line in registry:
        assert "Root: HKCU;" in line
        assert f'ValueName: "{pi.RUN_VALUE}"' in line
        assert f'""{{app}}\\Stockbridge.exe"" {pi.MINIMISED_FLAG}' in line
