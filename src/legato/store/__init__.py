"""Legato store."""
