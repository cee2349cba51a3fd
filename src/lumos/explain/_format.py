"""Number formatting that reads well in a sentence.

A template field takes any standard Python format spec (``{x:+.0%}``,
``{x:,.0f}``) or one of Lumos's named specs:

========== =================================== =========================
spec       meaning                             examples
========== =================================== =========================
(none)     a readable default                  ``1,234`` ``12.5K`` ``0.35``
compact    thousands, millions, billions       ``1.2K`` ``3.4M``
+compact   the same with a sign                ``+1.2K`` ``-300``
pct        a fraction as a percentage          ``35%`` ``4.5%``
+pct       the same with a sign                ``+12%`` ``-3.5%``
date       a calendar date                     ``Nov 3, 2026``
yesno      a 0/1 flag                          ``yes`` ``no``
========== =================================== =========================
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

NAMED_SPECS = ("compact", "+compact", "pct", "+pct", "date", "yesno")
_UNITS = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K"))


def check_spec(spec: str) -> None:
    """Raise ``ValueError`` if ``spec`` is neither a named spec nor a valid Python spec."""
    if spec in NAMED_SPECS or spec == "":
        return
    format(1.5, spec)


def _trim(text: str) -> str:
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _compact(v: float, sign: bool) -> str:
    a = abs(v)
    prefix = ("+" if v > 0 else "-" if v < 0 else "") if sign else ("-" if v < 0 else "")
    for unit, suffix in _UNITS:
        if a >= unit * 0.9995:
            scaled = a / unit
            return prefix + _trim(f"{scaled:.1f}" if scaled < 99.95 else f"{scaled:.0f}") + suffix
    return prefix + _plain(a)


def _plain(a: float) -> str:
    if a == int(a):
        return f"{a:,.0f}"
    if a >= 100:
        return f"{a:,.0f}"
    if a >= 10:
        return _trim(f"{a:.1f}")
    if a >= 0.01:
        return _trim(f"{a:.2f}")
    return f"{a:.2g}"


def _pct(v: float, sign: bool) -> str:
    digits = 0 if abs(v) >= 0.1 or v == 0 else 1
    text = _trim(format(v, f"{'+' if sign else ''}.{digits}%").rstrip("%")) + "%"
    return "0%" if text in ("+0%", "-0%") else text


def format_one(value, spec: str = "") -> str:
    """Format one value by ``spec``.

    Examples
    --------
    >>> format_one(1234), format_one(12_500), format_one(0.3512), format_one(7)
    ('1,234', '12.5K', '0.35', '7')
    >>> format_one(0.35, "pct"), format_one(0.12, "+pct"), format_one(-0.045, "+pct")
    ('35%', '+12%', '-4.5%')
    >>> format_one(3_400_000, "compact"), format_one(0.5, "+.0%"), format_one(1.0, "yesno")
    ('3.4M', '+50%', 'yes')
    >>> format_one(pd.Timestamp("2026-11-03"), "date")
    'Nov 3, 2026'
    """
    if spec == "date":
        ts = pd.Timestamp(value)
        return f"{ts:%b} {ts.day}, {ts.year}"
    if isinstance(value, str):
        return value
    if isinstance(value, pd.Timestamp | np.datetime64):
        ts = pd.Timestamp(value)
        return f"{ts:%b} {ts.day}, {ts.year}"
    v = float(value)
    if spec == "yesno":
        return "yes" if v else "no"
    if spec in ("pct", "+pct"):
        return _pct(v, spec == "+pct")
    if spec in ("compact", "+compact"):
        return _compact(v, spec == "+compact")
    if spec:
        return format(v, spec)
    if abs(v) >= 1e4:
        return _compact(v, False)
    if math.isfinite(v) and v == int(v):
        return f"{v:,.0f}"
    return ("-" if v < 0 else "") + _plain(abs(v))


def format_array(values: np.ndarray, spec: str = "") -> np.ndarray:
    """Format every value of ``values`` (an object array of strings is returned).

    Each distinct value is formatted once, so columns with repeated values
    (counts, flags, rounded rates) cost far less than one call per row.

    Examples
    --------
    >>> format_array(np.array([1.0, 2500.0, 1.0]), "compact").tolist()
    ['1', '2.5K', '1']
    """
    values = np.asarray(values)
    if len(values) == 0:
        return np.empty(0, dtype=object)
    if values.dtype.kind in "fiub" or values.dtype.kind == "M":
        uniq, inverse = np.unique(values, return_inverse=True)
        items = pd.DatetimeIndex(uniq) if values.dtype.kind == "M" else uniq.tolist()
        return np.array([format_one(u, spec) for u in items], dtype=object)[inverse]
    return np.array([format_one(v, spec) for v in values], dtype=object)
