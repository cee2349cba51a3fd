"""The generators' older parameter names still work for a release, with a DeprecationWarning."""

import pandas as pd
import pytest

from lumos.data.demo import accounts, learning, offers, population, saas, social


@pytest.mark.parametrize(
    ("make", "args", "frames"),
    [
        (accounts, (60,), lambda b: [b]),
        (saas, (20, 14), lambda b: [b.contracts, b.usage]),
        (learning, (30, 20, 7), lambda b: [b.members, b.interactions]),
        (social, (40,), lambda b: list(b.tables.values())),
        (offers, (40, 200), lambda b: [b.members, b.events]),
        (population, (40, 10), lambda b: [b.members, b.accounts]),
    ],
    ids=["accounts", "saas", "learning", "social", "offers", "population"],
)
def test_seed_is_the_older_name_of_random_state(make, args, frames):
    with pytest.warns(DeprecationWarning, match=r"'seed' is now 'random_state'"):
        old = make(*args, seed=3)
    new = make(*args, random_state=3)
    for a, b in zip(frames(old), frames(new), strict=True):
        pd.testing.assert_frame_equal(a, b)
