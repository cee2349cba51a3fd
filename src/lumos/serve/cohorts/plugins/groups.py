"""Groups your connections are in (and you are not), by how many of them are in each."""

from __future__ import annotations

import numpy as np

from lumos.serve.cohorts import FirstPassRanker
from lumos.serve.cohorts.plugins._graph import graph


class GroupsOfConnections(FirstPassRanker):
    item_type = "group"

    def __init__(self, cohort_id, options, resources):
        super().__init__(cohort_id, options, resources)
        self.g = graph(resources)
        self.held = self.g.held(resources["tables"]["group_members"], "group_id")

    def request(self, member):
        return {"member_id": member.member_id, "count": int(self.options.get("count", 50))}

    async def fetch(self, request, http):
        i = self.g.code.get(request["member_id"])
        if i is None:
            return []
        counts = self.held.among_friends(i)
        counts[self.held.of(i)] = 0
        top = [k for k in np.argsort(-counts, kind="stable")[: request["count"]] if counts[k]]
        return [(self.held.labels[k], int(counts[k])) for k in top]

    def transform(self, raw, member):
        return [self.result(g, n, {}, connections_in_group=n) for g, n in raw]
