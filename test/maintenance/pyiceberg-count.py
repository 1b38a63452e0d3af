"""Counts a table's rows with PyIceberg, straight from a metadata file (StaticTable).

usage: pyiceberg-count.py <metadata-location> <key column> ...

Prints JSON: {"files", "rows", "distinct", "snapshots": {"<id>": rows}} — the current snapshot's
planned data files, row count and count of distinct keys (the key columns together), and the row
count of every snapshot the metadata retains (each one a full scan: its files must all be there).
"""

from __future__ import annotations

import json
import sys
import warnings

warnings.filterwarnings("ignore")

import pyarrow.compute as pc  # noqa: E402
from pyiceberg.table import StaticTable  # noqa: E402

location, *keys = sys.argv[1:]
if location.startswith("/"):
    location = f"file://{location}"
table = StaticTable.from_metadata(location)
scan = table.scan(selected_fields=tuple(keys))
arrow = scan.to_arrow()
combined = pc.binary_join_element_wise(*[pc.cast(arrow[k], "string") for k in keys], "|") if len(keys) > 1 else arrow[keys[0]]
out = {
    "files": sum(1 for _ in scan.plan_files()),
    "rows": arrow.num_rows,
    "distinct": len(pc.unique(combined)),
    "snapshots": {str(s.snapshot_id): table.scan(snapshot_id=s.snapshot_id, selected_fields=(keys[0],)).to_arrow().num_rows for s in table.metadata.snapshots},
}
json.dump(out, sys.stdout)
sys.stdout.write("\n")
