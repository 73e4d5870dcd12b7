"""Sync engine: pulls, ingest, outbox drain, retry and backoff. No Qt."""
