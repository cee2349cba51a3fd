"""The fault suite's cases (``benchmarks/faults.py``) as tests, without the timings.

A real ``lumos serve`` on loopback under a steady client load — event batches sent again
with the same ids until acknowledged, recommendation requests — meets a fault caused for
real, which is then taken away. After each: no acknowledged event is missing from the log
or in it twice, no answer was a 5xx other than 503, ``/readyz`` agreed with what the
clients met during the fault, and the server answers normally again without a restart
(after a SIGKILL, once started again).

Here: the log folder made read-only under a server that is not root, a segment that cannot
be created, SIGKILL at random moments (a few times), the wall clock jumping back, and one of
two workers killed. A full
disk and SIGTERM are tested in ``test_server_faults.py``; Redis outages beside the Redis store's
own tests.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from _fault_cases import SMALL_SEGMENT, TIMES, run, skipped
from _faults import MAIN_SRC


def case(name: str, tmp_path) -> dict:
    why = skipped(name)
    if why:
        pytest.skip(why)
    out = run(name, MAIN_SRC, tmp_path / name, quick=True)
    assert out["acknowledged"] > 0 and out["served_shown"] > 0  # the load ran
    assert (out["lost"], out["duplicated"]) == (0, 0), out
    assert out["server_errors"] == 0, out
    assert out["readyz_truthful"] == 1, out
    assert out["quarantined_lines"] == 0, out
    return out


def recovered_in_place(out: dict) -> None:
    assert out["recovered"] == 1 and out["server_alive"] == 1, out
    assert out["served_missing"] == 0 and out["served_duplicated"] == 0, out


def test_a_read_only_log_folder_under_a_server_that_is_not_root(tmp_path):
    out = case("readonly_folder", tmp_path)
    recovered_in_place(out)
    assert out["server_uid"] != 0  # root would have written anyway
    assert out["largest_segment_bytes"] > SMALL_SEGMENT  # no new segment: the log went on


def test_a_segment_that_cannot_be_created(tmp_path):
    out = case("segment_fails", tmp_path)
    recovered_in_place(out)
    assert out["largest_segment_bytes"] > SMALL_SEGMENT


def test_the_wall_clock_jumping_back_an_hour(tmp_path):
    out = case("clock_back", tmp_path)
    recovered_in_place(out)
    # events stamped by the clients' clock ran an hour ahead of the server's: refused with
    # a 4xx while it was behind (never acknowledged, so never lost), accepted once it was not
    assert out["refused_4xx"] > 0 and out["unacknowledged_at_end"] == 0


@pytest.mark.slow
def test_sigkill_at_random_moments(tmp_path):
    out = case("sigkill", tmp_path)
    assert out["restarts"] == TIMES[True]["kills"]
    assert out["unacknowledged_at_end"] == 0
    # served events are written after the answer, so a kill may take the last few with it
    assert out["served_duplicated"] == 0 and out["served_missing"] < out["served_shown"]


def test_one_of_two_workers_killed(tmp_path):
    out = case("worker_killed", tmp_path)
    assert out["recovered"] == 1 and out["server_alive"] == 1, out
    assert out["served_duplicated"] == 0, out  # the killed worker's unsynced ones may be gone
