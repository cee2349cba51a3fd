"""The demo's cohorts: configs for the built-in rankers over the generated social tables."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml

from lumos.errors import LumosUserError

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
    folder,
    *,
    data,
    store=None,
    rest: dict | None = None,
    timeout_ms: float = 150,
    tables: dict | None = None,
) -> tuple[Path, Path]:
    """Write ``cohorts.yaml`` (the server's) and ``downstream.yaml`` (the HTTP rankers').

    ``rest`` maps cohort ids to the URL of their ranker's service
    (``lumos cohorts fpr-service --config downstream.yaml --cohort ID``); those
    cohorts are fetched over HTTP by the ``rest`` plugin. Without ``store``
    the courses cohort is left out. ``tables`` names more table files (the
    learning ``courses``, to decorate courses). Paths are written absolute.
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
    if tables:
        main["tables"] = {name: rel(path) for name, path in tables.items()}
    (folder / "cohorts.yaml").write_text(yaml.safe_dump(main, sort_keys=False))
    side = {"data": rel(data), "cohorts": downstream or {"groups": {"plugin": "groups"}}}
    (folder / "downstream.yaml").write_text(yaml.safe_dump(side, sort_keys=False))
    return folder / "cohorts.yaml", folder / "downstream.yaml"


@contextlib.contextmanager
def downstream_services(
    folder,
    *,
    data,
    store=None,
    cohorts=("groups", "events"),
    delay_ms="0",
    timeout_ms=150,
    tables=None,
):
    """Run ``cohorts`` as their own HTTP services; yield the config that fetches them over HTTP.

    Each is a ``lumos cohorts fpr-service`` process on a free loopback port,
    stopped when the block ends; the yielded ``cohorts.yaml`` has them as
    ``rest`` cohorts and the rest in process.
    """
    ports = {cid: _free_port() for cid in cohorts}
    urls = {cid: f"http://127.0.0.1:{p}/v1/recommendations" for cid, p in ports.items()}
    config, side = write_demo_configs(
        folder, data=data, store=store, rest=urls, timeout_ms=timeout_ms, tables=tables
    )
    command = [sys.executable, "-m", "lumos.cli", "cohorts", "fpr-service", "--config", str(side)]
    procs = []
    try:
        for cid, port in ports.items():
            procs.append(
                subprocess.Popen(
                    [*command, "--cohort", cid, "--port", str(port), "--delay-ms", delay_ms],
                    stdout=subprocess.DEVNULL,
                )
            )
        for proc, port in zip(procs, ports.values(), strict=True):
            _wait(port, proc)
        yield config
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(port: int, proc) -> None:
    for _ in range(600):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return
        except OSError:
            if proc.poll() is not None:
                raise LumosUserError(
                    f"a first-pass ranker service on port {port} exited at start "
                    f"(code {proc.returncode}); run `lumos cohorts fpr-service` to see why.",
                    code="service_failed",
                ) from None
            time.sleep(0.05)
    raise LumosUserError(
        f"a first-pass ranker service on port {port} did not start in 30 s.",
        code="service_failed",
    )
