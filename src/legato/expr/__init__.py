"""Expressions: reference paths, payload templates, intrinsic functions, JSONata."""
