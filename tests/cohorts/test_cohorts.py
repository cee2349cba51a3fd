"""Discovery cohorts: plugins, the workflow, second-pass ranking, decoration, pages, tracking."""

import asyncio
import json
import socket
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from fastapi.testclient import TestClient

from lumos.cli import main
from lumos.cohorts import (
    DEMO_COHORTS,
    CohortService,
    Engagement,
    Operator,
    RelevanceRanker,
    Workflow,
    downstream_services,
    load_config,
    parse_config,
    write_demo_configs,
)
from lumos.data.demo import social
from lumos.errors import LumosUserError
from lumos.events import EventLog
from lumos.experiments import Experiments
from lumos.serve import create_app
from lumos.store import COLD_START, LMDBStore, build_records

KEY = "k"
FPR_SERVICE = [sys.executable, "-m", "lumos.cli", "cohorts", "fpr-service"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("social")
    book = social(600, random_state=2)
    for name, table in book.tables.items():
        table.to_parquet(folder / f"{name}.parquet")
    store = folder / "store"
    courses = pd.DataFrame({"course_id": ["C1", "C2", "C3"], "score": [0.9, 0.5, 0.1]})
    with LMDBStore(store) as s:
        s.publish(
            build_records(
                {
                    "glmix": courses.assign(member_id="U000002"),
                    COLD_START: courses[::-1].assign(member_id=COLD_START),
                }
            )
        )
    return folder, store, book


def service(world, tmp_path, **overrides):
    folder, store, _ = world
    config, _ = write_demo_configs(tmp_path / "conf", data=folder, store=store)
    raw = yaml.safe_load(config.read_text())
    raw.update(overrides)
    return CohortService(parse_config(raw, source=str(config)))


def run(coro):
    return asyncio.run(coro)


def test_workflow_runs_independent_chains_together_and_merges_what_arrived():
    log = []

    async def fetch(name, wait):
        log.append(("start", name))
        await asyncio.sleep(wait)
        log.append(("end", name))
        return name

    def boom():
        raise ValueError("downstream said no")

    flow = Workflow(
        [
            Operator("a", lambda: fetch("a", 0.05)),
            Operator("b", lambda: fetch("b", 0.05)),
            Operator("slow", lambda: fetch("slow", 5), timeout=0.1),
            Operator("bad", boom),
            Operator("a2", lambda a: a.upper(), ("a",)),
            Operator("after_bad", lambda bad: bad, ("bad",)),
            Operator("merge", lambda **got: sorted(got), ("a2", "b", "slow", "bad"), partial=True),
        ]
    )
    out = run(flow.run())
    assert log.index(("start", "b")) < log.index(("end", "a"))  # concurrent, not in turn
    assert out.outputs["merge"] == ["a2", "b"]
    assert out.failures["slow"] == "timeout" and "downstream said no" in out.failures["bad"]
    assert out.failures["after_bad"].startswith("skipped")
    with pytest.raises(LumosUserError, match="cycle"):
        Workflow([Operator("x", len, ("y",)), Operator("y", len, ("x",))])
    with pytest.raises(LumosUserError, match="not in the workflow"):
        Workflow([Operator("x", len, ("nope",))])


def test_a_page_of_cohorts_decorated_in_two_locales(world, tmp_path):
    svc = service(world, tmp_path)
    page = run(svc.page("U000002", max_items=3, locale="fr"))
    ids = [c["cohort_id"] for c in page["cohorts"]]
    assert ids == [c for c in DEMO_COHORTS if c in ids] and len(ids) >= 6  # the rule order
    assert page["ranker"] == "rules" and page["left_out"] == []
    members = world[2].members.set_index("member_id")
    me = members.loc["U000002"]
    first = page["cohorts"][0]
    assert first["header"] == f"Personnes que vous connaissez peut-être chez {me['company']}"
    for item in first["items"]:
        assert members.loc[item["item_id"], "company"] == me["company"]
        assert item["name"] == members.loc[item["item_id"], "name"] and item["tracking_id"]
    assert all(len(c["items"]) <= 3 for c in page["cohorts"])
    courses = next(c for c in page["cohorts"] if c["cohort_id"] == "courses")
    assert [i["item_id"] for i in courses["items"]] == ["C1", "C2", "C3"]  # the member's list
    english = run(svc.page("U000002", locale="en-GB"))
    assert english["cohorts"][0]["header"] == f"People you may know from {me['company']}"
    german = run(svc.page("U000002", locale="de"))  # no German catalog: English
    assert german["cohorts"][0]["header"] == english["cohorts"][0]["header"]
    tags = next(c for c in english["cohorts"] if c["cohort_id"] == "hashtags")
    assert tags["header"].startswith("Because you follow #")
    assert tags["items"][0]["name"].startswith("#")


def test_pages_of_one_cohort_never_repeat_an_item(world, tmp_path):
    svc = service(world, tmp_path)
    first = run(svc.cohort("U000003", "pymk_region", count=7))
    seen, token, pages = [i["item_id"] for i in first["items"]], first["next_page_token"], 1
    while token:
        page = run(svc.cohort("U000003", "pymk_region", count=7, page_token=token))
        seen += [i["item_id"] for i in page["items"]]
        token, pages = page["next_page_token"], pages + 1
    assert len(seen) == len(set(seen)) == first["total"] and pages > 2
    from lumos.cohorts import PageError

    with pytest.raises(PageError, match="not one this server gave"):
        run(svc.cohort("U000003", "pymk_region", page_token=first["next_page_token"][:-2] + "xx"))
    with pytest.raises(PageError, match="not one this server gave"):  # another cohort's token
        run(svc.cohort("U000003", "groups", page_token=first["next_page_token"]))
    with pytest.raises(PageError, match="expired"):  # another member's snapshot
        run(svc.cohort("U000004", "pymk_region", page_token=first["next_page_token"]))
    svc.snapshot_ttl = 0
    with pytest.raises(PageError, match="expired"):
        run(svc.cohort("U000003", "pymk_region", page_token=first["next_page_token"]))
    with pytest.raises(PageError, match="no cohort 'nope'"):
        run(svc.cohort("U000003", "nope"))


def test_a_new_cohort_is_one_plugin_module_and_one_config_line(world, tmp_path):
    plugins = tmp_path / "my_plugins"
    plugins.mkdir()
    (plugins / "alumni_mentors.py").write_text(
        textwrap.dedent(
            """
            from lumos.cohorts import FirstPassRanker

            class Mentors(FirstPassRanker):
                item_type = "member"

                def request(self, member):
                    return {"school": member.attributes.get("school")}

                async def fetch(self, request, http):
                    members = self.resources["tables"]["members"]
                    same = members[members["school"] == request["school"]]
                    return same.nlargest(4, "joined", keep="first")["member_id"].tolist()

                def transform(self, raw, member):
                    return [self.result(m, 1 - k / 10, {"school": member.attributes["school"]})
                            for k, m in enumerate(raw)]
            """
        )
    )
    svc = service(
        world,
        tmp_path,
        plugin_paths=[str(plugins)],
        cohorts={"mentors": {"plugin": "alumni_mentors"}},
        ranking={},
    )
    page = run(svc.page("U000005"))
    assert [c["cohort_id"] for c in page["cohorts"]] == ["mentors"]
    assert len(page["cohorts"][0]["items"]) == 4
    assert page["cohorts"][0]["header"] == "Recommended for you"  # no catalog entry yet


def test_failing_and_slow_rankers_are_left_out_and_counted(world, tmp_path):
    folder, store, _ = world
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "flaky.py").write_text(
        textwrap.dedent(
            """
            import asyncio
            from lumos.cohorts import FirstPassRanker

            class Flaky(FirstPassRanker):
                def request(self, member):
                    return self.options["mode"]

                async def fetch(self, request, http):
                    if request == "slow":
                        await asyncio.sleep(5)
                    raise ConnectionError("downstream refused")

                def transform(self, raw, member):
                    return []
            """
        )
    )
    config, _ = write_demo_configs(tmp_path / "conf", data=folder, store=store)
    raw = yaml.safe_load(config.read_text())
    raw["plugin_paths"] = [str(plugins)]
    raw["cohorts"]["slow"] = {"plugin": "flaky", "timeout_ms": 50, "options": {"mode": "slow"}}
    raw["cohorts"]["broken"] = {"plugin": "flaky", "options": {"mode": "error"}}
    raw["ranking"]["order"] += ["slow", "broken"]
    config.write_text(yaml.safe_dump(raw))
    app = create_app(
        store=LMDBStore(store, readonly=True),
        treatment=lambda m: ("A", "glmix"),
        cohorts=CohortService(load_config(config)),
    )
    with TestClient(app) as client:
        got = client.get("/v1/members/U000006/cohorts")
        assert got.status_code == 200 and got.json()["left_out"] == ["broken", "slow"]
        assert len(got.json()["cohorts"]) >= 6
        alone = client.get("/v1/members/U000006/cohorts/slow")
        assert alone.status_code == 503 and alone.json()["code"] == "cohort_unavailable"
        text = client.get("/metrics").text
        assert 'lumos_fpr_failures_total{cohort="slow",reason="timeout"} 2.0' in text
        assert 'lumos_fpr_failures_total{cohort="broken",reason="error"} 1.0' in text
        bad = client.get("/v1/members/U000006/cohorts?max_items=0")
        assert bad.status_code == 422 and bad.json()["field"] == "max_items"
        token = client.get("/v1/members/U000006/cohorts/groups?page_token=garbage")
        assert token.status_code == 400 and token.json()["field"] == "page_token"


def test_rule_order_comes_from_the_experiment_variant(world, tmp_path):
    experiments = Experiments.from_yaml(
        textwrap.dedent(
            """
            experiments:
              discovery:
                unit: member_id
                variants:
                  people: {weight: 1, payload: {cohorts: [pymk_company, groups, events]}}
                  things: {weight: 1, payload: {cohorts: [events, hashtags]}}
            """
        )
    )
    folder, store, _ = world
    config, _ = write_demo_configs(tmp_path / "conf", data=folder, store=store)
    raw = yaml.safe_load(config.read_text())
    raw["ranking"]["experiment"] = "discovery"
    svc = CohortService(parse_config(raw), experiments=experiments)
    orders = {}
    for i in range(1, 41):
        page = run(svc.page(f"U{i:06d}"))
        orders.setdefault(page["treatment"], set()).add(
            tuple(c["cohort_id"] for c in page["cohorts"])
        )
    assert orders.keys() == {"discovery:people", "discovery:things"}
    assert orders["discovery:things"] <= {("events", "hashtags"), ("events",), ("hashtags",)}
    assert ("pymk_company", "groups", "events") in orders["discovery:people"]
    raw["ranking"]["experiment"] = "nope"
    with pytest.raises(LumosUserError, match="'nope' is not in the experiments config"):
        CohortService(parse_config(raw), experiments=experiments)


def simulated_events(svc, members, rng, views=6):
    """Members act on cohorts by a hidden taste: each member loves one cohort type."""
    loves = {m: rng.choice(["groups", "events", "hashtags", "newsletters"]) for m in members}
    events, n = [], 0
    for m in members:
        for _ in range(views):
            page = run(svc.page(m, max_items=3))
            for c in page["cohorts"]:
                for item in c["items"]:
                    n += 1
                    base = {"tracking_id": item["tracking_id"], "member_id": m}
                    base |= {"item_id": item["item_id"], "ts": 1735787045 + n}
                    events.append(
                        base | {"event_id": f"s{n}", "type": "served", "cohort": c["cohort_id"]}
                    )
                    p = 0.5 if c["cohort_id"] == loves[m] else 0.03
                    if rng.random() < p:
                        events.append(base | {"event_id": f"a{n}", "type": "action"})
                        events[-1]["action"] = "click"
    return events, loves


def test_relevance_ranker_learns_each_members_taste_from_the_funnel(world, tmp_path):
    svc = service(world, tmp_path)
    rng = np.random.default_rng(0)
    members = [f"U{i:06d}" for i in range(1, 121)]
    events, loves = simulated_events(svc, members, rng)
    frame = pd.DataFrame(events)
    model = RelevanceRanker.fit(frame.reindex(columns=list(EventLog_fields())))
    path = tmp_path / "relevance.json"
    model.save(path)
    model = RelevanceRanker.load(path)
    engagement = Engagement()
    engagement.observe(frame.to_dict("records"))
    shown = frame[frame["type"] == "served"].groupby("member_id")["cohort"].agg(set)
    fair = [m for m in members if loves[m] in shown[m]]  # the loved cohort had items for them
    top = [model.rank(m, sorted(shown[m]), engagement=engagement)[0] for m in fair]
    hit = np.mean([t == loves[m] for t, m in zip(top, fair, strict=True)])
    assert len(fair) > 80 and hit > 0.8  # rules put one cohort first for all: 1 in 4 at best
    assert model.coef[model.feature_names().index("engagement")] > 0
    with pytest.raises(LumosUserError, match="no served items with a cohort"):
        RelevanceRanker.fit(frame[frame["type"] == "action"].reindex(columns=EventLog_fields()))
    path.write_text("{}")
    with pytest.raises(LumosUserError, match="cannot read the relevance ranker"):
        RelevanceRanker.load(path)


def EventLog_fields():
    from lumos.events import FIELDS

    return FIELDS


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def downstream(world, tmp_path):
    """Two rankers as their own HTTP services (`lumos cohorts fpr-service`), as the demo runs."""
    folder, store, _ = world
    with downstream_services(tmp_path / "conf", data=folder, store=store) as config:
        yield config, store


def test_rest_rankers_tracking_and_the_funnel_report(world, downstream, tmp_path):
    config, store = downstream
    assert load_config(config).cohorts["groups"].plugin == "rest"
    local = service(world, tmp_path)
    log = EventLog(tmp_path / "events")
    app = create_app(
        store=LMDBStore(store, readonly=True),
        treatment=lambda m: ("A", "glmix"),
        events=log,
        api_key_hashes=[__import__("lumos.serve", fromlist=["hash_key"]).hash_key(KEY)],
        cohorts=CohortService(load_config(config)),
    )
    for k in range(1, 100):  # a member with groups and events to show
        member = f"U{k:06d}"
        mine = run(local.page(member, max_items=4))["cohorts"]
        same = {c["cohort_id"]: [i["item_id"] for i in c["items"]] for c in mine}
        if {"groups", "events"} <= same.keys():
            break
    with TestClient(app) as client:
        page = client.get(f"/v1/members/{member}/cohorts?max_items=4&channel=web").json()
        cohorts = {c["cohort_id"]: c for c in page["cohorts"]}
        assert page["left_out"] == [] and {"groups", "events"} <= cohorts.keys()
        for cid in ("groups", "events"):  # over HTTP, the same items as in process
            assert [i["item_id"] for i in cohorts[cid]["items"]] == same[cid]
            assert cohorts[cid]["items"][0]["name"]  # decorated after the REST transform
        shown = [i for c in page["cohorts"] for i in c["items"]]
        seen = [
            {
                "event_id": f"i{k}",
                "tracking_id": i["tracking_id"],
                "type": "impression",
                "member_id": member,
                "item_id": i["item_id"],
                "ts": 1735787045,
            }
            for k, i in enumerate(shown)
        ]
        clicks = [
            {**seen[0], "event_id": "c0", "type": "action", "action": "connect"},
            {**seen[-1], "event_id": "c1", "type": "action", "action": "follow"},
        ]
        answer = client.post(
            "/v1/events", json={"events": seen + clicks}, headers={"X-API-Key": KEY}
        )
        assert answer.json()["accepted"] == len(shown) + 2
    events = log.read()
    log.close()
    served = events[events["type"] == "served"]
    midtier, api = served[served["channel"] == "midtier"], served[served["channel"] == "web"]
    assert len(midtier) == len(api) == len(shown)
    assert (
        set(midtier["tracking_id"]) == set(api["tracking_id"]) == {i["tracking_id"] for i in shown}
    )
    assert set(api["cohort"]) == set(cohorts)
    result = CliRunner().invoke(main, ["report", "funnel", "--events", str(tmp_path / "events")])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line.split() for line in result.output.splitlines()[2:]}
    first, last = page["cohorts"][0]["cohort_id"], page["cohorts"][-1]["cohort_id"]
    assert lines[first][1:4] == ["4", "4", "1"] or first == last
    assert float(lines[first][4]) == 1.0  # every served item was seen


def test_bad_configs_name_the_field(world, tmp_path):
    folder, store, _ = world
    good = {"data": str(folder), "cohorts": {"g": {"plugin": "groups"}}}
    cases = [
        ({**good, "cohorts": {"g": {"plugin": "nope"}}}, "no plugin 'nope' in the plugin pool"),
        ({**good, "cohorts": {"g": {"plugin": "groups", "timeout_ms": -1}}}, "timeout_ms"),
        ({**good, "cohorts": {}}, "field 'cohorts'"),
        ({**good, "ranking": {"order": ["x"]}}, "'x' is not a cohort"),
        ({**good, "colour": "red"}, "field 'colour'"),
        ({**good, "plugin_paths": [str(tmp_path / "none")]}, "plugin folder"),
        ({**good, "cohorts": {"g": {"plugin": "rest"}}}, "needs options.url"),
        ({**good, "data": str(tmp_path / "none")}, "data folder"),
        ({"cohorts": {"g": {"plugin": "groups"}}}, "cohort 'g' \\(plugin 'groups'\\) could not"),
    ]
    for raw, message in cases:
        with pytest.raises(LumosUserError, match=message):
            CohortService(parse_config(raw, source="c.yaml"))
    path = tmp_path / "c.yaml"
    path.write_text("cohorts: [")
    with pytest.raises(LumosUserError, match="is not YAML"):
        load_config(path)
    runner = CliRunner()
    config, _ = write_demo_configs(tmp_path / "conf", data=folder)
    args = ["cohorts", "fpr-service", "--config", str(config)]
    bad = runner.invoke(main, [*args, "--cohort", "groups", "--delay-ms", "40-20"])
    assert bad.exit_code == 2 and "LOW-HIGH" in bad.output
    bad = runner.invoke(main, [*args, "--cohort", "nope"])
    assert bad.exit_code == 2 and "'nope' is not a cohort" in bad.output
    bad = runner.invoke(main, ["report", "funnel", "--events", str(tmp_path / "none")])
    assert bad.exit_code == 2 and "does not exist" in bad.output
    bad = runner.invoke(
        main, ["serve", "--store", str(store), "--cohorts", str(tmp_path / "missing.yaml")]
    )
    assert bad.exit_code == 2 and "cannot read the cohorts config" in bad.output


def test_fit_ranker_cli_writes_what_the_server_loads(world, tmp_path):
    svc = service(world, tmp_path)
    rng = np.random.default_rng(1)
    events, _ = simulated_events(svc, [f"U{i:06d}" for i in range(1, 41)], rng, views=2)
    with EventLog(tmp_path / "log") as log:
        log.append([e for e in events if e["type"] != "served"] and events)
    config = tmp_path / "conf" / "cohorts.yaml"
    out = tmp_path / "relevance.json"
    log_folder = str(tmp_path / "log")
    args = ["--events", log_folder, "--config", str(config), "--out", str(out)]
    result = CliRunner().invoke(main, ["cohorts", "fit-ranker", *args])
    assert result.exit_code == 0, result.output
    model = json.loads(out.read_text())
    assert "connections" in model["member_features"] and len(model["cohorts"]) >= 6
    raw = yaml.safe_load(config.read_text())
    raw["ranking"]["relevance"] = str(out)
    experiments = Experiments.from_yaml(
        "experiments:\n  d:\n    unit: member_id\n    variants:\n"
        "      r: {weight: 1, payload: {cohort_ranker: relevance}}\n"
    )
    raw["ranking"]["experiment"] = "d"
    relevant = CohortService(parse_config(raw), experiments=experiments)
    assert run(relevant.page("U000001"))["ranker"] == "relevance"


def test_no_input_to_the_cohort_routes_makes_a_server_error(world, tmp_path):
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    svc = service(world, tmp_path)
    app = create_app(store=svc.resources["store"], treatment=lambda m: ("A", "glmix"), cohorts=svc)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [r.ok() for r in schema.get_all_operations() if "cohorts" in r.ok().path]
    assert len(operations) == 2
    members = st_members()

    for operation in operations:

        @given(case=operation.as_strategy(), member=members)
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case, member):
            if member is not None:
                case.path_parameters["member_id"] = member
            response = case.call()
            assert response.status_code < 500, (case.path, case.query, response.text)

        check()


def st_members():
    from hypothesis import strategies as st

    return st.one_of(st.none(), st.sampled_from(["U000001", "U000002", "U000500"]))


def test_a_ranker_service_answers_in_its_own_shape_and_rejects_bad_parameters(world, tmp_path):
    from lumos.cohorts import fpr_service_app

    svc = service(world, tmp_path)
    with TestClient(fpr_service_app(svc, "groups")) as client:
        got = client.get("/v1/recommendations?member_id=U000002&count=3").json()["elements"]
        assert len(got) <= 3 and all(e["urn"].startswith("group:") for e in got)
        for query, field in [
            ("", "member_id"),
            ("member_id=U1&count=0", "count"),
            ("member_id=U1&count=" + "9" * 5000, "count"),
        ]:
            bad = client.get(f"/v1/recommendations?{query}")
            assert bad.status_code == 422 and bad.json()["field"] == field
        assert client.get("/nope").status_code == 404
        assert client.get("/healthz").json() == {"status": "ok"}


def test_the_midtier_http_client_keeps_connections_alive_and_reports_failures(downstream):
    from lumos.cohorts._http import HttpError, HttpPool

    config, _ = downstream
    url = load_config(config).cohorts["groups"].options["url"]

    async def go():
        pool = HttpPool()
        try:
            first = await pool.get_json(url, {"member_id": "U000002", "count": 2})
            again = await pool.get_json(url, {"member_id": "U000002", "count": 2})
            assert first == again and len(first["elements"]) <= 2
            assert sum(len(v) for v in pool._idle.values()) == 1  # one connection, reused
            both = await asyncio.gather(
                *(pool.get_json(url, {"member_id": f"U{i:06d}"}) for i in range(1, 5))
            )
            assert len(both) == 4 and sum(len(v) for v in pool._idle.values()) == 4
            with pytest.raises(HttpError, match="answered 422"):
                await pool.get_json(url, {"member_id": "U1", "count": 0})
            with pytest.raises(HttpError, match="answered 404"):
                await pool.get_json(url.replace("/v1/recommendations", "/nope"))
            with pytest.raises(OSError):
                await pool.get_json(f"http://127.0.0.1:{free_port()}/v1/recommendations")
            task = asyncio.ensure_future(pool.get_json(url, {"member_id": "U000003"}))
            await asyncio.sleep(0)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert (await pool.get_json(url, {"member_id": "U000003"}))["elements"] is not None
        finally:
            await pool.close()

    run(go())


def test_the_old_module_path_still_works_and_warns():
    import lumos.cohorts
    import lumos.serve.cohorts as old

    with pytest.warns(DeprecationWarning, match="import it from lumos.cohorts"):
        from lumos.serve.cohorts import CohortService
    assert CohortService is lumos.cohorts.CohortService
    assert set(old.__all__) == set(lumos.cohorts.__all__)
    with pytest.raises(AttributeError):
        old.no_such_name  # noqa: B018
