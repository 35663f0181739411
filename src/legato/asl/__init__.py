"""Legato asl."""
