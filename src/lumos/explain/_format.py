"""Number formatting that reads well in a sentence.

A template field takes a standard Python format spec (``{x:+.0%}``,
``{x:,.0f}``; a width of at most 64 and a precision of at most 12, see
:mod:`lumos._text`) or one of Lumos's named specs:

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
a/b[/c]    a word by sign: a for positive, b   ``{change:rose/fell}``
           for negative, c (or a) for zero
========== =================================== =========================
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from lumos._text import check_standard_spec

NAMED_SPECS = ("compact", "+compact", "pct", "+pct", "date", "yesno")
_UNITS = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K"))


def check_spec(spec: str) -> None:
    """Raise ``ValueError`` unless ``spec`` is a named spec, a word choice or a number's spec.

    A Python spec follows :func:`lumos._text.check_standard_spec`: the standard
    grammar, a width of at most 64 and a precision of at most 12.
    """
    if spec in NAMED_SPECS or spec == "":
        return
    if "/" in spec:
        if not 2 <= len(_words(spec)) <= 3 or not all(w.strip() for w in _words(spec)):
            raise ValueError("a word choice is two or three words split by '/': rose/fell")
        return
    check_standard_spec(spec)
    format(1.5, spec)


def _words(spec: str) -> list[str]:
    """The words of a sign-choice spec, positive first; zero takes the third or the first."""
    return spec.split("/")


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


def _render(v: float, spec: str) -> str:
    """Text of one (already quantized) number."""
    if spec == "yesno":
        return "yes" if v else "no"
    if "/" in spec:
        words = _words(spec)
        return words[1] if v < 0 else words[2 % len(words)] if v == 0 else words[0]
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


_FIXED = re.compile(r"^[+\- ]?,?\.(\d+)([f%])$")


def _round_plain(v: np.ndarray) -> np.ndarray:
    """Round as ``_plain`` prints: 0 decimals from 100, 1 from 10, 2 from 0.01, else 2 digits."""
    a = np.abs(v)
    with np.errstate(divide="ignore", invalid="ignore"):
        step = 10.0 ** (np.floor(np.log10(np.where(a > 0, a, 1.0))) - 1)
        tiny = np.round(v / step) * step
    return np.select(
        [a >= 100, a >= 10, a >= 0.01, a > 0],
        [np.round(v), np.round(v, 1), np.round(v, 2), tiny],
        v,
    )


def _round_compact(v: np.ndarray) -> np.ndarray:
    a = np.abs(v)
    out = _round_plain(v)
    for unit, _ in reversed(_UNITS):  # smallest unit first, larger units overwrite
        scaled = a / unit
        rounded = np.where(scaled < 99.95, np.round(scaled, 1), np.round(scaled))
        out = np.where(a >= unit * 0.9995, np.sign(v) * rounded * unit, out)
    return out


def _quantize(v: np.ndarray, spec: str) -> np.ndarray:
    """Round values to what ``spec`` shows, so equal texts share one value.

    Rounding is NumPy's (half to even on the value as stored); the text is then
    a function of the rounded value only, for every row alike.
    """
    if spec == "yesno":
        return (v != 0).astype(np.float64)
    if "/" in spec:
        return np.sign(v)
    if spec in ("pct", "+pct"):
        whole = (np.abs(v) >= 0.1) | (v == 0)
        return np.where(whole, np.round(v * 100) / 100, np.round(v * 1000) / 1000)
    if spec in ("compact", "+compact"):
        return _round_compact(v)
    if spec == "":
        return np.where(
            np.abs(v) >= 1e4, _round_compact(v), np.where(v == np.floor(v), v, _round_plain(v))
        )
    fixed = _FIXED.match(spec)
    if fixed:
        digits = int(fixed.group(1)) + (2 if fixed.group(2) == "%" else 0)
        return np.round(v, digits)
    return v


def format_one(value, spec: str = "") -> str:
    """Format one value by ``spec``; the same text :func:`format_array` gives it.

    Examples
    --------
    >>> format_one(1234), format_one(12_500), format_one(0.3512), format_one(7)
    ('1,234', '12.5K', '0.35', '7')
    >>> format_one(0.35, "pct"), format_one(0.12, "+pct"), format_one(-0.045, "+pct")
    ('35%', '+12%', '-4.5%')
    >>> format_one(3_400_000, "compact"), format_one(0.5, "+.0%"), format_one(1.0, "yesno")
    ('3.4M', '+50%', 'yes')
    >>> format_one(-0.2, "rose/fell"), format_one(0.0, "rose/fell/held at")
    ('fell', 'held at')
    >>> format_one(pd.Timestamp("2026-11-03"), "date")
    'Nov 3, 2026'
    """
    if spec == "date" or isinstance(value, pd.Timestamp | np.datetime64):
        ts = pd.Timestamp(value)
        return f"{ts:%b} {ts.day}, {ts.year}"
    if isinstance(value, str):
        return value
    return format_array(np.array([float(value)]), spec)[0]


def format_codes(values: np.ndarray, spec: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Distinct texts of ``values`` and, per value, the index of its text.

    ``texts[codes]`` is what :func:`format_array` returns. Numbers are first
    rounded to what ``spec`` shows, in one vectorized step; then each distinct
    rounded value is turned into text once, so a column of 100,000 rates costs
    a few hundred string operations, not 100,000.
    """
    values = np.asarray(values)
    kind = values.dtype.kind
    if kind == "M" or (spec == "date" and kind != "O"):
        uniq, codes = np.unique(values, return_inverse=True)
        texts = [format_one(u) for u in pd.DatetimeIndex(uniq)]
    elif kind in "fiub":
        quantized = _quantize(values.astype(np.float64), spec) + 0.0  # -0.0 reads as 0
        uniq, codes = np.unique(quantized, return_inverse=True)
        if spec and spec not in NAMED_SPECS and "/" not in spec:  # a Python spec: no dispatch
            texts = [format(u, spec) for u in uniq.tolist()]
        else:
            texts = [_render(u, spec) for u in uniq.tolist()]
    else:
        codes, uniq = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=False)
        texts = [format_one(v, spec) for v in uniq]
    return np.array(texts, dtype=object), np.asarray(codes, dtype=np.int64).reshape(-1)


def format_array(values: np.ndarray, spec: str = "") -> np.ndarray:
    """Format every value of ``values`` (an object array of strings is returned).

    Examples
    --------
    >>> format_array(np.array([1.0, 2500.0, 1.0]), "compact").tolist()
    ['1', '2.5K', '1']
    """
    if len(values) == 0:
        return np.empty(0, dtype=object)
    texts, codes = format_codes(values, spec)
    return texts[codes]
