"""The assignment hash: fixed vectors other languages can reproduce, and determinism."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from lumos.errors import LumosUserError
from lumos.experiments import EXAMPLE_CONFIG, Experiments, buckets, buckets_many, unit_texts

# salt, unit id, first 16 bytes of SHA-256(f"{salt}:{unit}") in hex, first bucket (bytes 0-7
# big-endian mod 10000: coverage and layer share), second bucket (bytes 8-15: variant).
VECTORS = [
    ("course_ranker", 42, "4826803423878f151746a01f8f209766", 7589, 6582),
    ("course_ranker", "42", "4826803423878f151746a01f8f209766", 7589, 6582),
    ("course_ranker", 0, "0c0401692da75fe3433cbcdf2ca36b51", 5491, 7313),
    ("course_ranker", 123456789012, "35ca8dcf21d9af6d6dbc306439cd4673", 4157, 5427),
    ("reason_copy_2024", "m-9", "ca7fa023965a585b70a1d2f9570f5125", 9163, 5717),
    ("homepage", 42, "e8e610fe025f4fd67503ffb594cac997", 422, 1783),
    ("homepage", 7, "fcc067b1053748090fde027f0c23107a", 7145, 1386),
    ("café", "ünit-1", "8b8612c38cb83d52529d226b6c3fb989", 8258, 4393),
    ("", "", "e7ac0786668e0ff0f02b62bd04f45ff6", 4368, 8054),
    ("offer_ranker", "acct-7", "b3172a72c2b5ff4d1135b835f2de8ce2", 1245, 8482),
]

# With example.yaml: member id, (course_ranker first, second), (homepage layer first), and the
# assignment of a member with industry "software" and seniority 4. course_ranker covers first
# < 4000 within layer share [0, 5000); reason_copy has layer share [5000, 10000) and full
# coverage; cohort_order splits second at 6666 (weights 2:1).
ASSIGNMENTS = [
    (1, (5963, 1871), 1438, {"cohort_order": "control"}),
    (2, (7300, 8476), 8258, {"reason_copy": "control", "cohort_order": "control"}),
    (3, (1837, 6895), 2729, {"course_ranker": "glmix_v2", "cohort_order": "skills_first"}),
    (6, (2556, 8618), 7717, {"reason_copy": "narrative", "cohort_order": "skills_first"}),
    (7, (1012, 6662), 7145, {"reason_copy": "narrative", "cohort_order": "control"}),
    (9, (120, 4015), 2280, {"course_ranker": "control", "cohort_order": "control"}),
    (12, (3027, 6278), 949, {"course_ranker": "glmix_v2", "cohort_order": "skills_first"}),
]
SENIOR_SOFTWARE = {"industry": "software", "seniority": 4}


@pytest.mark.parametrize(("salt", "unit", "digest", "first", "second"), VECTORS)
def test_fixed_vectors(salt, unit, digest, first, second):
    raw = bytes.fromhex(digest)
    assert int.from_bytes(raw[:8], "big") % 10000 == first
    assert int.from_bytes(raw[8:], "big") % 10000 == second
    assert buckets(salt, unit) == (first, second)
    assert buckets_many(salt, unit_texts([unit])).tolist() == [[first, second]]


@pytest.mark.parametrize(("unit", "course", "layer", "expected"), ASSIGNMENTS)
def test_fixed_assignments(unit, course, layer, expected):
    exps = Experiments.load(EXAMPLE_CONFIG)
    assert buckets("course_ranker", unit) == course
    assert buckets("homepage", unit)[0] == layer
    assert exps.assign(unit, SENIOR_SOFTWARE) == expected


def test_vectorized_matches_scalar():
    ids = list(range(500)) + [f"m-{i}" for i in range(500)]
    many = buckets_many("s", unit_texts(np.array(ids, dtype=object)))
    assert many.tolist() == [list(buckets("s", u)) for u in ids]
    assert unit_texts(np.arange(3, dtype=np.uint32)) == ["0", "1", "2"]


@pytest.mark.parametrize("bad", [1.0, True, None, b"x"])
def test_unit_ids_must_be_text_or_integers(bad):
    with pytest.raises(LumosUserError, match="string or an integer"):
        buckets("s", bad)


def test_float_id_arrays_are_refused():
    with pytest.raises(LumosUserError, match="strings or integers"):
        unit_texts(np.array([1.0, 2.0]))


CHILD = """
import json, sys
from lumos.experiments import EXAMPLE_CONFIG, Experiments
exps = Experiments.load(EXAMPLE_CONFIG)
out = {str(u): exps.assign(u, {"industry": "software", "seniority": 4}) for u in range(300)}
json.dump(out, sys.stdout)
"""


def test_same_assignments_in_another_process():
    exps = Experiments.load(EXAMPLE_CONFIG)
    here = {str(u): exps.assign(u, SENIOR_SOFTWARE) for u in range(300)}
    # A different hash seed proves nothing depends on Python's salted hash().
    env = {"PYTHONHASHSEED": "12345"}
    result = subprocess.run(
        [sys.executable, "-c", CHILD],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    )
    assert json.loads(result.stdout) == here
