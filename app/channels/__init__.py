"""One folder per platform: client (httpx), mapping (pure), sandbox (local twin)."""
