"""Legato runtime."""
