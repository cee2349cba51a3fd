"""Newsletters your connections follow (and you do not); the header names the top one's topic."""

from __future__ import annotations

import numpy as np

from lumos.serve.cohorts import FirstPassRanker
from lumos.serve.cohorts.plugins._graph import graph


class NewslettersOfConnections(FirstPassRanker):
    item_type = "newsletter"

    def __init__(self, cohort_id, options, resources):
        super().__init__(cohort_id, options, resources)
        self.g = graph(resources)
        tables = resources["tables"]
        follows = tables["follows"]
        self.held = self.g.held(follows[follows["entity_type"] == "newsletter"], "entity_id")
        topics = tables["newsletters"].set_index(tables["newsletters"]["newsletter_id"].astype(str))
        self.topic = topics["topic"].reindex(self.held.labels).astype(str).to_numpy()

    def request(self, member):
        return {"member_id": member.member_id, "count": 50}

    async def fetch(self, request, http):
        i = self.g.code.get(request["member_id"])
        if i is None:
            return []
        counts = self.held.among_friends(i)
        counts[self.held.of(i)] = 0
        top = [k for k in np.argsort(-counts, kind="stable")[: request["count"]] if counts[k]]
        return [(self.held.labels[k], int(counts[k]), self.topic[k]) for k in top]

    def transform(self, raw, member):
        return [self.result(n, c, {"topic": t}, followers_you_know=c) for n, c, t in raw]
