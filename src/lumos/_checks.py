"""Input checks every package shares: numbers, columns, a fitted model.

Each raises Lumos's own errors with the message the conventions ask for: what
was wrong, the value received and what to do.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from lumos.errors import DataValidationError, LumosUserError


def check_number(
    owner: str | None,
    name: str,
    value,
    *,
    low: float | None = 0.0,
    high: float | None = None,
    integer: bool = False,
    strict: bool = False,
    high_strict: bool = False,
):
    """Return ``value`` when it is a finite number in range; else raise ``bad_argument``.

    ``low`` is inclusive (exclusive with ``strict``), ``high`` inclusive
    (exclusive with ``high_strict``); ``None`` leaves that side open.
    Booleans are never numbers here.

    Examples
    --------
    >>> check_number("GLMix", "passes", 3, low=1, integer=True)
    3
    >>> check_number("GLMix", "l2", -1)
    Traceback (most recent call last):
    lumos.errors.LumosUserError: The 'l2' parameter of GLMix must be a float >= 0. Got -1.
    >>> check_number(None, "alpha", 1.0, strict=True, high=1, high_strict=True)
    Traceback (most recent call last):
    lumos.errors.LumosUserError: The 'alpha' parameter must be a float > 0 and < 1. Got 1.0.
    """
    kind = numbers.Integral if integer else numbers.Real
    ok = isinstance(value, kind) and not isinstance(value, bool)
    ok = ok and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if strict else value >= low
    if ok and high is not None:
        ok = value < high if high_strict else value <= high
    if not ok:
        bounds = []
        if low is not None:
            bounds.append(f"{'>' if strict else '>='} {low:g}")
        if high is not None:
            bounds.append(f"{'<' if high_strict else '<='} {high:g}")
        what = "an int" if integer else "a float"
        rule = f"{what} {' and '.join(bounds)}" if bounds else f"{what} (finite)"
        of = f" of {owner}" if owner else ""
        raise LumosUserError(
            f"The {name!r} parameter{of} must be {rule}. Got {value!r}.", code="bad_argument"
        )
    return value


def check_flag(owner: str | None, name: str, value) -> bool:
    """Return ``value`` when it is ``True`` or ``False`` (NumPy's too); else raise ``bad_argument``.

    Examples
    --------
    >>> check_flag("LinTS", "fit", "yes")
    Traceback (most recent call last):
    lumos.errors.LumosUserError: The 'fit' parameter of LinTS must be True or False. Got 'yes'.
    """
    if not isinstance(value, bool | np.bool_):
        of = f" of {owner}" if owner else ""
        raise LumosUserError(
            f"The {name!r} parameter{of} must be True or False. Got {value!r}.",
            code="bad_argument",
        )
    return bool(value)


def require_columns(frame, columns, *, source: str, hint: str = "", file: str | None = None):
    """Raise ``missing_column`` naming the first of ``columns`` that ``frame`` lacks.

    ``frame`` is a pandas or Spark DataFrame or an Arrow table. ``source`` names
    the table in the message ("predictions file 'p.csv'"); ``hint`` says what to
    do; ``file`` is kept on the error for programs.

    Examples
    --------
    >>> import pandas as pd
    >>> require_columns(pd.DataFrame({"a": [1]}), ["a", "b"], source="table t",
    ...                 hint="add it.")
    Traceback (most recent call last):
    lumos.errors.DataValidationError: table t has no column 'b'; add it. Its columns: a.
    """
    names = getattr(frame, "column_names", None)  # an Arrow table's .columns are its data
    have = list(frame.columns if names is None else names)
    for column in columns:
        if column not in have:
            shown = ", ".join(map(str, have[:12])) + (", …" if len(have) > 12 else "")
            hint = hint if not hint or hint.endswith(".") else hint + "."
            raise DataValidationError(
                f"{source} has no column {column!r}"
                + (f"; {hint}" if hint else ".")
                + f" Its columns: {shown or 'none'}.",
                code="missing_column",
                file=file,
                column=str(column),
            )


def check_fitted(estimator, *attributes: str, what: str = "", hint: str = "call fit first"):
    """Raise :class:`~lumos.errors.NotFittedError` unless ``estimator`` has the ``attributes``.

    ``what`` names the model in the message (default "This <class>"); ``hint``
    says what to do.

    Examples
    --------
    >>> class Model: ...
    >>> check_fitted(Model(), "coef_")
    Traceback (most recent call last):
    lumos.errors.NotFittedError: This Model is not fitted; call fit first.
    """
    if not all(hasattr(estimator, a) for a in attributes):
        from lumos.errors import NotFittedError

        what = what or f"This {type(estimator).__name__}"
        raise NotFittedError(f"{what} is not fitted; {hint}.")


def renamed(value, old_value, *, old: str, new: str, owner: str, stacklevel: int = 3):
    """The value of a parameter renamed from ``old`` to ``new``: the old name still works for
    a release, with a ``DeprecationWarning``.

    Use as ``random_state = renamed(random_state, seed, old="seed", new="random_state",
    owner="explain_table")`` with ``seed=None`` in the signature.

    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     renamed(0, 7, old="seed", new="random_state", owner="f")
    7
    >>> str(caught[0].message)
    "f's 'seed' is now 'random_state'; 'seed' will be removed."
    """
    if old_value is None:
        return value
    import warnings

    warnings.warn(
        f"{owner}'s {old!r} is now {new!r}; {old!r} will be removed.",
        DeprecationWarning,
        stacklevel=stacklevel,
    )
    return old_value


def renamed_attribute(new: str, old: str, owner: str) -> property:
    """A read-only ``old`` attribute that warns and reads ``new``: a renamed attribute
    (``random_state`` was ``seed``) still read for a release.

    >>> import warnings
    >>> class Policy:
    ...     random_state = 3
    ...     seed = renamed_attribute("random_state", "seed", "Policy")
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     Policy().seed
    3
    >>> str(caught[0].message)
    "Policy's 'seed' is now 'random_state'; 'seed' will be removed."
    """

    def read(self):
        import warnings

        warnings.warn(
            f"{owner}'s {old!r} is now {new!r}; {old!r} will be removed.",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(self, new)

    return property(read, doc=f"Deprecated: read {new!r}.")


def tables_argument(
    tables,
    more=(),
    named=None,
    *,
    names,
    owner: str,
    aliases=None,
    required=None,
    stacklevel: int = 3,
) -> dict:
    """The tables a ``fit`` takes as one argument, as a dict by name.

    ``tables`` is a mapping of name → table, or an object with the tables as
    attributes (a ``LearningBook``). For a release, the tables one by one still
    work, with a ``DeprecationWarning``: positional in ``names``' order (``tables``
    first, then ``more``) and by keyword (``named``; ``aliases`` maps an older
    keyword to its name). ``fit(*book.tables)`` — which unpacks a mapping's names
    — is refused with what to do. Every name in ``required`` (default ``names``)
    must be there.

    Examples
    --------
    >>> import pandas as pd
    >>> def fit(tables=None, *more, **named):
    ...     return tables_argument(tables, more, named, names=("members", "skills"),
    ...                            owner="Model.fit")
    >>> t = {"members": pd.DataFrame({"member_id": ["a"]}), "skills": pd.DataFrame()}
    >>> list(fit(t))
    ['members', 'skills']
    >>> fit(*t)
    Traceback (most recent call last):
    lumos.errors.LumosUserError: Model.fit takes the tables as one argument, a mapping of \
name → table: call fit(book.tables), not fit(*book.tables), which passes the names 'members', \
'skills'.
    """
    from collections.abc import Mapping

    named = dict(named or {})
    aliases = dict(aliases or {})
    given = ([] if tables is None else [tables]) + list(more)
    if given and all(isinstance(t, str) for t in given):
        raise LumosUserError(
            f"{owner} takes the tables as one argument, a mapping of name → table: call "
            f"fit(book.tables), not fit(*book.tables), which passes the names "
            f"{', '.join(map(repr, given))}.",
            code="bad_argument",
        )
    unknown = [k for k in named if k not in names and k not in aliases]
    if unknown:
        raise TypeError(f"{owner}() got an unexpected keyword argument {unknown[0]!r}")
    looks_like_table = hasattr(tables, "columns") or hasattr(tables, "column_names")
    if isinstance(tables, Mapping) and not more and not named:
        mapping = dict(tables)
    elif tables is not None and not more and not named and not looks_like_table:
        mapping = {n: getattr(tables, n) for n in names if hasattr(tables, n)}
    else:
        import warnings

        if len(given) > len(names):
            raise TypeError(
                f"{owner}() takes at most {len(names)} tables; got {len(given)} positional ones"
            )
        warnings.warn(
            f"{owner} takes the tables as one mapping of name → table now "
            f"({', '.join(names)}); passing them one by one will be removed.",
            DeprecationWarning,
            stacklevel=stacklevel,
        )
        mapping = dict(zip(names, given, strict=False))
        for key, value in named.items():
            mapping[aliases.get(key, key)] = value
    missing = [n for n in (names if required is None else required) if mapping.get(n) is None]
    if missing:
        raise LumosUserError(
            f"{owner}: the tables lack {', '.join(map(repr, missing))}; give a mapping with "
            f"{', '.join(names)} (a LearningBook's tables).",
            code="missing_table",
        )
    return {n: mapping[n] for n in names if mapping.get(n) is not None}
