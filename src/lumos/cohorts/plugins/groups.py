"""Groups your connections are in (and you are not), by how many of them are in each."""

from __future__ import annotations

from lumos.cohorts.plugins._graph import SocialRanker


class GroupsOfConnections(SocialRanker):
    item_type = "group"

    def __init__(self, cohort_id, options, resources):
        super().__init__(cohort_id, options, resources)
        self.held = self.g.held(resources["tables"]["group_members"], "group_id")

    async def fetch(self, request, http):
        i = self.code(request)
        if i is None:
            return []
        counts = self.held.among_friends(i)
        counts[self.held.of(i)] = 0
        return [(self.held.labels[k], int(counts[k])) for k in self.top(counts, request["count"])]

    def transform(self, raw, member):
        return [self.result(g, n, {}, connections_in_group=n) for g, n in raw]
