"""The compact record: one per member, all models together, in a small binary layout.

A record holds the union of the items every model recommends to the member,
and per model the indices of its ranked list into that union, with a score and
a reason each; reasons (a code and a sentence) are deduplicated per record.
The layout is little-endian and has no code in it (NumPy reads the arrays):

==========  ================  =============================================
offset      type              what
==========  ================  =============================================
0           4 bytes           magic ``b"LUM1"``
4           uint16 × 4        models M, items I, reasons R, version bytes V
12          uint32            list entries E (over all models)
16          float32[E]        scores, model by model, best first
…           uint16[M]         list length per model
…           uint16[E]         item of each entry (index into items)
…           uint16[E]         reason of each entry (index into reasons)
…           uint16[M+I+2R]    byte lengths of the strings below
…           UTF-8             version, model ids, items, reason codes, reason texts
==========  ================  =============================================

JSON through the standard library was the first choice; it encoded a record
of 5 models × 50 items in 140 µs, seven times too slow for the publish goal of
50,000 records/s, while this layout is built for all members at once with
NumPy and joined per member in a few microseconds.
"""

from __future__ import annotations

import itertools
import struct

import numpy as np

from lumos.errors import DataValidationError

MAGIC = b"LUM1"
HEADER = struct.Struct("<4sHHHHI")
LIMIT = 65535  # counts and string lengths are uint16


def decode_record(data: bytes) -> dict:
    """Turn stored bytes back into the record's dict.

    Parameters
    ----------
    data : bytes
        One record as :func:`~lumos.store.build_records` made it.

    Returns
    -------
    dict
        ``{"version": str, "items": [item ids], "models": {model_id: [indices
        into items]}, "scores": {model_id: [float]}, "reasons": {model_id:
        [indices into reason_codes / reason_texts]}, "reason_codes": [str],
        "reason_texts": [str]}``; each model's list is best first. Scores are
        stored as float32 (about 7 significant digits).

    Raises
    ------
    DataValidationError
        When ``data`` is not a record (code ``bad_record``).

    Examples
    --------
    >>> import pandas as pd
    >>> from lumos.store import build_records
    >>> table = pd.DataFrame({"member_id": ["m1", "m1"], "rank": [1, 2],
    ...                       "course_id": ["c7", "c3"], "score": [0.5, 0.25],
    ...                       "reason": ["skill", "popular"],
    ...                       "reason_text": ["Because of your skill 'SQL'", "Popular"]})
    >>> records = build_records({"m101": table, "m102": table.assign(rank=[2, 1])}, version="v1")
    >>> record = decode_record(records.values[0])
    >>> record["items"], record["models"], record["scores"]["m102"]
    (['c7', 'c3'], {'m101': [0, 1], 'm102': [1, 0]}, [0.25, 0.5])
    >>> record["reason_texts"][record["reasons"]["m102"][0]]
    'Popular'
    """
    data = bytes(data)
    if len(data) < HEADER.size or data[:4] != MAGIC:
        raise DataValidationError(
            f"stored value of {len(data)} bytes is not a Lumos record (no {MAGIC!r} header); "
            "publish records made by build_records.",
            code="bad_record",
        )
    _, n_models, n_items, n_reasons, n_version, n_entries = HEADER.unpack_from(data)
    at = HEADER.size
    scores = np.frombuffer(data, "<f4", n_entries, at).tolist()
    at += 4 * n_entries
    lengths = np.frombuffer(data, "<u2", n_models, at).tolist()
    at += 2 * n_models
    items_at = np.frombuffer(data, "<u2", n_entries, at).tolist()
    at += 2 * n_entries
    reasons_at = np.frombuffer(data, "<u2", n_entries, at).tolist()
    at += 2 * n_entries
    n_strings = n_models + n_items + 2 * n_reasons
    ends = np.cumsum(np.frombuffer(data, "<u2", n_strings, at), dtype=np.int64)
    at += 2 * n_strings
    version = data[at : at + n_version].decode()
    blob = data[at + n_version :]
    starts = [0, *ends[:-1].tolist()]
    strings = [blob[a:b].decode() for a, b in zip(starts, ends.tolist(), strict=True)]
    model_ids = strings[:n_models]
    out = {
        "version": version,
        "items": strings[n_models : n_models + n_items],
        "models": {},
        "scores": {},
        "reasons": {},
        "reason_codes": strings[n_models + n_items : n_models + n_items + n_reasons],
        "reason_texts": strings[n_models + n_items + n_reasons :],
    }
    start = 0
    for model, n in zip(model_ids, lengths, strict=True):
        out["models"][model] = items_at[start : start + n]
        out["scores"][model] = scores[start : start + n]
        out["reasons"][model] = reasons_at[start : start + n]
        start += n
    return out


def ranked(record: dict | bytes, model_id: str, *, stop: int | None = None) -> list[dict]:
    """One model's list from a record: ``item_id, score, reason, reason_text``, best first.

    ``record`` is a decoded record or the stored bytes; from bytes only that
    model's entries and strings are read (what a server answering one request
    needs, several times faster than :func:`decode_record`), and only the first
    ``stop`` of them when given (a page). An empty list when the record holds
    nothing for ``model_id`` (the member's treatment does not use that model);
    :func:`list_length` gives the length of the whole list.

    Examples
    --------
    >>> record = {"items": ["c7", "c3"], "models": {"m1": [1]}, "scores": {"m1": [0.5]},
    ...           "reasons": {"m1": [0]}, "reason_codes": ["popular"],
    ...           "reason_texts": ["Popular"], "version": "v1"}
    >>> ranked(record, "m1")
    [{'item_id': 'c3', 'score': 0.5, 'reason': 'popular', 'reason_text': 'Popular'}]
    >>> ranked(record, "m2")
    []
    """
    if isinstance(record, bytes | bytearray | memoryview):
        return _ranked_bytes(bytes(record), model_id, stop)[0]
    items, codes, texts = record["items"], record["reason_codes"], record["reason_texts"]
    return [
        {"item_id": items[i], "score": s, "reason": codes[r], "reason_text": texts[r]}
        for i, s, r in zip(
            record["models"].get(model_id, ())[:stop],
            record["scores"].get(model_id, ())[:stop],
            record["reasons"].get(model_id, ())[:stop],
            strict=True,
        )
    ]


def list_length(record: dict | bytes, model_id: str) -> int:
    """How many entries ``model_id``'s list holds in a record (decoded or stored bytes).

    Examples
    --------
    >>> list_length({"models": {"m1": [1, 0]}}, "m1"), list_length({"models": {}}, "m1")
    (2, 0)
    """
    if isinstance(record, bytes | bytearray | memoryview):
        return _ranked_bytes(bytes(record), model_id, 0)[1]
    return len(record["models"].get(model_id, ()))


def _ranked_bytes(data: bytes, model_id: str, stop: int | None) -> tuple[list[dict], int]:
    """The first ``stop`` entries of a model's list and the list's length."""
    if len(data) < HEADER.size or data[:4] != MAGIC:
        decode_record(data)  # raises the error that names what is wrong
    _, n_models, n_items, n_reasons, n_version, n_entries = HEADER.unpack_from(data)
    scores_at = HEADER.size
    lengths = struct.unpack_from(f"<{n_models}H", data, scores_at + 4 * n_entries)
    items_at = scores_at + 4 * n_entries + 2 * n_models
    reasons_at = items_at + 2 * n_entries
    n_strings = n_models + n_items + 2 * n_reasons
    strings_at = reasons_at + 2 * n_entries
    ends = list(itertools.accumulate(struct.unpack_from(f"<{n_strings}H", data, strings_at)))
    blob = strings_at + 2 * n_strings + n_version
    starts = [0, *ends]

    def text(k: int) -> str:
        return data[blob + starts[k] : blob + ends[k]].decode()

    wanted, first = model_id.encode(), 0
    for m, n in enumerate(lengths):
        if data[blob + starts[m] : blob + ends[m]] == wanted:
            break
        first += n
    else:
        return [], 0
    total, n = n, n if stop is None else max(0, min(n, stop))
    scores = struct.unpack_from(f"<{n}f", data, scores_at + 4 * first)
    items = struct.unpack_from(f"<{n}H", data, items_at + 2 * first)
    reasons = struct.unpack_from(f"<{n}H", data, reasons_at + 2 * first)
    code, said = n_models + n_items, n_models + n_items + n_reasons
    why = {r: (text(code + r), text(said + r)) for r in set(reasons)}
    at = starts[n_models:]  # the items' strings come after the model ids
    rows = [
        {
            "item_id": data[blob + at[i] : blob + at[i + 1]].decode(),
            "score": s,
            "reason": why[r][0],
            "reason_text": why[r][1],
        }
        for i, s, r in zip(items, scores, reasons, strict=True)
    ]
    return rows, total
