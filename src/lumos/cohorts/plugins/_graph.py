"""Shared indexes of the social tables for the built-in rankers (built once per server)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lumos.cohorts._plugin import FirstPassRanker


class Graph:
    """Members as integer codes, their connections as CSR arrays, memberships by code."""

    def __init__(self, tables: dict):
        members = tables["members"]
        self.ids = members["member_id"].astype(str).to_numpy()
        self.code = {m: i for i, m in enumerate(self.ids)}
        self.members = members.reset_index(drop=True)
        c = tables.get("connections")
        if c is None:
            c = pd.DataFrame({"member_id": [], "other_id": []})
        src = pd.Categorical(c["member_id"].astype(str), categories=self.ids).codes
        dst = pd.Categorical(c["other_id"].astype(str), categories=self.ids).codes
        keep = (src >= 0) & (dst >= 0)
        src, dst = src[keep], dst[keep]
        order = np.argsort(src, kind="stable")
        self.neighbors = dst[order].astype(np.int64)
        self.starts = np.concatenate(([0], np.cumsum(np.bincount(src, minlength=len(self.ids)))))

    def friends(self, i: int) -> np.ndarray:
        return self.neighbors[self.starts[i] : self.starts[i + 1]]

    def mutual(self, i: int) -> np.ndarray:
        """Per member, how many of ``i``'s connections they are connected to (0 for most)."""
        hops = [self.friends(f) for f in self.friends(i)]
        if not hops:
            return np.zeros(len(self.ids), dtype=np.int64)
        return np.bincount(np.concatenate(hops), minlength=len(self.ids))

    def held(self, table: pd.DataFrame, key: str, who: str = "member_id") -> Held:
        """What each member holds of ``table`` (groups joined, newsletters followed…)."""
        return Held(self, table, key, who)


class Held:
    """Members → the keys they hold, as CSR arrays, for per-request counts in microseconds."""

    def __init__(self, g: Graph, table: pd.DataFrame, key: str, who: str):
        self.g = g
        member = pd.Categorical(table[who].astype(str), categories=g.ids).codes
        code, self.labels = pd.factorize(table[key].astype(str))
        keep = member >= 0
        member, code = member[keep], code[keep]
        order = np.argsort(member, kind="stable")
        self.keys = code[order].astype(np.int64)
        self.starts = np.concatenate(([0], np.cumsum(np.bincount(member, minlength=len(g.ids)))))
        self.labels = np.asarray(self.labels, dtype=object)

    def of(self, i: int) -> np.ndarray:
        return self.keys[self.starts[i] : self.starts[i + 1]]

    def among_friends(self, i: int) -> np.ndarray:
        """Per key, how many of member ``i``'s connections hold it."""
        parts = [self.of(f) for f in self.g.friends(i)]
        if not parts:
            return np.zeros(len(self.labels), dtype=np.int64)
        return np.bincount(np.concatenate(parts), minlength=len(self.labels))


def graph(resources: dict) -> Graph:
    """The one Graph of a server's tables (built by the first ranker that asks)."""
    if "graph" not in resources:
        resources["graph"] = Graph(resources["tables"])
    return resources["graph"]


class SocialRanker(FirstPassRanker):
    """What the built-in social rankers share: the graph, a request, the member's code."""

    def __init__(self, cohort_id, options, resources):
        super().__init__(cohort_id, options, resources)
        self.g = graph(resources)

    def request(self, member):
        return {"member_id": member.member_id, "count": int(self.options.get("count", 50))}

    def code(self, request) -> int | None:
        """The member's row in the graph, or None for a member it does not know."""
        return self.g.code.get(request["member_id"])

    def follows(self, entity_type: str) -> Held:
        """What each member follows of one entity type (``newsletter``, ``hashtag``)."""
        table = self.resources["tables"]["follows"]
        return self.g.held(table[table["entity_type"] == entity_type], "entity_id")

    def top(self, counts: np.ndarray, n: int) -> list[int]:
        """The keys with the highest non-zero counts, best first."""
        return [k for k in np.argsort(-counts, kind="stable")[:n] if counts[k]]
