"""Faults: a real ``lumos serve`` under a steady client load, each fault caused for real, taken
away, and its outcome checked.

A server on loopback takes event batches (unique ids, each sent again with the same ids
until acknowledged) and recommendation requests (which record served events) from two
client threads while one fault is caused and removed (:mod:`_fault_cases`):

* ``disk_full`` — a 64 MB tmpfs under the log filled (RLIMIT_FSIZE on the server where a
  mount is not allowed);
* ``readonly_folder`` — the log folder and its files made read-only under a server that
  runs as ``nobody``, with 64 KB segments so it needs a new one meanwhile;
* ``segment_fails`` — a folder where the next segment's file would go (64 KB segments);
* ``sigkill`` — SIGKILL at 20 random moments, the server started again at once;
* ``sigterm`` — SIGTERM under load, the server started again;
* ``redis_killed`` — the store and the log on Redis, redis-server killed and started again;
* ``redis_dropped`` — Redis drops every client connection five times;
* ``clock_back`` — the server's wall clock an hour behind for a while;
* ``worker_killed`` — ``lumos serve --workers 2``, one worker killed with SIGKILL (the
  supervisor starts another; the anchor has no ``--workers``).

For each: acknowledged events lost and duplicated in the log (goal 0), answers with a 5xx
other than 503 (goal 0), seconds from the fault's removal until a recommendation and an
event batch both succeed without a restart (goal ≤ 2; for SIGKILL and SIGTERM, which need
one, the restart-to-ready time, no goal), and whether ``/readyz`` told the truth during the
fault (1 = yes). The anchor is Lumos at ``d6621cb``, the main before the fault fixes, run
by the same script in the same run (``git archive`` into a temporary folder, its ``src``
on the server's ``PYTHONPATH``).

Run: ``python benchmarks/faults.py [--quick]`` (as root for the tmpfs and the ``nobody``
server; else RLIMIT_FSIZE, and the read-only case runs as the current user).
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
from _common import emit, log
from _fault_cases import CASES, STEADY, run, skipped
from _faults import MAIN_SRC

COMMIT = "d6621cb"
REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("fastapi", "uvicorn", "starlette", "redis", "pandas", "pyarrow")
ANCHOR = f"Lumos at {COMMIT} (the main before the fault fixes), same script, same run"
HEADLINE = (
    "lost",
    "duplicated",
    "server_errors",
    "seconds_to_normal",
    "restart_to_ready_s",
    "readyz_truthful",
)


def export_anchor(folder: Path) -> Path:
    """Lumos's ``src`` at COMMIT, extracted under ``folder`` (readable by every user)."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", COMMIT, "src"], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    folder.chmod(0o755)
    return folder / "src"


def attempt(name: str, src, work: Path, quick: bool) -> dict:
    """Case ``name``'s figures, or ``{"error": ...}`` when it could not run."""
    why = skipped(name)
    if why:
        return {"error": f"skipped: {why}"}
    started = time.perf_counter()
    try:
        out = run(name, src, work, quick=quick)
    except Exception as exc:  # one case that cannot run still leaves the others' figures
        return {"error": f"{type(exc).__name__}: {exc}"[:2000]}
    out["case_seconds"] = time.perf_counter() - started
    return out


def results_of(name: str, mine: dict, theirs: dict) -> list[dict]:
    """Case ``name``'s rows; the first carries every other figure of both columns."""

    def pair(figure: str, unit: str) -> dict:
        return {
            "unit": unit,
            "lumos": mine.get(figure),
            "anchor": theirs.get(figure),
            "anchor_name": ANCHOR,
        }

    details = {
        column: {k: v for k, v in figures.items() if k not in HEADLINE}
        for column, figures in (("lumos", mine), ("anchor", theirs))
    }
    rows = [
        {
            "name": f"{name}_acknowledged_lost",
            **pair("lost", "events"),
            "goal": {"lumos": "== 0"},
            "details": details,
        },
        {
            "name": f"{name}_acknowledged_duplicated",
            **pair("duplicated", "events"),
            "goal": {"lumos": "== 0"},
        },
        {
            "name": f"{name}_5xx_not_503",
            **pair("server_errors", "responses"),
            "goal": {"lumos": "== 0"},
        },
    ]
    if name in STEADY:
        rows.append(
            {
                "name": f"{name}_seconds_to_normal",
                **pair("seconds_to_normal", "s"),
                "goal": {"lumos": "<= 2"},
            }
        )
    else:  # a restart is the way back: its time is context, the goal is for no restart
        rows.append({"name": f"{name}_restart_to_ready_s", **pair("restart_to_ready_s", "s")})
    rows.append(
        {
            "name": f"{name}_readyz_truthful",
            **pair("readyz_truthful", "1 = yes"),
            "goal": {"lumos": ">= 1"},
        }
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter faults, 4 SIGKILLs not 20")
    args = parser.parse_args()
    started = time.perf_counter()
    results = []
    with tempfile.TemporaryDirectory(prefix="lumos-faults-", ignore_cleanup_errors=True) as tmp:
        work = Path(tmp)
        work.chmod(0o755)  # the read-only case's server runs as another user
        anchor = export_anchor(work / "anchor")
        log(f"anchor: Lumos at {COMMIT} from git archive in {anchor}")
        for name in CASES:
            figures = {}
            for column, src in (("lumos", MAIN_SRC), ("anchor", anchor)):
                figures[column] = attempt(name, src, work / column / name, args.quick)
                said = figures[column]
                shown = {k: said[k] for k in (*HEADLINE, "error") if k in said}
                log(f"{name} ({column}): {shown}")
            results += results_of(name, figures["lumos"], figures["anchor"])
    log(f"done in {time.perf_counter() - started:.0f} s")
    emit("faults", args.quick, results, packages=PACKAGES)


if __name__ == "__main__":
    main()
