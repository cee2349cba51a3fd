"""The demo's cohorts: configs for the built-in rankers over the generated social tables."""

from __future__ import annotations

from pathlib import Path

import yaml

#: cohort id → (plugin, options) of the built-in rankers, in the default order
DEMO_COHORTS = {
    "pymk_company": ("pymk", {"by": "company"}),
    "pymk_school": ("pymk", {"by": "school"}),
    "pymk_region": ("pymk", {"by": "region"}),
    "groups": ("groups", {}),
    "events": ("events", {}),
    "newsletters": ("newsletters", {}),
    "hashtags": ("hashtags", {}),
    "courses": ("courses", {"model": "glmix"}),
}


def write_demo_configs(
    folder, *, data, store=None, rest: dict | None = None, timeout_ms: float = 150
) -> tuple[Path, Path]:
    """Write ``cohorts.yaml`` (the server's) and ``downstream.yaml`` (the HTTP rankers').

    ``rest`` maps cohort ids to the URL of their ranker's service
    (``lumos cohorts fpr-service --config downstream.yaml --cohort ID``); those
    cohorts are fetched over HTTP by the ``rest`` plugin. Without ``store``
    the courses cohort is left out. Paths are written relative to ``folder``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rest = rest or {}
    rel = lambda p: str(Path(p).resolve())  # noqa: E731
    cohorts, downstream = {}, {}
    for cid, (plugin, options) in DEMO_COHORTS.items():
        if cid == "courses" and store is None:
            continue
        if cid in rest:
            cohorts[cid] = {"plugin": "rest", "options": {"url": rest[cid]}}
            downstream[cid] = {"plugin": plugin, "options": options}
        else:
            cohorts[cid] = {"plugin": plugin, "options": options}
    main = {
        "data": rel(data),
        "timeout_ms": timeout_ms,
        "cohorts": cohorts,
        "ranking": {"order": list(cohorts)},
    }
    if store is not None:
        main["store"] = rel(store)
    (folder / "cohorts.yaml").write_text(yaml.safe_dump(main, sort_keys=False))
    side = {"data": rel(data), "cohorts": downstream or {"groups": {"plugin": "groups"}}}
    (folder / "downstream.yaml").write_text(yaml.safe_dump(side, sort_keys=False))
    return folder / "cohorts.yaml", folder / "downstream.yaml"
