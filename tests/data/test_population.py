"""One population through every generator: the same people and companies in every book."""

import numpy as np
import pandas as pd
import pytest

from lumos.data import validate_table
from lumos.data.demo import learning, offers, population, saas, social
from lumos.errors import DataValidationError, LumosUserError


@pytest.fixture(scope="module")
def pop():
    return population(1200, 300, random_state=4)


@pytest.fixture(scope="module")
def books(pop):
    return {
        "learning": learning(n_courses=80, days=14, random_state=4, members=pop.members),
        "social": social(random_state=4, members=pop.members),
        "offers": offers(n_requests=3000, random_state=4, members=pop.members),
        "saas": saas(months=14, random_state=4, accounts=pop.accounts),
    }


def test_every_member_works_at_one_account(pop):
    m, a = pop.members, pop.accounts
    assert list(m.columns) == [
        "member_id",
        "name",
        "title",
        "industry",
        "region",
        "seniority",
        "account_id",
        "company",
    ]
    assert list(a.columns) == ["account_id", "name", "industry", "region"]
    assert m["member_id"].is_unique and a["account_id"].is_unique and a["name"].is_unique
    at = a.set_index("account_id").loc[m["account_id"]]
    for column, theirs in (("company", "name"), ("industry", "industry"), ("region", "region")):
        np.testing.assert_array_equal(m[column].to_numpy(), at[theirs].to_numpy())
    # colleagues gather at few accounts, in heavy-tailed numbers
    sizes = m["account_id"].value_counts()
    assert len(sizes) == 1200 // 40 and sizes.max() > 3 * sizes.median()
    assert len(validate_table("members", m)) == len(m)
    assert len(validate_table("accounts", a)) == len(a)


def test_the_same_member_ids_in_the_learning_network_and_offer_books(pop, books):
    ids = pop.members["member_id"].tolist()
    assert books["learning"].members["member_id"].tolist() == ids
    assert books["social"].members["member_id"].tolist() == ids
    assert books["offers"].members["member_id"].tolist() == ids
    assert set(books["learning"].interactions["member_id"]) <= set(ids)
    assert set(books["offers"].events["member_id"]) <= set(ids)
    assert set(books["social"].connections["member_id"]) == set(ids)  # nobody alone
    # learning keeps the title, industry, company and region its structure follows
    mine = books["learning"].members.set_index("member_id")
    theirs = pop.members.set_index("member_id")
    for column in ("title", "industry", "company", "region", "seniority"):
        np.testing.assert_array_equal(mine[column].to_numpy(), theirs[column].to_numpy())


def test_each_network_members_company_is_their_accounts_name(pop, books):
    net = books["social"].members.set_index("member_id")
    names = pop.accounts.set_index("account_id")["name"]
    employer = names.loc[pop.members["account_id"]].to_numpy()
    np.testing.assert_array_equal(net.loc[pop.members["member_id"], "company"], employer)
    np.testing.assert_array_equal(net["name"].to_numpy(), pop.members["name"].to_numpy())
    np.testing.assert_array_equal(net["title"].to_numpy(), pop.members["title"].to_numpy())
    # colleagues connect: the network's company homophily holds on the population's companies
    e, company = books["social"].connections, net["company"]
    within = company.loc[e["member_id"]].to_numpy() == company.loc[e["other_id"]].to_numpy()
    chance = (company.value_counts(normalize=True) ** 2).sum()
    assert within.mean() > 5 * chance


def test_saas_account_ids_are_the_populations(pop, books):
    book = books["saas"]
    assert book.accounts["account_id"].tolist() == pop.accounts["account_id"].tolist()
    for column in ("name", "industry", "region"):
        assert book.accounts[column].tolist() == pop.accounts[column].tolist()
    assert set(book.contracts["account_id"]) <= set(pop.accounts["account_id"])
    assert set(book.usage["account_id"]) <= set(pop.accounts["account_id"])
    # its business is the one saas(len(accounts)) draws: only the ids and firmographics differ
    alone = saas(300, months=14, random_state=4)
    np.testing.assert_array_equal(book.contracts["quantity"], alone.contracts["quantity"])


def test_offers_of_given_members_are_the_generated_book_with_their_ids(pop, books):
    alone = offers(1200, 3000, random_state=4)
    book = books["offers"]
    pd.testing.assert_frame_equal(
        book.members.drop(columns="member_id"), alone.members.drop(columns="member_id")
    )
    moved = alone.events["member_id"].map(
        dict(zip(alone.members["member_id"], pop.members["member_id"], strict=True))
    )
    assert (book.events["member_id"] == moved).all()


def test_learning_on_the_population_keeps_its_planted_structure(books):
    book = books["learning"]
    i, truth = book.interactions, book.truth
    members = {m: k for k, m in enumerate(book.members["member_id"])}
    courses = {c: k for k, c in enumerate(book.courses["course_id"])}

    def affinity(d):
        interest = truth["interest"][d["member_id"].map(members)]
        return (interest * truth["tags"][d["course_id"].map(courses)]).sum(1).mean()

    assert affinity(i[i["type"] == "click"]) > 1.2 * affinity(i[i["type"] == "impression"])


def test_seeded_and_sized():
    a, b = population(100, 20, random_state=2), population(100, 20, random_state=2)
    pd.testing.assert_frame_equal(a.members, b.members)
    pd.testing.assert_frame_equal(a.accounts, b.accounts)
    assert not a.members.equals(population(100, 20, random_state=3).members)
    small = population(30, 3)
    assert small.members["account_id"].nunique() <= 3  # fewer accounts than employers wanted
    with pytest.raises(LumosUserError, match="'n_accounts' parameter of population"):
        population(10, 0)


def test_a_bad_population_table_is_named(pop):
    members = pop.members.head(40)
    with pytest.raises(LumosUserError, match="was given 40 members and n_members=50"):
        learning(50, 20, days=7, members=members)
    with pytest.raises(DataValidationError, match="members table given to social has no column"):
        social(members=members.drop(columns="name"))
    with pytest.raises(DataValidationError, match="row 0, title 'Wizard' is not one it models"):
        learning(n_courses=20, days=7, members=members.assign(title=["Wizard"] * 40))
    with pytest.raises(DataValidationError, match="M000000' appears twice") as info:
        offers(n_requests=100, members=members.assign(member_id="M000000"))
    assert info.value.code == "duplicate"
    with pytest.raises(DataValidationError, match="accounts table given to saas has no column"):
        saas(months=14, accounts=pop.accounts.drop(columns="name"))
