"""Legato cli."""
