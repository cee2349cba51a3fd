"""Events in your region, by how many of your connections attend (then the soonest)."""

from __future__ import annotations

import numpy as np

from lumos.cohorts.plugins._graph import SocialRanker


class EventsNearYou(SocialRanker):
    item_type = "event"

    def __init__(self, cohort_id, options, resources):
        super().__init__(cohort_id, options, resources)
        tables = resources["tables"]
        self.held = self.g.held(tables["event_attendees"], "event_id")
        events = tables["events"].set_index(tables["events"]["event_id"].astype(str))
        events = events.reindex(self.held.labels)
        self.region = events["region"].astype(str).to_numpy()
        self.soon = events["starts"].rank(method="first").fillna(len(events)).to_numpy()

    def request(self, member):
        return super().request(member) | {"region": str(member.attributes.get("region", ""))}

    async def fetch(self, request, http):
        i = self.code(request)
        if i is None:
            return []
        here = np.flatnonzero(self.region == request["region"])
        counts = self.held.among_friends(i)[here]
        mine = set(self.held.of(i).tolist())
        order = np.lexsort((self.soon[here], -counts))
        picked = [here[o] for o in order if here[o] not in mine][: request["count"]]
        attending = self.held.among_friends(i)
        return [(self.held.labels[k], int(attending[k]), request["region"]) for k in picked]

    def transform(self, raw, member):
        return [
            self.result(e, n + 1 / (2 + k), {"region": region}, connections_attending=n)
            for k, (e, n, region) in enumerate(raw)
        ]
