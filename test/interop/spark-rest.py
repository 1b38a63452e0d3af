"""PySpark + Iceberg's Spark runtime as a client of `lakehouse serve` (the Iceberg REST catalog).

    spark-rest.py write <uri> <jar> <table> <credential>    create (partitioned by days(ts)), insert, MERGE INTO,
                                               merge-on-read DELETE; prints JSON {columns, rows, ...}
    spark-rest.py read  <uri> <jar> <table> <credential>    prints JSON {columns, rows} of SELECT * ORDER BY id

<table> is namespace.name inside the `lh` catalog; <credential> is `<id>:<secret>` of an API key,
exchanged for a bearer token at the catalog's OAuth2 endpoint (client credentials). Values are normalised like `lakehouse sql
--format json` (pyiceberg_norm). Timings (seconds) go to the JSON's "timings"."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time

os.environ["TZ"] = "UTC"
time.tzset()
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyiceberg_norm import norm  # noqa: E402


def session(uri: str, jar: str, credential: str):
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master("local[2]")
        .appName("lakehouse-spark-interop")
        .config("spark.jars", jar)
        .config("spark.driver.memory", "512m")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.extraJavaOptions", "-XX:+UseSerialGC -XX:TieredStopAtLevel=1")
        .config("spark.sql.extensions", "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions")
        .config("spark.sql.catalog.lh", "org.apache.iceberg.spark.SparkCatalog")
        .config("spark.sql.catalog.lh.type", "rest")
        .config("spark.sql.catalog.lh.uri", uri)
        .config("spark.sql.catalog.lh.warehouse", "lakehouse")
        .config("spark.sql.catalog.lh.cache-enabled", "false")
        .config("spark.sql.catalog.lh.credential", credential)
        .config("spark.sql.catalog.lh.oauth2-server-uri", f"{uri}/v1/oauth/tokens")
        .config("spark.sql.catalog.lh.scope", "catalog")
        .getOrCreate()
    )


def rows_of(spark, sql: str) -> dict:
    from pyspark.sql.types import TimestampType

    df = spark.sql(sql)
    tz_cols = {i for i, f in enumerate(df.schema.fields) if isinstance(f.dataType, TimestampType)}
    out = []
    for r in df.collect():
        vals = list(r)
        for i in tz_cols:
            if vals[i] is not None:
                vals[i] = vals[i].replace(tzinfo=dt.timezone.utc)
        out.append([norm(v) for v in vals])
    return {"columns": df.columns, "rows": out}


def write(spark, t: str) -> dict:
    ns = t.rsplit(".", 1)[0]
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS lh.{ns}")
    spark.sql(
        f"""CREATE TABLE lh.{t} (id BIGINT, cat STRING, ts TIMESTAMP, amount DECIMAL(10,2), note STRING)
        USING iceberg PARTITIONED BY (days(ts))
        TBLPROPERTIES ('format-version'='2', 'write.delete.mode'='merge-on-read',
                       'write.update.mode'='merge-on-read', 'write.merge.mode'='merge-on-read')"""
    )
    # 20 rows over 5 days (6 h apart).
    spark.sql(
        f"""INSERT INTO lh.{t}
        SELECT id, element_at(array('a','b','c'), CAST(id % 3 AS INT) + 1),
               TIMESTAMP '2024-05-01 00:00:00' + make_interval(0, 0, 0, 0, CAST(id * 6 AS INT)),
               CAST(id * 0.25 AS DECIMAL(10,2)), NULL
        FROM range(20)"""
    )
    # Update 15..19, insert 20..24.
    spark.sql(
        f"""MERGE INTO lh.{t} t
        USING (SELECT id, CONCAT('m', CAST(id AS STRING)) AS note FROM range(15, 25)) s ON t.id = s.id
        WHEN MATCHED THEN UPDATE SET t.note = s.note, t.amount = NULL
        WHEN NOT MATCHED THEN INSERT (id, cat, ts, amount, note)
          VALUES (s.id, 'z', TIMESTAMP '2024-05-10 12:00:00', CAST(s.id AS DECIMAL(10,2)), s.note)"""
    )
    spark.sql(f"DELETE FROM lh.{t} WHERE id % 7 = 3")  # 3, 10, 17, 24
    res = rows_of(spark, f"SELECT * FROM lh.{t} ORDER BY id")
    res["delete_files"] = [
        list(r) for r in spark.sql(f"SELECT content, file_format, record_count FROM lh.{t}.delete_files").collect()
    ]
    res["snapshots"] = [r[0] for r in spark.sql(f"SELECT operation FROM lh.{t}.snapshots ORDER BY committed_at").collect()]
    res["partitions"] = spark.sql(f"SELECT count(*) FROM lh.{t}.partitions").collect()[0][0]
    return res


def main() -> None:
    cmd, uri, jar, t, credential = sys.argv[1:6]
    t0 = time.monotonic()
    spark = session(uri, jar, credential)
    spark.sparkContext.setLogLevel("ERROR")
    t1 = time.monotonic()
    try:
        res = write(spark, t) if cmd == "write" else rows_of(spark, f"SELECT * FROM lh.{t} ORDER BY id")
    except Exception as e:  # Py4JJavaError: keep the messages, drop the JVM stack frames
        lines = [ln for ln in str(e).splitlines() if ln.strip() and not ln.lstrip().startswith(("at ", "..."))]
        print(f"spark-rest.py {cmd} failed: {type(e).__name__}", *lines[:20], sep="\n", file=sys.stderr)
        sys.exit(1)
    finally:
        t2 = time.monotonic()
        spark.stop()
    res["timings"] = {"session_start": round(t1 - t0, 2), "work": round(t2 - t1, 2)}
    print(json.dumps(res))


if __name__ == "__main__":
    main()
