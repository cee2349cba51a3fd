"""Engagement labels from the interactions log: clicks from impressions, long-enough watches.

Both label makers read an ``interactions`` table (see
:func:`lumos.data.validate_table`) and return one row per labelled event with
its ``date`` (the calendar day of its timestamp) and ``day_of_week`` (0 =
Monday), the day-of-week feature of the course recommender. Timestamps are
naive times, as the schema stores them; days are their calendar days.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lumos._checks import check_number
from lumos.data import validate_table
from lumos.errors import DataValidationError, LumosUserError

_DAY = 86_400  # seconds
_THRESHOLDS = {  # kind: (default, lowest (exclusive), highest (inclusive), what)
    "seconds": (300.0, 0.0, np.inf, "a number of seconds > 0"),
    "fraction": (0.5, 0.0, 1.0, "a fraction of the course's duration in (0, 1]"),
    "percentile": (95.0, 0.0, 100.0, "a percentile in (0, 100]"),
}
_SCOPES = {"global": None, "course": "course_id", "member": "member_id"}


def _seconds(values) -> np.ndarray:
    return np.asarray(values, dtype="datetime64[s]").astype(np.int64)


def _key(*columns) -> np.ndarray:
    """One dense int64 code per distinct combination of the columns' values."""
    code = np.zeros(len(columns[0]), dtype=np.int64)
    for column in columns:
        part, uniques = pd.factorize(np.asarray(column))
        code = pd.factorize(code * len(uniques) + part)[0]  # dense again: no overflow
    return code


def _calendar(out: pd.DataFrame) -> pd.DataFrame:
    """Add ``date`` (the timestamp's calendar day) and ``day_of_week`` (0 = Monday)."""
    out["date"] = out["timestamp"].dt.normalize()
    out["day_of_week"] = out["timestamp"].dt.day_of_week.astype(np.int64)
    return out


def _duration(value, name: str, function: str) -> int:
    """A positive duration (Timedelta, timedelta, '1D', '2h', …) → whole seconds."""
    try:
        seconds = pd.Timedelta(value).total_seconds() if value is not None else np.nan
    except (TypeError, ValueError):
        seconds = np.nan
    if isinstance(value, int | float) or not seconds >= 1:  # bare numbers are ambiguous
        raise LumosUserError(
            f"The {name!r} parameter of {function} must be a duration of at least one second, "
            f"such as '1D' or pd.Timedelta(hours=12). Got {value!r}.",
            code="bad_argument",
        )
    return int(seconds)


def _channels(table: pd.DataFrame, channel) -> pd.DataFrame:
    if channel is None:
        return table
    wanted = [channel] if isinstance(channel, str) else list(channel)
    present = set(table.loc[table["type"] == "impression", "channel"])
    missing = [c for c in wanted if not isinstance(c, str) or c not in present]
    if not wanted or missing:
        raise LumosUserError(
            f"The 'channel' parameter of click_labels must name channels with impressions "
            f"({', '.join(sorted(present)) or 'none'}). Got {channel!r}.",
            code="bad_argument",
        )
    return table[table["channel"].isin(wanted)]


def click_labels(interactions, *, channel=None, window="1D", by_channel: bool = True):
    """One labelled row per impressed course and day: did the member click it soon after?

    An impression is a positive when the same member clicked the same course
    (on the same channel, when ``by_channel``) at a time ``t`` with
    ``impression <= t <= impression + window``; otherwise it is a negative.

    Duplicate impressions of one member and course (and channel) on one
    calendar day are collapsed into one row: its ``timestamp`` is the day's
    first impression, ``impressions`` counts them, and its ``label`` is 1 when
    any of them was followed by a click within the window. ``clicks`` counts
    the clicks attributed to the row, each click to the latest impression at or
    before it within the window, so no click is counted twice and
    ``clicks.sum() / impressions.sum()`` is the click-through rate of the
    (attributable) clicks.

    Parameters
    ----------
    interactions : DataFrame or pyarrow.Table
        An ``interactions`` table; only ``impression`` and ``click`` rows are used.
    channel : str or list of str, optional
        Keep only these channels' impressions and clicks (a per-channel
        model's rows). By default every channel is kept and each row keeps its
        channel, so per-channel models can also filter the result.
    window : duration, default="1D"
        How long after an impression a click still counts: a
        :class:`pandas.Timedelta`, :class:`datetime.timedelta` or a string such
        as ``"1D"`` or ``"30min"`` (at least one second).
    by_channel : bool, default=True
        Match clicks to impressions on the same channel. With ``False`` the
        channels are pooled: a click on any channel counts, duplicates collapse
        per member, course and day across channels, and ``channel`` is that of
        the day's first impression.

    Returns
    -------
    DataFrame
        ``member_id, course_id, channel, timestamp, date, day_of_week,
        impressions, clicks, label`` (``label`` is 0 or 1), sorted by
        timestamp, member, course and channel.

    Raises
    ------
    DataValidationError
        When the table breaks the ``interactions`` schema (names row and column).
    LumosUserError
        For a bad ``channel`` or ``window``.

    Examples
    --------
    >>> log = pd.DataFrame({
    ...     "member_id": "m", "course_id": ["a", "a", "b", "b", "a"], "channel": "email",
    ...     "type": ["impression", "click", "impression", "click", "impression"],
    ...     "seconds": 0.0, "timestamp": ["2025-01-06 09:00", "2025-01-06 11:00",
    ...                                   "2025-01-06 09:00", "2025-01-08 09:00",
    ...                                   "2025-01-06 17:00"]})
    >>> click_labels(log)[["course_id", "timestamp", "day_of_week", "impressions", "label"]]
      course_id           timestamp  day_of_week  impressions  label
    0         a 2025-01-06 09:00:00            0            2      1
    1         b 2025-01-06 09:00:00            0            1      0
    """
    if not isinstance(by_channel, bool):
        raise LumosUserError(
            f"The 'by_channel' parameter of click_labels must be True or False. "
            f"Got {by_channel!r}.",
            code="bad_argument",
        )
    width = _duration(window, "window", "click_labels")
    table = _channels(validate_table("interactions", interactions), channel)
    keys = ["member_id", "course_id", *(["channel"] if by_channel else [])]
    imp = table[(table["type"] == "impression").to_numpy()].reset_index(drop=True)
    clk = table[(table["type"] == "click").to_numpy()]
    columns = ["member_id", "course_id", "channel", "timestamp", "date", "day_of_week"]
    if imp.empty:
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in columns[:3]})
        empty["timestamp"] = pd.Series(dtype="datetime64[s]")
        out = _calendar(empty)
        return out.assign(impressions=0, clicks=0, label=0).astype(
            {"impressions": np.int64, "clicks": np.int64, "label": np.int64}
        )

    # One integer key per (member, course[, channel]) shared by impressions and clicks,
    # and one sortable position per event: key * span + seconds since the first event.
    key = _key(*(np.r_[imp[k].to_numpy(object), clk[k].to_numpy(object)] for k in keys))
    k_imp, k_clk = key[: len(imp)], key[len(imp) :]
    t_imp, t_clk = _seconds(imp["timestamp"]), _seconds(clk["timestamp"])
    t0 = min(t_imp.min(), t_clk.min(initial=t_imp.min()))
    span = max(t_imp.max(), t_clk.max(initial=t_imp.max())) - t0 + width + 1
    p_imp, p_clk = k_imp * span + (t_imp - t0), np.sort(k_clk * span + (t_clk - t0))
    # positions of another key are more than `width` away, so plain differences suffice

    # an impression is positive when the first click at or after it is within the window
    j = np.searchsorted(p_clk, p_imp, side="left")
    hit = j < len(p_clk)
    hit[hit] = p_clk[j[hit]] - p_imp[hit] <= width

    # collapse each key's impressions per calendar day; the group's row is its first impression
    day = t_imp // _DAY
    group = _key(k_imp, day)
    order = np.lexsort((t_imp, group))
    first = order[np.r_[True, group[order][1:] != group[order][:-1]]]
    n = group.max() + 1
    label = np.bincount(group, weights=hit, minlength=n) > 0

    # attribute each click to the latest impression at or before it, within the window
    by_pos = np.argsort(p_imp, kind="stable")
    i = np.searchsorted(p_imp[by_pos], p_clk, side="right") - 1
    ok = i >= 0
    ok[ok] = p_clk[ok] - p_imp[by_pos[i[ok]]] <= width
    clicks = np.bincount(group[by_pos[i[ok]]], minlength=n)

    out = _calendar(imp.loc[first, columns[:4]].reset_index(drop=True))
    out["impressions"] = np.bincount(group, minlength=n)[group[first]]
    out["clicks"] = clicks[group[first]].astype(np.int64)
    out["label"] = label[group[first]].astype(np.int64)
    out = out.sort_values(["timestamp", "member_id", "course_id", "channel"], kind="stable")
    return out.reset_index(drop=True)


def watch_labels(
    interactions,
    courses=None,
    *,
    threshold: float | None = None,
    kind: str = "seconds",
    by: str | None = None,
    days: int | None = 30,
    min_watches: int = 1,
) -> pd.DataFrame:
    """One labelled row per watch event: was it long enough?

    A watch is a positive when its ``seconds`` are at least the threshold
    (``seconds >= threshold``). The threshold is one of

    - ``kind="seconds"``: a fixed number of seconds (default 300);
    - ``kind="fraction"``: a fraction of the course's ``duration`` (default
      0.5, so half the course), which needs ``courses``;
    - ``kind="percentile"``: the ``threshold``-th percentile (default 95) of
      the seconds of earlier watches, computed point-in-time: over the watches
      with ``timestamp - days <= time < timestamp`` — strictly before the watch,
      so neither the watch itself, nor others at the same moment, nor later
      ones count. ``by`` chooses whose watches: ``"global"`` (everyone's, the
      default), ``"course"`` (the same course's) or ``"member"`` (the same
      member's). Percentiles interpolate linearly, as :func:`numpy.percentile`
      does. A watch with fewer than ``min_watches`` earlier watches in its
      window has no threshold: its ``threshold`` is NaN, ``label`` is 0 and
      ``known`` is False — train on known rows only.

    Parameters
    ----------
    interactions : DataFrame or pyarrow.Table
        An ``interactions`` table; only ``watch`` rows are used.
    courses : DataFrame or pyarrow.Table, optional
        A ``courses`` table. Required for ``kind="fraction"``; when given,
        ``duration`` and ``fraction`` (seconds / duration) columns are added.
    threshold : float, optional
        Seconds (> 0), a fraction in (0, 1] or a percentile in (0, 100],
        following ``kind``; defaults to 300, 0.5 and 95.
    kind : {"seconds", "fraction", "percentile"}, default="seconds"
    by : {"global", "course", "member"}, optional
        Whose watches a percentile is computed over; only for
        ``kind="percentile"`` (default ``"global"``).
    days : int or None, default=30
        Length of a percentile's look-back window in days; ``None`` uses all
        earlier watches.
    min_watches : int, default=1
        Fewest earlier watches a percentile needs.

    Returns
    -------
    DataFrame
        ``member_id, course_id, channel, timestamp, date, day_of_week, seconds,``
        (``duration, fraction`` when ``courses`` is given) ``threshold``
        (seconds), ``label`` (0 or 1) and ``known``, in the order of the watches
        in ``interactions``.

    Raises
    ------
    DataValidationError
        When a table breaks its schema, or a watched course is not in ``courses``.
    LumosUserError
        For a bad ``threshold``, ``kind``, ``by``, ``days`` or ``min_watches``.

    Examples
    --------
    >>> log = pd.DataFrame({
    ...     "member_id": "m", "course_id": "a", "channel": "mobile", "type": "watch",
    ...     "seconds": [100.0, 400.0, 200.0, 350.0],
    ...     "timestamp": ["2025-01-01", "2025-01-02", "2025-01-03", "2025-02-20"]})
    >>> watch_labels(log)["label"].tolist()
    [0, 1, 0, 1]
    >>> by_member = watch_labels(log, kind="percentile", threshold=50, by="member")
    >>> by_member[["seconds", "threshold", "label", "known"]]
       seconds  threshold  label  known
    0    100.0        NaN      0  False
    1    400.0      100.0      1   True
    2    200.0      250.0      0   True
    3    350.0        NaN      0  False
    """
    if kind not in _THRESHOLDS:
        raise LumosUserError(
            f"The 'kind' parameter of watch_labels must be 'seconds', 'fraction' or "
            f"'percentile'. Got {kind!r}.",
            code="bad_argument",
        )
    default, low, high, what = _THRESHOLDS[kind]
    threshold = default if threshold is None else threshold
    if not (
        isinstance(threshold, int | float | np.number)
        and not isinstance(threshold, bool)
        and low < threshold <= high
    ):
        raise LumosUserError(
            f"The 'threshold' parameter of watch_labels must be {what} with kind={kind!r}. "
            f"Got {threshold!r}.",
            code="bad_argument",
        )
    if kind != "percentile" and by is not None:
        raise LumosUserError(
            f"The 'by' parameter of watch_labels applies to kind='percentile' only; "
            f"drop it or set kind='percentile'. Got by={by!r} with kind={kind!r}.",
            code="bad_argument",
        )
    by = "global" if by is None else by
    if by not in _SCOPES:
        raise LumosUserError(
            f"The 'by' parameter of watch_labels must be 'global', 'course' or 'member'. "
            f"Got {by!r}.",
            code="bad_argument",
        )
    if days is not None and not (
        isinstance(days, int | np.integer) and not isinstance(days, bool) and days >= 1
    ):
        raise LumosUserError(
            f"The 'days' parameter of watch_labels must be an int >= 1 or None. Got {days!r}.",
            code="bad_argument",
        )
    check_number("watch_labels", "min_watches", min_watches, low=1, integer=True)
    if kind == "fraction" and courses is None:
        raise LumosUserError(
            "watch_labels(kind='fraction') needs the courses table for their durations; "
            "pass courses.",
            code="bad_argument",
        )

    table = validate_table("interactions", interactions)
    rows = np.flatnonzero((table["type"] == "watch").to_numpy())
    columns = ["member_id", "course_id", "channel", "timestamp", "seconds"]
    out = _calendar(table.loc[rows, columns].reset_index(drop=True))
    out = out[[*columns[:4], "date", "day_of_week", "seconds"]]
    seconds = out["seconds"].to_numpy()
    if courses is not None:
        catalog = validate_table("courses", courses)
        at = pd.Index(catalog["course_id"]).get_indexer(out["course_id"])
        if (at < 0).any():
            first = int(np.argmax(at < 0))
            raise DataValidationError(
                f"interactions row {int(rows[first])}, column 'course_id': watched course "
                f"{out['course_id'].iloc[first]!r} is not in the courses table; add it.",
                code="unknown_id",
                file="interactions",
                row=int(rows[first]),
                column="course_id",
            )
        out["duration"] = catalog["duration"].to_numpy()[at]
        out["fraction"] = seconds / out["duration"].to_numpy()

    if kind == "seconds":
        limit = np.full(len(out), float(threshold))
    elif kind == "fraction":
        limit = float(threshold) * out["duration"].to_numpy()
    else:
        limit = _rolling_percentile(out, float(threshold), _SCOPES[by], days, min_watches)
    out["threshold"] = limit
    known = ~np.isnan(limit)
    out["label"] = (known & (seconds >= np.where(known, limit, np.inf))).astype(np.int64)
    out["known"] = known
    return out


def _rolling_percentile(watches, q: float, scope, days, min_watches) -> np.ndarray:
    """The q-th percentile of each scope's earlier ``seconds`` in ``[t - days, t)``, per row.

    One pandas time-based rolling quantile over all groups at once (a single
    pass of pandas' windowed kernel, no Python loop per member or course).
    """
    if watches.empty:
        return np.zeros(0)
    group = (
        np.zeros(len(watches), dtype=np.int64) if scope is None else pd.factorize(watches[scope])[0]
    )
    t = watches["timestamp"].to_numpy("datetime64[s]")
    order = np.lexsort((t, group))
    frame = pd.DataFrame(
        {"group": group[order], "t": t[order], "v": watches["seconds"].to_numpy()[order]}
    )
    if days is None:  # all earlier watches: a window longer than the data
        width = pd.Timedelta(int(_seconds(t).max() - _seconds(t).min()) + 1, "s")
    else:
        width = pd.Timedelta(days=days)
    rolled = frame.groupby("group", sort=True).rolling(
        width, on="t", closed="left", min_periods=min_watches
    )
    result = np.empty(len(watches))
    result[order] = rolled["v"].quantile(q / 100, interpolation="linear").to_numpy()
    return result
