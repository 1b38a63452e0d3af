"""Reads an Iceberg table with PyIceberg, straight from a metadata file, and prints its rows.

usage: pyiceberg-verify.py <metadata-location> <order-by column> [<row filter> ...]

Prints JSON: {"pyiceberg", "format_version", "snapshot_id", "files", "columns", "rows",
"filtered": [{"filter", "files", "rows"}, ...]}. Rows are those of
`StaticTable.from_metadata(...).scan().to_arrow()` (every column of the current schema, in schema
order), sorted by the order-by column, values normalised to the shared fixture conventions
(pyiceberg_norm.py). Each row filter (PyIceberg's string syntax, `id = 7 and cat = 'a'`) is one
more scan: PyIceberg prunes manifests and files with it using the partition values and column
bounds the writer recorded, so a wrong partition value (transform) or bound loses rows.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from typing import Any

warnings.filterwarnings("ignore")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyiceberg_norm import norm  # noqa: E402

from pyiceberg.table import StaticTable  # noqa: E402

location, order_by, *filters = sys.argv[1:]
if location.startswith("/"):
    location = f"file://{location}"
table = StaticTable.from_metadata(location)


def read(row_filter: str | None) -> dict[str, Any]:
    scan = table.scan(row_filter=row_filter) if row_filter else table.scan()
    files = sum(1 for _ in scan.plan_files())
    arrow = scan.to_arrow()
    rows = arrow.to_pylist()
    rows.sort(key=lambda r: (r[order_by] is None, r[order_by]))
    return {"files": files, "columns": arrow.column_names, "rows": [[norm(r[c]) for c in arrow.column_names] for r in rows]}


snapshot = table.current_snapshot()
out = {
    "pyiceberg": __import__("pyiceberg").__version__,
    "format_version": table.metadata.format_version,
    "snapshot_id": str(snapshot.snapshot_id) if snapshot else None,
    **read(None),
    "filtered": [{"filter": f, **read(f)} for f in filters],
}
json.dump(out, sys.stdout)
sys.stdout.write("\n")
