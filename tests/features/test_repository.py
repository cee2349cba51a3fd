"""The feature repository and featurizer: layout, point-in-time joins, transforms, atomicity."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lumos.data.demo import learning
from lumos.errors import DataValidationError, LumosUserError
from lumos.features import FeatureRepository, Featurizer, click_labels


def members(tenure, skills=None, ids=("m1", "m2", "m3")):
    frame = pd.DataFrame({"member_id": list(ids), "tenure": tenure})
    if skills is not None:
        frame["skills"] = list(np.asarray(skills, dtype=float))
    return frame


@pytest.fixture
def repo(tmp_path):
    repo = FeatureRepository(tmp_path / "features")
    repo.write("member", "2025-01-01", members([1, 2, 3], [[1, 0], [0, 1], [1, 1]]))
    repo.write("member", "2025-01-05", members([5, 6, 7], [[2, 0], [0, 2], [2, 2]]))
    repo.write("member", "2025-01-10", members([10, 11, 12], [[3, 0], [0, 3], [3, 3]]))
    return repo


# -- the repository ----------------------------------------------------------------------------


def test_layout_and_round_trip(repo, tmp_path):
    folder = tmp_path / "features" / "member"
    assert sorted(p.name for p in folder.iterdir()) == [
        "2025-01-01.parquet",
        "2025-01-05.parquet",
        "2025-01-10.parquet",
    ]
    schema = pq.read_schema(folder / "2025-01-05.parquet")
    assert schema.field("member_id").type == pa.string()
    assert schema.field("tenure").type == pa.float64()
    assert schema.field("skills").type == pa.list_(pa.float64(), 2)
    assert repo.entities() == ["member"]
    days = ["2025-01-01", "2025-01-05", "2025-01-10"]
    assert repo.dates("member") == [pd.Timestamp(d) for d in days]
    assert repo.names("member") == ["tenure", "skills"]
    assert repo.shapes("member") == {"tenure": 0, "skills": 2}
    got = repo.read("member", as_of="2025-01-05")
    assert got.attrs["date"] == pd.Timestamp("2025-01-05")
    assert got["tenure"].tolist() == [5.0, 6.0, 7.0]
    np.testing.assert_array_equal(np.stack(got["skills"]), [[2, 0], [0, 2], [2, 2]])
    assert repo.dates("course") == []


def test_read_picks_the_latest_snapshot_on_or_before_as_of(repo):
    assert repo.read("member", ["tenure"], "2025-01-04")["tenure"].tolist() == [1, 2, 3]
    assert repo.read("member", ["tenure"], "2025-01-09")["tenure"].tolist() == [5, 6, 7]
    assert repo.read("member", ["tenure"])["tenure"].tolist() == [10, 11, 12]
    with pytest.raises(LumosUserError, match="no member snapshot on or before 2024-12-31; the"):
        repo.read("member", ["tenure"], "2024-12-31")


def test_a_feature_added_later_reads_as_nan_before(repo):
    frame = members([20, 21, 22]).assign(streak=[1.0, 2.0, 3.0])
    repo.write("member", "2025-01-20", frame)
    assert repo.names("member") == ["tenure", "streak"]
    assert repo.names("member", as_of="2025-01-19") == ["tenure", "skills"]
    assert repo.read("member", ["streak"], "2025-01-10")["streak"].isna().all()
    got = repo.lookup("member", ["m1", "m1"], ["2025-01-02", "2025-01-20"], ["skills", "streak"])
    np.testing.assert_array_equal(got["skills"], [[1, 0], [np.nan, np.nan]])
    np.testing.assert_array_equal(got["streak"], [np.nan, 1.0])


def test_writing_a_day_again_replaces_it(repo):
    repo.write("member", "2025-01-05", members([50, 60, 70], [[0, 0]] * 3))
    assert repo.read("member", ["tenure"], "2025-01-05")["tenure"].tolist() == [50, 60, 70]
    assert len(repo.dates("member")) == 3


def test_a_failed_write_leaves_the_previous_snapshot_and_no_temp_files(repo, monkeypatch):
    folder = repo.root / "member"
    before = (folder / "2025-01-05.parquet").read_bytes()

    def broken(table, where, **kwargs):  # a disk that fills up halfway through the file
        with open(where, "wb") as f:
            f.write(b"PAR1 half a file")
        raise OSError("No space left on device")

    monkeypatch.setattr(pq, "write_table", broken)
    with pytest.raises(OSError, match="No space left"):
        repo.write("member", "2025-01-05", members([50, 60, 70], [[0, 0]] * 3))
    with pytest.raises(OSError, match="No space left"):
        repo.write("member", "2025-01-07", members([50, 60, 70], [[0, 0]] * 3))
    assert (folder / "2025-01-05.parquet").read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == [
        "2025-01-01.parquet",
        "2025-01-05.parquet",
        "2025-01-10.parquet",
    ]
    monkeypatch.undo()
    assert repo.read("member", ["tenure"], "2025-01-07")["tenure"].tolist() == [5, 6, 7]


@pytest.mark.parametrize(
    ("frame", "message", "row", "column"),
    [
        (
            pd.DataFrame({"member_id": ["a", "b", "a"], "x": [1, 2, 3]}),
            "member features of 2025-02-01 row 2, column 'member_id': 'a' appears twice",
            2,
            "member_id",
        ),
        (
            pd.DataFrame({"member_id": ["a", None], "x": [1, 2]}),
            "row 1, column 'member_id': is empty",
            1,
            "member_id",
        ),
        (
            pd.DataFrame({"member_id": ["a", "b"], "x": ["1", "high"]}),
            "row 1, column 'x': 'high' is not a number",
            1,
            "x",
        ),
        (
            pd.DataFrame({"member_id": ["a", "b", "c"], "v": [[1.0, 2.0], [1.0, 2.0], [1.0]]}),
            "row 2, column 'v': a vector of length 1",
            2,
            "v",
        ),
        (
            pd.DataFrame({"member_id": ["a", "b"], "v": [[1.0, 2.0], [1.0, "x"]]}),
            "row 1, column 'v': .* is not a vector of numbers",
            1,
            "v",
        ),
        (
            pd.DataFrame({"member_id": ["a", "b"], "v": [[1.0, 2.0], 3.0]}),
            "row 1, column 'v': 3.0 is not a number or a vector",
            1,
            "v",
        ),
        (
            pd.DataFrame({"id": ["a"], "x": [1.0]}),
            "member features of 2025-02-01 has no column 'member_id'",
            None,
            "member_id",
        ),
        (pd.DataFrame({"member_id": ["a"]}), "has only the id column", None, None),
        (
            pd.DataFrame({"member_id": ["a"], "skills": [[1.0, 2.0, 3.0]]}),
            "column 'skills': shape 3 differs from 2 in earlier snapshots",
            None,
            "skills",
        ),
    ],
)
def test_bad_snapshots_are_refused_naming_row_and_column(repo, frame, message, row, column):
    with pytest.raises(DataValidationError, match=message) as e:
        repo.write("member", "2025-02-01", frame)
    assert (e.value.row, e.value.column) == (row, column)
    assert e.value.file == "member features of 2025-02-01"
    assert not (repo.root / "member" / "2025-02-01.parquet").exists()


def test_bad_arguments(repo):
    with pytest.raises(LumosUserError, match="The 'entity' parameter must be a lowercase name"):
        repo.write("Members!", "2025-01-01", members([1, 2, 3]))
    with pytest.raises(LumosUserError, match=r"must be a calendar date .* Got '2025-01-01 10:00'"):
        repo.write("member", "2025-01-01 10:00", members([1, 2, 3]))
    with pytest.raises(LumosUserError, match="must be a pandas DataFrame or an Arrow table"):
        repo.write("member", "2025-01-01", [("m1", 1.0)])
    with pytest.raises(
        LumosUserError, match=r"Unknown member feature 'age'.*known: tenure, skills"
    ):
        repo.read("member", ["age"])
    with pytest.raises(LumosUserError, match="no course snapshot"):
        repo.names("course")


def test_arrow_input_and_numpy_vectors(tmp_path):
    repo = FeatureRepository(tmp_path)
    table = pa.table({"course_id": ["c1", "c2"], "hours": [1, 2], "flag": [True, False]})
    repo.write("course", "2025-01-01", table)
    got = repo.read("course")
    assert got["hours"].tolist() == [1.0, 2.0] and got["flag"].tolist() == [1.0, 0.0]


# -- the featurizer ----------------------------------------------------------------------------


def test_each_row_joins_the_snapshot_as_of_its_own_date(repo):
    rows = pd.DataFrame(
        {
            "member_id": ["m1", "m2", "m3", "m1", "m2", "m1", "m1"],
            "date": pd.to_datetime(
                [
                    "2025-01-01",
                    "2025-01-04",
                    "2025-01-05 23:59",
                    "2025-01-09",
                    "2025-01-10",
                    "2025-02-01",
                    "2024-12-31",
                ],
                format="ISO8601",
            ),
        },
        index=list("abcdefg"),
    )
    featurizer = Featurizer(repo, member_features=["tenure"])
    got = featurizer.transform(rows)
    assert list(got.index) == list("abcdefg")
    np.testing.assert_array_equal(got["member_tenure"], [1, 2, 7, 5, 11, 10, np.nan])
    # a later snapshot changes, a new one appears: no row dated before them moves
    repo.write("member", "2025-01-10", members([-1, -1, -1], [[9, 9]] * 3))
    repo.write("member", "2025-01-03", members([-2, -2, -2], [[9, 9]] * 3))
    again = featurizer.transform(rows)
    early = (rows["date"] < "2025-01-03").to_numpy()
    pd.testing.assert_frame_equal(again[early], got[early])
    between = ((rows["date"] >= "2025-01-05") & (rows["date"] < "2025-01-10")).to_numpy()
    pd.testing.assert_frame_equal(again[between], got[between])
    assert again.loc["b", "member_tenure"] == -2 and again.loc["e", "member_tenure"] == -1


def test_unknown_ids_are_nan_or_a_clear_error(repo):
    rows = pd.DataFrame({"member_id": ["m1", "zz"], "date": ["2025-01-02", "2025-01-02"]})
    got = Featurizer(repo, member_features=["tenure", "skills"]).transform(rows)
    assert got["member_tenure"].tolist()[0] == 1 and np.isnan(got["member_tenure"].iloc[1])
    assert got[["member_skills_0", "member_skills_1"]].iloc[1].isna().all()
    strict = Featurizer(repo, member_features=["tenure"], missing="raise")
    with pytest.raises(DataValidationError, match="rows row 1, column 'member_id': member 'zz'"):
        strict.transform(rows)
    early = pd.DataFrame({"member_id": ["m1"], "date": ["2024-06-01"]})
    with pytest.raises(DataValidationError, match="no member snapshot is on or before 2024-06-01"):
        strict.transform(early)


@pytest.fixture
def random_repo(tmp_path):
    rng = np.random.default_rng(0)
    repo = FeatureRepository(tmp_path)
    for day in ("2025-03-01", "2025-03-02"):
        repo.write(
            "member",
            day,
            pd.DataFrame(
                {
                    "member_id": [f"m{i}" for i in range(20)],
                    "seniority": rng.normal(size=20),
                    "skills": list(rng.normal(size=(20, 5))),
                    "level": list(rng.normal(size=(20, 3))),
                }
            ),
        )
        repo.write(
            "course",
            day,
            pd.DataFrame(
                {
                    "course_id": [f"c{i}" for i in range(10)],
                    "hours": rng.exponential(size=10),
                    "skills": list(rng.normal(size=(10, 5))),
                    "difficulty": list(rng.normal(size=(10, 2))),
                }
            ),
        )
    rows = pd.DataFrame(
        {
            "member_id": rng.choice([f"m{i}" for i in range(20)], 200),
            "course_id": rng.choice([f"c{i}" for i in range(10)], 200),
            "date": rng.choice(pd.to_datetime(["2025-03-01", "2025-03-02", "2025-03-05"]), 200),
            "channel": rng.choice(["email", "mobile"], 200),
        }
    )
    return repo, rows


def reference(repo, rows, entity, name):
    """Each row's feature from the snapshot the plain ``read`` API gives for its date."""
    snapshots = {
        day: repo.read(entity, [name], as_of=day).set_index(f"{entity}_id")[name]
        for day in rows["date"].unique()
    }
    return np.array(
        [
            np.asarray(snapshots[day][key], dtype=float)
            for day, key in zip(rows["date"], rows[f"{entity}_id"], strict=True)
        ]
    )


def test_transforms_equal_numpy(random_repo):
    repo, rows = random_repo
    f = Featurizer(
        repo,
        member_features=["seniority", "skills"],
        course_features=["hours"],
        transforms=[
            ("cross", "member_seniority", "course_hours"),
            ("dot", "member_skills", "course_skills", "skill_dot"),
            ("cosine", "member_skills", "course_skills", "skill_cos"),
            ("cross", "member_level", "course_difficulty", "level_x_difficulty"),
            ("cross", "course_hours", "member_level", "hours_level"),
        ],
    )
    got = f.transform(rows)
    seniority = reference(repo, rows, "member", "seniority")
    hours = reference(repo, rows, "course", "hours")
    ms, cs = reference(repo, rows, "member", "skills"), reference(repo, rows, "course", "skills")
    level = reference(repo, rows, "member", "level")
    difficulty = reference(repo, rows, "course", "difficulty")
    np.testing.assert_allclose(got["member_seniority"], seniority)
    np.testing.assert_allclose(got[[f"member_skills_{i}" for i in range(5)]], ms)
    np.testing.assert_allclose(got["member_seniority_cross_course_hours"], seniority * hours)
    np.testing.assert_allclose(got["skill_dot"], [a @ b for a, b in zip(ms, cs, strict=True)])
    cos = [a @ b / np.linalg.norm(a) / np.linalg.norm(b) for a, b in zip(ms, cs, strict=True)]
    np.testing.assert_allclose(got["skill_cos"], cos)
    for i in range(3):
        for j in range(2):
            np.testing.assert_allclose(
                got[f"level_x_difficulty_{i}_{j}"], level[:, i] * difficulty[:, j]
            )
        np.testing.assert_allclose(got[f"hours_level_{i}"], hours * level[:, i])
    assert list(got.columns[4:]) == f.feature_names()
    assert len(f.feature_names()) == 1 + 5 + 1 + 1 + 1 + 1 + 6 + 3
    # models per channel: filtering rows first gives the same features for those rows
    email = f.transform(rows[rows["channel"] == "email"])
    pd.testing.assert_frame_equal(email, got[rows["channel"] == "email"])


def test_cosine_of_a_zero_vector_is_zero(tmp_path):
    repo = FeatureRepository(tmp_path)
    zero_and_one = pd.DataFrame({"member_id": ["a", "b"], "v": [[0.0, 0.0], [1.0, 0.0]]})
    repo.write("member", "2025-01-01", zero_and_one)
    repo.write("course", "2025-01-01", pd.DataFrame({"course_id": ["c"], "v": [[3.0, 4.0]]}))
    rows = pd.DataFrame({"member_id": ["a", "b"], "course_id": "c", "date": "2025-01-01"})
    got = Featurizer(repo, transforms=[("cosine", "member_v", "course_v", "cos")]).transform(rows)
    assert got["cos"].tolist() == [0.0, 0.6]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"transforms": [("sum", "member_a", "course_b")]}, "A transform of Featurizer must be"),
        ({"transforms": [("dot", "skills", "course_skills")]}, "qualified features"),
        ({"member_features": "seniority"}, "The 'member_features' parameter of Featurizer"),
        ({"missing": "zero"}, "The 'missing' parameter of Featurizer"),
        ({"max_cross": 0}, "The 'max_cross' parameter"),
    ],
)
def test_bad_featurizer_arguments(random_repo, kwargs, message):
    with pytest.raises(LumosUserError, match=message):
        Featurizer(random_repo[0], **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"transforms": [("dot", "member_seniority", "course_skills")]},
            "needs two vectors of one length; 'member_seniority' is a number and "
            "'course_skills' is a 5-vector",
        ),
        ({"transforms": [("cosine", "member_level", "course_skills")]}, "is a 3-vector"),
        (
            {"transforms": [("cross", "member_skills", "course_skills")], "max_cross": 20},
            "would make 25 columns, more than max_cross=20",
        ),
        ({"course_features": ["price"]}, "Unknown course feature 'price'"),
    ],
)
def test_transforms_that_do_not_fit_the_features(random_repo, kwargs, message):
    repo, rows = random_repo
    with pytest.raises(LumosUserError, match=message):
        Featurizer(repo, **kwargs).transform(rows)


def test_bad_rows_name_the_row_and_column(random_repo):
    repo, rows = random_repo
    f = Featurizer(repo, member_features=["seniority"], course_features=["hours"])
    with pytest.raises(DataValidationError, match="rows table has no column 'course_id'"):
        f.transform(rows.drop(columns="course_id"))
    bad = rows.assign(date=rows["date"].astype(str))
    bad.loc[3, "date"] = "soon"
    with pytest.raises(DataValidationError, match="rows row 3, column 'date': 'soon' is not a"):
        f.transform(bad)
    bad = rows.copy()
    bad.loc[7, "member_id"] = None
    with pytest.raises(DataValidationError, match="rows row 7, column 'member_id'"):
        f.transform(bad)
    with pytest.raises(LumosUserError, match="rows already have a column 'member_seniority'"):
        f.transform(f.transform(rows))


def test_click_labels_of_the_demo_join_features_by_date(tmp_path):
    book = learning(300, 80, days=14)
    labels = click_labels(book.interactions)
    repo = FeatureRepository(tmp_path)
    seniority = book.members.assign(seniority=book.members["seniority"].astype(float))
    for week, day in enumerate(pd.date_range(book.start, periods=2, freq="7D")):
        repo.write("member", day, seniority[["member_id", "seniority"]])
        repo.write("course", day, book.courses[["course_id", "duration"]].assign(week=week))
    f = Featurizer(repo, member_features=["seniority"], course_features=["duration", "week"])
    got = f.transform(labels)
    assert len(got) == len(labels) and not got[f.feature_names()].isna().any().any()
    np.testing.assert_array_equal(
        got["course_week"], (labels["date"] >= book.start + pd.Timedelta(days=7)).astype(float)
    )
