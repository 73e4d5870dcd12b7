"""Sello channel (API v5): client, pure mapping, stock-push planning, sandbox twin."""
