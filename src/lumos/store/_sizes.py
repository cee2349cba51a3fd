"""How much smaller the compact record is than one record per (member, model)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from lumos.store._build import _long_table, _prefilter, build_records


def per_pair_json(tables, *, treatments=None, item_column=None) -> tuple[list[str], list[bytes]]:
    """The naive layout: key ``member_id:model_id``, value the model's list as JSON.

    ``{"items": [...], "scores": [...], "reasons": [...], "reason_texts": [...]}``
    with scores rounded to 6 decimals (about the float32 precision of the
    compact record). The anchor of the size and publish measurements.
    """
    long, model_ids = _long_table(tables, item_column)
    if treatments is not None:
        long = _prefilter(long, treatments, model_ids)
    frame = pd.DataFrame(long).sort_values(["member_id", "model", "order"], kind="stable")
    frame["score"] = frame["score"].round(6)
    keys, values = [], []
    columns = ["item", "score", "reason", "reason_text"]
    for (member, model), rows in frame.groupby(["member_id", "model"], sort=False):
        items, scores, codes, texts = (rows[c].tolist() for c in columns)
        keys.append(f"{member}:{model_ids[model]}")
        value = {"items": items, "scores": scores, "reasons": codes, "reason_texts": texts}
        values.append(json.dumps(value, separators=(",", ":")).encode())
    return keys, values


def record_sizes(tables, *, treatments=None, item_column=None) -> dict:
    """Bytes stored with compact records and with one record per (member, model).

    Parameters
    ----------
    tables, treatments, item_column
        As for :func:`~lumos.store.build_records`.

    Returns
    -------
    dict
        ``members``, ``compact_bytes`` (keys and values of one record per
        member), ``per_pair_json_bytes`` (one JSON record per (member, model),
        see :func:`per_pair_json`), ``per_pair_compact_bytes`` (one compact
        record per (member, model): the saving of sharing items and reasons
        alone), and the ratios ``json_ratio`` and ``compact_ratio`` (per-pair
        bytes ÷ compact bytes).

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"member_id": ["a"] * 3, "course_id": ["c1", "c2", "c3"],
    ...                       "score": [0.9, 0.8, 0.7], "reason": ["skill"] * 3,
    ...                       "reason_text": ["Because of your skill 'SQL'"] * 3})
    >>> sizes = record_sizes({f"m{i}": table.sample(frac=1, random_state=i) for i in range(5)})
    >>> sizes["compact_bytes"] < sizes["per_pair_compact_bytes"] < sizes["per_pair_json_bytes"]
    True
    """
    compact = build_records(tables, version="v", treatments=treatments, item_column=item_column)
    keys, values = per_pair_json(tables, treatments=treatments, item_column=item_column)
    long, model_ids = _long_table(tables, item_column)
    if treatments is not None:
        long = _prefilter(long, treatments, model_ids)
    pair_compact = 0
    for code, model in enumerate(model_ids):
        keep = long["model"] == code
        one = pd.DataFrame({k: v[keep] for k, v in long.items() if k != "model"})
        one = one.rename(columns={"item": "item_id", "order": "rank"})
        one_records = build_records({model: one}, version="v")
        pair_compact += _size([f"{m}:{model}" for m in one_records.member_ids], one_records.values)
    out = {
        "members": len(compact),
        "models": len(model_ids),
        "compact_bytes": _size(compact.member_ids, compact.values),
        "per_pair_json_bytes": _size(keys, values),
        "per_pair_compact_bytes": pair_compact,
    }
    out["json_ratio"] = out["per_pair_json_bytes"] / max(out["compact_bytes"], 1)
    out["compact_ratio"] = out["per_pair_compact_bytes"] / max(out["compact_bytes"], 1)
    return out


def _size(keys, values) -> int:
    key_bytes = sum(len(k.encode()) for k in keys)
    return int(key_bytes + np.sum([len(v) for v in values], dtype=np.int64))
