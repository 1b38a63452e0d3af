"""Reads a table written by our SQL engine with PyIceberg (an independent reader) and prints what
PyIceberg sees, to compare with what our SQL says.

usage: sql-pyiceberg.py <metadata-location> <order-by column> <snapshot id> [<snapshot id> ...]

Prints JSON:
  current_snapshot_id
  scans:     [{snapshot_id, columns, rows}] — `scan(snapshot_id=…).to_arrow()` per given snapshot
             (time travel), rows sorted by the order-by column, values as in pyiceberg_norm.py
  files:     {snapshot_id: [{content, file_path, record_count, file_size_in_bytes}]} — inspect.files()
  snapshots: [{snapshot_id, parent_id, operation, committed_at_ms}] — inspect.snapshots()
  history:   [{snapshot_id, parent_id, made_current_at_ms, is_current_ancestor}] — inspect.history()
  manifests: [{path, content, added_snapshot_id, added_data_files_count, …}] — inspect.manifests()
  partitions:[{partition, record_count, file_count}] — inspect.partitions()
  refs:      [{name, type, snapshot_id}] — inspect.refs()
Snapshot ids are decimal strings (they exceed 2^53).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import warnings
from typing import Any

warnings.filterwarnings("ignore")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyiceberg_norm import norm  # noqa: E402

from pyiceberg.table import StaticTable  # noqa: E402

location, order_by, *snapshot_ids = sys.argv[1:]
if location.startswith("/"):
    location = f"file://{location}"
table = StaticTable.from_metadata(location)


def sid(v: Any) -> str | None:
    return None if v is None else str(v)


def ms(v: dt.datetime) -> int:
    return int(v.timestamp() * 1000)


def scan(snapshot_id: str) -> dict[str, Any]:
    arrow = table.scan(snapshot_id=int(snapshot_id)).to_arrow()
    rows = arrow.to_pylist()
    rows.sort(key=lambda r: (r[order_by] is None, r[order_by]))
    return {"snapshot_id": snapshot_id, "columns": arrow.column_names, "rows": [[norm(r[c]) for c in arrow.column_names] for r in rows]}


def files(snapshot_id: str) -> list[dict[str, Any]]:
    out = []
    for f in table.inspect.files(snapshot_id=int(snapshot_id)).to_pylist():
        out.append({"content": f["content"], "file_path": f["file_path"], "record_count": f["record_count"], "file_size_in_bytes": f["file_size_in_bytes"]})
    return sorted(out, key=lambda f: f["file_path"])


current = table.current_snapshot()
out = {
    "current_snapshot_id": sid(current.snapshot_id if current else None),
    "scans": [scan(s) for s in snapshot_ids],
    "files": {s: files(s) for s in snapshot_ids},
    "snapshots": [
        {"snapshot_id": sid(s["snapshot_id"]), "parent_id": sid(s["parent_id"]), "operation": s["operation"], "committed_at_ms": ms(s["committed_at"])}
        for s in table.inspect.snapshots().to_pylist()
    ],
    "history": [
        {"snapshot_id": sid(h["snapshot_id"]), "parent_id": sid(h["parent_id"]), "made_current_at_ms": ms(h["made_current_at"]), "is_current_ancestor": h["is_current_ancestor"]}
        for h in table.inspect.history().to_pylist()
    ],
    "manifests": [
        {k: (sid(m[k]) if k == "added_snapshot_id" else m[k]) for k in ("path", "content", "added_snapshot_id", "added_data_files_count", "existing_data_files_count", "deleted_data_files_count",
                                                                     "added_delete_files_count", "existing_delete_files_count", "deleted_delete_files_count")}
        for m in table.inspect.manifests().to_pylist()
    ],
    "partitions": [
        {"partition": norm(p["partition"]), "record_count": p["record_count"], "file_count": p["file_count"]}
        for p in table.inspect.partitions().to_pylist()
    ],
    "refs": [{"name": r["name"], "type": r["type"], "snapshot_id": sid(r["snapshot_id"])} for r in table.inspect.refs().to_pylist()],
}
json.dump(out, sys.stdout)
sys.stdout.write("\n")
