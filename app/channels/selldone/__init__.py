"""Selldone channel: client, mapping and the local sandbox twin."""
