"""Click and watch-time labels: hand-computed cases, a plain-loop reference and the demo log."""

import numpy as np
import pandas as pd
import pytest

from lumos.data.demo import learning
from lumos.errors import DataValidationError, LumosUserError
from lumos.features import click_labels, watch_labels


def log(*events):
    """(member, course, channel, type, timestamp[, seconds]) tuples → an interactions table."""
    rows = [(*e, 0.0) if len(e) == 5 else e for e in events]
    return pd.DataFrame(
        rows, columns=["member_id", "course_id", "channel", "type", "timestamp", "seconds"]
    )


def courses(durations):
    ids = list(durations)
    return pd.DataFrame(
        {
            "course_id": ids,
            "title": ids,
            "description": "",
            "category": "Data",
            "author": "",
            "difficulty": "beginner",
            "duration": [float(d) for d in durations.values()],
            "release_date": "2024-01-01",
        }
    )


# -- click labels ------------------------------------------------------------------------------


def test_click_two_hours_later_is_positive_two_days_later_is_not():
    events = log(
        ("m", "a", "web", "impression", "2025-01-06 09:00:00"),
        ("m", "a", "web", "click", "2025-01-06 11:00:00"),
        ("m", "b", "web", "impression", "2025-01-06 09:00:00"),
        ("m", "b", "web", "click", "2025-01-08 09:00:00"),
    )
    got = click_labels(events).set_index("course_id")
    assert got.loc["a", "label"] == 1 and got.loc["b", "label"] == 0
    assert got.loc["a", "clicks"] == 1 and got.loc["b", "clicks"] == 0
    assert click_labels(events, window="3D")["label"].tolist() == [1, 1]
    assert click_labels(events, window=pd.Timedelta(hours=1))["label"].tolist() == [0, 0]


def test_window_is_inclusive_and_a_click_before_the_impression_does_not_count():
    events = log(
        ("m", "a", "web", "impression", "2025-01-06 09:00:00"),
        ("m", "a", "web", "click", "2025-01-07 09:00:00"),  # exactly one day later
        ("m", "b", "web", "click", "2025-01-06 08:59:59"),  # before its impression
        ("m", "b", "web", "impression", "2025-01-06 09:00:00"),
        ("m", "c", "web", "impression", "2025-01-06 09:00:00"),
        ("m", "c", "web", "click", "2025-01-07 09:00:01"),  # one second too late
    )
    assert click_labels(events)["label"].tolist() == [1, 0, 0]


def test_labels_per_channel_and_pooled():
    events = log(
        ("m", "a", "email", "impression", "2025-01-06 09:00:00"),
        ("m", "a", "homepage", "click", "2025-01-06 10:00:00"),
        ("m", "b", "homepage", "impression", "2025-01-06 09:00:00"),
        ("m", "b", "homepage", "click", "2025-01-06 09:30:00"),
    )
    per_channel = click_labels(events)
    assert per_channel[["course_id", "channel", "label"]].values.tolist() == [
        ["a", "email", 0],  # the click came from another channel
        ["b", "homepage", 1],
    ]
    pooled = click_labels(events, by_channel=False)
    assert pooled["label"].tolist() == [1, 1]
    email = click_labels(events, channel="email")
    assert email["channel"].tolist() == ["email"] and email["label"].tolist() == [0]
    both = click_labels(events, channel=["email", "homepage"])
    pd.testing.assert_frame_equal(both, per_channel)


def test_duplicate_impressions_of_a_day_collapse_into_one_row():
    events = log(
        ("m", "a", "web", "impression", "2025-01-05 09:00:00"),  # a Sunday
        ("m", "a", "web", "impression", "2025-01-05 20:00:00"),
        ("m", "a", "web", "impression", "2025-01-05 21:00:00"),
        ("m", "a", "web", "click", "2025-01-06 19:00:00"),  # > 1 day after 09:00, < after 20:00
        ("m", "a", "web", "impression", "2025-01-07 09:00:00"),  # another day: its own row
        ("m", "a", "mobile", "impression", "2025-01-05 10:00:00"),  # another channel
    )
    got = click_labels(events)
    assert len(got) == 3
    first = got.iloc[0]
    assert first["timestamp"] == pd.Timestamp("2025-01-05 09:00:00")
    assert first["date"] == pd.Timestamp("2025-01-05") and first["day_of_week"] == 6
    assert (first["impressions"], first["clicks"], first["label"]) == (3, 1, 1)
    assert got.iloc[1][["channel", "impressions", "label"]].tolist() == ["mobile", 1, 0]
    last = got.iloc[2]
    assert (last["impressions"], last["label"], last["day_of_week"]) == (1, 0, 1)
    # pooled over channels, the mobile impression joins the web ones of the day
    pooled = click_labels(events, by_channel=False)
    assert pooled["impressions"].tolist() == [4, 1] and pooled["channel"].iloc[0] == "web"


def test_a_click_is_counted_once_across_impressions():
    events = log(
        ("m", "a", "web", "impression", "2025-01-06 09:00:00"),
        ("m", "a", "web", "impression", "2025-01-06 23:00:00"),
        ("m", "a", "web", "impression", "2025-01-07 01:00:00"),
        ("m", "a", "web", "click", "2025-01-07 02:00:00"),
    )
    got = click_labels(events)
    assert got["label"].tolist() == [1, 1]  # both days' impressions were followed within 1 day
    assert got["clicks"].tolist() == [0, 1]  # the click belongs to the latest impression


def test_no_impressions_gives_an_empty_frame_with_the_columns():
    got = click_labels(log(("m", "a", "web", "click", "2025-01-06 09:00:00")))
    assert got.empty and list(got.columns) == [
        "member_id",
        "course_id",
        "channel",
        "timestamp",
        "date",
        "day_of_week",
        "impressions",
        "clicks",
        "label",
    ]


def test_demo_click_rate_matches_clicks_over_impressions():
    book = learning(300, 80, days=14)
    events = book.interactions
    kinds = events["type"].value_counts()
    rate = kinds["click"] / kinds["impression"]
    got = click_labels(events)
    # every demo click follows its impression by seconds, so all are attributed
    assert got["impressions"].sum() == kinds["impression"]
    assert got["clicks"].sum() == kinds["click"]
    # the demo repeats a course within a visit; collapsing a day's repeats moves the rate a bit
    assert got["label"].mean() == pytest.approx(rate, abs=0.015)
    assert set(got["day_of_week"]) == set(range(7))
    for channel in ("homepage", "email", "mobile"):
        mine = events[events["channel"] == channel]["type"].value_counts()
        per = click_labels(events, channel=channel)
        assert per["clicks"].sum() / per["impressions"].sum() == pytest.approx(
            mine["click"] / mine["impression"]
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window": -1}, "The 'window' parameter of click_labels must be a duration"),
        ({"window": 86400}, "Got 86400"),
        ({"window": "-1D"}, "Got '-1D'"),
        ({"channel": "fax"}, "The 'channel' parameter of click_labels must name channels"),
        ({"by_channel": "yes"}, "The 'by_channel' parameter"),
    ],
)
def test_bad_click_arguments(kwargs, message):
    events = log(("m", "a", "web", "impression", "2025-01-06 09:00:00"))
    with pytest.raises(LumosUserError, match=message):
        click_labels(events, **kwargs)


def test_a_bad_interactions_table_names_row_and_column():
    events = log(
        ("m", "a", "web", "impression", "2025-01-06 09:00:00"),
        ("m", "a", "web", "view", "2025-01-06 09:10:00"),
    )
    with pytest.raises(DataValidationError, match="interactions row 1, column 'type': 'view'") as e:
        click_labels(events)
    assert (e.value.file, e.value.row, e.value.column) == ("interactions", 1, "type")
    events.loc[0, "timestamp"] = "yesterday"
    with pytest.raises(DataValidationError, match="row 0, column 'timestamp'"):
        click_labels(events)


# -- watch labels ------------------------------------------------------------------------------


def test_fixed_seconds_threshold():
    events = log(
        *[
            ("m", "a", "web", "watch", f"2025-01-0{d} 10:00:00", s)
            for d, s in [(1, 299.0), (2, 300.0), (3, 301.0)]
        ],
        ("m", "a", "web", "click", "2025-01-01 09:00:00"),
    )
    got = watch_labels(events)
    assert got["label"].tolist() == [0, 1, 1] and got["known"].all()
    assert watch_labels(events, threshold=301)["label"].tolist() == [0, 0, 1]
    assert (got["threshold"] == 300).all() and got["day_of_week"].tolist() == [2, 3, 4]


def test_fraction_of_duration_threshold():
    events = log(
        ("m", "a", "web", "watch", "2025-01-01 10:00:00", 500.0),
        ("m", "b", "web", "watch", "2025-01-01 11:00:00", 250.0),
        ("n", "b", "web", "watch", "2025-01-01 12:00:00", 600.0),
    )
    got = watch_labels(events, courses({"a": 1000, "b": 600}), kind="fraction")
    assert got["threshold"].tolist() == [500.0, 300.0, 300.0]
    assert got["label"].tolist() == [1, 0, 1]
    np.testing.assert_allclose(got["fraction"], [0.5, 250 / 600, 1.0])
    got = watch_labels(events, courses({"a": 1000, "b": 600}), kind="fraction", threshold=0.4)
    assert got["label"].tolist() == [1, 1, 1]


def test_a_watched_course_missing_from_courses_is_named():
    events = log(
        ("m", "a", "web", "impression", "2025-01-01 09:00:00"),
        ("m", "z", "web", "watch", "2025-01-01 10:00:00", 500.0),
    )
    with pytest.raises(DataValidationError, match=r"interactions row 1, column 'course_id': .*'z'"):
        watch_labels(events, courses({"a": 1000}), kind="fraction")


def test_member_percentile_uses_only_the_last_30_days_strictly_before():
    events = log(
        ("m", "a", "web", "watch", "2024-12-20 10:00:00", 9000.0),  # 36 days before: out
        ("m", "a", "web", "watch", "2024-12-26 12:00:00", 100.0),  # exactly 30 days: in
        ("m", "b", "web", "watch", "2025-01-10 12:00:00", 200.0),
        ("m", "c", "web", "watch", "2025-01-20 12:00:00", 300.0),
        ("n", "a", "web", "watch", "2025-01-21 12:00:00", 7000.0),  # another member
        ("m", "d", "web", "watch", "2025-01-25 12:00:00", 280.0),  # the watch to label
        ("m", "e", "web", "watch", "2025-01-25 12:00:00", 5000.0),  # same moment: excluded
        ("m", "f", "web", "watch", "2025-02-01 12:00:00", 8000.0),  # later
    )
    got = watch_labels(events, kind="percentile", by="member")
    target = got.iloc[5]
    assert target["threshold"] == pytest.approx(np.percentile([100.0, 200.0, 300.0], 95))
    assert target["label"] == 0 and target["known"]
    assert got.iloc[6]["threshold"] == target["threshold"] and got.iloc[6]["label"] == 1
    assert not got.iloc[0]["known"] and np.isnan(got.iloc[0]["threshold"])  # no history
    assert not got.iloc[4]["known"]  # member n's first watch
    median = watch_labels(events, kind="percentile", threshold=50, by="member")
    assert median.iloc[5]["threshold"] == 200.0
    need4 = watch_labels(events, kind="percentile", by="member", min_watches=4)
    assert not need4.iloc[5]["known"] and need4.iloc[7]["known"]
    everything = watch_labels(events, kind="percentile", threshold=50, by="member", days=None)
    assert everything.iloc[5]["threshold"] == np.median([9000.0, 100.0, 200.0, 300.0])


def test_global_and_course_percentiles():
    events = log(
        ("m", "a", "web", "watch", "2025-01-01 10:00:00", 100.0),
        ("n", "b", "web", "watch", "2025-01-02 10:00:00", 1000.0),
        ("o", "a", "web", "watch", "2025-01-03 10:00:00", 300.0),
        ("p", "a", "web", "watch", "2025-01-04 10:00:00", 250.0),
    )
    glob = watch_labels(events, kind="percentile", threshold=50)
    np.testing.assert_allclose(glob["threshold"], [np.nan, 100.0, 550.0, 300.0])
    assert glob["label"].tolist() == [0, 1, 0, 0]
    course = watch_labels(events, kind="percentile", threshold=50, by="course")
    np.testing.assert_allclose(course["threshold"], [np.nan, np.nan, 100.0, 200.0])
    assert course["label"].tolist() == [0, 0, 1, 1]


def reference_percentiles(watches, by, q, days):
    """A plain loop: for each watch, the percentile of its scope's watches in [t - days, t)."""
    out = []
    for _, w in watches.iterrows():
        t = w["timestamp"]
        earlier = watches[
            (watches["timestamp"] >= t - pd.Timedelta(days=days)) & (watches["timestamp"] < t)
        ]
        if by != "global":
            earlier = earlier[earlier[by] == w[by]]
        out.append(np.percentile(earlier["seconds"], q) if len(earlier) else np.nan)
    return np.array(out)


@pytest.mark.parametrize("by", ["global", "course", "member"])
def test_percentiles_match_a_plain_loop(by):
    rng = np.random.default_rng(4)
    n = 150
    stamps = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 80 * 24, n), "h")
    events = pd.DataFrame(
        {
            "member_id": rng.choice(["m1", "m2", "m3", "m4"], n),
            "course_id": rng.choice(["a", "b", "c"], n),
            "channel": "web",
            "type": "watch",
            "seconds": rng.integers(0, 3000, n).astype(float),
            "timestamp": stamps,
        }
    )
    got = watch_labels(events, kind="percentile", threshold=90, by=by, days=10)
    want = reference_percentiles(got, {"global": "global"}.get(by, f"{by}_id"), 90, 10)
    np.testing.assert_allclose(got["threshold"], want)
    known = ~np.isnan(want)
    np.testing.assert_array_equal(got["known"], known)
    np.testing.assert_array_equal(got["label"], known & (got["seconds"] >= np.nan_to_num(want)))


def test_demo_watch_labels_cover_every_watch():
    book = learning(300, 80, days=14)
    watches = (book.interactions["type"] == "watch").sum()
    for kwargs in ({}, {"kind": "fraction"}, {"kind": "percentile", "by": "member"}):
        got = watch_labels(book.interactions, book.courses, **kwargs)
        assert len(got) == watches and set(got["label"]) <= {0, 1}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"threshold": -1},
            "The 'threshold' parameter of watch_labels must be a number of seconds > 0 "
            "with kind='seconds'. Got -1.",
        ),
        ({"threshold": 1.5, "kind": "fraction"}, "a fraction of the course's duration in"),
        (
            {"threshold": 0, "kind": "percentile"},
            "a percentile in \\(0, 100\\] with kind='percentile'. Got 0.",
        ),
        ({"threshold": True}, "Got True"),
        ({"kind": "median"}, "The 'kind' parameter of watch_labels"),
        ({"by": "member"}, "applies to kind='percentile' only"),
        ({"kind": "percentile", "by": "team"}, "The 'by' parameter of watch_labels must be"),
        ({"kind": "percentile", "days": 0}, "The 'days' parameter of watch_labels"),
        ({"kind": "percentile", "min_watches": 0}, "The 'min_watches' parameter"),
        ({"kind": "fraction"}, "needs the courses table"),
    ],
)
def test_bad_watch_arguments(kwargs, message):
    events = log(("m", "a", "web", "watch", "2025-01-06 09:00:00", 10.0))
    with pytest.raises(LumosUserError, match=message):
        watch_labels(events, **kwargs)


def test_a_negative_watch_time_names_its_row():
    events = log(
        ("m", "a", "web", "watch", "2025-01-06 09:00:00", 10.0),
        ("m", "a", "web", "watch", "2025-01-06 10:00:00", -5.0),
    )
    with pytest.raises(DataValidationError, match="interactions row 1, column 'seconds'"):
        watch_labels(events)
