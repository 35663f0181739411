"""Legato integrations."""
