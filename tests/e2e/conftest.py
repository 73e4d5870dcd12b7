"""Shared fixtures of the CLI tests: ``cli`` runs ``python -m app`` in a subprocess."""

import pytest

from tests.support.cli import make_cli


@pytest.fixture
def cli(tmp_path):
    return make_cli(tmp_path, timeout=120)
