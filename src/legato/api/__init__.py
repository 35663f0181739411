"""Legato api."""
