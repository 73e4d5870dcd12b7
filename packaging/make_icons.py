"""Render Stockbridge's icons into resources/icons (PNG sizes, .ico for Windows).

Run from a checkout: `python packaging/make_icons.py`. Uses the same drawing as the app.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PySide6.QtGui import QGuiApplication  # noqa: E402

from app.ui.icons import draw  # noqa: E402


def main() -> int:
    app = QGuiApplication.instance() or QGuiApplication([])
    out = ROOT / "resources" / "icons"
    out.mkdir(parents=True, exist_ok=True)
    for state in ("idle", "syncing", "error", "paused"):
        name = "stockbridge" if state == "idle" else f"stockbridge-{state}"
        for size in (16, 24, 32, 48, 64, 128, 256):
            draw(size, state).save(str(out / f"{name}-{size}.png"))
    # The multi-size .ico, the .icns and the macOS tray template are built from these PNGs.
    sys.path.insert(0, str(ROOT / "packaging"))
    from icon_formats import write_all

    write_all(out, out)
    print(f"icons written to {out}")
    del app
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
