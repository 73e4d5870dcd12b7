"""Shared fixtures of the CLI tests: ``cli`` runs ``python -m app`` in a subprocess."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(tmp_path):
    env = dict(os.environ)
    env.update(
        PYTHON_KEYRING_BACKEND="tests.support.keyring_backend.FileKeyring",
        STOCKBRIDGE_TEST_KEYRING=str(tmp_path / "keyring.json"),
        STOCKBRIDGE_DATA_DIR=str(tmp_path / "data"),
        PYTHONPATH=str(ROOT),
    )

    def run(*args, stdin=None, ok=True):
        proc = subprocess.run(
            [sys.executable, "-m", "app", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=120,
        )
        if ok:
            assert proc.returncode == 0, proc.stderr
        return proc

    run.env = env
    run.home = tmp_path
    return run
