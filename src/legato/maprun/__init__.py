"""Distributed Map: item readers, batching and result writers.

:func:`read_items` streams a Map state's ItemReader source, :func:`batches` groups items
as an ItemBatcher does, and :class:`ResultWriter` lays child results out in S3 as the
ResultWriter field does.
"""

from legato.maprun.items import batches, read_items
from legato.maprun.writer import ChildResult, ResultWriter

__all__ = ["ChildResult", "ResultWriter", "batches", "read_items"]
