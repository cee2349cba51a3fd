"""Defaults only: every model with its defaults on public data no Lumos benchmark tunes on,
beside the library a user would pick instead, in one run.

* GLMix (``l2="auto"``) on MovieLens-100k under GDMix's protocol and lme4's InstEval,
  beside scikit-learn's one-hot logistic regression with C chosen by 5-fold CV and
  statsmodels' ``BinomialBayesMixedGLM`` (:mod:`_defaults_glmix`);
* the Thompson policies on classification sets turned into bandits, beside ε-greedy and
  MABWiser's ``LinTS`` with their defaults (:mod:`_defaults_bandits`).

Run: ``python benchmarks/defaults.py [--quick]``; one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import _defaults_bandits
import _defaults_glmix
from _common import emit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs, a smoke test")
    args = parser.parse_args()
    results = _defaults_glmix.results(args.quick) + _defaults_bandits.results(args.quick)
    packages = dict.fromkeys((*_defaults_glmix.PACKAGES, *_defaults_bandits.PACKAGES_USED))
    emit("defaults", args.quick, results, packages=tuple(packages))


if __name__ == "__main__":
    main()
