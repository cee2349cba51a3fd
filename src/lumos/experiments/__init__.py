"""Experiments: config, deterministic hash assignment, coverage ramps, targeting, layers.

An experiments YAML file (see ``example.yaml`` beside this module, at
:data:`EXAMPLE_CONFIG`) lists experiments, each with a unit type, a salt,
weighted variants with free-form payloads, a coverage ramp, targeting rules and
forced overrides, and layers whose experiments never share a unit.

**The assignment hash**, for other languages to reproduce::

    digest = SHA-256(UTF-8(f"{salt}:{unit_id}"))
    first  = int.from_bytes(digest[0:8],  "big") % 10000   # coverage; layer share
    second = int.from_bytes(digest[8:16], "big") % 10000   # variant

A unit is in an experiment (after its override, layer and targeting checks) when
``first < round(coverage * 100)``; variant ``i`` (config order) owns
``second`` in ``[floor(10000 * W_(i-1) / W), floor(10000 * W_i / W))`` with
``W_i`` the running sum of the weights and ``W`` their total. A layer's
experiments own disjoint ranges of ``first`` under the layer's salt.

Examples
--------
>>> from lumos.experiments import EXAMPLE_CONFIG, Experiments, buckets
>>> buckets("course_ranker", 42)
(7589, 6582)
>>> Experiments.load(EXAMPLE_CONFIG).assign(3, {"industry": "software", "seniority": 4})
{'course_ranker': 'glmix_v2', 'cohort_order': 'skills_first'}
"""

from lumos.experiments._config import UNITS, Experiment, Layer, Variant
from lumos.experiments._experiments import EXAMPLE_CONFIG, Experiments
from lumos.experiments._hash import BUCKETS, buckets, buckets_many, unit_text, unit_texts
from lumos.experiments._routing import ModelRouter
from lumos.experiments._rules import Rule, RuleError

__all__ = [
    "BUCKETS",
    "EXAMPLE_CONFIG",
    "UNITS",
    "Experiment",
    "Experiments",
    "Layer",
    "ModelRouter",
    "Rule",
    "RuleError",
    "Variant",
    "buckets",
    "buckets_many",
    "unit_text",
    "unit_texts",
]
