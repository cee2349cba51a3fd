"""People you may know who share your company, school or region (``options.by``).

Candidates are members with the same value who are not yet connections,
scored by mutual connections; the cohort's header names the value.
"""

from __future__ import annotations

import numpy as np

from lumos.cohorts.plugins._graph import SocialRanker


class PeopleYouMayKnow(SocialRanker):
    item_type = "member"

    def __init__(self, cohort_id, options, resources):
        super().__init__(cohort_id, options, resources)
        self.by = self.options.get("by", "company")
        values = self.g.members[self.by].astype(str).to_numpy()
        self.value = values
        self.same = {v: np.flatnonzero(values == v) for v in np.unique(values)}

    async def fetch(self, request, http):
        i = self.code(request)
        if i is None:
            return []
        value = self.value[i]
        pool = self.same[value]
        pool = pool[(pool != i) & ~np.isin(pool, self.g.friends(i))]
        mutual = self.g.mutual(i)[pool]
        known = np.flatnonzero(mutual)  # most have no mutual connection: sort only the rest
        known = known[np.lexsort((pool[known], -mutual[known]))]
        rest = np.flatnonzero(mutual == 0)[: max(request["count"] - len(known), 0)]
        order = np.concatenate((known, rest))[: request["count"]]
        return [(self.g.ids[pool[o]], int(mutual[o]), value) for o in order]

    def transform(self, raw, member):
        return [
            self.result(m, n + 1 / (2 + k), {self.by: value}, mutual_connections=n)
            for k, (m, n, value) in enumerate(raw)
        ]
