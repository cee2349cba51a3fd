"""Recommendation tables for the store tests (also imported by the publisher subprocess)."""

import numpy as np
import pandas as pd


def model_tables(n_members=20, n_models=3, k=5, seed=0, offset=0.0):
    """``n_models`` re-rankings of the same candidates; scores carry ``offset``."""
    rng = np.random.default_rng(seed)
    members = [f"M{i:04d}" for i in range(n_members)]
    tables = {}
    for j in range(n_models):
        rows = []
        for m in members:
            items = rng.permutation(2 * k)[:k]
            for r, c in enumerate(items):
                rows.append(
                    (
                        m,
                        r + 1,
                        f"C{c:03d}",
                        offset + (k - r) / 100,
                        f"why{c % 3}",
                        f"Because of {c % 3}",
                    )
                )
        tables[f"m{j + 1}"] = pd.DataFrame(
            rows, columns=["member_id", "rank", "course_id", "score", "reason", "reason_text"]
        )
    return tables
