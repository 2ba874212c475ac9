"""What a rendered AppTest page puts on screen, and the raw values that must never reach it.

Streamlit draws a missing dataframe cell (None/NaN/NaT) as a grey "None" and a timezone-aware
datetime column, unless its column config gives a format, as ``YYYY-MM-DD HH:mm:ss+00:00``
(both read from the frontend's cell renderer): those count as raw values on screen too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pandas as pd
from google.protobuf.message import Message

#: Raw values: a None, NaN/NaT, an ISO offset, a Python repr (object, Timestamp, datetime, numpy scalar, dict, list of reprs).
RAW = re.compile(r"\bNone\b|\bnan\b|\bNaN\b|\bNaT\b|\+00:00|\d{4}-\d\d-\d\dT\d\d:\d\d|object at 0x|Timestamp\(|datetime\.\w+\(|np\.\w+\(|\{'\w+': ")
# Proto fields that are data or configuration, not text on screen (the dataframe's cells are checked from its frame).
_SKIP = {"data", "spec", "arrow_data", "id", "form_id", "styles", "columns", "deck_json", "element_id", "key", "css"}


def _strings(msg: Message, path: str = "") -> Iterator[tuple[str, str]]:
    for field, value in msg.ListFields():
        if field.name in _SKIP:
            continue
        values = [value] if isinstance(value, (str, bytes, Message)) or not hasattr(value, "__len__") else list(value)
        for v in values:
            if isinstance(v, Message):
                yield from _strings(v, f"{path}.{field.name}")
            elif isinstance(v, str):
                yield f"{path}.{field.name}", v


def _elements(node: Any) -> Iterator[Any]:
    children = getattr(node, "children", None)
    if children is None:
        yield node
        return
    for child in children.values():
        yield from _elements(child)


def _frame_problems(frame: pd.DataFrame, config: dict[str, Any]) -> Iterator[str]:
    for name in frame.columns:
        col = frame[name]
        if name == "_index" or (config.get(str(name)) or {}).get("hidden"):
            continue
        missing = col.isna()
        if missing.any():
            yield f"column {name!r}: {int(missing.sum())} missing cell(s), drawn as 'None'"
        fmt = ((config.get(str(name)) or {}).get("type_config") or {}).get("format")
        if isinstance(col.dtype, pd.DatetimeTZDtype) and (not fmt or "Z" in fmt):
            yield f"column {name!r}: timezone-aware datetimes without a display format, drawn with '+00:00'"
        if col.dtype == object or pd.api.types.is_string_dtype(col.dtype):
            text = col.dropna().astype(str)
            hits = text[text.str.contains(RAW)]
            if len(hits):
                yield f"column {name!r}: {hits.iloc[0]!r}"
        if RAW.search(str(name)):
            yield f"column header {name!r}"


def raw_values_on_screen(at: Any) -> list[str]:
    """Return one line per raw value (None, NaN, ISO offset, Python repr) the rendered page ``at`` shows."""
    found = []
    for el in _elements(at._tree):
        kind = type(el).__name__
        proto = getattr(el, "proto", None)
        if kind in ("Dataframe", "Table"):
            config = json.loads(proto.columns) if getattr(proto, "columns", "") else {}
            found += [f"{kind}: {p}" for p in _frame_problems(el.value, config)]
            continue
        if proto is None:
            continue
        found += [f"{kind}{path}: {text[:160]!r}" for path, text in _strings(proto) if RAW.search(text)]
    return found
