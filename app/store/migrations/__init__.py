"""Numbered SQL migrations, applied in order by app.store.db."""
