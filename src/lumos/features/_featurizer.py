"""A featurizer: member and course features by name, joined as of each row's own date.

It reads a :class:`~lumos.features.FeatureRepository` and applies transforms
(cross, dot product, cosine similarity) between the joined features.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from lumos._checks import check_number, require_columns
from lumos.errors import DataValidationError, LumosUserError
from lumos.features._repository import FeatureRepository

_OPS = ("cross", "dot", "cosine")
_SIDES = ("member", "course")


class Featurizer:
    """Member and course features by name, joined to each row as of the row's own date.

    Parameters
    ----------
    repository : FeatureRepository
    member_features, course_features : list of str, default=()
        Features to output, as named in the repository. They appear as
        ``member_{name}`` and ``course_{name}``; a k-vector as k columns
        ``member_{name}_0`` … ``member_{name}_{k-1}``.
    transforms : list of tuple, default=()
        ``(op, a, b)`` or ``(op, a, b, name)`` where ``a`` and ``b`` are
        qualified features (``"member_skills"``, ``"course_duration"``; they
        need not be among the outputs) and ``op`` is

        - ``"cross"``: the elementwise product of two numbers; a number times
          a vector (a scaled vector, ``name_i``); or the outer product of two
          short vectors flattened row-major (``name_i_j``, at most
          ``max_cross`` columns) — the pairwise interactions of, say, a member's
          seniority one-hot with a course's difficulty one-hot;
        - ``"dot"``: the dot product of two vectors of one length, e.g. member
          skills · course skills;
        - ``"cosine"``: their cosine similarity; 0 when either vector is all
          zeros (no skills: no similarity).

        The output is named ``name``, by default ``{a}_{op}_{b}``.
    date : str, default="date"
        The rows' date column; a timestamp uses its calendar day.
    missing : {"nan", "raise"}, default="nan"
        A row whose id has no snapshot on or before its date (a new member, a
        course released later, a date before the first snapshot) gets NaN
        features — a model or imputer decides what cold start means; or raise
        a :class:`~lumos.errors.DataValidationError` naming the row.
    max_cross : int, default=64
        Most columns a vector cross may make.

    Examples
    --------
    >>> import tempfile
    >>> repo = FeatureRepository(tempfile.mkdtemp())
    >>> _ = repo.write("member", "2025-01-01", pd.DataFrame(
    ...     {"member_id": ["m"], "seniority": [2.0], "skills": [[1.0, 1.0]]}))
    >>> _ = repo.write("course", "2025-01-01", pd.DataFrame(
    ...     {"course_id": ["c", "d"], "hours": [1.5, 3.0], "skills": [[1.0, 0.0], [0.0, 2.0]]}))
    >>> f = Featurizer(repo, member_features=["seniority"], course_features=["hours"],
    ...                transforms=[("cross", "member_seniority", "course_hours", "senior_hours"),
    ...                            ("cosine", "member_skills", "course_skills", "match")])
    >>> rows = pd.DataFrame({"member_id": "m", "course_id": ["c", "d", "c"],
    ...                      "date": ["2025-01-02", "2025-01-02", "2024-12-31"]})
    >>> f.feature_names()
    ['member_seniority', 'course_hours', 'senior_hours', 'match']
    >>> f.transform(rows)[f.feature_names()].round(3)
       member_seniority  course_hours  senior_hours  match
    0               2.0           1.5           3.0  0.707
    1               2.0           3.0           6.0  0.707
    2               NaN           NaN           NaN    NaN

    Models per channel fit on ``f.transform(rows[rows.channel == "email"])``.
    """

    def __init__(
        self,
        repository: FeatureRepository,
        member_features=(),
        course_features=(),
        transforms=(),
        *,
        date: str = "date",
        missing: str = "nan",
        max_cross: int = 64,
    ):
        if not isinstance(repository, FeatureRepository):
            raise LumosUserError(
                f"The 'repository' parameter of Featurizer must be a FeatureRepository. "
                f"Got {type(repository).__name__}.",
                code="bad_argument",
            )
        given = {"member_features": member_features, "course_features": course_features}
        for what, names in given.items():
            if isinstance(names, str) or not all(isinstance(n, str) for n in names):
                raise LumosUserError(
                    f"The {what!r} parameter of Featurizer must be a list of feature names. "
                    f"Got {names!r}.",
                    code="bad_argument",
                )
        if missing not in ("nan", "raise"):
            raise LumosUserError(
                f"The 'missing' parameter of Featurizer must be 'nan' or 'raise'. Got {missing!r}.",
                code="bad_argument",
            )
        check_number("Featurizer", "max_cross", max_cross, low=1, integer=True)
        self.repository = repository
        self.member_features = list(member_features)
        self.course_features = list(course_features)
        self.transforms = [self._parse(t) for t in transforms]
        self.date = date
        self.missing = missing
        self.max_cross = max_cross

    @staticmethod
    def _parse(spec) -> tuple[str, str, str, str]:
        ok = isinstance(spec, tuple | list) and len(spec) in (3, 4)
        ok = ok and all(isinstance(s, str) for s in spec) and spec[0] in _OPS
        ok = ok and all(s.split("_", 1)[0] in _SIDES and "_" in s for s in spec[1:3])
        if not ok:
            raise LumosUserError(
                f"A transform of Featurizer must be (op, a, b) or (op, a, b, name) with op one "
                f"of {', '.join(_OPS)} and a, b qualified features such as 'member_skills' or "
                f"'course_skills'. Got {spec!r}.",
                code="bad_argument",
            )
        op, a, b = spec[:3]
        return op, a, b, spec[3] if len(spec) == 4 else f"{a}_{op}_{b}"

    def _needs(self) -> dict[str, list[str]]:
        needs = {"member": list(self.member_features), "course": list(self.course_features)}
        for _, a, b, _ in self.transforms:
            for side, name in (a.split("_", 1), b.split("_", 1)):
                if name not in needs[side]:
                    needs[side].append(name)
        return {side: names for side, names in needs.items() if names}

    def _compute(self, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Output columns from the joined features (``member_x`` → array), in order."""
        out: dict[str, np.ndarray] = {}

        def put(name, v):
            if v.ndim == 1:
                out[name] = v
            else:
                out.update({f"{name}_{i}": v[:, i] for i in range(v.shape[1])})

        for side, names in (("member", self.member_features), ("course", self.course_features)):
            for name in names:
                put(f"{side}_{name}", values[f"{side}_{name}"])
        for op, a, b, name in self.transforms:
            x, y = values[a], values[b]
            kind = lambda v: "a number" if v.ndim == 1 else f"a {v.shape[1]}-vector"  # noqa: E731
            if op == "cross" and (x.ndim == 1 or y.ndim == 1):
                xs = x[:, None] if x.ndim < y.ndim else x  # a number scales a vector
                ys = y[:, None] if y.ndim < x.ndim else y
                put(name, xs * ys)
            elif op == "cross":
                if x.shape[1] * y.shape[1] > self.max_cross:
                    raise LumosUserError(
                        f"The transform ('cross', {a!r}, {b!r}) would make "
                        f"{x.shape[1] * y.shape[1]} columns, more than max_cross="
                        f"{self.max_cross}; use 'dot' or 'cosine', or raise max_cross.",
                        code="bad_argument",
                    )
                outer = x[:, :, None] * y[:, None, :]
                for i in range(x.shape[1]):
                    for j in range(y.shape[1]):
                        out[f"{name}_{i}_{j}"] = outer[:, i, j]
            elif x.ndim == 1 or y.ndim == 1 or x.shape[1] != y.shape[1]:
                raise LumosUserError(
                    f"The transform ({op!r}, {a!r}, {b!r}) needs two vectors of one length; "
                    f"{a!r} is {kind(x)} and {b!r} is {kind(y)}.",
                    code="bad_argument",
                )
            else:
                dot = np.einsum("ij,ij->i", x, y)
                if op == "cosine":
                    norms = np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1)
                    zero = norms == 0
                    dot = np.where(zero, 0.0, dot / np.where(zero, 1.0, norms))
                out[name] = dot
        return out

    def _values(self, lookup) -> dict[str, np.ndarray]:
        return {
            f"{side}_{name}": v
            for side, names in self._needs().items()
            for name, v in lookup(side, names).items()
        }

    def feature_names(self) -> list[str]:
        """The columns :meth:`transform` adds, from the shapes in the repository."""

        def lookup(side, names):
            shapes = {
                n: self.repository.shapes(side).get(n) for n in self.repository._check(side, names)
            }
            return {n: np.zeros((1, k) if k else 1) for n, k in shapes.items()}

        return list(self._compute(self._values(lookup)))

    def transform(self, rows) -> pd.DataFrame:
        """Join each row to the features as of its date and apply the transforms.

        Parameters
        ----------
        rows : DataFrame or pyarrow.Table
            ``member_id`` (when member features are used), ``course_id`` (when
            course features are used) and the date column; other columns are kept.

        Returns
        -------
        DataFrame
            ``rows`` (same index) followed by :meth:`feature_names` columns.

        Raises
        ------
        DataValidationError
            For a missing column, an empty id or a bad date (naming the row), or
            an unknown id with ``missing="raise"``.
        """
        if isinstance(rows, pa.Table):
            rows = rows.to_pandas()
        if not isinstance(rows, pd.DataFrame):
            raise LumosUserError(
                f"The 'rows' parameter of Featurizer.transform must be a pandas DataFrame or an "
                f"Arrow table. Got {type(rows).__name__}.",
                code="bad_argument",
            )
        needs = self._needs()
        for column in [*(f"{side}_id" for side in needs), self.date]:
            require_columns(rows, [column], source="the rows table", hint="add it.", file="rows")
            raw = rows[column]
            if column == self.date:
                text = raw.dtype == object or pd.api.types.is_string_dtype(raw.dtype)
                parsed = pd.to_datetime(raw, errors="coerce", format="ISO8601" if text else None)
                bad = parsed.isna().to_numpy()
                what = "is not a date; write it as YYYY-MM-DD"
            else:
                bad = (raw.isna() | (raw.astype(str).str.strip() == "")).to_numpy()
                what = "is empty; every row needs an id"
            if bad.any():
                i = int(bad.argmax())
                raise DataValidationError(
                    f"rows row {i}, column {column!r}: {raw.iloc[i]!r} {what}.",
                    code="bad_value",
                    file="rows",
                    row=i,
                    column=column,
                )
        dates = parsed.to_numpy("datetime64[D]")

        def lookup(side, names):
            ids = rows[f"{side}_id"].astype(str).to_numpy(dtype=object)
            return self.repository.lookup(side, ids, dates, names, missing=self.missing)

        features = self._compute(self._values(lookup))
        clash = [c for c in features if c in rows.columns]
        if clash:
            raise LumosUserError(
                f"rows already have a column {clash[0]!r} that Featurizer.transform would add; "
                f"rename or drop it.",
                code="bad_argument",
            )
        added = pd.DataFrame(features, index=rows.index)
        return pd.concat([rows, added], axis=1)
