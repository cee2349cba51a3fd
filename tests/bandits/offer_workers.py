"""What one process serving a shared offer model does, for the tests that run several at once.

``python offer_workers.py decide MODEL STATE OUT GO MEMBERS CHANNEL TRIES``: once the file GO
exists, decide TRIES times for each of MEMBERS (comma-separated), each decision with its
tracking id and shown; write each offer shown (``member tracking arm``) to OUT, one a line.

``python offer_workers.py learn MODEL STATE READY LEASE``: learn what waits under a lease of
LEASE seconds; after the 10th round's update write READY and stall there, so that a kill lands
mid-learning however fast the machine.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from lumos.bandits import NO_OFFER, OfferModel
from lumos.events import new_id


def decide(model, state, out, go, members, channel, tries) -> None:
    model = OfferModel.load(model).share(state, interval=0.2)
    members = members.split(",")
    Path(f"{out}.ready").touch()
    while not Path(go).exists():
        time.sleep(0.001)
    shown = []
    for _ in range(int(tries)):
        for member in members:
            tracking = new_id()
            decision = model.decide([member], channel, tracking_ids=[tracking])
            model.served([tracking], decision)
            if decision["arm_id"].iat[0] != NO_OFFER:
                shown.append(f"{member} {tracking} {decision['arm_id'].iat[0]}")
    Path(out).write_text("".join(f"{line}\n" for line in shown))


def learn(model, state, ready, lease) -> None:
    model = OfferModel.load(model).share(state, interval=0, lease=float(lease))
    update, rounds = model.policy.update, []

    def stalling_update(*args, **kwargs):
        update(*args, **kwargs)
        rounds.append(1)
        if len(rounds) == 10:
            Path(ready).touch()
            time.sleep(3600)

    model.policy.update = stalling_update
    model.shared.learn()


if __name__ == "__main__":
    {"decide": decide, "learn": learn}[sys.argv[1]](*sys.argv[2:])
