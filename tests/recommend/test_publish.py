"""Offline scoring into the store: each member's treatment only, a cold-start list, served."""

import pytest
from fastapi.testclient import TestClient

from lumos.data.demo import learning
from lumos.errors import LumosUserError
from lumos.experiments import Experiments, ModelRouter
from lumos.recommend import course_lists, publish_lists
from lumos.serve import create_app
from lumos.store import COLD_START, LMDBStore, ranked

CONFIG = """
experiments:
  course_ranker:
    unit: member_id
    coverage: 60
    variants:
      control: {weight: 1, payload: {models: [affinity]}}
      glmix: {weight: 1, payload: {models: [glmix]}}
"""


@pytest.fixture(scope="module")
def lists():
    book = learning(300, 100, days=28, random_state=9)
    return course_lists(book.tables, as_of=book.end, top_k=10)


def test_each_member_gets_the_list_of_its_treatment(lists, tmp_path):
    router = ModelRouter(Experiments.from_yaml(CONFIG), "course_ranker", default="affinity")
    with LMDBStore(tmp_path / "store") as store:
        version = publish_lists(store, lists, router=router, version="v1")
        members = sorted(set(lists["glmix"]["member_id"]))
        records = store.get_many(members)
        served = {m: set(r["models"]) for m, r in zip(members, records, strict=True)}
        assert all(served[m] == {router(m)[1]} for m in members)
        assert {"glmix", "affinity"} == set().union(*served.values())
        cold = ranked(store.get(COLD_START), COLD_START)
        assert len(cold) == 10 and cold[0]["reason_text"] == "Popular with learners"
        app = TestClient(create_app(store=store, treatment=router))
        m = next(m for m in members if router(m)[1] == "glmix")
        got = app.get(f"/v1/members/{m}/recommendations?count=3").json()
        want = lists["glmix"][lists["glmix"]["member_id"] == m]["course_id"].head(3).tolist()
        assert [i["item_id"] for i in got["items"]] == want and got["model_id"] == "glmix"
        assert version == "v1" and store.version == "v1"


def test_bad_models_and_experiments(lists):
    with pytest.raises(LumosUserError, match="models must name scorers"):
        course_lists((), as_of="2025-01-01", models=["magic"])
    with pytest.raises(LumosUserError, match="experiment 'nope' is not in the config"):
        ModelRouter(Experiments.from_yaml(CONFIG), "nope", default="affinity")
