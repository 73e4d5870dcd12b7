"""Sellar (B2B wholesale marketplace for drinks suppliers): client, mapping and sandbox."""
