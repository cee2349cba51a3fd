"""Build compact records for all members at once from per-model recommendation tables."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from lumos._checks import require_columns
from lumos.errors import DataValidationError, LumosUserError
from lumos.store._codec import LIMIT, MAGIC

VERSION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_KEY_BYTES = 400  # LMDB keys are at most 511 bytes, with the version prefix


@dataclass(frozen=True)
class Records:
    """Encoded records of one version, ready for a store's ``publish``.

    Parameters
    ----------
    version : str
        The version every record carries; letters, digits, ``.``, ``_``, ``-``.
    member_ids : list of str
        The keys, sorted.
    values : list of bytes
        ``values[i]`` is the record of ``member_ids[i]``
        (see :func:`~lumos.store.decode_record`).
    """

    version: str
    member_ids: list = field(repr=False)
    values: list = field(repr=False)

    def __post_init__(self):
        check_version(self.version)
        if len(self.member_ids) != len(self.values):
            raise LumosUserError(
                f"Records got {len(self.member_ids)} member ids and {len(self.values)} values; "
                "they must pair up.",
                code="bad_argument",
            )

    def __len__(self) -> int:
        return len(self.member_ids)


def new_version() -> str:
    """A fresh version name: the UTC time and a random suffix, e.g. ``20250101T120000Z-3fa2``."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


def check_version(version) -> str:
    if not isinstance(version, str) or not VERSION_RE.fullmatch(version):
        raise LumosUserError(
            f"A store version must be a str of 1-64 letters, digits, '.', '_' or '-' "
            f"starting with a letter or digit. Got {version!r}.",
            code="bad_version",
        )
    return version


def build_records(
    tables,
    *,
    version: str | None = None,
    treatments: Mapping | Callable | None = None,
    item_column: str | None = None,
) -> Records:
    """One compact record per member from the recommendation tables of several models.

    Parameters
    ----------
    tables : mapping of str to DataFrame, or DataFrame
        ``{model_id: table}`` with columns ``member_id``, the item column,
        ``score`` and optionally ``rank`` (the order; else the rows' order),
        ``reason`` and ``reason_text`` (else empty) — the table
        :meth:`~lumos.recommend.CourseRecommender.recommend` returns. A single
        DataFrame needs a ``model_id`` column instead.
    version : str, optional
        The version the records carry; default :func:`new_version`.
    treatments : mapping or callable, optional
        Pre-filtering: ``member_id -> set of model ids`` (a mapping, or a
        callable called once per member). A model's list goes into a member's
        record only when the member's set holds the model; a member the
        mapping lacks gets no record. Default: every model for every member.
    item_column : str, optional
        Default ``"item_id"`` if the tables have it, else ``"course_id"``.

    Returns
    -------
    Records

    Raises
    ------
    DataValidationError
        A table lacks a column, has a missing id, a non-finite score or an
        item twice in one member's list; the message names model, row and column.
    LumosUserError
        Bad ``tables``, ``version`` or ``treatments``.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"member_id": ["a", "a", "b"], "course_id": ["c1", "c2", "c1"],
    ...                       "score": [0.9, 0.8, 0.7]})
    >>> records = build_records({"m1": table, "m2": table}, version="v1",
    ...                         treatments={"a": {"m1", "m2"}, "b": {"m2"}})
    >>> records.version, records.member_ids
    ('v1', ['a', 'b'])
    >>> from lumos.store import decode_record
    >>> decode_record(records.values[1])["models"]
    {'m2': [0]}
    """
    version = new_version() if version is None else check_version(version)
    long, model_ids = _long_table(tables, item_column)
    if treatments is not None:
        long = _prefilter(long, treatments, model_ids)
    if not len(long["model"]):
        return Records(version, [], [])
    return Records(version, *_encode(long, model_ids, version))


def _fail(message, *, code, model=None, row=None, column=None):
    where = f"table of model {model!r}" if model is not None else "recommendations table"
    if row is not None:
        where += f" row {row}"
    raise DataValidationError(f"{where}: {message}", code=code, row=row, column=column)


def _long_table(tables, item_column):
    """The rows of all tables as one dict of NumPy arrays, with the model as an int code."""
    if isinstance(tables, pd.DataFrame):
        hint = "a single table needs one to say each row's model; add it."
        require_columns(tables, ["model_id"], source="recommendations table", hint=hint)
        tables = dict(tuple(tables.groupby("model_id", sort=False)))
    if not isinstance(tables, Mapping):
        raise LumosUserError(
            f"build_records takes a mapping {{model_id: DataFrame}} or a DataFrame with a "
            f"'model_id' column. Got {type(tables).__name__}.",
            code="bad_argument",
        )
    parts, model_ids = [], []
    for code, (model, table) in enumerate(tables.items()):
        if not isinstance(model, str) or not model or len(model.encode()) > LIMIT:
            raise LumosUserError(
                f"Model ids must be non-empty str. Got {model!r}.", code="bad_model_id"
            )
        if not isinstance(table, pd.DataFrame):
            raise LumosUserError(
                f"The table of model {model!r} must be a DataFrame. Got {type(table).__name__}.",
                code="bad_argument",
            )
        model_ids.append(model)
        parts.append(_check_table(model, code, table, item_column))
    if not parts:
        raise LumosUserError(
            "build_records got no tables; pass at least one model.", code="bad_argument"
        )
    long = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    member, _ = pd.factorize(long["member_id"])
    item, items = pd.factorize(long["item"])
    key = (member * np.int64(len(model_ids)) + long["model"]) * np.int64(len(items) + 1) + item
    dup = pd.Series(key).duplicated().to_numpy()
    if dup.any():
        at = int(np.argmax(dup))
        _fail(
            f"item {long['item'][at]!r} appears twice in the list of member "
            f"{long['member_id'][at]!r}; keep one row per (member, item).",
            code="duplicate",
            model=model_ids[long["model"][at]],
            row=int(long["row"][at]),
            column="item",
        )
    return long, model_ids


def _strings(values: np.ndarray) -> np.ndarray:
    """Where ``values`` (object) are not non-empty str."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    ok = np.array([isinstance(u, str) and u != "" for u in uniques] + [False])
    return ~ok[codes]


def _check_table(model, code, table, item_column):
    item = item_column or ("item_id" if "item_id" in table.columns else "course_id")
    hint = f"give member_id, {item} and score."
    require_columns(
        table, ("member_id", item, "score"), source=f"table of model {model!r}", hint=hint
    )
    out = {
        "member_id": table["member_id"].to_numpy(dtype=object),
        "item": table[item].to_numpy(dtype=object),
    }
    for column, name in (("member_id", "member_id"), ("item", item)):
        bad = _strings(out[column])
        if bad.any():
            at = int(np.argmax(bad))
            _fail(
                f"column {name!r} must hold non-empty str; got {out[column][at]!r}.",
                code="bad_value",
                model=model,
                row=at,
                column=name,
            )
    score = pd.to_numeric(table["score"], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(score)
    if bad.any():
        at = int(np.argmax(bad))
        _fail(
            f"column 'score' must hold finite numbers; got {table['score'].iloc[at]!r}.",
            code="bad_value",
            model=model,
            row=at,
            column="score",
        )
    out["score"] = score
    out["model"] = np.full(len(table), code, dtype=np.int64)
    out["row"] = np.arange(len(table))
    if "rank" in table.columns:
        rank = pd.to_numeric(table["rank"], errors="coerce").to_numpy(dtype=np.float64)
        if (~np.isfinite(rank)).any():
            at = int(np.argmax(~np.isfinite(rank)))
            _fail(
                f"column 'rank' must hold numbers; got {table['rank'].iloc[at]!r}.",
                code="bad_value",
                model=model,
                row=at,
                column="rank",
            )
        out["order"] = rank
    else:
        out["order"] = out["row"].astype(np.float64)
    for column in ("reason", "reason_text"):
        if column in table.columns:
            values = table[column].to_numpy(dtype=object)
            bad = pd.isna(values)
            if bad.any():
                values = values.copy()
                values[bad] = ""
            out[column] = values
        else:
            out[column] = np.full(len(table), "", dtype=object)
    return out


def _prefilter(long, treatments, model_ids):
    members, member = np.unique(long["member_id"], return_inverse=True)
    if isinstance(treatments, Mapping):
        sets = [treatments.get(m, ()) for m in members]
    elif callable(treatments):
        sets = [treatments(m) for m in members]
    else:
        raise LumosUserError(
            f"treatments must be a mapping or a callable member_id -> set of model ids. "
            f"Got {type(treatments).__name__}.",
            code="bad_argument",
        )
    sets = [{s} if isinstance(s, str) else set(s or ()) for s in sets]
    known = {m: i for i, m in enumerate(model_ids)}
    unknown = set().union(*sets) - known.keys() if sets else set()
    if unknown:
        raise LumosUserError(
            f"treatments name model {sorted(unknown)[0]!r}, which has no table; the models "
            f"are {model_ids}.",
            code="unknown_model",
        )
    n_models = np.int64(len(model_ids))
    allowed = np.fromiter(
        (i * n_models + known[m] for i, s in enumerate(sets) for m in s), dtype=np.int64
    )
    keep = np.isin(member * n_models + long["model"], allowed)
    return {k: v[keep] for k, v in long.items()}


def _starts(counts):
    return np.concatenate(([0], np.cumsum(counts, dtype=np.int64)))


def _union(member, values, n_members):
    """Per member, the distinct values in order of appearance (rows sorted by member).

    Returns the index of each row's value within its member's union, the union's
    values (record by record) as codes into ``uniques``, ``uniques`` and the
    union's size per member.
    """
    code, uniques = pd.factorize(values)
    pair = member * np.int64(max(len(uniques), 1)) + code
    pcode, pairs = pd.factorize(pair)
    owner = pairs // max(len(uniques), 1)
    size = np.bincount(owner, minlength=n_members)
    first = _starts(size)[:-1]
    return pcode - first[member], pairs % max(len(uniques), 1), uniques, size


def _encode(long, model_ids, version):
    member, members = pd.factorize(long["member_id"], sort=True)
    order = np.lexsort((long["order"], long["model"], member))
    long, member = {k: v[order] for k, v in long.items()}, member[order]
    n = len(members)
    model = long["model"]
    item_at, item_codes, items, n_items = _union(member, long["item"], n)
    code, codes = pd.factorize(long["reason"])
    text, texts = pd.factorize(long["reason_text"])
    combined = code * np.int64(max(len(texts), 1)) + text
    reason_at, reason_codes, reasons, n_reasons = _union(member, combined, n)
    reasons = np.asarray(reasons)[reason_codes]
    reason_code = np.asarray(codes, dtype=object)[reasons // max(len(texts), 1)]
    reason_text = np.asarray(texts, dtype=object)[reasons % max(len(texts), 1)]
    lists_at, list_codes, model_codes, n_models = _union(member, model, n)
    list_models = np.asarray(model_codes)[list_codes]  # the models' own codes, not factorize's
    list_len = np.bincount(_starts(n_models)[member] + lists_at, minlength=int(n_models.sum()))
    n_entries = np.bincount(member, minlength=n)
    for what, counts in (("items", n_items), ("reasons", n_reasons), ("list entries", list_len)):
        if counts.max() > LIMIT:
            at = int(np.argmax(counts))
            _fail(
                f"member {members[at]!r} has {counts.max()} {what}; a record holds at most "
                f"{LIMIT}.",
                code="record_too_large",
            )

    # The strings of each record: model ids, items, reason codes, reason texts.
    parts = [
        (n_models, np.asarray(model_ids, dtype=object)[list_models]),
        (n_items, np.asarray(items, dtype=object)[item_codes]),
        (n_reasons, reason_code),
        (n_reasons, reason_text),
    ]
    n_strings = n_models + n_items + 2 * n_reasons
    base = _starts(n_strings)[:-1]
    strings = np.empty(int(n_strings.sum()), dtype=object)
    offset = np.zeros(n, dtype=np.int64)
    for counts, values in parts:
        owner = np.repeat(np.arange(n), counts)
        within = np.arange(len(values)) - _starts(counts)[:-1][owner]
        strings[base[owner] + offset[owner] + within] = values
        offset += counts
    codes, uniques = pd.factorize(strings)
    encoded = np.asarray([s.encode() for s in uniques], dtype=object)
    byte_len = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    if len(byte_len) and byte_len.max() > LIMIT:
        _fail(
            f"a string of {byte_len.max()} bytes is longer than a record allows ({LIMIT}).",
            code="record_too_large",
        )
    blob = b"".join(encoded[codes].tolist())
    string_len = byte_len[codes]
    owner = np.repeat(np.arange(n), n_strings)
    blob_at = _starts(np.bincount(owner, weights=string_len, minlength=n).astype(np.int64))

    vbytes = version.encode()
    header = np.zeros(
        n,
        dtype=np.dtype(
            [("magic", "S4"), ("m", "<u2"), ("i", "<u2"), ("r", "<u2"), ("v", "<u2"), ("e", "<u4")]
        ),
    )
    header["magic"], header["m"], header["i"], header["r"] = MAGIC, n_models, n_items, n_reasons
    header["v"], header["e"] = len(vbytes), n_entries
    head = memoryview(header.tobytes())
    scores = memoryview(long["score"].astype("<f4").tobytes())
    lengths = memoryview(list_len.astype("<u2").tobytes())
    item_b = memoryview(item_at.astype("<u2").tobytes())
    reason_b = memoryview(reason_at.astype("<u2").tobytes())
    slen = memoryview(string_len.astype("<u2").tobytes())
    blob = memoryview(blob)
    e_at = _starts(n_entries).tolist()
    m_at = _starts(n_models).tolist()
    s_at = _starts(n_strings).tolist()
    b_at = blob_at.tolist()
    join = b"".join
    values = [
        join(
            (
                head[16 * r : 16 * r + 16],
                scores[4 * e0 : 4 * e1],
                lengths[2 * m0 : 2 * m1],
                item_b[2 * e0 : 2 * e1],
                reason_b[2 * e0 : 2 * e1],
                slen[2 * s0 : 2 * s1],
                vbytes,
                blob[b0:b1],
            )
        )
        for r, e0, e1, m0, m1, s0, s1, b0, b1 in zip(
            range(n), e_at, e_at[1:], m_at, m_at[1:], s_at, s_at[1:], b_at, b_at[1:], strict=False
        )
    ]
    ids = members.tolist()
    too_long = [m for m in ids if len(m.encode()) > MAX_KEY_BYTES]
    if too_long:
        _fail(
            f"member id {too_long[0][:40]!r}… is longer than {MAX_KEY_BYTES} bytes.",
            code="bad_value",
            column="member_id",
        )
    return ids, values
