"""Any first-pass ranker run as its own HTTP service (``lumos cohorts fpr-service``).

Options: ``url`` of the service's ``/v1/recommendations``. The service answers
in its own shape — ``{"elements": [{"urn": "group:G0001", "relevance": 0.8,
"why": {...}, "extra": {...}}]}`` — which this plugin transforms.
"""

from __future__ import annotations

from lumos.cohorts import RestRanker


class RestCohort(RestRanker):
    def request(self, member):
        return {"member_id": member.member_id, "count": int(self.options.get("count", 50))}

    def transform(self, raw, member):
        out = []
        for e in raw["elements"]:
            kind, _, item = e["urn"].partition(":")
            r = self.result(item, e["relevance"], e.get("why") or {}, **(e.get("extra") or {}))
            r.item_type = kind
            out.append(r)
        return out
