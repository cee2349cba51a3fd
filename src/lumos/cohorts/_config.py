"""The cohorts config: which first-pass rankers run, with what options, and how cohorts rank.

A YAML file::

    plugin_paths: [my_plugins]      # more plugin folders (relative to this file)
    data: social                    # a folder of tables the plugins read
    tables: {courses: ../learning/courses.parquet}   # more tables, by name (decoration)
    store: ../store                 # optional: the course store (an LMDB folder)
    timeout_ms: 150                 # default time each ranker gets
    max_items: 50                   # the most items a cohort keeps
    cohorts:
      pymk_company: {plugin: pymk, options: {by: company}}
      groups: {plugin: rest_groups, timeout_ms: 200, options: {url: "http://…"}}
    ranking:
      experiment: cohort_order      # the experiment whose variant payload ranks cohorts
      order: [pymk_company, groups] # the order outside it (cohorts not named are left out)
      relevance: relevance.json     # weights of the relevance ranker, when a variant asks for it

A variant's payload is ``{cohorts: [ids in order]}`` (rules) or
``{cohort_ranker: relevance}``, optionally with ``cohorts`` naming the
candidates. Errors name the file and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lumos.errors import LumosUserError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CohortEntry(_Strict):
    plugin: str = Field(min_length=1)
    timeout_ms: float | None = Field(None, gt=0, le=60_000)
    header: str | None = None  # the catalog key of its header (default: the cohort id)
    options: dict[str, Any] = Field(default_factory=dict)


class Ranking(_Strict):
    experiment: str | None = None
    order: list[str] = Field(default_factory=list)
    relevance: str | None = None


class CohortsConfig(_Strict):
    plugin_paths: list[str] = Field(default_factory=list)
    data: str | None = None
    tables: dict[str, str] = Field(default_factory=dict)  # more tables: name → file
    store: str | None = None
    catalogs: str | None = None
    timeout_ms: float = Field(150.0, gt=0, le=60_000)
    max_items: int = Field(50, ge=1, le=1000)
    cohorts: dict[str, CohortEntry] = Field(min_length=1)
    ranking: Ranking = Field(default_factory=Ranking)
    source: str = ""
    base: str = "."

    def path(self, value: str | None) -> Path | None:
        """A path of the config, relative to the config file's folder."""
        return None if value is None else Path(self.base) / value


def load_config(path) -> CohortsConfig:
    """Read and check a cohorts YAML file.

    Raises
    ------
    LumosUserError
        Naming the file and the field, the value received and what to do.
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise LumosUserError(
            f"cannot read the cohorts config {str(path)!r}: {exc.strerror}.", code="file_not_found"
        ) from None
    except yaml.YAMLError as exc:
        raise LumosUserError(
            f"cohorts config {str(path)!r} is not YAML: {exc}", code="bad_config"
        ) from None
    return parse_config(raw, source=str(path), base=path.parent)


def parse_config(raw, *, source: str = "<config>", base=".") -> CohortsConfig:
    """Check a cohorts config given as a dict (see :func:`load_config`)."""
    if not isinstance(raw, dict):
        raise LumosUserError(
            f"cohorts config {source!r} must be a mapping with a 'cohorts' section; "
            f"got {type(raw).__name__}.",
            code="bad_config",
        )
    try:
        config = CohortsConfig(**raw, source=source, base=str(base))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        got = first.get("input")
        raise LumosUserError(
            f"cohorts config {source!r}, field {where!r}: {first['msg']} (got {got!r}).",
            code="bad_config",
        ) from None
    for cid in config.ranking.order:
        if cid not in config.cohorts:
            raise LumosUserError(
                f"cohorts config {source!r}, field 'ranking.order': {cid!r} is not a cohort "
                f"(the cohorts are {', '.join(config.cohorts)}).",
                code="bad_config",
            )
    return config
