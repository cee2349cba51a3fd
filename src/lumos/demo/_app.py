"""What ``lumos demo`` serves over the folder it wrote."""

from __future__ import annotations

import contextlib
from pathlib import Path

from lumos.demo._run import HEALTH_GROUPS
from lumos.demo._try import read_try
from lumos.serve import ServeConfig, app_from_config, hash_key


def demo_config(out, cohorts, events=None, keys=None) -> ServeConfig:
    """The server configuration over the demo folder ``out``: its store and experiment,
    account scores, course titles, offer model and log, model health, and the member it
    names to try; ``cohorts`` is the cohorts YAML to serve, ``events`` the event log
    (default ``out/events``), ``keys`` the decide and write keys (scope → key)."""
    out = Path(out)
    keys = keys or {}
    return ServeConfig(
        decide_key_hashes=tuple(hash_key(k) for k in [keys.get("decide")] if k),
        write_key_hashes=tuple(hash_key(k) for k in [keys.get("write")] if k),
        store=str(out / "store"),
        experiments=str(out / "experiments.yaml"),
        experiment="course_ranker",
        default_model="glmix",
        events=str(events if events is not None else out / "events"),
        insights=str(out / "scores.parquet"),
        courses=str(out / "learning" / "courses.parquet"),
        cohorts=str(cohorts),
        offers=str(out / "offers"),
        offer_log=str(out / "offers_data" / "log_week_4"),
        prioritizer=str(out / "model"),
        health=str(out / "course_health.parquet"),
        health_groups=HEALTH_GROUPS,
        example_member=read_try(out).get("member"),
    )


@contextlib.contextmanager
def demo_app(out, *, events=None, keys=None):
    """The app ``lumos demo`` serves over ``out``, for the block: two first-pass rankers run
    as their own HTTP services meanwhile, as they would in production. ``keys`` (scope →
    key) are its decide and write keys."""
    from lumos.cohorts import downstream_services

    out = Path(out)
    with downstream_services(
        out / "cohorts",
        data=out / "social",
        store=out / "store",
        tables={"courses": out / "learning" / "courses.parquet"},
    ) as cohorts:
        yield app_from_config(demo_config(out, cohorts, events, keys))
