"""Normalises Python/Arrow values to the JSON value conventions of
shared/fixtures/iceberg-reference/README.md ("Value conventions"), as `lakehouse scan` prints them.
Structs are objects keyed by field name; maps are lists of {"key", "value"} objects."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any

MAX_SAFE = 2**53 - 1
UTC = dt.timezone.utc


def _clock(t: dt.time | dt.datetime) -> str:
    s = f"{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
    return f"{s}.{t.microsecond:06d}" if t.microsecond else s


def norm(v: Any) -> Any:
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return v if -MAX_SAFE <= v <= MAX_SAFE else str(v)
    if isinstance(v, float):
        return v
    if isinstance(v, decimal.Decimal):
        return format(v, "f")
    if isinstance(v, dt.datetime):
        if v.tzinfo is not None:
            u = v.astimezone(UTC)
            return f"{u.date().isoformat()}T{_clock(u)}Z"
        return f"{v.date().isoformat()}T{_clock(v)}"
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, dt.time):
        return _clock(v)
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).hex()
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, dict):
        return {k: norm(x) for k, x in v.items()}
    if isinstance(v, list):
        if v and all(isinstance(e, tuple) and len(e) == 2 for e in v):  # arrow map → [(k, v)]
            return [{"key": norm(k), "value": norm(x)} for k, x in v]
        return [norm(e) for e in v]
    raise TypeError(f"cannot normalise {type(v)}: {v!r}")
