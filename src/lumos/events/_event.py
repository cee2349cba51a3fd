"""The funnel event: one shape for every recommendation, from served to impression to action.

=============== ======== ====================================================
field           required meaning
=============== ======== ====================================================
``event_id``    yes      unique per event; a repeat of an id is the same event
``tracking_id`` yes      minted when the recommendation was fetched; travels
                         with it through served, impression and action
``type``        yes      ``served``, ``impression`` or ``action``
``action``      action   ``click``, ``dismiss``, ``watch``, ``bookmark``,
                         ``connect``, ``follow``, ``purchase``, …
``member_id``   yes      who saw it
``item_id``     yes      what was recommended
``item_type``            ``course``, ``offer``, ``account``, …
``cohort``               the cohort or carousel it was shown in
``position``             0-based rank on the page
``channel``              ``homepage``, ``email``, ``mobile``, …
``model_id``             the model that scored it
``treatment``            the experiment variant the member was in
``propensity``           the probability the policy showed it (off-policy use)
``value``                a number the action carries (seconds watched, price)
``ts``          yes      when it happened: ISO 8601 or epoch seconds (UTC)
=============== ======== ====================================================
"""

from __future__ import annotations

import json
import json.encoder
import math
import secrets
import time
from datetime import UTC, datetime

from lumos.errors import DataValidationError

TYPES = ("served", "impression", "action")
FIELDS = (
    "event_id",
    "tracking_id",
    "type",
    "action",
    "member_id",
    "item_id",
    "item_type",
    "cohort",
    "position",
    "channel",
    "model_id",
    "treatment",
    "propensity",
    "value",
    "ts",
)
_TEXT = tuple(f for f in FIELDS if f not in ("position", "propensity", "value", "ts"))
_IDS = ("event_id", "tracking_id", "member_id", "item_id", "model_id")
_REQUIRED = ("event_id", "tracking_id", "type", "member_id", "item_id", "ts")

#: The bounds of an event, in one table the validator, the log's reader and the server read.
#: ``id`` and ``text``: the most characters of an id (``event_id``, ``tracking_id``,
#: ``member_id``, ``item_id``, ``model_id``) and of any other text field; ``int``: the
#: largest integer the log stores (Arrow's int64); ``horizon``: the earliest ``ts``
#: (2000-01-01 UTC, epoch seconds); ``skew``: the seconds a ``ts`` may run ahead of the
#: receiving clock.
LIMITS = {
    "id": 256,
    "text": 256,
    "int": 2**63 - 1,
    "horizon": 946684800.0,
    "skew": 300.0,
}


def new_id() -> str:
    """A random 128-bit id as 32 hex characters (tracking and event ids).

    Examples
    --------
    >>> len(new_id()), new_id() != new_id()
    (32, True)
    """
    return secrets.token_hex(16)


def new_ids(n: int) -> list[str]:
    """``n`` ids like :func:`new_id`'s from one read of the system's random source.

    Examples
    --------
    >>> ids = new_ids(3)
    >>> len(ids), len(set(ids)), {len(i) for i in ids}
    (3, 3, {32})
    """
    text = secrets.token_hex(16 * n)
    return [text[i : i + 32] for i in range(0, 32 * n, 32)]


_PER_ITEM = ("event_id", "tracking_id", "item_id", "position")


def served_lines(
    member_id: str,
    items,
    *,
    channel=None,
    model_id=None,
    treatment=None,
    ts: float,
    cohort=None,
    item_type=None,
    propensity: float | None = None,
) -> list[str]:
    """``served`` events as JSON lines, the log's own bytes, built from one template.

    ``items`` holds ``(event_id, tracking_id, item_id, position)`` per item
    served; the fields every item shares are encoded once. Each line is what
    ``json.dumps`` gives :func:`validate_event`'s shape of the same event, at a
    fifth of the cost — a server records ten of these per request.

    Examples
    --------
    >>> line, = served_lines("m1", [("e1", "t1", "c7", 0)], channel="email", ts=1735787045.0)
    >>> line[:66]
    '{"event_id":"e1","tracking_id":"t1","type":"served","action":null,'
    >>> json.loads(line)["item_id"], json.loads(line)["channel"]
    ('c7', 'email')
    """
    text = json.encoder.encode_basestring_ascii  # json.dumps of a str, without the dispatch
    shared = {
        "type": '"served"',
        "member_id": text(member_id),
        "channel": "null" if channel is None else text(channel),
        "model_id": "null" if model_id is None else text(model_id),
        "treatment": "null" if treatment is None else text(treatment),
        "cohort": "null" if cohort is None else text(cohort),
        "item_type": "null" if item_type is None else text(item_type),
        "propensity": "null" if propensity is None else json.dumps(float(propensity)),
        "ts": json.dumps(float(ts)),
    }
    template = "{%s}" % ",".join(  # noqa: UP031 — the line is itself a %-template
        f'"{f}":%s' if f in _PER_ITEM else f'"{f}":' + shared.get(f, "null").replace("%", "%%")
        for f in FIELDS
    )
    return [template % (text(e), text(t), text(i), int(p)) for e, t, i, p in items]


def validate_event(
    event,
    *,
    row: int | None = None,
    where: str = "event",
    now: float | None = None,
    horizon: float | datetime | None = None,
    skew: float | None = None,
) -> dict:
    """Check one event and return it normalized: every field present, ``ts`` in epoch seconds.

    An event passes when the log can store it and read it back as it was: text is
    well-formed UTF-8 of at most ``LIMITS["id"]`` (ids) or ``LIMITS["text"]``
    characters, integers fit in int64, numbers are finite, and ``ts`` falls between
    ``horizon`` and ``now + skew``.

    Parameters
    ----------
    event : dict
    row : int, optional
        The event's index in its batch, named in an error.
    where : str, default="event"
        What holds the event (``"events"`` for a batch), named in an error.
    now : float, optional
        The receiving clock, in epoch seconds; default the system's.
    horizon : float or datetime, optional
        The earliest ``ts`` taken; default ``LIMITS["horizon"]`` (2000-01-01 UTC).
    skew : float, optional
        The seconds ``ts`` may run ahead of ``now``; default ``LIMITS["skew"]`` (300).

    Raises
    ------
    DataValidationError
        Naming the field, the value received and what to do (and the row of a batch).

    Examples
    --------
    >>> e = validate_event({"event_id": "e1", "tracking_id": "t1", "type": "action",
    ...     "action": "click", "member_id": "m", "item_id": "c", "ts": "2025-01-02T03:04:05Z"})
    >>> e["ts"], e["position"]
    (1735787045.0, None)
    >>> try:
    ...     validate_event({**e, "position": 2**70})
    ... except DataValidationError as err:
    ...     print(err.column, "int64" in str(err))
    position True
    """
    at = f"{where} {row}" if row is not None else where

    def fail(field, message):
        raise DataValidationError(
            f"{at}, field {field!r}: {message}", code="bad_event", file=where, row=row, column=field
        )

    if not isinstance(event, dict):
        fail(
            "event",
            f"must be an object with the fields {', '.join(_REQUIRED)}; got "
            f"{type(event).__name__}.",
        )
    unknown = [k for k in event if k not in FIELDS]
    if unknown:
        fail(
            _name(unknown[0]),
            f"is not a field of the funnel event (fields: {', '.join(FIELDS)}).",
        )
    out = dict.fromkeys(FIELDS)
    for field in _TEXT:
        value = event.get(field)
        if value is None:
            if field in _REQUIRED:
                fail(field, "is missing; every event needs it.")
            continue
        most = LIMITS["id" if field in _IDS else "text"]
        if not isinstance(value, str) or not value.strip() or len(value) > most:
            fail(
                field,
                f"must be a non-empty string of at most {most} characters; got {show(value)}.",
            )
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as err:
                fail(
                    field,
                    f"holds a lone surrogate ({value[err.start]!r} at character {err.start}), "
                    f"which is not text; got {show(value)}. Send well-formed UTF-8: a "
                    "surrogate escape comes in pairs, one character for both.",
                )
        out[field] = value
    if out["type"] not in TYPES:
        fail("type", f"{show(out['type'])} is not one of {', '.join(TYPES)}.")
    if out["type"] == "action" and out["action"] is None:
        fail("action", "is missing; an action event says which action (click, dismiss, …).")
    for field in ("propensity", "value"):
        value = event.get(field)
        if value is not None:
            if not _finite(value):
                fail(field, f"must be a finite number; got {show(value)}.")
            if field == "propensity" and not 0 < value <= 1:
                fail(field, f"must be a probability in (0, 1]; got {show(value)}.")
            out[field] = float(value)
    position = event.get("position")
    if position is not None:
        if isinstance(position, bool) or not isinstance(position, int) or position < 0:
            fail("position", f"must be an integer >= 0; got {show(position)}.")
        if position > LIMITS["int"]:
            fail(
                "position",
                f"must be an integer >= 0 and at most {LIMITS['int']} (the log stores int64); "
                f"got {show(position)}.",
            )
        out["position"] = position
    out["ts"] = _epoch(event.get("ts"), fail, now=now, horizon=horizon, skew=skew)
    return out


def show(value, most: int = 80) -> str:
    """``repr(value)``, cut to ``most`` characters (an error names what it got, not all of it).

    Examples
    --------
    >>> show("x" * 1000)[:12], len(show("x" * 1000)) < 120
    ("'xxxxxxxxxxx", True)
    >>> show(10**5000)
    'an integer of 16610 bits'
    """
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"an integer of {value.bit_length()} bits"  # repr refuses past 4,300 digits
    text = repr(value)
    if len(text) <= most:
        return text
    size = f"{len(value):,} characters" if isinstance(value, str) else f"{len(text):,} as text"
    return f"{text[: most - 1]}… ({size})"


def _name(key) -> str:
    """An unknown key as a field name an error can carry: printable, short."""
    text = key if isinstance(key, str) else repr(key)
    return text.encode("utf-8", "backslashreplace").decode()[:64]


def _finite(value) -> bool:
    """Whether ``value`` is a number the log stores as float64: finite, an int within int64."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, int):
        return -LIMITS["int"] - 1 <= value <= LIMITS["int"]
    return math.isfinite(value)


def _when(epoch: float) -> str:
    try:
        return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return "beyond year 9999" if epoch > 0 else "before year 1"


def _epoch(ts, fail, *, now=None, horizon=None, skew=None) -> float:
    if isinstance(ts, bool) or ts is None:
        fail("ts", "is missing; give ISO 8601 (2025-01-02T03:04:05Z) or epoch seconds.")
    if isinstance(ts, int | float):
        if not _finite(ts):
            fail("ts", f"must be a finite number of epoch seconds; got {show(ts)}.")
        value = float(ts)
    elif isinstance(ts, str):
        try:
            parsed = datetime.fromisoformat(ts.replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            value = parsed.timestamp()
        except (ValueError, OverflowError):
            fail("ts", f"{show(ts)} is not a time; give ISO 8601 (2025-01-02T03:04:05Z).")
    else:
        fail("ts", f"must be ISO 8601 text or epoch seconds; got {show(ts)}.")
    if horizon is None:
        horizon = LIMITS["horizon"]
    elif isinstance(horizon, datetime):
        horizon = (horizon if horizon.tzinfo else horizon.replace(tzinfo=UTC)).timestamp()
    now = time.time() if now is None else now
    latest = now + (LIMITS["skew"] if skew is None else skew)
    if value < horizon:
        fail(
            "ts",
            f"{show(ts)} ({_when(value)}) is before {_when(horizon)}, the earliest time the "
            "log takes; send when the event happened, in epoch seconds or ISO 8601.",
        )
    if value > latest:
        hint = (
            "give epoch seconds, not milliseconds"
            if horizon <= value / 1000 <= latest
            else "send when the event happened, and check the sending clock"
        )
        fail(
            "ts",
            f"{show(ts)} ({_when(value)}) is later than this server's clock allows "
            f"({_when(latest)}, {latest - now:g} s ahead); {hint}.",
        )
    return value
