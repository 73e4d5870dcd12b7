"""Running the real CLI (``python -m app``) in a subprocess, with a file keyring and its
own data folder under ``home`` — for the CLI tests and the crash test."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def cli_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PYTHON_KEYRING_BACKEND="tests.support.keyring_backend.FileKeyring",
        STOCKBRIDGE_TEST_KEYRING=str(home / "keyring.json"),
        STOCKBRIDGE_DATA_DIR=str(home / "data"),
        PYTHONPATH=str(ROOT),
    )
    return env


def make_cli(home: Path, *, timeout: float = 60) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``run(*args, stdin=None, ok=True)``: the finished process; ``ok`` asserts exit 0.

    ``run.env`` is the environment it runs in, ``run.home`` the folder.
    """
    env = cli_env(home)

    def run(
        *args: str, stdin: str | None = None, ok: bool = True
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "app", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=timeout,
        )
        if ok:
            assert proc.returncode == 0, proc.stderr
        return proc

    run.env = env  # type: ignore[attr-defined]
    run.home = home  # type: ignore[attr-defined]
    return run
