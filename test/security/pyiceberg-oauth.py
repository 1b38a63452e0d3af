"""PyIceberg against the secured REST catalog: with `credential=<id>:<secret>` it fetches a token
from /v1/oauth/tokens and works; without, it is refused. Prints one JSON object."""
import json
import sys

import pyarrow as pa
from pyiceberg.catalog import load_catalog


def main() -> None:
    mode, uri = sys.argv[1], sys.argv[2]
    props = {"type": "rest", "uri": uri}
    if mode == "with":
        props["credential"] = sys.argv[3]
    try:
        cat = load_catalog("lh", **props)
        cat.create_namespace_if_not_exists("secure")
        schema = pa.schema([pa.field("id", pa.int64()), pa.field("name", pa.string())])
        table = cat.create_table_if_not_exists("secure.people", schema=schema)
        table.append(pa.table({"id": [1, 2, 3], "name": ["a", "b", "c"]}, schema=schema))
        rows = cat.load_table("secure.people").scan().to_arrow().sort_by("id").to_pylist()
        print(json.dumps({"ok": True, "rows": rows, "tables": [".".join(t) for t in cat.list_tables("secure")]}))
    except Exception as e:  # the refusal is the expected outcome of mode "without"
        print(json.dumps({"ok": False, "error": type(e).__name__, "message": str(e)[:500]}))


main()
