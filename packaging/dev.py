#!/usr/bin/env python3
"""Set up a development copy from nothing but Python 3.11+, then run something.

    python3 packaging/dev.py demo     # install, then run the demo on the built-in sandbox
    python3 packaging/dev.py test     # install with test tools, then run the whole test suite

Creates .venv inside the checkout (once) and installs the project into it from the
package registry. Works the same on Windows, macOS and Linux.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")


def run(*cmd: str | Path, env: dict | None = None) -> int:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.call([str(c) for c in cmd], cwd=ROOT, env=env)


def ensure_env(extras: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - this script may be started by an older Python
        sys.exit(f"Stockbridge needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    if not PY.exists():
        print(f"Creating a virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / f".installed-{extras or 'base'}"
    pyproject = ROOT / "pyproject.toml"
    if stamp.exists() and stamp.stat().st_mtime >= pyproject.stat().st_mtime:
        return
    target = f".[{extras}]" if extras else "."
    if (
        run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip") != 0
        or run(PY, "-m", "pip", "install", "--quiet", "-e", target) != 0
    ):
        sys.exit("Installing the dependencies failed (see above).")
    stamp.touch()


def has_display() -> bool:
    """Whether a window can open: always on Windows and macOS, on Linux with X or Wayland."""
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("demo", "test"):
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "demo":
        ensure_env("")
        if not rest and not has_display():
            print("No screen here: running the demo without a window.", flush=True)
            rest = ["--headless"]
        return run(PY, "-m", "app", "demo", *rest)
    ensure_env("test")
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    code = run(PY, "-m", "pytest", *rest, env=env)
    if code == 5:  # pytest: no tests collected; a suite that runs nothing is a failure here
        print("No tests ran.", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
