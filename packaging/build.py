#!/usr/bin/env python3
"""Build Stockbridge's desktop bundle with PyInstaller, after the test suite passes.

    python3 packaging/build.py                # tests, then dist/Stockbridge (dist/Stockbridge.app on macOS)
    python3 packaging/build.py --skip-tests   # when the suite has just run (CI)
    py packaging\\build.py                     # Windows; then: iscc /DAppVersion=X installer.iss

Runs with whatever Python starts it: if that is not the checkout's .venv, the venv is
created or updated first (as packaging/dev.py does, with the test and package extras)
and the build continues inside it, because PyInstaller must run in the interpreter
that has the app's dependencies.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "packaging" / "stockbridge.spec"
ICONS = ROOT / "resources" / "icons"
GENERATED_ICONS = (
    "stockbridge.ico",
    "stockbridge.icns",
    "stockbridge-trayTemplate.png",
    "stockbridge-trayTemplate@2x.png",
)
_IN_VENV_FLAG = "STOCKBRIDGE_BUILD_IN_VENV"


def _in_project_venv() -> bool:
    return Path(sys.prefix).resolve() == (ROOT / ".venv").resolve()


def _relaunch_in_venv(argv: list[str], skip_tests: bool) -> int:
    """Set up .venv with what the build needs, then run this script again inside it."""
    sys.path.insert(0, str(ROOT / "packaging"))
    import dev  # the project's own set-up, so there is one way to make the venv

    dev.ensure_env("package" if skip_tests else "test,package")
    env = dict(os.environ, **{_IN_VENV_FLAG: "1"})
    return subprocess.call([str(dev.PY), str(Path(__file__).resolve()), *argv], env=env)


def _step(title: str) -> float:
    print(f"\n== {title}", flush=True)
    return time.monotonic()


def ensure_icons() -> None:
    """The .ico/.icns/template icons are committed; regenerate any that are missing."""
    missing = [name for name in GENERATED_ICONS if not (ICONS / name).is_file()]
    if not missing:
        return
    print(f"generating missing icons: {', '.join(missing)}", flush=True)
    sys.path.insert(0, str(ROOT / "packaging"))
    import icon_formats

    icon_formats.write_all(ICONS, ICONS)


def run_tests() -> int:
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    code = subprocess.call([sys.executable, "-m", "pytest", "-q"], cwd=ROOT, env=env)
    if code == 5:  # pytest collected nothing: a build must not pass on an empty suite
        print("No tests ran.", file=sys.stderr)
        return 1
    return code


def result_path(dist: Path) -> Path:
    import app  # imported late: sys.path reaches the checkout only from main()

    name = app.APP_NAME
    return dist / f"{name}.app" if sys.platform == "darwin" else dist / name


def folder_size(path: Path) -> tuple[int, int]:
    """(bytes, files) on disk, each real file counted once (symlinks are free)."""
    files = [p for p in path.rglob("*") if p.is_file() and not p.is_symlink()]
    return sum(p.stat().st_size for p in files), len(files)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description="Build the Stockbridge desktop bundle.")
    parser.add_argument("--skip-tests", action="store_true", help="do not run the test suite")
    parser.add_argument(
        "--clean", action="store_true", help="discard PyInstaller's cache and rebuild everything"
    )
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="output folder")
    parser.add_argument(
        "--work", type=Path, default=ROOT / "build", help="PyInstaller's work folder"
    )
    args = parser.parse_args(argv)

    if not _in_project_venv() and not os.environ.get(_IN_VENV_FLAG):
        return _relaunch_in_venv(argv, args.skip_tests)
    sys.path.insert(0, str(ROOT))
    started = time.monotonic()

    ensure_icons()
    if args.skip_tests:
        print("tests skipped (--skip-tests)")
    else:
        t0 = _step("tests")
        if run_tests() != 0:
            print("\nbuild: the tests failed; nothing was built.", file=sys.stderr)
            return 1
        print(f"tests passed in {time.monotonic() - t0:.0f}s")

    try:
        import PyInstaller  # noqa: F401 - only checking that it is there
    except ImportError:
        print(
            "build: PyInstaller is not installed here. Install it with\n"
            f"  {sys.executable} -m pip install -e '.[package]'",
            file=sys.stderr,
        )
        return 1

    t0 = _step("PyInstaller")
    command = [
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--log-level",
        "WARN",
        "--distpath",
        str(args.dist),
        "--workpath",
        str(args.work),
    ]
    if args.clean:
        command.append("--clean")
    if subprocess.call([*command, str(SPEC)], cwd=ROOT) != 0:
        print("\nbuild: PyInstaller failed (see above).", file=sys.stderr)
        return 1
    build_seconds = time.monotonic() - t0

    result = result_path(args.dist)
    if not result.exists():
        print(f"build: PyInstaller finished but {result} is missing.", file=sys.stderr)
        return 1
    size, files = folder_size(result)
    print(
        f"\nbuild: {result}\n"
        f"       {size / 2**20:.1f} MiB in {files} files; PyInstaller took {build_seconds:.0f}s,"
        f" everything {time.monotonic() - started:.0f}s"
    )
    if sys.platform == "win32":
        print("       next: iscc /DAppVersion=<version> installer.iss")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
