"""Generates a corpus of Iceberg tables with PyIceberg (the reference Python implementation).

usage: pyiceberg-tables.py <out-dir>

Every table is written through PyIceberg's SqlCatalog (SQLite) under <out-dir>/warehouse/db/<name>/
and gets an expected.json beside its metadata/ and data/ folders, in the format of
shared/fixtures/iceberg-reference (README there): SQL checks over the table `t` whose answers are
computed from PyIceberg's own scan (`table.scan().to_arrow()`), normalised to the JSON value
conventions (decimals as strings with their scale, timestamps as ISO strings, binary as hex, …).
Prints a JSON summary {"tables": [{"name", "dir", "metadata"}]} on stdout.
"""

from __future__ import annotations

import datetime as dt
import decimal
import gzip
import json
import os
import shutil
import sys
import uuid
import warnings
from typing import Any, Callable

import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.expressions import And, GreaterThanOrEqual, LessThan, EqualTo
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import StaticTable, Table
from pyiceberg.transforms import (
    BucketTransform, DayTransform, HourTransform, IdentityTransform, MonthTransform, TruncateTransform, YearTransform,
)
from pyiceberg.types import (
    BinaryType, BooleanType, DateType, DecimalType, DoubleType, FixedType, FloatType, IntegerType, ListType, LongType,
    MapType, NestedField, StringType, StructType, TimestampType, TimestamptzType, TimeType, UUIDType,
)

warnings.filterwarnings("ignore")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyiceberg_norm import UTC, norm  # noqa: E402

OUT = os.path.abspath(sys.argv[1])
WAREHOUSE = os.path.join(OUT, "warehouse")
os.makedirs(WAREHOUSE, exist_ok=True)
catalog = SqlCatalog("interop", uri=f"sqlite:///{OUT}/catalog.db", warehouse=f"file://{WAREHOUSE}")
catalog.create_namespace("db")

summary: list[dict[str, Any]] = []


# ---------------------------------------------------------------------------------------------
# Expected answers, computed from PyIceberg's scan.


class Checks:
    def __init__(self, table: Table):
        arrow = table.scan().to_arrow()
        self.columns = arrow.column_names
        self.rows: list[dict[str, Any]] = arrow.to_pylist()  # PyIceberg's answer, raw Python values
        self.items: list[dict[str, Any]] = []

    def add(self, sql: str, rows: list[list[Any]], how: str = "computed: PyIceberg scan") -> None:
        self.items.append({"sql": sql, "rows": [[norm(v) for v in r] for r in rows], "from": how})

    def select_all(self, key: str = "id") -> None:
        ordered = sorted(self.rows, key=lambda r: r[key])
        self.add(f"SELECT * FROM t ORDER BY {key}", [[r[c] for c in self.columns] for r in ordered])

    def count(self) -> None:
        self.add("SELECT count(*) FROM t", [[len(self.rows)]])

    def where(self, cols: list[str], cond_sql: str, pred: Callable[[dict[str, Any]], bool], key: str = "id") -> None:
        ordered = sorted((r for r in self.rows if pred(r)), key=lambda r: r[key])
        self.add(f"SELECT {', '.join(cols)} FROM t WHERE {cond_sql} ORDER BY {key}", [[r[c] for c in cols] for r in ordered])

    def count_where(self, cond_sql: str, pred: Callable[[dict[str, Any]], bool]) -> None:
        self.add(f"SELECT count(*) FROM t WHERE {cond_sql}", [[sum(1 for r in self.rows if pred(r))]])


def finish(name: str, table: Table, features: list[str], checks: Checks, metadata_location: str | None = None) -> None:
    table_dir = os.path.join(WAREHOUSE, "db", name)
    loc = metadata_location or table.metadata_location
    path = loc[len("file://"):] if loc.startswith("file://") else loc
    rel = os.path.relpath(path, table_dir)
    md = json.loads(gzip.open(path).read() if path.endswith(".gz.metadata.json") else open(path, "rb").read())
    expected = {
        "source": f"PyIceberg {__import__('pyiceberg').__version__} (test/interop/pyiceberg-tables.py)",
        "metadata": rel,
        "format_version": md["format-version"],
        "location_in_metadata": md["location"],
        "features": features,
        "checks": checks.items,
    }
    with open(os.path.join(table_dir, "expected.json"), "w") as f:
        json.dump(expected, f, indent=2)
    summary.append({"name": name, "dir": table_dir, "metadata": rel, "checks": len(checks.items)})


def arrow_of(table: Table, rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=table.schema().as_arrow())


def ts(day: int, hour: int = 0, minute: int = 0, micro: int = 0) -> dt.datetime:
    return dt.datetime(2024, 1, 1) + dt.timedelta(days=day, hours=hour, minutes=minute, microseconds=micro)


# ---------------------------------------------------------------------------------------------
# v1 table


def v1_table() -> None:
    schema = Schema(
        NestedField(1, "id", LongType(), required=True),
        NestedField(2, "name", StringType()),
        NestedField(3, "cat", StringType()),
    )
    spec = PartitionSpec(PartitionField(3, 1000, IdentityTransform(), "cat"))
    t = catalog.create_table("db.v1_table", schema, partition_spec=spec, properties={"format-version": "1"})
    for base in (0, 10):
        t.append(arrow_of(t, [{"id": base + i, "name": f"n{base + i}", "cat": "abc"[i % 3]} for i in range(10)]))
    t.delete(EqualTo("id", 3))
    c = Checks(t)
    c.select_all()
    c.count()
    c.where(["id", "name"], "cat = 'b'", lambda r: r["cat"] == "b")
    finish("v1_table", t, ["format-version 1", "identity partition on string", "copy-on-write delete"], c)


# gzip metadata: PyIceberg 0.12 reads `*.gz.metadata.json` but does not write it (the table property
# is accepted and ignored), so the current metadata file is gzipped to a Java-style name and opened
# back with PyIceberg's StaticTable, which both proves PyIceberg reads it and computes the answers.


def gzip_metadata() -> None:
    schema = Schema(NestedField(1, "id", LongType(), required=True), NestedField(2, "v", DoubleType()))
    t = catalog.create_table("db.gzip_metadata", schema, properties={"write.metadata.compression-codec": "gzip"})
    t.append(arrow_of(t, [{"id": i, "v": i / 4} for i in range(25)]))
    t.append(arrow_of(t, [{"id": i, "v": None} for i in range(25, 30)]))
    plain = t.metadata_location[len("file://"):]
    stem = os.path.basename(plain)[: -len(".metadata.json")]
    gz = os.path.join(os.path.dirname(plain), f"{int(stem.split('-')[0]) + 1:05d}-{uuid.uuid4()}.gz.metadata.json")
    with open(plain, "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    static = StaticTable.from_metadata(f"file://{gz}")
    c = Checks(static)
    c.select_all()
    c.add("SELECT count(v), sum(id) FROM t", [[sum(1 for r in c.rows if r["v"] is not None), sum(r["id"] for r in c.rows)]])
    finish("gzip_metadata", t, ["gzip-compressed metadata (.gz.metadata.json)"], c, metadata_location=f"file://{gz}")


# ---------------------------------------------------------------------------------------------
# Partition transforms


def ts_partitioned(name: str, transform: Any, col_type: Any, values: list[Any], cond: tuple[str, Callable[[Any], bool]]) -> None:
    schema = Schema(NestedField(1, "id", LongType(), required=True), NestedField(2, "ts", col_type), NestedField(3, "s", StringType()))
    spec = PartitionSpec(PartitionField(2, 1000, transform, "ts_part"))
    t = catalog.create_table(f"db.{name}", schema, partition_spec=spec)
    rows = [{"id": i, "ts": v, "s": f"s{i}"} for i, v in enumerate(values)]
    t.append(arrow_of(t, rows[: len(rows) // 2]))
    t.append(arrow_of(t, rows[len(rows) // 2 :]))
    c = Checks(t)
    c.select_all()
    c.count()
    c.where(["id", "ts"], cond[0], lambda r: r["ts"] is not None and cond[1](r["ts"]))
    c.count_where("ts IS NULL", lambda r: r["ts"] is None)
    finish(name, t, [f"{transform} partition on {col_type}"], c)


def partitions() -> None:
    hours = [ts(i // 5, i % 24, i, i * 7) for i in range(40)] + [None]
    ts_partitioned(
        "part_ts_day", DayTransform(), TimestampType(), hours,
        ("ts >= TIMESTAMP '2024-01-04 00:00:00' AND ts < TIMESTAMP '2024-01-06 12:00:00'",
         lambda v: ts(3) <= v < ts(5, 12)),
    )
    ts_partitioned(
        "part_ts_hour", HourTransform(), TimestampType(), [ts(0, i % 6, i) for i in range(30)] + [None],
        ("ts >= TIMESTAMP '2024-01-01 02:30:00'", lambda v: v >= ts(0, 2, 30)),
    )
    months = [(ts(0) + dt.timedelta(days=17 * i)).replace(tzinfo=UTC) for i in range(30)] + [None]
    ts_partitioned(
        "part_tstz_month", MonthTransform(), TimestamptzType(), months,
        ("ts < TIMESTAMPTZ '2024-06-01 00:00:00+00'", lambda v: v < dt.datetime(2024, 6, 1, tzinfo=UTC)),
    )
    years = [dt.date(1969 + i * 3 % 60, 1 + i % 12, 1 + i % 28) for i in range(30)] + [None]
    ts_partitioned(
        "part_date_year", YearTransform(), DateType(), years,
        ("ts BETWEEN DATE '1975-01-01' AND DATE '2000-12-31'", lambda v: dt.date(1975, 1, 1) <= v <= dt.date(2000, 12, 31)),
    )

    # decimal: identity and bucket (two tables); string truncate
    for name, transform in (("part_decimal_identity", IdentityTransform()), ("part_decimal_bucket", BucketTransform(4))):
        schema = Schema(NestedField(1, "id", LongType(), required=True), NestedField(2, "amount", DecimalType(10, 2)), NestedField(3, "big", DecimalType(38, 6)))
        spec = PartitionSpec(PartitionField(2, 1000, transform, "amount_part"))
        t = catalog.create_table(f"db.{name}", schema, partition_spec=spec)
        D = decimal.Decimal
        rows = [
            {"id": i, "amount": D(f"{(i % 5) * 12.5 - 20:.2f}") if i % 7 else None, "big": D(f"{i * 123456789012:d}.{i:06d}") * (-1 if i % 2 else 1)}
            for i in range(30)
        ]
        t.append(arrow_of(t, rows[:15]))
        t.append(arrow_of(t, rows[15:]))
        c = Checks(t)
        c.select_all()
        c.where(["id", "amount"], "amount = 5.00", lambda r: r["amount"] == D("5.00"))
        c.add("SELECT sum(amount), sum(big) FROM t",
              [[sum(r["amount"] for r in c.rows if r["amount"] is not None), sum(r["big"] for r in c.rows)]])
        finish(name, t, [f"{transform} partition on decimal(10,2)", "decimal(38,6)"], c)

    schema = Schema(NestedField(1, "id", LongType(), required=True), NestedField(2, "s", StringType()))
    spec = PartitionSpec(PartitionField(2, 1000, TruncateTransform(3), "s_trunc"))
    t = catalog.create_table("db.part_string_truncate", schema, partition_spec=spec)
    words = ["apple", "apricot", "banana", "band", "ba", "", None, "cherry", "chérie", "日本語テキスト", "日本"]
    t.append(arrow_of(t, [{"id": i, "s": w} for i, w in enumerate(words)]))
    c = Checks(t)
    c.select_all()
    c.where(["id", "s"], "s LIKE 'ap%'", lambda r: r["s"] is not None and r["s"].startswith("ap"))
    c.where(["id"], "s = 'ba'", lambda r: r["s"] == "ba")
    finish("part_string_truncate", t, ["truncate(3) partition on string (multi-byte)"], c)

    # multi-field spec: bucket on long + identity on int + truncate on long
    schema = Schema(NestedField(1, "id", LongType(), required=True), NestedField(2, "k", IntegerType()), NestedField(3, "n", LongType()))
    spec = PartitionSpec(
        PartitionField(1, 1000, BucketTransform(3), "id_bucket"),
        PartitionField(2, 1001, IdentityTransform(), "k"),
        PartitionField(3, 1002, TruncateTransform(10), "n_trunc"),
    )
    t = catalog.create_table("db.part_multi", schema, partition_spec=spec)
    t.append(arrow_of(t, [{"id": i, "k": i % 2, "n": i * 7 - 30} for i in range(24)]))
    c = Checks(t)
    c.select_all()
    c.where(["id"], "k = 1 AND n > 0", lambda r: r["k"] == 1 and r["n"] > 0)
    finish("part_multi", t, ["bucket(3) on long + identity on int + truncate(10) on long"], c)


# ---------------------------------------------------------------------------------------------
# Evolved partition spec: data under two specs


def evolved_spec() -> None:
    schema = Schema(NestedField(1, "id", LongType(), required=True), NestedField(2, "cat", StringType()), NestedField(3, "ts", TimestampType()))
    spec = PartitionSpec(PartitionField(2, 1000, IdentityTransform(), "cat"))
    t = catalog.create_table("db.evolved_spec", schema, partition_spec=spec)
    t.append(arrow_of(t, [{"id": i, "cat": "xy"[i % 2], "ts": ts(i % 4, i)} for i in range(12)]))
    with t.update_spec() as u:
        u.add_field("ts", DayTransform(), "ts_day")
        u.remove_field("cat")
    t.append(arrow_of(t, [{"id": i, "cat": "xyz"[i % 3], "ts": ts(i % 4, i)} for i in range(12, 24)]))
    with t.update_spec() as u:
        u.add_field("id", BucketTransform(2), "id_bucket")
    t.append(arrow_of(t, [{"id": i, "cat": "z", "ts": ts(i % 4, i)} for i in range(24, 30)]))
    t.delete(EqualTo("cat", "y"))
    c = Checks(t)
    c.select_all()
    c.where(["id"], "cat = 'x'", lambda r: r["cat"] == "x")
    c.where(["id", "ts"], "ts >= TIMESTAMP '2024-01-03 00:00:00'", lambda r: r["ts"] >= ts(2))
    c.add("SELECT cat, count(*) FROM t GROUP BY cat ORDER BY cat",
          [[k, sum(1 for r in c.rows if r["cat"] == k)] for k in sorted({r["cat"] for r in c.rows})])
    finish("evolved_spec", t, ["three partition specs (identity → day → day+bucket)", "delete across specs"], c)


# ---------------------------------------------------------------------------------------------
# Schema evolution: added, renamed, dropped, nested-added columns


def schema_evolution() -> None:
    schema = Schema(
        NestedField(1, "id", LongType(), required=True),
        NestedField(2, "a", StringType()),
        NestedField(3, "b", IntegerType()),
        NestedField(4, "st", StructType(NestedField(5, "p", IntegerType()))),
    )
    t = catalog.create_table("db.schema_evolution", schema)
    t.append(arrow_of(t, [{"id": i, "a": f"a{i}", "b": i * 10, "st": {"p": i}} for i in range(10)]))
    with t.update_schema() as u:
        u.add_column("c", DoubleType())
        u.add_column(("st", "q"), StringType())
        u.update_column("b", field_type=LongType())  # int → long promotion
    t.append(arrow_of(t, [{"id": i, "a": f"a{i}", "b": i * 10 + 2**40, "st": {"p": i, "q": f"q{i}"}, "c": i / 2} for i in range(10, 20)]))
    with t.update_schema() as u:
        u.rename_column("a", "a_renamed")
        u.rename_column(("st", "p"), "p_renamed")
        u.delete_column("b")
    with t.update_schema() as u:
        u.add_column("b", StringType())  # a new column reusing a dropped name: must not read old "b"
    t.append(arrow_of(t, [{"id": i, "a_renamed": f"r{i}", "st": {"p_renamed": -i, "q": None}, "c": None, "b": f"new{i}"} for i in range(20, 25)]))
    c = Checks(t)
    c.select_all()
    c.where(["id", "c"], "c IS NOT NULL", lambda r: r["c"] is not None)
    c.where(["id", "a_renamed"], "a_renamed LIKE 'a1%'", lambda r: r["a_renamed"].startswith("a1"))
    c.count_where("b IS NULL", lambda r: r["b"] is None)
    finish("schema_evolution", t, ["added column (old files lack it)", "added nested field", "int→long promotion", "renamed top-level and nested columns", "dropped column, name reused by a new column"], c)


# ---------------------------------------------------------------------------------------------
# Deletes / overwrites (PyIceberg 0.12 writes copy-on-write only; merge-on-read falls back to it)


def deletes() -> None:
    schema = Schema(NestedField(1, "id", LongType(), required=True), NestedField(2, "cat", StringType()), NestedField(3, "v", IntegerType()))
    spec = PartitionSpec(PartitionField(2, 1000, IdentityTransform(), "cat"))
    t = catalog.create_table("db.deletes", schema, partition_spec=spec, properties={"write.delete.mode": "merge-on-read"})
    for base in (0, 10, 20):
        t.append(arrow_of(t, [{"id": base + i, "cat": "pq"[i % 2], "v": base + i} for i in range(10)]))
    t.delete(And(GreaterThanOrEqual("id", 5), LessThan("id", 8)))  # rewrites part of a file
    t.delete(EqualTo("cat", "q"))  # whole partitions dropped
    t.overwrite(arrow_of(t, [{"id": 100 + i, "cat": "r", "v": -i} for i in range(3)]), overwrite_filter=GreaterThanOrEqual("id", 24))
    c = Checks(t)
    c.select_all()
    c.count()
    c.add("SELECT sum(v) FROM t", [[sum(r["v"] for r in c.rows)]])
    finish("deletes", t, ["copy-on-write delete (partial file rewrite)", "partition-level delete", "overwrite with filter", "status DELETED manifest entries"], c)


# Position deletes: PyIceberg 0.12 cannot write merge-on-read deletes through its API, so its own
# snapshot producer (fast append) is driven with a delete manifest writer: the position-delete files
# are Parquet files written with pyarrow (file_path/pos with the reserved field ids), the
# manifests, manifest list and metadata are PyIceberg's. PyIceberg's scan applies them.


def position_deletes() -> None:
    from pyiceberg.manifest import DataFile, DataFileContent, FileFormat, ManifestContent, ManifestWriterV2
    from pyiceberg.table.snapshots import Operation
    from pyiceberg.table.update.snapshot import _FastAppendFiles

    class DeleteManifestWriter(ManifestWriterV2):
        def content(self) -> ManifestContent:
            return ManifestContent.DELETES

        @property
        def _meta(self) -> dict[str, str]:
            return {**super()._meta, "content": "deletes"}

    class AddDeleteFiles(_FastAppendFiles):
        def new_manifest_writer(self, spec: PartitionSpec) -> DeleteManifestWriter:  # type: ignore[override]
            return DeleteManifestWriter(spec, self.schema(), self.new_manifest_output(), self._snapshot_id, self._compression)

    schema = Schema(NestedField(1, "id", LongType(), required=True), NestedField(2, "cat", StringType()), NestedField(3, "v", StringType()))
    spec = PartitionSpec(PartitionField(2, 1000, IdentityTransform(), "cat"))
    t = catalog.create_table("db.position_deletes", schema, partition_spec=spec)
    t.append(arrow_of(t, [{"id": i, "cat": "ab"[i % 2], "v": f"v{i}"} for i in range(20)]))
    t.append(arrow_of(t, [{"id": i, "cat": "ab"[i % 2], "v": f"v{i}"} for i in range(20, 30)]))
    pos_schema = pa.schema([
        pa.field("file_path", pa.string(), nullable=False, metadata={"PARQUET:field_id": "2147483546"}),
        pa.field("pos", pa.int64(), nullable=False, metadata={"PARQUET:field_id": "2147483545"}),
    ])
    delete_files = []
    for n, task in enumerate(t.scan().plan_files()):
        data = task.file
        ids = pq.read_table(data.file_path[len("file://"):], columns=["id"]).column("id").to_pylist()
        positions = [p for p, i in enumerate(ids) if i % 3 == 0]
        if not positions:
            continue
        path = os.path.join(WAREHOUSE, "db", "position_deletes", "data", f"cat={data.partition[0]}", f"pos-deletes-{n}.parquet")
        pq.write_table(pa.Table.from_arrays([pa.array([data.file_path] * len(positions)), pa.array(positions, pa.int64())], schema=pos_schema), path)
        delete_files.append(DataFile.from_args(
            content=DataFileContent.POSITION_DELETES, file_path=f"file://{path}", file_format=FileFormat.PARQUET,
            partition=data.partition, record_count=len(positions), file_size_in_bytes=os.path.getsize(path),
            _table_format_version=2,
        ))
        delete_files[-1].spec_id = data.spec_id
    tx = t.transaction()
    producer = AddDeleteFiles(operation=Operation.DELETE, transaction=tx, io=t.io)
    for f in delete_files:
        producer.append_data_file(f)
    producer.commit()
    tx.commit_transaction()
    # Appended after the deletes: a higher sequence number, so no position delete applies to it.
    t.append(arrow_of(t, [{"id": i, "cat": "ab"[i % 2], "v": f"late{i}"} for i in range(30, 36)]))
    c = Checks(t)
    assert len(c.rows) == 36 - 10, f"PyIceberg applied the position deletes: {len(c.rows)} rows"
    c.select_all()
    c.count()
    c.where(["id", "v"], "cat = 'a'", lambda r: r["cat"] == "a")
    finish("position_deletes", t, ["position-delete files (pyarrow Parquet, PyIceberg delete manifests)", "partition-scoped deletes", "rows appended after the deletes"], c)


# ---------------------------------------------------------------------------------------------
# Files without field ids, read through schema.name-mapping.default (add_files sets it)


def name_mapping() -> None:
    schema = Schema(
        NestedField(1, "id", LongType(), required=True),
        NestedField(2, "name", StringType()),
        NestedField(3, "tags", ListType(4, StringType(), element_required=False)),
        NestedField(5, "loc", StructType(NestedField(6, "lat", DoubleType()), NestedField(7, "lon", DoubleType()))),
        NestedField(8, "attrs", MapType(9, StringType(), 10, IntegerType(), value_required=False)),
    )
    t = catalog.create_table("db.name_mapping", schema)
    # column order differs from the table's: matching must be by (mapped) name, not position
    plain = pa.Table.from_arrays(
        [
            pa.array([f"n{i}" for i in range(8)]),
            pa.array(range(8), pa.int64()),
            pa.array([{"lon": i * 1.5, "lat": -i * 0.5} for i in range(8)]),
            pa.array([[f"t{i}", None] if i % 3 else [] for i in range(8)], pa.list_(pa.string())),
            pa.array([[("k", i)] if i % 2 else None for i in range(8)], pa.map_(pa.string(), pa.int32())),
        ],
        schema=pa.schema([
            pa.field("name", pa.string()),
            pa.field("id", pa.int64(), nullable=False),
            pa.field("loc", pa.struct([("lon", pa.float64()), ("lat", pa.float64())])),
            pa.field("tags", pa.list_(pa.string())),
            pa.field("attrs", pa.map_(pa.string(), pa.int32())),
        ]),
    )
    data_dir = os.path.join(WAREHOUSE, "db", "name_mapping", "data")
    os.makedirs(data_dir, exist_ok=True)
    path = os.path.join(data_dir, "no-field-ids.parquet")
    pq.write_table(plain, path)
    assert pq.read_schema(path).field("id").metadata is None, "file must lack field ids"
    t.add_files([f"file://{path}"])
    t.append(arrow_of(t, [{"id": 100 + i, "name": f"m{i}", "tags": ["x"], "loc": {"lat": 1.0, "lon": 2.0}, "attrs": {"z": i}} for i in range(3)]))
    with t.update_schema() as u:
        u.rename_column("name", "full_name")  # PyIceberg adds the new name to the mapping
    c = Checks(t)
    c.select_all()
    c.where(["id", "full_name"], "loc.lat < 0", lambda r: r["loc"]["lat"] < 0)
    finish("name_mapping", t, ["data file without field ids (add_files)", "schema.name-mapping.default", "column order differs from schema", "rename after add_files"], c)


# ---------------------------------------------------------------------------------------------
# Nested types


def nested() -> None:
    schema = Schema(
        NestedField(1, "id", LongType(), required=True),
        NestedField(2, "st", StructType(
            NestedField(3, "a", IntegerType()),
            NestedField(4, "inner", StructType(NestedField(5, "x", StringType()), NestedField(6, "y", DecimalType(5, 1)))),
        )),
        NestedField(7, "ints", ListType(8, LongType(), element_required=False)),
        NestedField(9, "structs", ListType(10, StructType(NestedField(11, "k", StringType()), NestedField(12, "v", DoubleType())), element_required=False)),
        NestedField(13, "m", MapType(14, StringType(), 15, LongType(), value_required=False)),
        NestedField(16, "mstruct", MapType(17, IntegerType(), 18, StructType(NestedField(19, "d", DateType())), value_required=False)),
        NestedField(20, "nested_list", ListType(21, ListType(22, IntegerType(), element_required=False), element_required=False)),
    )
    t = catalog.create_table("db.nested", schema)
    D = decimal.Decimal
    rows = []
    for i in range(12):
        rows.append({
            "id": i,
            "st": None if i == 3 else {"a": i, "inner": None if i == 4 else {"x": f"x{i}", "y": D(f"{i}.5")}},
            "ints": None if i == 5 else [i, i + 1, None][: i % 4],
            "structs": [{"k": f"k{j}", "v": j / 2} for j in range(i % 3)] + ([None] if i == 7 else []),
            "m": None if i == 6 else {f"key{j}": (j if j != 1 else None) for j in range(i % 3)},
            "mstruct": {i: {"d": dt.date(2020, 1, 1) + dt.timedelta(days=i)}, -i - 1: None},
            "nested_list": [[i], [], None, [None, i * 2]] if i % 2 else [],
        })
    t.append(arrow_of(t, rows[:6]))
    t.append(arrow_of(t, rows[6:]))
    c = Checks(t)
    c.select_all()
    c.where(["id", "st"], "st.inner.x = 'x2'", lambda r: r["st"] is not None and r["st"]["inner"] is not None and r["st"]["inner"]["x"] == "x2")
    c.add("SELECT id, len(ints) FROM t ORDER BY id", [[r["id"], None if r["ints"] is None else len(r["ints"])] for r in sorted(c.rows, key=lambda r: r["id"])])
    finish("nested", t, ["struct in struct", "list of long", "list of struct", "map string→long", "map int→struct", "list of list", "nulls at every level"], c)


# ---------------------------------------------------------------------------------------------
# All primitive types (timestamp_ns needs format v3, which PyIceberg 0.12 cannot write)


def primitives() -> None:
    schema = Schema(
        NestedField(1, "id", LongType(), required=True),
        NestedField(2, "b", BooleanType()),
        NestedField(3, "i", IntegerType()),
        NestedField(4, "l", LongType()),
        NestedField(5, "f", FloatType()),
        NestedField(6, "d", DoubleType()),
        NestedField(7, "dec9", DecimalType(9, 2)),
        NestedField(8, "dec18", DecimalType(18, 0)),
        NestedField(9, "dec38", DecimalType(38, 10)),
        NestedField(10, "dt", DateType()),
        NestedField(11, "tm", TimeType()),
        NestedField(12, "ts", TimestampType()),
        NestedField(13, "tstz", TimestamptzType()),
        NestedField(14, "s", StringType()),
        NestedField(15, "u", UUIDType()),
        NestedField(16, "fx", FixedType(4)),
        NestedField(17, "bin", BinaryType()),
    )
    t = catalog.create_table("db.primitives", schema)
    D = decimal.Decimal
    rows = []
    for i in range(10):
        neg = -1 if i % 2 else 1
        rows.append({
            "id": i,
            "b": i % 3 == 0,
            "i": neg * (2**31 - 1 - i),
            "l": neg * (2**63 - 1 - i) if i < 3 else i * 1_000_000_007,
            "f": 3.1415927 * i * neg,
            "d": 2.718281828459045 * i * neg,
            "dec9": D(f"{neg * (1234567 + i)}.{i:02d}"),
            "dec18": D(neg * (10**17 + i)),
            "dec38": D(f"{neg * (10**27 + i)}.{i:010d}"),
            "dt": dt.date(1969, 12, 31) + dt.timedelta(days=i * 1000 * neg),
            "tm": dt.time(i, i * 5, i * 3, i * 1111 if i % 2 else 0),
            "ts": dt.datetime(1969, 12, 31, 23, 59, 59, 999999) + dt.timedelta(days=i * 400 * neg, microseconds=i),
            "tstz": dt.datetime(2000, 2, 29, 12, 0, tzinfo=UTC) + dt.timedelta(hours=i * 1000 * neg, microseconds=i * 3),
            "s": ["", "plain", "ünïcödé", "emoji 🎉", "quote ' \" \\", "line\nbreak", "tab\t", "日本", "x" * 300, "end"][i],
            "u": uuid.UUID(int=(i * 0x0123456789ABCDEF0123456789ABCDEF) % 2**128).bytes,
            "fx": bytes([i, 255 - i, 0, 128]),
            "bin": bytes(range(i * 3)),
        })
    rows.append({"id": 10, **{k: None for k in rows[0] if k != "id"}})
    t.append(arrow_of(t, rows[:5]))
    t.append(arrow_of(t, rows[5:]))
    c = Checks(t)
    c.select_all()
    c.where(["id", "u"], "u = '%s'" % uuid.UUID(bytes=rows[3]["u"]), lambda r: r["u"] is not None and norm(r["u"]) == norm(uuid.UUID(bytes=rows[3]["u"])))
    c.where(["id", "dec38"], "dec38 > 0", lambda r: r["dec38"] is not None and r["dec38"] > 0)
    c.where(["id", "tstz"], "tstz >= TIMESTAMPTZ '2000-03-01 00:00:00+00'", lambda r: r["tstz"] is not None and r["tstz"] >= dt.datetime(2000, 3, 1, tzinfo=UTC))
    c.where(["id", "fx"], "fx = '\\x03\\xFC\\x00\\x80'::BLOB", lambda r: r["fx"] == bytes([3, 252, 0, 128]))
    c.add("SELECT min(i), max(l), sum(dec9), min(dt), max(ts), min(tm) FROM t", [[
        min(r["i"] for r in c.rows if r["i"] is not None),
        max(r["l"] for r in c.rows if r["l"] is not None),
        sum(r["dec9"] for r in c.rows if r["dec9"] is not None),
        min(r["dt"] for r in c.rows if r["dt"] is not None),
        max(r["ts"] for r in c.rows if r["ts"] is not None),
        min(r["tm"] for r in c.rows if r["tm"] is not None),
    ]])
    finish("primitives", t, ["every primitive type of format v2 (uuid, fixed, binary, time, timestamp, timestamptz, decimals up to 38)", "int/long extremes", "pre-epoch dates/timestamps", "all-null row"], c)


GENERATORS = [v1_table, gzip_metadata, partitions, evolved_spec, schema_evolution, deletes, position_deletes, name_mapping, nested, primitives]

if __name__ == "__main__":
    only = set(sys.argv[2:])
    for g in GENERATORS:
        if not only or g.__name__ in only:
            g()
    json.dump({"pyiceberg": __import__("pyiceberg").__version__, "tables": summary}, sys.stdout)
    sys.stdout.write("\n")
