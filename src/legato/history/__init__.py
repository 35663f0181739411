"""Legato history."""
