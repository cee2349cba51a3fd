"""First-pass rankers as plugins: the unified result, the plugin interface and the plugin pool.

A first-pass ranker (FPR) recommends one kind of thing — people from your
company, groups, events, courses — in its own way and answers in its own
shape. A plugin wraps one: it builds the downstream request from the member's
context, fetches (in process, or over HTTP with :class:`RestRanker`), and
transforms the raw answer into :class:`DiscoveryResult` rows. Plugins are
modules in a plugin pool (the built-in ``plugins`` folder beside this module
and any folder a config names); a config entry turns one on as a cohort.
Adding a cohort type is one module and one config line.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lumos.errors import LumosUserError

BUILTIN = Path(__file__).parent / "plugins"


@dataclass(slots=True)
class DiscoveryResult:
    """One recommended item in the shape every first-pass ranker's answer is put in.

    Parameters
    ----------
    item_id : str
    item_type : str
        ``member``, ``group``, ``event``, ``newsletter``, ``hashtag``, ``course``, …
    cohort_id : str
        The cohort it belongs to (the config's name for the ranker).
    score : float
        The first-pass ranker's score; items of a cohort are shown best first.
    context : dict
        Values for the cohort's header template, e.g. ``{"company": "Acme"}``.
    metadata : dict
        Anything the ranker wants to pass on (shown under ``metadata``), e.g.
        ``{"mutual_connections": 4}``.
    tracking_id : str
        Minted when the mid-tier fetched the item; filled by the mid-tier.
    """

    item_id: str
    item_type: str
    cohort_id: str
    score: float
    context: dict = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)
    tracking_id: str = ""


@dataclass(frozen=True)
class MemberContext:
    """What the mid-tier knows of the member a page is for."""

    member_id: str
    attributes: dict = field(default_factory=dict)
    treatment: str = "default"


class FirstPassRanker:
    """The interface a first-pass ranker plugin implements.

    Subclass it in a module of a plugin pool, set ``item_type``, and
    implement :meth:`request`, :meth:`fetch` and :meth:`transform`. The
    constructor gets the cohort id, the config entry's ``options`` and the
    shared ``resources`` (tables the server loaded, its store); do any
    indexing there, once.

    Examples
    --------
    >>> import asyncio
    >>> class Popular(FirstPassRanker):
    ...     item_type = "course"
    ...     def request(self, member):
    ...         return {"count": self.options.get("count", 2)}
    ...     async def fetch(self, request, http):
    ...         return [["c9", 0.9], ["c4", 0.7], ["c1", 0.2]][: request["count"]]
    ...     def transform(self, raw, member):
    ...         return [self.result(item, score) for item, score in raw]
    >>> ranker = Popular("popular", {"count": 2}, {})
    >>> raw = asyncio.run(ranker.fetch(ranker.request(MemberContext("m1")), None))
    >>> [r.item_id for r in ranker.transform(raw, MemberContext("m1"))]
    ['c9', 'c4']
    """

    item_type: str = "item"

    def __init__(self, cohort_id: str, options: dict, resources: dict):
        self.cohort_id, self.options, self.resources = cohort_id, dict(options), resources

    def request(self, member: MemberContext) -> Any:
        """The downstream request for ``member`` (a dict of parameters, typically)."""
        raise NotImplementedError

    async def fetch(self, request, http) -> Any:
        """The downstream's raw answer.

        ``http`` is the mid-tier's client: ``await http.get_json(url, params)``
        over kept-alive connections (:class:`~lumos.cohorts._http.HttpPool`).
        """
        raise NotImplementedError

    def transform(self, raw, member: MemberContext) -> list[DiscoveryResult]:
        """The raw answer as :class:`DiscoveryResult` rows, best first."""
        raise NotImplementedError

    def result(self, item_id, score, context=None, **metadata) -> DiscoveryResult:
        """A :class:`DiscoveryResult` of this ranker's cohort and item type."""
        return DiscoveryResult(
            str(item_id), self.item_type, self.cohort_id, float(score), context or {}, metadata
        )


class RestRanker(FirstPassRanker):
    """A first-pass ranker behind HTTP: ``GET {url}`` with :meth:`request`'s parameters.

    Options: ``url`` (required). The answer's JSON goes to :meth:`transform`.
    """

    def __init__(self, cohort_id: str, options: dict, resources: dict):
        super().__init__(cohort_id, options, resources)
        if not isinstance(self.options.get("url"), str):
            raise LumosUserError(
                f"cohort {cohort_id!r}: a REST ranker needs options.url "
                f"(http://host:port/path); got {self.options.get('url')!r}.",
                code="bad_config",
            )

    async def fetch(self, request, http):
        return await http.get_json(self.options["url"], request)


class PluginPool:
    """The plugin modules a server may use, by name: ``{folder}/{name}.py``.

    Parameters
    ----------
    folders : list of path-like
        Searched in order after the built-in plugins; a module of the same
        name in a later folder is an error (one name, one plugin).
    """

    def __init__(self, folders=()):
        self.folders = [BUILTIN, *(Path(f) for f in folders)]
        self.modules: dict[str, Path] = {}
        for folder in self.folders:
            if not folder.is_dir():
                raise LumosUserError(
                    f"plugin folder {str(folder)!r} does not exist; fix plugin_paths.",
                    code="bad_config",
                )
            for path in sorted(folder.glob("*.py")):
                if path.stem.startswith("_"):
                    continue
                if path.stem in self.modules:
                    raise LumosUserError(
                        f"plugin {path.stem!r} is in both {str(self.modules[path.stem])!r} and "
                        f"{str(path)!r}; rename one.",
                        code="bad_config",
                    )
                self.modules[path.stem] = path

    def load(self, name: str) -> type[FirstPassRanker]:
        """The :class:`FirstPassRanker` subclass that module ``name`` defines."""
        if name not in self.modules:
            raise LumosUserError(
                f"no plugin {name!r} in the plugin pool (it has {', '.join(sorted(self.modules))}"
                "); add a module or fix the config's plugin.",
                code="unknown_plugin",
            )
        path = self.modules[name]
        module_name = f"lumos_plugins.{name}_{abs(hash(str(path))):x}"
        module = sys.modules.get(module_name)
        if module is None:
            spec = importlib.util.spec_from_file_location(module_name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            try:
                spec.loader.exec_module(module)
            except Exception:
                del sys.modules[module_name]
                raise
        found = [
            obj
            for obj in vars(module).values()
            if inspect.isclass(obj)
            and issubclass(obj, FirstPassRanker)
            and obj.__module__ == module.__name__
        ]
        if len(found) != 1:
            raise LumosUserError(
                f"plugin module {str(path)!r} must define exactly one FirstPassRanker "
                f"subclass; it defines {len(found)}.",
                code="bad_plugin",
            )
        return found[0]
