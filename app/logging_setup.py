"""A rotating log file per data directory, with secrets masked."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from app.secrets import RedactingFilter

_configured: set[Path] = set()


def setup_logging(directory: Path, *, level: int = logging.INFO) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "stockbridge.log"
    if path in _configured:
        return path
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=2_000_000, backupCount=5, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    # httpx logs every request URL at INFO; URLs carry no secrets here, but the noise
    # would drown the merchant-relevant lines.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    _configured.add(path)
    return path
