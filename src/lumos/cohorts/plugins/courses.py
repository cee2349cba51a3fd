"""Courses from the course recommender's store: the member's list of ``options.model``.

A member without a list gets the store's cold-start list.
"""

from __future__ import annotations

from lumos.cohorts import FirstPassRanker
from lumos.store import COLD_START, ranked


class CoursesForYou(FirstPassRanker):
    item_type = "course"

    def request(self, member):
        return {"member_id": member.member_id, "count": 50}

    async def fetch(self, request, http):
        store = self.resources.get("store")
        if store is None:
            raise RuntimeError("the courses cohort needs a store (the config's 'store')")
        model = self.options.get("model", "glmix")
        rows = []
        record = store.get(request["member_id"], decode=False)
        if record is not None:
            rows = ranked(record, model, stop=request["count"])
        if not rows:
            record = store.get(COLD_START, decode=False)
            rows = ranked(record, COLD_START, stop=request["count"]) if record else []
        return rows

    def transform(self, raw, member):
        return [self.result(r["item_id"], r["score"], {}, reason=r["reason_text"]) for r in raw]
