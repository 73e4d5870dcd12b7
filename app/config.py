"""Where Stockbridge keeps its data and logs."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from app import APP_NAME

DATA_DIR_ENV = "STOCKBRIDGE_DATA_DIR"


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """--data-dir, else $STOCKBRIDGE_DATA_DIR, else the user's data directory."""
    chosen = override or os.environ.get(DATA_DIR_ENV)
    if chosen:
        return Path(chosen).expanduser().resolve()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def log_dir(data: Path, *, explicit: bool) -> Path:
    """The user's log directory; with an explicit data directory, logs live beside the data
    so separate data sets (tests, demos, several shops) never share a log."""
    if explicit:
        return data / "logs"
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))
