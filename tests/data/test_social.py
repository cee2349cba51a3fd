"""The social network: its tables validate, and its planted structure is there to find."""

import numpy as np
import pandas as pd
import pytest

from lumos.data import SCHEMAS, validate_table
from lumos.data.demo import SocialBook, social
from lumos.errors import DataValidationError, LumosUserError

START = pd.Timestamp("2025-03-01")


@pytest.fixture(scope="module")
def book():
    return social(4000, random_state=3, start=START)


def _index(book):
    return pd.Series(np.arange(len(book.members)), index=book.members["member_id"])


def test_tables_validate_in_order(book):
    names = [
        "members",
        "connections",
        "groups",
        "group_members",
        "events",
        "event_attendees",
        "newsletters",
        "hashtags",
        "follows",
    ]
    assert list(book.tables) == names
    for name, table in book.tables.items():
        assert list(table.columns) == SCHEMAS[f"social_{name}"].names
        assert len(validate_table(f"social_{name}", table)) == len(table) > 0
    m = book.members
    assert m["member_id"].iloc[[0, -1]].tolist() == ["U000001", "U004000"]
    assert (m["image_url"] == "https://img.example/u/" + m["member_id"] + ".png").all()
    assert m["name"].str.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+").all()
    assert 0.9 * 100 <= m["company"].nunique() <= 100 and m["school"].nunique() <= 20
    assert m["region"].nunique() == 8 and (m["joined"] < START).all()
    assert book.groups["group_id"].iloc[0] == "G0001" and book.events["event_id"].iloc[0] == "E0001"
    starts = book.events["starts"]
    assert ((starts >= START) & (starts < START + pd.Timedelta(days=90))).all()
    assert book.newsletters["author_id"].isin(m["member_id"]).all()
    assert book.hashtags["hashtag"].str.fullmatch("[a-z0-9]+").all()
    ids = {
        "newsletter": set(book.newsletters["newsletter_id"]),
        "hashtag": set(book.hashtags["hashtag"]),
    }
    for kind, rows in book.follows.groupby("entity_type"):
        assert set(rows["entity_id"]) <= ids[kind]
    assert set(book.follows["entity_type"]) == {"newsletter", "hashtag"}
    # every link table refers to known members and entities
    assert book.group_members["group_id"].isin(book.groups["group_id"]).all()
    assert book.event_attendees["event_id"].isin(book.events["event_id"]).all()
    for table in (book.connections, book.group_members, book.event_attendees, book.follows):
        assert table["member_id"].isin(m["member_id"]).all()


def test_connections_symmetric_without_self_or_duplicate_edges(book):
    e = book.connections
    assert (e["member_id"] != e["other_id"]).all()
    assert not e.duplicated(["member_id", "other_id"]).any()
    back = e.rename(columns={"member_id": "other_id", "other_id": "member_id"})
    both = e.merge(back, on=["member_id", "other_id"], suffixes=("", "_back"))
    assert len(both) == len(e) and (both["since"] == both["since_back"]).all()
    assert set(e["member_id"]) == set(book.members["member_id"])  # nobody is alone
    joined = book.members.set_index("member_id")["joined"]
    assert (e["since"] >= joined.loc[e["member_id"]].to_numpy()).all()
    assert (e["since"] < START).all()
    degree = e.groupby("member_id").size()
    assert degree.max() > 5 * degree.median()  # heavy-tailed: a few hubs


def test_every_member_connected_even_in_tiny_networks():
    for n in (2, 3, 10):
        book = social(n, random_state=n)
        assert set(book.connections["member_id"]) == set(book.members["member_id"])


def test_homophily(book):
    e, m = book.connections, book.members.set_index("member_id")
    for col, lift in (("company", 5), ("school", 2), ("region", 2)):
        label = m[col]
        within = label.loc[e["member_id"]].to_numpy() == label.loc[e["other_id"]].to_numpy()
        chance = (label.value_counts(normalize=True) ** 2).sum()  # random pairing
        assert within.mean() > lift * chance, col
    context = book.truth["edge_context"]
    assert 2 * len(context) == len(e)
    assert set(context["context"]) == set(book.truth["mixing"])


def test_groups_events_and_follows_follow_interests(book):
    truth, row = book.truth, _index(book)
    interests, topics = truth["interests"], list(truth["topics"])
    assert interests.shape == (4000, len(topics)) and np.allclose(interests.sum(1), 1)

    def mean_interest(links, topic_of):
        topic = links["entity"].map(topic_of).map(topics.index).to_numpy()
        return interests[row.loc[links["member_id"]].to_numpy(), topic].mean()

    chance = 1 / len(topics)  # rows sum to 1: a random topic's expected interest
    groups = book.groups.set_index("group_id")["topic"]
    assert (
        mean_interest(book.group_members.rename(columns={"group_id": "entity"}), groups)
        > 2 * chance
    )
    events = book.events.set_index("event_id")["topic"]
    attendees = book.event_attendees.rename(columns={"event_id": "entity"})
    assert mean_interest(attendees, events) > 2 * chance
    topic_of = pd.concat(
        [
            book.newsletters.set_index("newsletter_id")["topic"],
            book.hashtags.set_index("hashtag")["topic"],
        ]
    )
    follows = book.follows.rename(columns={"entity_id": "entity"})
    assert mean_interest(follows, topic_of) > 2 * chance
    # members attend events of their own region mostly
    region = book.members.set_index("member_id")["region"]
    at = book.event_attendees.merge(book.events, on="event_id")
    assert (region.loc[at["member_id"]].to_numpy() == at["region"].to_numpy()).mean() > 0.7
    # newsletter authors write on their hidden primary topic
    primary = truth["communities"].set_index("member_id")["topic"]
    n = book.newsletters
    assert (primary.loc[n["author_id"]].to_numpy() == n["topic"].to_numpy()).all()


def test_members_join_groups_of_their_connections(book):
    gm, e = book.group_members, book.connections

    def share_a_group(edges):
        both = edges.merge(gm, on="member_id").merge(
            gm.rename(columns={"member_id": "other_id"}), on=["other_id", "group_id"]
        )
        return len(both[["member_id", "other_id"]].drop_duplicates()) / len(edges)

    # the same members and degrees, paired at random: only interests make them share groups
    shuffled = e.assign(other_id=e["other_id"].sample(frac=1, random_state=0).to_numpy())
    assert share_a_group(e) > 1.5 * share_a_group(shuffled)


def test_seeded():
    a, b, c = social(200, random_state=7), social(200, random_state=7), social(200, random_state=8)
    assert isinstance(a, SocialBook)
    for name in a.tables:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name])
    np.testing.assert_array_equal(a.truth["interests"], b.truth["interests"])
    assert not a.connections.equals(c.connections)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_members": 1}, "n_members must be an int >= 2 .*Got 1"),
        ({"n_members": 100.0}, "n_members must be an int >= 2 .*Got 100.0"),
        ({"n_members": True}, "n_members must be an int >= 2 .*Got True"),
        (
            {"n_members": 20, "random_state": -1},
            "'random_state' parameter of social must be an int >= 0. Got -1",
        ),
        (
            {"n_members": 20, "random_state": "a"},
            "'random_state' parameter of social must be an int >= 0. Got 'a'",
        ),
        ({"n_members": 20, "start": "someday"}, "start must be a date .*Got 'someday'"),
        ({"n_members": 20, "start": None}, "start must be a date .*Got None"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(LumosUserError, match=message) as info:
        social(**kwargs)
    assert info.value.code == "bad_argument"


@pytest.mark.parametrize(
    ("name", "change", "message"),
    [
        ("members", lambda t: t.assign(member_id=t["member_id"].iloc[0]), "appears twice"),
        ("members", lambda t: t.assign(joined="never"), "'never' is not a date"),
        ("connections", lambda t: t.assign(other_id=t["member_id"]), "is the member itself"),
        ("connections", lambda t: pd.concat([t, t.head(1)]), "repeats the row"),
        ("follows", lambda t: t.assign(entity_type="company"), "'company' is not one of"),
        ("hashtags", lambda t: t.drop(columns="topic"), "has no column 'topic'"),
        ("groups", lambda t: t.assign(name=""), "is empty"),
    ],
)
def test_bad_tables_name_row_and_column(book, name, change, message):
    with pytest.raises(DataValidationError, match=message):
        validate_table(f"social_{name}", change(book.tables[name].head(5)))
