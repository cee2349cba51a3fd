"""POST /v1/members/{id}/offer: decisions with propensity, served events, learning, caps."""

import pytest
from fastapi.testclient import TestClient

from lumos.bandits import NO_OFFER, OfferModel
from lumos.data.demo import offers
from lumos.events import EventLog
from lumos.serve import create_app, hash_key
from lumos.store import LMDBStore

KEY = "secret-key"
H = {"X-API-Key": KEY}  # a decide key (and a write key): api_key_hashes are both


@pytest.fixture
def served(tmp_path):
    book = offers(300, 2000, random_state=2)
    model = OfferModel(book.arms, book.members, {"batch": 1, "cap_per_week": 2, "random_state": 0})
    model.retrain(book.events)
    model.save(tmp_path / "offers")
    model = OfferModel.load(tmp_path / "offers")
    store = LMDBStore(tmp_path / "store")
    log = EventLog(tmp_path / "events")
    app = create_app(
        store=store,
        treatment=lambda m: ("A", "glmix"),
        events=log,
        api_key_hashes=[hash_key(KEY)],
        offers=model,
    )
    yield app, model, log, tmp_path
    log.close()
    store.close()


def test_an_offer_is_a_logged_decision_and_a_purchase_teaches_the_policy(served):
    app, model, log, folder = served
    before = model.policy.n_updates
    with TestClient(app) as client:
        answer = client.post("/v1/members/om000001/offer?channel=email", headers=H)
        assert answer.status_code == 200, answer.text
        offer = answer.json()
        assert offer["channel"] == "email" and 0 < offer["propensity"] <= 1
        assert offer["arm_id"] == NO_OFFER or offer["arm_id"].endswith("/email")
        assert offer["model_id"] == "offers" and not offer["capped"]
        purchase = {
            "event_id": "p1",
            "tracking_id": offer["tracking_id"],
            "type": "action",
            "action": "purchase",
            "member_id": "om000001",
            "item_id": offer["arm_id"],
            "ts": 1767225600,
        }
        posted = client.post("/v1/events", json={"events": [purchase]}, headers={"X-API-Key": KEY})
        assert posted.status_code == 200, posted.text
        assert model.policy.n_updates == before + 1  # a mini-batch of one: learned at once
    events = log.read()
    shown = events[events["type"] == "served"].iloc[0]
    assert shown["tracking_id"] == offer["tracking_id"] and shown["item_type"] == "offer"
    assert shown["propensity"] == pytest.approx(offer["propensity"])
    assert shown["item_id"] == offer["arm_id"] and shown["model_id"] == "offers"
    # the server saved what it learned when it stopped
    assert OfferModel.load(folder / "offers").policy.n_updates == before + 1


def test_the_weekly_cap_holds_across_requests_and_restarts(served):
    app, model, _, folder = served
    shown = 0
    with TestClient(app) as client:
        for _ in range(12):
            offer = client.post("/v1/members/om000002/offer?channel=feed", headers=H).json()
            shown += offer["arm_id"] != NO_OFFER
            if shown == 2:
                break
        assert shown == 2
        capped = client.post("/v1/members/om000002/offer?channel=feed", headers=H).json()
        assert capped["arm_id"] == NO_OFFER and capped["capped"] and capped["propensity"] == 1
        other = client.post("/v1/members/om000002/offer?channel=email", headers=H).json()
        assert not other["capped"]
    model.cap = None  # a new server reads the cap back from the log
    app2 = create_app(
        store=LMDBStore(folder / "store"),
        treatment=lambda m: ("A", "x"),
        events=EventLog(folder / "events"),
        offers=model,
        keys={"decide": [hash_key(KEY)]},
    )
    with TestClient(app2) as client:
        again = client.post("/v1/members/om000002/offer?channel=feed", headers=H).json()
        assert again["capped"]


def test_bad_offer_requests_are_named(served, tmp_path):
    app, *_ = served
    with TestClient(app) as client:
        bad = client.post("/v1/members/om000001/offer?channel=fax", headers=H)
        assert bad.status_code == 400 and bad.json()["field"] == "channel"
        assert "channel 'fax' has no offers" in bad.json()["message"]
        missing = client.post("/v1/members/om000001/offer", headers=H)
        assert missing.status_code == 422 and missing.json()["field"] == "channel"
        assert client.get("/v1/members/om000001/offer?channel=email").status_code == 405
    bare = create_app(
        store=LMDBStore(tmp_path / "bare"),
        treatment=lambda m: ("A", "x"),
        api_key_hashes=[hash_key(KEY)],
    )
    with TestClient(bare) as client:
        none = client.post("/v1/members/om000001/offer?channel=email", headers=H)
        assert none.status_code == 404 and none.json()["code"] == "no_offers"
