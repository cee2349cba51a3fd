"""The cohorts mid-tier: first-pass rankers fetched in parallel, a second-pass order, pages.

For a page, one workflow runs every enabled ranker's fetch → transform chain
concurrently (each fetch with its timeout) and merges what arrived in time:
tracking ids are minted as each ranker's items come back, the second-pass
ranker the member's experiment variant names orders the cohorts, and a
``served`` event (channel ``midtier``) records what the mid-tier returned.
A ranker that fails or times out is left out of the page, logged and counted.

Pages of one cohort come from a snapshot of what was fetched, so an item never
appears on two pages; page tokens are opaque and signed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import secrets
import time
from collections import OrderedDict
from pathlib import Path

import pandas as pd

from lumos.cohorts._config import CohortsConfig
from lumos.cohorts._decorate import Catalogs, Decorator, entity_tables
from lumos.cohorts._http import HttpPool
from lumos.cohorts._plugin import DiscoveryResult, MemberContext, PluginPool
from lumos.cohorts._rank import MIDTIER, Engagement, RelevanceRanker, RuleRanker
from lumos.cohorts._workflow import Operator, Workflow
from lumos.data import TABLE_SUFFIXES, read_table
from lumos.data import read_tables as read_folder
from lumos.errors import ApiError, LumosUserError
from lumos.events import new_ids, served_lines

log = logging.getLogger("lumos.cohorts")


PageError = ApiError  # the name of a release ago; the API's one error class


def read_tables(folder) -> dict[str, pd.DataFrame]:
    """Every table of a folder (any file :func:`~lumos.data.read_table` reads), by file stem."""
    folder = Path(folder)
    if not folder.is_dir():
        raise LumosUserError(
            f"cohorts data folder {str(folder)!r} does not exist; fix 'data' in the config.",
            code="bad_config",
        )
    names = sorted({p.stem for p in folder.iterdir() if p.suffix in TABLE_SUFFIXES})
    return read_folder(folder, names)


class _Http:
    """The mid-tier's HTTP client as plugins see it: made on first use, in the running loop."""

    def __init__(self, owner):
        self._owner = owner

    def __getattr__(self, name):
        return getattr(self._owner._client(), name)


def member_features(config) -> pd.DataFrame | None:
    """The numeric member attributes a cohorts YAML's data gives (``connections``, …), one
    row per member: what the relevance ranker reads; None when there are none."""
    from lumos.cohorts._config import load_config

    parsed = load_config(config)
    parsed.ranking.relevance = None
    parsed.ranking.experiment = None
    service = CohortService(parsed)
    try:
        frame = pd.DataFrame.from_dict(service.members, orient="index")
    finally:
        service.close()
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    frame = frame[numeric].rename_axis("member_id").reset_index()
    return frame if len(frame.columns) > 1 else None


class CohortService:
    """Cohort pages for members: the mid-tier and what the API needs of it.

    Parameters
    ----------
    config : CohortsConfig
    experiments : Experiments, optional
        Chooses each member's second-pass ranker (``ranking.experiment``).
    tables : dict of DataFrame, optional
        The tables plugins read; default the config's ``data`` folder.
    store : optional
        The course store, for rankers that read it (``resources["store"]``).

    A member the members table does not hold gets the same pages, and leaves no
    trace: no served events, no engagement. What the service remembers
    (engagement, page snapshots) is bounded.
    """

    def __init__(self, config: CohortsConfig, *, experiments=None, tables=None, store=None):
        self.config = config
        self.pool = PluginPool([config.path(p) for p in config.plugin_paths])
        if tables is None:
            tables = read_tables(config.path(config.data)) if config.data else {}
            for name, file in config.tables.items():
                tables[name] = read_table(config.path(file), what=f"table {name!r} of the config")
        self._own_store = store is None and bool(config.store)
        if self._own_store:
            from lumos.store import open_store

            store = open_store(str(config.path(config.store)), readonly=True)
        members = tables.get("members")
        self.members: dict[str, dict] = {}
        if members is not None:
            frame = members.set_index(members["member_id"].astype(str), drop=False)
            connections = tables.get("connections")
            if connections is not None:
                degree = connections["member_id"].astype(str).value_counts()
                frame = frame.assign(connections=degree.reindex(frame.index).fillna(0).to_numpy())
            self.members = frame.to_dict("index")
        self.resources = {"tables": tables, "store": store, "members": self.members}
        self.rankers = {}
        try:
            for cid, entry in config.cohorts.items():
                cls = self.pool.load(entry.plugin)
                try:
                    self.rankers[cid] = cls(cid, entry.options, self.resources)
                except LumosUserError:
                    raise
                except Exception as exc:
                    raise LumosUserError(
                        f"cohort {cid!r} (plugin {entry.plugin!r}) could not start: "
                        f"{type(exc).__name__}: {exc}. It reads the tables "
                        f"{', '.join(sorted(tables)) or '(none)'}; check the config's data "
                        "and options.",
                        code="bad_config",
                    ) from exc
        except BaseException:
            self.close()
            raise
        self.rules = RuleRanker(config.ranking.order or list(config.cohorts))
        self.relevance = None
        if config.ranking.relevance:
            self.relevance = RelevanceRanker.load(config.path(config.ranking.relevance))
        self.experiments = experiments
        if config.ranking.experiment and (
            experiments is None or config.ranking.experiment not in experiments.experiments
        ):
            raise LumosUserError(
                f"cohorts config {config.source!r}, field 'ranking.experiment': "
                f"{config.ranking.experiment!r} is not in the experiments config; give "
                "--experiments with it, or remove the field.",
                code="bad_config",
            )
        self.catalogs = Catalogs(config.path(config.catalogs) if config.catalogs else None)
        self.decorate = Decorator(entity_tables(tables))
        self.engagement = Engagement()
        self._record = self._on_failure = self._on_fetch = None
        self._secret = secrets.token_bytes(16)
        self._snapshots: OrderedDict[str, tuple] = OrderedDict()
        self.snapshot_ttl, self.max_snapshots = 900.0, 20_000
        self._http, self._http_loop = None, None

    def connect(self, *, record=None, on_failure=None, on_fetch=None) -> CohortService:
        """Where the service reports: ``record(lines)`` takes the served events' JSON lines
        (the server's event log), ``on_failure(cohort_id, reason)`` a ranker left out of a
        page (``timeout`` or ``error``), ``on_fetch(cohort_id, seconds)`` each ranker's fetch
        time. Returns the service."""
        self._record, self._on_failure, self._on_fetch = record, on_failure, on_fetch
        return self

    # -- plumbing ------------------------------------------------------------------
    def _client(self):
        """The HTTP client of this event loop (made once per loop)."""
        loop = asyncio.get_running_loop()
        if self._http is None or self._http_loop is not loop:
            self._http, self._http_loop = HttpPool(), loop
        return self._http

    async def aclose(self) -> None:
        """Close the HTTP client and the store this service opened."""
        if self._http is not None:
            if self._http_loop is asyncio.get_running_loop():
                await self._http.close()
            self._http = None
        self.close()

    def close(self) -> None:
        """Close the store this service opened (not one it was given)."""
        if self._own_store and self.resources["store"] is not None:
            self.resources["store"].close()
            self.resources["store"] = None

    def member(self, member_id: str) -> MemberContext:
        attributes = self.members.get(member_id, {})
        treatment, payload = "default", {}
        name = self.config.ranking.experiment
        if name:
            variant = self.experiments.assign(member_id, attributes).get(name)
            if variant is not None:
                treatment, payload = f"{name}:{variant}", self.experiments[name].payload(variant)
        return MemberContext(member_id, attributes, treatment), payload

    def _ranker(self, payload: dict):
        order = payload.get("cohorts")
        if payload.get("cohort_ranker") == "relevance" and self.relevance is not None:
            return self.relevance, order
        return (RuleRanker(order) if order else self.rules), None

    # -- the workflow ----------------------------------------------------------------
    async def fetch(self, member: MemberContext, cohort_ids, want=None) -> tuple[dict, dict]:
        """Run the rankers of ``cohort_ids``: ``({cohort: [results]}, {cohort: reason})``.

        ``want``: the most items a cohort shows; a ranker whose request is a
        dict with a ``count`` is asked for no more.
        """
        http = _Http(self)
        ops = []
        for cid in cohort_ids:
            ranker = self.rankers[cid]
            timeout = (self.config.cohorts[cid].timeout_ms or self.config.timeout_ms) / 1000

            async def fetch(ranker=ranker):
                request = ranker.request(member)
                if want is not None and isinstance(request, dict) and "count" in request:
                    request = {**request, "count": min(int(request["count"]), want)}
                return await ranker.fetch(request, http)

            def transform(ranker=ranker, **got):
                (raw,) = got.values()
                results = ranker.transform(raw, member)[: self.config.max_items]
                for r, tracking in zip(results, new_ids(len(results)), strict=True):
                    r.tracking_id = tracking  # minted as the ranker's items arrive
                return results

            ops += [
                Operator(f"{cid}.fetch", fetch, timeout=timeout, abandon=True),
                Operator(f"{cid}.transform", transform, (f"{cid}.fetch",)),
            ]
        outcome = await Workflow(ops).run()
        got, failed = {}, {}
        for cid in cohort_ids:
            reason = outcome.failures.get(f"{cid}.fetch") or outcome.failures.get(
                f"{cid}.transform"
            )
            if reason is not None:
                failed[cid] = "timeout" if reason == "timeout" else "error"
                log.warning("cohort %s left out for %s: %s", cid, member.member_id, reason)
                if self._on_failure is not None:
                    self._on_failure(cid, failed[cid])
            else:
                got[cid] = outcome.outputs[f"{cid}.transform"]
            if self._on_fetch is not None and f"{cid}.fetch" in outcome.seconds:
                self._on_fetch(cid, outcome.seconds[f"{cid}.fetch"])
        return got, failed

    @property
    def held(self) -> dict[str, int]:
        """Entries kept per member and page (engagement, page snapshots), each bounded."""
        return {"cohort_engagement": self.engagement.size, "cohort_snapshots": len(self._snapshots)}

    def knows(self, member_id: str) -> bool:
        """Whether the members table holds ``member_id`` (every id, without one)."""
        return not self.members or member_id in self.members

    def _served(self, member, cohort_id, results, start, channel) -> None:
        if not self.knows(member.member_id):  # an unknown caller's page leaves no state
            return
        if channel != MIDTIER:  # what the member is shown: the relevance ranker's engagement
            for r in results:
                self.engagement.served_one(member.member_id, cohort_id, r.tracking_id)
        if self._record is None or not results:
            return
        ids = new_ids(len(results))
        self._record(
            served_lines(
                member.member_id,
                [
                    (e, r.tracking_id, r.item_id, start + p)
                    for p, (e, r) in enumerate(zip(ids, results, strict=True))
                ],
                channel=channel,
                model_id=self.config.cohorts[cohort_id].plugin,
                treatment=member.treatment,
                ts=time.time(),
                cohort=cohort_id,
                item_type=results[0].item_type,
            )
        )

    # -- snapshots and tokens -----------------------------------------------------------
    def _snapshot(self, member_id: str, cohorts: dict) -> str:
        key = secrets.token_hex(8)
        self._snapshots[key] = (member_id, cohorts, time.monotonic())
        while len(self._snapshots) > self.max_snapshots:
            self._snapshots.popitem(last=False)
        return key

    def token(self, snapshot: str, cohort_id: str, offset: int) -> str:
        body = f"{snapshot}|{offset}|{cohort_id}".encode()
        sig = hmac.new(self._secret, body, hashlib.sha256).digest()[:8]
        return base64.urlsafe_b64encode(sig + body).decode().rstrip("=")

    def _untoken(self, token: str, member_id: str, cohort_id: str):
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            sig, body = raw[:8], raw[8:]
            ok = hmac.compare_digest(sig, hmac.new(self._secret, body, hashlib.sha256).digest()[:8])
            snapshot, offset, cid = body.decode().split("|", 2)
            offset = int(offset)
        except (ValueError, UnicodeDecodeError):
            ok = False
        if not ok or cid != cohort_id:
            raise ApiError(
                400,
                "bad_page_token",
                "page_token is not one this server gave for this cohort; start again "
                "without page_token.",
                "page_token",
            )
        held = self._snapshots.get(snapshot)
        if held is None or held[0] != member_id or time.monotonic() - held[2] > self.snapshot_ttl:
            raise ApiError(
                410,
                "page_token_expired",
                "this page_token has expired; fetch the cohort again without page_token.",
                "page_token",
            )
        return held, offset, snapshot

    # -- what the API serves ----------------------------------------------------------
    def _header(self, locale, cohort_id, member, results) -> str:
        context = {k: v for k, v in member.attributes.items() if isinstance(v, str)}
        if results:
            context |= {k: str(v) for k, v in results[0].context.items()}
        key = self.config.cohorts[cohort_id].header or cohort_id
        return self.catalogs.header(locale, key, context)

    def _items(self, results: list[DiscoveryResult], start: int) -> list[dict]:
        return [
            {
                "item_id": r.item_id,
                "item_type": r.item_type,
                "score": r.score,
                "tracking_id": r.tracking_id,
                "position": start + p,
                **self.decorate(r.item_type, r.item_id),
                "metadata": r.metadata,
            }
            for p, r in enumerate(results)
        ]

    async def page(self, member_id: str, *, max_items=5, locale=None, channel=None) -> dict:
        """The member's cohorts, ordered, each with its first ``max_items`` and a see-all link.

        Rankers are asked for ``max_items`` each; the see-all link fetches the
        whole cohort, whose pages come from a snapshot of it.
        """
        member, payload = self.member(member_id)
        ranker, candidates = self._ranker(payload)
        ids = [c for c in (candidates or self.rankers) if c in self.rankers]
        if isinstance(ranker, RuleRanker):
            ids = [c for c in ids if c in ranker.order]  # fetch only what the page shows
        got, failed = await self.fetch(member, ids, want=max_items)
        order = ranker.rank(
            member_id,
            [c for c in ids if got.get(c)],
            engagement=self.engagement,
            member=member.attributes,
        )
        cohorts = []
        for cid in order:
            first = got[cid][:max_items]
            self._served(member, cid, first, 0, MIDTIER)
            self._served(member, cid, first, 0, channel)
            cohorts.append(
                {
                    "cohort_id": cid,
                    "header": self._header(locale, cid, member, got[cid]),
                    "items": self._items(first, 0),
                    "see_all": {  # the whole cohort, fetched when asked for
                        "label": self.catalogs.text(locale, "see_all"),
                        "href": f"/v1/members/{member_id}/cohorts/{cid}",
                    },
                }
            )
        return {
            "member_id": member_id,
            "treatment": member.treatment,
            "ranker": ranker.name,
            "cohorts": cohorts,
            "left_out": sorted(failed),
        }

    async def cohort(
        self, member_id, cohort_id, *, page_token=None, count=10, locale=None, channel=None
    ) -> dict:
        """One cohort, a page of ``count`` items; ``next_page_token`` while more remain."""
        if cohort_id not in self.rankers:
            raise ApiError(
                404,
                "unknown_cohort",
                f"no cohort {cohort_id!r} (the cohorts are {', '.join(self.rankers)}).",
                "cohort_id",
            )
        member, _ = self.member(member_id)
        if page_token is None:
            got, failed = await self.fetch(member, [cohort_id])
            if cohort_id in failed:
                raise ApiError(
                    503,
                    "cohort_unavailable",
                    f"cohort {cohort_id!r} did not answer in time ({failed[cohort_id]}); "
                    "try again.",
                    "cohort_id",
                )
            snapshot, offset, results = self._snapshot(member_id, got), 0, got[cohort_id]
        else:
            (_, got, _), offset, snapshot = self._untoken(page_token, member_id, cohort_id)
            results = got.get(cohort_id, [])
        page = results[offset : offset + count]
        self._served(member, cohort_id, page, offset, MIDTIER)
        self._served(member, cohort_id, page, offset, channel)
        more = offset + count < len(results)
        return {
            "member_id": member_id,
            "cohort_id": cohort_id,
            "header": self._header(locale, cohort_id, member, results),
            "total": len(results),
            "items": self._items(page, offset),
            "next_page_token": self.token(snapshot, cohort_id, offset + count) if more else None,
        }
