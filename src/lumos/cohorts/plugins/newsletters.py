"""Newsletters your connections follow (and you do not); the header names the top one's topic."""

from __future__ import annotations

from lumos.cohorts.plugins._graph import SocialRanker


class NewslettersOfConnections(SocialRanker):
    item_type = "newsletter"

    def __init__(self, cohort_id, options, resources):
        super().__init__(cohort_id, options, resources)
        tables = resources["tables"]
        self.held = self.follows("newsletter")
        topics = tables["newsletters"].set_index(tables["newsletters"]["newsletter_id"].astype(str))
        self.topic = topics["topic"].reindex(self.held.labels).astype(str).to_numpy()

    async def fetch(self, request, http):
        i = self.code(request)
        if i is None:
            return []
        counts = self.held.among_friends(i)
        counts[self.held.of(i)] = 0
        top = self.top(counts, request["count"])
        return [(self.held.labels[k], int(counts[k]), self.topic[k]) for k in top]

    def transform(self, raw, member):
        return [self.result(n, c, {"topic": t}, followers_you_know=c) for n, c, t in raw]
