"""The aggregator's consolidation job: every part file of a task into one CSV and one Parquet file.

Registered with Legato as a Glue job (``glue:startJobRun.sync``). It streams: one part file is
in memory at a time, whatever the number of part files; the CSV is written straight into an
upload staging file and the Parquet file one row group per part file. The temporary parts are
deleted only after both outputs are stored, so a job that dies half-way can simply run again.

Arguments (``--name`` on the Glue run): ``task_id``, ``working_bucket`` (parts under
``tmp/TASK_ID/``), ``destination_bucket``, ``output_prefix`` (``data.csv`` and ``data.parquet``
are written under it).
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from legato.integrations._s3store import ObjectStore

__all__ = ["COLUMNS", "JOB_NAME", "consolidate", "consolidation_job"]

JOB_NAME = "aggregator-consolidate"
"""The name the blueprint's main workflow starts the job by."""

COLUMNS = ("location_id", "data_type", "record_id", "amount", "message")
SCHEMA = pa.schema(
    [
        ("location_id", pa.string()),
        ("data_type", pa.string()),
        ("record_id", pa.string()),
        ("amount", pa.int64()),
        ("message", pa.string()),
    ]
)
_CHUNK = 1 << 20


def _rows(data: bytes) -> list[dict[str, Any]]:
    rows = json.loads(data)
    if isinstance(rows, str):  # a Body given as JSON text
        rows = json.loads(rows)
    if not isinstance(rows, list):
        raise ValueError(f"a part file must hold a JSON array of rows, not {type(rows).__name__}")
    return rows


def consolidate(store: ObjectStore, args: dict[str, str]) -> dict[str, Any]:
    """Merges the task's part files; returns the output keys, the row and the part counts."""
    task_id = args["task_id"]
    working, destination = args["working_bucket"], args["destination_bucket"]
    prefix = args.get("output_prefix", f"output/{task_id}/")
    parts = [k for k in store.keys(working, f"tmp/{task_id}/") if k.endswith(".json")]
    csv_upload = store.upload()
    rows = 0
    with tempfile.TemporaryDirectory() as tmp:
        parquet_path = Path(tmp) / "data.parquet"
        try:
            header = io.StringIO()
            csv.writer(header, lineterminator="\n").writerow(COLUMNS)
            csv_upload.write(header.getvalue().encode())
            with pq.ParquetWriter(parquet_path, SCHEMA) as parquet:
                for key in parts:
                    page = _rows(store.read(working, key)[1])
                    text = io.StringIO()
                    writer = csv.writer(text, lineterminator="\n")
                    writer.writerows([row[c] for c in COLUMNS] for row in page)
                    csv_upload.write(text.getvalue().encode())
                    columns = {c: [row[c] for row in page] for c in COLUMNS}
                    parquet.write_table(pa.table(columns, schema=SCHEMA))
                    rows += len(page)
            store.put(destination, prefix + "data.csv", csv_upload, content_type="text/csv")
        except BaseException:
            csv_upload.discard()
            raise
        parquet_upload = store.upload()
        try:
            with open(parquet_path, "rb") as f:
                while chunk := f.read(_CHUNK):
                    parquet_upload.write(chunk)
            store.put(
                destination,
                prefix + "data.parquet",
                parquet_upload,
                content_type="application/vnd.apache.parquet",
            )
        except BaseException:
            parquet_upload.discard()
            raise
    # only now that both outputs are stored: a failure above leaves every part for a rerun
    for key in parts:
        store.delete(working, key)
    return {"csv": prefix + "data.csv", "parquet": prefix + "data.parquet", "rows": rows, "parts": len(parts)}


def consolidation_job(data_dir: str | Path) -> Callable[[dict[str, str], Any], None]:
    """The Glue job for an engine whose data directory is ``data_dir`` (embedded S3 under ``s3/``)."""
    store = ObjectStore(Path(data_dir) / "s3")

    def job(args: dict[str, str], context: Any) -> None:
        consolidate(store, args)

    return job
