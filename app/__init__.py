"""Stockbridge: a desktop hub that keeps a small merchant's orders and stock in one local ledger."""

__version__ = "0.1.0"
APP_NAME = "Stockbridge"
APP_ID = "stockbridge"
