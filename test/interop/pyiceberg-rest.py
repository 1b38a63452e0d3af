"""PyIceberg as a client of our Iceberg REST catalog (`lakehouse serve`).

usage: pyiceberg-rest.py write <uri> <warehouse>
       pyiceberg-rest.py read  <uri> <warehouse> <namespace.table> <order-by column>

write: creates namespace `pyns` and table `pyns.events` (partitioned by day(ts) and identity(cat)),
appends, adds a column with update_schema, appends again, deletes with a filter (copy-on-write
overwrite), renames a scratch table, drops another, and prints {"metadata_location", "location",
"columns", "rows", "log"} with the rows PyIceberg reads back.
read: loads a table through the catalog and prints its rows ({"metadata_location", "columns",
"rows", "snapshots"}).
Values are normalised to the shared fixture conventions (pyiceberg_norm.py).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import sys
import warnings
from typing import Any

warnings.filterwarnings("ignore")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyiceberg_norm import UTC, norm  # noqa: E402

import pyarrow as pa  # noqa: E402
from pyiceberg.catalog import load_catalog  # noqa: E402
from pyiceberg.exceptions import NoSuchTableError  # noqa: E402
from pyiceberg.expressions import EqualTo  # noqa: E402
from pyiceberg.partitioning import PartitionField, PartitionSpec  # noqa: E402
from pyiceberg.schema import Schema  # noqa: E402
from pyiceberg.transforms import DayTransform, IdentityTransform  # noqa: E402
from pyiceberg.types import DecimalType, LongType, NestedField, StringType, TimestamptzType  # noqa: E402

command, uri, warehouse = sys.argv[1:4]
catalog = load_catalog("rest", **{"type": "rest", "uri": uri, "warehouse": warehouse})


def rows_of(table: Any, order_by: str) -> dict[str, Any]:
    arrow = table.scan().to_arrow()
    rows = sorted(arrow.to_pylist(), key=lambda r: r[order_by])
    return {"columns": arrow.column_names, "rows": [[norm(r[c]) for c in arrow.column_names] for r in rows]}


def write() -> dict[str, Any]:
    log: list[str] = []
    catalog.create_namespace("pyns", properties={"owner": "pyiceberg"})
    log.append(f"namespaces={catalog.list_namespaces()}")
    schema = Schema(
        NestedField(1, "id", LongType(), required=True),
        NestedField(2, "cat", StringType()),
        NestedField(3, "ts", TimestamptzType()),
        NestedField(4, "amount", DecimalType(10, 2)),
    )
    spec = PartitionSpec(PartitionField(3, 1000, DayTransform(), "ts_day"), PartitionField(2, 1001, IdentityTransform(), "cat"))
    t = catalog.create_table("pyns.events", schema, partition_spec=spec, properties={"created-by": "pyiceberg"})
    base = dt.datetime(2024, 5, 1, tzinfo=UTC)
    t.append(pa.Table.from_pylist(
        [{"id": i, "cat": "ab"[i % 2], "ts": base + dt.timedelta(hours=7 * i), "amount": decimal.Decimal(f"{i}.25")} for i in range(20)],
        schema=t.schema().as_arrow(),
    ))
    with t.update_schema() as u:
        u.add_column("note", StringType())
    t.append(pa.Table.from_pylist(
        [{"id": i, "cat": "c", "ts": base + dt.timedelta(hours=7 * i), "amount": None, "note": f"n{i}"} for i in range(20, 30)],
        schema=t.schema().as_arrow(),
    ))
    t.delete(EqualTo("id", 3))
    with t.transaction() as tx:
        tx.set_properties({"k": "v"})
    log.append(f"snapshots={len(t.metadata.snapshots)}")

    # rename + drop + exists round trips
    catalog.create_table("pyns.scratch", Schema(NestedField(1, "x", LongType())))
    catalog.rename_table("pyns.scratch", "pyns.scratch2")
    assert catalog.table_exists("pyns.scratch2") and not catalog.table_exists("pyns.scratch")
    catalog.drop_table("pyns.scratch2")
    try:
        catalog.load_table("pyns.scratch2")
        raise AssertionError("dropped table still loads")
    except NoSuchTableError:
        pass
    log.append(f"tables={sorted('.'.join(i) for i in catalog.list_tables('pyns'))}")

    fresh = catalog.load_table("pyns.events")  # a fresh load, not the client's cached metadata
    assert fresh.metadata_location == t.metadata_location, (fresh.metadata_location, t.metadata_location)
    assert fresh.properties.get("k") == "v"
    return {"metadata_location": fresh.metadata_location, "location": fresh.location(), **rows_of(fresh, "id"), "log": log}


def read(name: str, order_by: str) -> dict[str, Any]:
    t = catalog.load_table(name)
    return {"metadata_location": t.metadata_location, "snapshots": len(t.metadata.snapshots), **rows_of(t, order_by)}


out = write() if command == "write" else read(sys.argv[4], sys.argv[5])
json.dump(out, sys.stdout)
sys.stdout.write("\n")
