"""Reading the log's JSON lines: Arrow's parser on the fast path, a line-by-line search for the
lines it cannot read on the slow one.

A line is readable when it is one JSON object in well-formed UTF-8 starting at the line's
first byte, its fields of the funnel event hold what the storage schema holds (text, an
int64, a finite float64 or null) and the fields every event needs are there. Arrow's
reader takes anything else badly: a line of invalid UTF-8 reaches pandas as a decode
error, a lone surrogate escape or an integer past int64 fails the whole read, and a
line ``null`` at the start crashes the process. :func:`table` checks the cheap half
of these rules on the whole buffer before Arrow sees it and the rest on Arrow's
table; only when a check fails does :func:`split` look at each line.
"""

from __future__ import annotations

import json
import math
from typing import NamedTuple

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from lumos.events._event import _REQUIRED, FIELDS, LIMITS, show

NUMBERS = {
    "position": pa.int64(),
    "propensity": pa.float64(),
    "value": pa.float64(),
    "ts": pa.float64(),
}
SCHEMA = pa.schema([(f, NUMBERS.get(f, pa.string())) for f in FIELDS])
_STRINGS = [f for f in FIELDS if f not in NUMBERS]
_FLOATS = [f for f, kind in NUMBERS.items() if kind == pa.float64()]


class BadLine(NamedTuple):
    """A line the log could not read: where it was, its bytes, what was wrong, and whether
    it was moved to the quarantine file."""

    segment: str
    offset: int
    raw: bytes
    reason: str
    moved: bool = False


def table(data: bytes) -> pa.Table | None:
    """Arrow's table of ``data`` (whole lines), or None when a line is not a readable event.

    Examples
    --------
    >>> table(b'{"event_id":"e1","tracking_id":"t","type":"served","member_id":"m",'
    ...       b'"item_id":"c","ts":1735787045}\\n').num_rows
    1
    >>> table(b'null\\n') is None, table(b'{"event_id":"\\\\ud800"}\\n') is None
    (True, True)
    """
    lines = data.count(b"\n")
    if not lines:
        return SCHEMA.empty_table()
    starts = data.count(b"\n{") + data.startswith(b"{")  # the last newline ends the buffer
    if starts != lines or b"\r" in data:
        return None  # Arrow splits at \r too, and a first line that is not an object crashes it
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return None
    try:
        out = pa_json.read_json(
            pa.BufferReader(data),
            read_options=pa_json.ReadOptions(block_size=1 << 20),  # blocks parse on every core
            parse_options=pa_json.ParseOptions(
                explicit_schema=SCHEMA, unexpected_field_behavior="ignore"
            ),
        )
    except pa.ArrowException:
        return None
    if out.num_rows != lines or any(out.column(f).null_count for f in _REQUIRED):
        return None
    for f in _FLOATS:
        column = out.column(f)
        if column.null_count < len(column) and not pc.all(pc.is_finite(column)).as_py():
            return None
    return out


def frame(data: pa.Table) -> pd.DataFrame:
    """The events of an Arrow table as a frame: ``None`` where a text field is absent, as
    ``json.loads`` gives."""
    if not data.num_rows:
        return pd.DataFrame(columns=list(FIELDS))
    out = data.to_pandas()
    out[_STRINGS] = out[_STRINGS].astype(object).where(out[_STRINGS].notna(), None)
    return out


def fault(line: bytes) -> str | None:
    """Why one line (without its newline) is not a readable event, or None.

    The same rules as :func:`table`, said for a person.

    Examples
    --------
    >>> line = b'{"event_id":"e1","tracking_id":"t","type":"served","member_id":"m","item_id":"c"'
    >>> fault(line + b',"ts":1735787045}') is None
    True
    >>> fault(line + b',"ts":1735787045,"position":1180591620717411303424}')
    "field 'position' holds 1180591620717411303424, past int64"
    >>> fault(line)
    "not one JSON object (Expecting ',' delimiter at byte 80)"
    >>> fault(line + b',"ts":1735787045,"cohort":"\\\\ud800x"}')
    "a lone surrogate escape in '\\\\ud800x', which is not text"
    """
    if not line.strip():
        return "an empty line"
    if not line.startswith(b"{"):
        return "not a JSON object (the line does not start with '{')"
    if b"\r" in line:
        return "a carriage return (\\r) inside the line"
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as err:
        return f"invalid UTF-8 at byte {err.start} ({show(line[err.start : err.start + 4])})"
    try:
        event = json.loads(text, object_pairs_hook=_once, parse_constant=_no_constant)
        lone = _lone_surrogate(event)
    except json.JSONDecodeError as err:
        at = len(text[: err.pos].encode("utf-8"))
        return f"not one JSON object ({err.msg} at byte {at})"
    except ValueError as err:
        return str(err)
    except RecursionError:
        return "JSON nested too deep"
    if lone is not None:
        return f"a lone surrogate escape in {show(lone)}, which is not text"
    for field in FIELDS:
        value = event.get(field)
        if value is None:
            if field in _REQUIRED:
                return f"field {field!r} is missing"
            continue
        kind = NUMBERS.get(field)
        if kind is None:
            if not isinstance(value, str):
                return f"field {field!r} holds {show(value)}, not text"
        elif isinstance(value, bool) or not isinstance(value, int | float):
            return f"field {field!r} holds {show(value)}, not a number"
        elif kind == pa.int64() and not isinstance(value, int):
            return f"field {field!r} holds {show(value)}, not an integer"
        elif kind == pa.int64() and not -LIMITS["int"] - 1 <= value <= LIMITS["int"]:
            return f"field {field!r} holds {show(value)}, past int64"
        elif not _finite(value):
            return f"field {field!r} holds {show(value)}, not a finite number"
    return None


def _finite(value) -> bool:
    """Whether a float64 column holds ``value`` as a finite number (Arrow reads any integer
    a double holds)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _once(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) < len(keys):
        twice = next(k for k in keys if keys.count(k) > 1)
        raise ValueError(f"field {show(twice)} twice in one object")
    return dict(pairs)


def _no_constant(name):
    raise ValueError(f"{name}, which is not JSON")


def _lone_surrogate(value):
    """The first text in ``value`` (keys too, at any depth) that is not well-formed UTF-8."""
    if isinstance(value, str):
        return None if value.isascii() or _encodes(value) else value
    if isinstance(value, dict):
        items = [*value, *value.values()]
    else:
        items = value if isinstance(value, list) else ()
    for item in items:
        found = _lone_surrogate(item)
        if found is not None:
            return found
    return None


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def split(data: bytes, segment: str) -> tuple[bytes, list[BadLine]]:
    """The readable lines of ``data`` (whole lines), and the others, each a :class:`BadLine`.

    Each line is checked by :func:`fault`; should Arrow still refuse the rest, halving
    finds the lines it refuses.
    """
    good, bad, offset = [], [], 0
    for line in data[:-1].split(b"\n") if data else ():  # not splitlines: it cuts at \r too
        reason = fault(line)
        if reason is None:
            good.append((offset, line + b"\n"))
        else:
            bad.append(BadLine(segment, offset, line + b"\n", reason))
        offset += len(line) + 1
    if table(b"".join(line for _, line in good)) is None:
        good, refused = _halve(good)
        bad += [
            BadLine(segment, at, line, "Arrow's JSON reader refuses it") for at, line in refused
        ]
        bad.sort(key=lambda b: b.offset)
    return b"".join(line for _, line in good), bad


def _halve(lines: list) -> tuple[list, list]:
    """``lines`` split into those Arrow reads and those it refuses, by halving."""
    if table(b"".join(line for _, line in lines)) is not None:
        return lines, []
    if len(lines) == 1:
        return [], lines
    middle = len(lines) // 2
    good_a, bad_a = _halve(lines[:middle])
    good_b, bad_b = _halve(lines[middle:])
    return good_a + good_b, bad_a + bad_b
