"""`python -m app`: the same entry as the `stockbridge` command."""

from app.cli import main

raise SystemExit(main())
