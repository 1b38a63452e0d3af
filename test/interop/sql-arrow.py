"""Decodes Arrow IPC bytes with pyarrow (an independent reader) and prints them as JSON.

usage: sql-arrow.py <file> <stream|file>

Prints {"pyarrow", "schema": [[name, type string, nullable], ...], "batches", "rows"} with values
normalised to the shared fixture conventions (pyiceberg_norm.py), as the query API's JSON is.
"""

from __future__ import annotations

import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyiceberg_norm import norm  # noqa: E402

import pyarrow as pa  # noqa: E402
import pyarrow.ipc as ipc  # noqa: E402



def value(v):
    # Non-finite floats are strings in the JSON conventions ("NaN", "Infinity", "-Infinity").
    if isinstance(v, float) and not math.isfinite(v):
        return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
    return norm(v)


path, fmt = sys.argv[1:]
with open(path, "rb") as f:
    data = f.read()
reader = ipc.open_stream(data) if fmt == "stream" else ipc.open_file(data)
table = reader.read_all()
batches = table.to_batches()
out = {
    "pyarrow": pa.__version__,
    "schema": [[f.name, str(f.type), f.nullable] for f in table.schema],
    "batches": len(batches),
    # Column-wise, so duplicate column names survive.
    "rows": [[value(v) for v in row] for row in zip(*(c.to_pylist() for c in table.columns))],
}
json.dump(out, sys.stdout)
sys.stdout.write("\n")
