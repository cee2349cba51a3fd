"""The book-of-business tables: Arrow schemas and validation with clear errors.

=============== ===========================================================
table           columns (required first; others are kept)
=============== ===========================================================
accounts        account_id; industry, region, size, …
contracts       account_id, product, start, end, quantity, amount, kind
usage           account_id, product, month, metric, value
firmographics   account_id, month; employees, hiring, … (numbers)
members         member_id, title, industry, company, region; seniority, …
member_skills   member_id, skill_id, score (profile skills, score in [0, 1])
courses         course_id, title, description, category, author,
                difficulty, duration (seconds), release_date
course_skills   course_id, skill_id (the skill taxonomy's tags)
skills          skill_id, name, category
interactions    member_id, course_id, channel, type, seconds, timestamp
=============== ===========================================================

The professional social network (:func:`lumos.data.demo.social`) names its
tables ``social_`` + the table:

====================== ====================================================
table                  columns
====================== ====================================================
social_members         member_id, name, title, company, school, region,
                       image_url, joined (a time)
social_connections     member_id, other_id, since (one row per direction)
social_groups          group_id, name, topic
social_group_members   group_id, member_id
social_events          event_id, name, topic, region, starts (a time)
social_event_attendees event_id, member_id
social_newsletters     newsletter_id, name, topic, author_id (a member)
social_hashtags        hashtag (lower-case, no '#'), topic
social_follows         member_id, entity_type, entity_id
====================== ====================================================

Dates are calendar dates; ``end`` is the first day a contract no longer
covers (a 12-month contract from 2025-01-01 ends 2026-01-01); ``month`` is the
first day of its month. ``kind`` is ``new``, ``renewal`` or ``add_on``.
An interaction's ``type`` is ``impression``, ``click``, ``watch`` (with the
``seconds`` watched), ``bookmark`` or ``dismiss``; ``timestamp`` is a time.
A follow's ``entity_type`` is ``newsletter`` (``entity_id`` a newsletter_id)
or ``hashtag`` (``entity_id`` the hashtag); a connection joins two different
members once per direction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from lumos._checks import require_columns
from lumos.errors import DataValidationError, LumosUserError

SCHEMAS: dict[str, pa.Schema] = {
    "accounts": pa.schema([("account_id", pa.string())]),
    "contracts": pa.schema(
        [
            ("account_id", pa.string()),
            ("product", pa.string()),
            ("start", pa.date32()),
            ("end", pa.date32()),
            ("quantity", pa.float64()),
            ("amount", pa.float64()),
            ("kind", pa.string()),
        ]
    ),
    "usage": pa.schema(
        [
            ("account_id", pa.string()),
            ("product", pa.string()),
            ("month", pa.date32()),
            ("metric", pa.string()),
            ("value", pa.float64()),
        ]
    ),
    "firmographics": pa.schema([("account_id", pa.string()), ("month", pa.date32())]),
    "members": pa.schema(
        [(c, pa.string()) for c in ("member_id", "title", "industry", "company", "region")]
    ),
    "member_skills": pa.schema(
        [("member_id", pa.string()), ("skill_id", pa.string()), ("score", pa.float64())]
    ),
    "courses": pa.schema(
        [
            *[
                (c, pa.string())
                for c in ("course_id", "title", "description", "category", "author", "difficulty")
            ],
            ("duration", pa.float64()),
            ("release_date", pa.date32()),
        ]
    ),
    "course_skills": pa.schema([("course_id", pa.string()), ("skill_id", pa.string())]),
    "skills": pa.schema(
        [("skill_id", pa.string()), ("name", pa.string()), ("category", pa.string())]
    ),
    "interactions": pa.schema(
        [
            ("member_id", pa.string()),
            ("course_id", pa.string()),
            ("channel", pa.string()),
            ("type", pa.string()),
            ("seconds", pa.float64()),
            ("timestamp", pa.timestamp("s")),
        ]
    ),
    "social_members": pa.schema(
        [
            *[
                (c, pa.string())
                for c in ("member_id", "name", "title", "company", "school", "region", "image_url")
            ],
            ("joined", pa.timestamp("s")),
        ]
    ),
    "social_connections": pa.schema(
        [("member_id", pa.string()), ("other_id", pa.string()), ("since", pa.timestamp("s"))]
    ),
    "social_groups": pa.schema([(c, pa.string()) for c in ("group_id", "name", "topic")]),
    "social_group_members": pa.schema([("group_id", pa.string()), ("member_id", pa.string())]),
    "social_events": pa.schema(
        [
            *[(c, pa.string()) for c in ("event_id", "name", "topic", "region")],
            ("starts", pa.timestamp("s")),
        ]
    ),
    "social_event_attendees": pa.schema([("event_id", pa.string()), ("member_id", pa.string())]),
    "social_newsletters": pa.schema(
        [(c, pa.string()) for c in ("newsletter_id", "name", "topic", "author_id")]
    ),
    "social_hashtags": pa.schema([("hashtag", pa.string()), ("topic", pa.string())]),
    "social_follows": pa.schema(
        [(c, pa.string()) for c in ("member_id", "entity_type", "entity_id")]
    ),
}
CONTRACT_KINDS = ("new", "renewal", "add_on")
INTERACTION_TYPES = ("impression", "click", "watch", "bookmark", "dismiss")
FOLLOW_ENTITY_TYPES = ("newsletter", "hashtag")
_OPTIONAL = {("members", "company"), ("courses", "description"), ("courses", "author")}
_IDS = {
    "accounts": "account_id",
    "members": "member_id",
    "courses": "course_id",
    "skills": "skill_id",
    "social_members": "member_id",
    "social_groups": "group_id",
    "social_events": "event_id",
    "social_newsletters": "newsletter_id",
    "social_hashtags": "hashtag",
}
_PAIRS = {
    "social_connections": ["member_id", "other_id"],
    "social_group_members": ["group_id", "member_id"],
    "social_event_attendees": ["event_id", "member_id"],
    "social_follows": ["member_id", "entity_type", "entity_id"],
}


def _fail(table: str, row: int, column: str, message: str, code: str = "bad_value"):
    raise DataValidationError(
        f"{table} row {row}, column {column!r}: {message}",
        code=code,
        file=table,
        row=row,
        column=column,
    )


def validate_table(name: str, data) -> pd.DataFrame:
    """Check a table against its schema and return it as a DataFrame of the schema's types.

    Parameters
    ----------
    name : str
        A table of :data:`SCHEMAS`: ``accounts``, ``contracts``, ``usage``,
        ``firmographics``, ``members``, ``member_skills``, ``courses``,
        ``course_skills``, ``skills``, ``interactions``, or a table of the
        social network: ``social_members``, ``social_connections``, … .
    data : DataFrame or pyarrow.Table

    Raises
    ------
    DataValidationError
        Naming the table, the row (0-based position) and the column, the value
        received and what to do.

    Examples
    --------
    >>> t = validate_table("contracts", pd.DataFrame({
    ...     "account_id": ["a"], "product": ["p"], "start": ["2025-01-01"],
    ...     "end": ["2026-01-01"], "quantity": [10], "amount": [1200.0], "kind": ["new"]}))
    >>> t.dtypes["start"], t["quantity"].iloc[0]
    (dtype('<M8[s]'), np.float64(10.0))
    """
    if name not in SCHEMAS:
        raise LumosUserError(
            f"Unknown table {name!r}; use one of {', '.join(SCHEMAS)}.", code="bad_argument"
        )
    frame = data.to_pandas() if isinstance(data, pa.Table) else data
    if not isinstance(frame, pd.DataFrame):
        raise LumosUserError(
            f"The {name} table must be a pandas DataFrame or an Arrow table; got "
            f"{type(data).__name__}.",
            code="bad_argument",
        )
    frame = frame.reset_index(drop=True)
    out = {}
    for field in SCHEMAS[name]:
        col = field.name
        require_columns(frame, [col], source=f"{name} table", hint="add it.", file=name)
        out[col] = _convert(name, frame[col], field.type)
    result = frame.assign(**out)
    for col in [c for c in frame.columns if c not in out]:
        if name == "firmographics" and not pd.api.types.is_numeric_dtype(frame[col]):
            raise DataValidationError(
                f"firmographics column {col!r} must hold numbers; got dtype {frame[col].dtype}.",
                code="bad_value",
                file=name,
                column=col,
            )
    _check(name, result)
    return result


def id_positions(ids, known: pd.Index, table: str, column: str) -> np.ndarray:
    """Positions of ``ids`` in ``known``; an unknown id is a clear error.

    ``table`` and ``column`` say where the ids come from: an unknown id raises
    ``unknown_id`` naming that table, the row and the column.

    Examples
    --------
    >>> import pandas as pd
    >>> id_positions(["b", "a"], pd.Index(["a", "b"]), "rows", "member_id").tolist()
    [1, 0]
    """
    at = known.get_indexer(ids)
    if (at < 0).any():
        i = int(np.argmax(at < 0))
        raise DataValidationError(
            f"{table} row {i}, column {column!r}: {ids[i]!r} is not a known id; add it to the "
            f"{column.removesuffix('_id')}s table or drop the row.",
            code="unknown_id",
            file=table,
            row=i,
            column=column,
        )
    return at


def _convert(table: str, series: pd.Series, kind: pa.DataType) -> pd.Series:
    column = str(series.name)
    if pa.types.is_string(kind):
        if (table, column) in _OPTIONAL:  # text that may be empty
            return series.fillna("").astype(str)
        bad = series.isna().to_numpy() | (series.astype(str).str.strip() == "").to_numpy()
        if bad.any():
            i = int(bad.argmax())
            _fail(table, i, column, f"is empty ({series.iloc[i]!r}); every row needs a value.")
        return series.astype(str)
    if pa.types.is_date(kind) or pa.types.is_timestamp(kind):
        text = series.dtype == object or pd.api.types.is_string_dtype(series.dtype)
        parsed = pd.to_datetime(series, errors="coerce", format="ISO8601" if text else None)
        if isinstance(parsed.dtype, pd.DatetimeTZDtype):  # a calendar date: drop the zone
            parsed = parsed.dt.tz_localize(None)
        parsed = parsed.astype("datetime64[s]")
        bad = parsed.isna().to_numpy()
        if bad.any():
            i = int(bad.argmax())
            _fail(table, i, column, f"{series.iloc[i]!r} is not a date; write it as YYYY-MM-DD.")
        return parsed if pa.types.is_timestamp(kind) else parsed.dt.normalize()
    parsed = pd.to_numeric(series, errors="coerce").astype(np.float64)
    bad = (parsed.isna() & series.notna()).to_numpy()
    if bad.any():
        i = int(bad.argmax())
        _fail(table, i, column, f"{series.iloc[i]!r} is not a number.")
    return parsed


def _check(name: str, t: pd.DataFrame) -> None:
    if name == "contracts":
        bad = (t["end"] <= t["start"]).to_numpy()
        if bad.any():
            i = int(bad.argmax())
            _fail(
                name,
                i,
                "end",
                f"{t['end'].iloc[i]:%Y-%m-%d} is not after start "
                f"{t['start'].iloc[i]:%Y-%m-%d}; end is the first day not covered.",
            )
        for col in ("quantity", "amount"):
            values = t[col].to_numpy()
            bad = np.isnan(values) | (values < 0)
            if bad.any():
                i = int(bad.argmax())
                _fail(name, i, col, f"{float(values[i])!r} must be a number >= 0.")
        bad = ~t["kind"].isin(CONTRACT_KINDS).to_numpy()
        if bad.any():
            i = int(bad.argmax())
            _fail(
                name, i, "kind", f"{t['kind'].iloc[i]!r} is not one of {', '.join(CONTRACT_KINDS)}."
            )
    if name in ("usage", "firmographics"):
        bad = (t["month"].dt.day != 1).to_numpy()
        if bad.any():
            i = int(bad.argmax())
            _fail(
                name,
                i,
                "month",
                f"{t['month'].iloc[i]:%Y-%m-%d} is not the first day of "
                "a month; store monthly values on the 1st.",
            )
        keys = (
            ["account_id", "product", "month", "metric"]
            if name == "usage"
            else ["account_id", "month"]
        )
        dup = t.duplicated(keys).to_numpy()
        if dup.any():
            i = int(dup.argmax())
            _fail(
                name,
                i,
                keys[-1],
                f"repeats the row of {', '.join(keys)} above; keep one.",
                code="duplicate",
            )
    if name in _IDS:
        key = _IDS[name]
        dup = t[key].duplicated().to_numpy()
        if dup.any():
            i = int(dup.argmax())
            _fail(name, i, key, f"{t[key].iloc[i]!r} appears twice.", code="duplicate")
    checks = {
        ("member_skills", "score"): (0, 1),
        ("courses", "duration"): (1e-9, np.inf),
        ("interactions", "seconds"): (0, np.inf),
    }
    for (table, col), (low, high) in checks.items():
        if table == name:
            values = t[col].to_numpy()
            bad = np.isnan(values) | (values < low) | (values > high)
            if bad.any():
                i = int(bad.argmax())
                what = "in [0, 1]" if high == 1 else ">= 0" if low == 0 else "> 0"
                _fail(name, i, col, f"{float(values[i])!r} must be a number {what}.")
    if name == "social_connections":
        bad = (t["member_id"] == t["other_id"]).to_numpy()
        if bad.any():
            i = int(bad.argmax())
            _fail(
                name,
                i,
                "other_id",
                f"{t['other_id'].iloc[i]!r} is the member itself; a "
                "connection joins two different members.",
            )
    if name in _PAIRS:
        keys = _PAIRS[name]
        dup = t.duplicated(keys).to_numpy()
        if dup.any():
            i = int(dup.argmax())
            _fail(
                name,
                i,
                keys[-1],
                f"repeats the row of {', '.join(keys)} above; keep one.",
                code="duplicate",
            )
    if name == "social_follows":
        bad = ~t["entity_type"].isin(FOLLOW_ENTITY_TYPES).to_numpy()
        if bad.any():
            i = int(bad.argmax())
            _fail(
                name,
                i,
                "entity_type",
                f"{t['entity_type'].iloc[i]!r} is not one of {', '.join(FOLLOW_ENTITY_TYPES)}.",
            )
    if name == "interactions":
        bad = ~t["type"].isin(INTERACTION_TYPES).to_numpy()
        if bad.any():
            i = int(bad.argmax())
            _fail(
                name,
                i,
                "type",
                f"{t['type'].iloc[i]!r} is not one of {', '.join(INTERACTION_TYPES)}.",
            )
