"""The tables an :class:`~lumos.bandits.OfferModel` reads, checked: arms, members, events.

* **Arms**: ``arm_id, product, creative, channel`` and any numeric columns
  (e.g. ``price``); the "no offer" arm (``arm_id`` ``none``) is added when
  missing.
* **Members**: ``member_id`` and numeric feature columns, one row per member.
* **Events**: the funnel event's fields that offers read, with ``ts`` in epoch
  seconds (ISO 8601 text is converted).

Each error names the table, row and column at fault.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lumos.errors import DataValidationError, LumosUserError

NO_OFFER = "none"
# the funnel event's fields that offers read (the event log's shape; see lumos.events)
_EVENT_FIELDS = (
    "tracking_id",
    "type",
    "action",
    "member_id",
    "item_id",
    "item_type",
    "channel",
    "model_id",
    "propensity",
    "ts",
)


def event_frame(events) -> pd.DataFrame:
    """Events as a frame with ``ts`` in epoch seconds (ISO text is converted)."""
    frame = events if isinstance(events, pd.DataFrame) else pd.DataFrame(list(events))
    frame = frame.reindex(columns=list(_EVENT_FIELDS))
    ts = pd.to_numeric(frame["ts"], errors="coerce")
    text = ts.isna() & frame["ts"].notna()
    if text.any():
        parsed = pd.to_datetime(frame.loc[text, "ts"], utc=True, errors="coerce", format="ISO8601")
        if parsed.isna().any():
            row = int(np.flatnonzero(text.to_numpy())[np.flatnonzero(parsed.isna().to_numpy())[0]])
            raise DataValidationError(
                f"event row {row}: ts {frame['ts'].iat[row]!r} is not a time; give ISO 8601 or "
                "epoch seconds.",
                code="bad_value",
                row=row,
                column="ts",
            )
        ts[text] = (parsed - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    if ts.isna().any():
        row = int(np.flatnonzero(ts.isna().to_numpy())[0])
        raise DataValidationError(
            f"event row {row} has no ts; every event needs its time.",
            code="bad_value",
            row=row,
            column="ts",
        )
    return frame.assign(ts=ts.astype(float))


def arms_table(arms) -> pd.DataFrame:
    """The arms, checked: text ids, unique ``arm_id``, numeric extras, and "no offer" added."""
    if not isinstance(arms, pd.DataFrame):
        raise LumosUserError("arms must be a DataFrame (arms.csv).", code="bad_argument")
    missing = [c for c in ("arm_id", "product", "creative", "channel") if c not in arms.columns]
    if missing:
        raise DataValidationError(
            f"the arms table needs column {missing[0]!r} (arm_id, product, creative, channel "
            f"and numeric columns); it has {', '.join(map(str, arms.columns))}.",
            code="missing_column",
            column=missing[0],
        )
    a = arms.copy()
    for c in ("arm_id", "product", "creative", "channel"):
        a[c] = a[c].fillna("").astype(str)
    dup = a["arm_id"].duplicated()
    if dup.any():
        row = int(np.flatnonzero(dup.to_numpy())[0])
        raise DataValidationError(
            f"arms row {row}: arm_id {a['arm_id'].iat[row]!r} appears twice; arm ids are unique.",
            code="duplicate",
            row=row,
            column="arm_id",
        )
    offers = a["arm_id"] != NO_OFFER
    for c in ("product", "channel"):
        empty = offers & (a[c] == "")
        if empty.any():
            row = int(np.flatnonzero(empty.to_numpy())[0])
            raise DataValidationError(
                f"arms row {row} (arm {a['arm_id'].iat[row]!r}) has no {c}; every offer names "
                "its product and channel.",
                code="bad_value",
                row=row,
                column=c,
            )
    for c in a.columns.difference(["arm_id", "product", "creative", "channel"]):
        a[c] = _numbers("arms", a, c)
    if not (~offers).any():
        a = pd.concat([pd.DataFrame({"arm_id": [NO_OFFER]}), a], ignore_index=True)
        a[["product", "creative", "channel"]] = a[["product", "creative", "channel"]].fillna("")
        a = a.fillna(0.0)
    return a.reset_index(drop=True)


def members_table(members) -> pd.DataFrame:
    """The members, checked: text ``member_id``, one row each, numeric feature columns."""
    if not isinstance(members, pd.DataFrame) or "member_id" not in members.columns:
        raise DataValidationError(
            "the members table needs a member_id column and numeric feature columns.",
            code="missing_column",
            column="member_id",
        )
    m = members.copy()
    m["member_id"] = m["member_id"].astype(str)
    for c in m.columns.drop("member_id"):
        m[c] = _numbers("members", m, c)
    dup = m["member_id"].duplicated()
    if dup.any():
        row = int(np.flatnonzero(dup.to_numpy())[0])
        raise DataValidationError(
            f"members row {row}: member_id {m['member_id'].iat[row]!r} appears twice.",
            code="duplicate",
            row=row,
            column="member_id",
        )
    return m.reset_index(drop=True)


def _numbers(table: str, frame: pd.DataFrame, column: str) -> pd.Series:
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna() | ~np.isfinite(values.fillna(0.0))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataValidationError(
            f"{table} row {row}, column {column!r}: {frame[column].iat[row]!r} is not a finite "
            "number; feature columns must be numbers (fill missing values first).",
            code="bad_value",
            row=row,
            column=column,
        )
    return values.astype(float)
