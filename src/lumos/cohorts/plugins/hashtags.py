"""Hashtags of the topic of one you follow: "Because you follow #python"."""

from __future__ import annotations

import numpy as np

from lumos.cohorts.plugins._graph import SocialRanker


class HashtagsLikeYours(SocialRanker):
    item_type = "hashtag"

    def __init__(self, cohort_id, options, resources):
        super().__init__(cohort_id, options, resources)
        tables = resources["tables"]
        self.held = self.follows("hashtag")
        tags = tables["hashtags"].set_index(tables["hashtags"]["hashtag"].astype(str))
        self.topic = tags["topic"].reindex(self.held.labels).astype(str).to_numpy()
        self.popular = np.bincount(self.held.keys, minlength=len(self.held.labels))

    async def fetch(self, request, http):
        i = self.code(request)
        if i is None:
            return []
        mine = self.held.of(i)
        if not len(mine):
            return []
        anchor = mine[np.argmax(self.popular[mine])]  # the most followed of theirs
        same = np.flatnonzero(self.topic == self.topic[anchor])
        same = same[~np.isin(same, mine)]
        friends = self.held.among_friends(i)[same]
        order = np.lexsort((-self.popular[same], -friends))[: request["count"]]
        return [
            (self.held.labels[same[o]], int(friends[o]), self.held.labels[anchor]) for o in order
        ]

    def transform(self, raw, member):
        return [
            self.result(t, n + 1 / (2 + k), {"hashtag": anchor}, followers_you_know=n)
            for k, (t, n, anchor) in enumerate(raw)
        ]
