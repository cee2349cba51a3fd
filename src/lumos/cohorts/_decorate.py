"""Decoration: cohort headers from message catalogs, items from entity tables.

A catalog is a YAML file per locale (``en.yaml``, ``fr.yaml`` beside this
module, or a folder the config names) holding a header template per cohort —
``"People you may know from {company}"`` — filled from the member's
attributes and the cohort's top item's context. A header whose template
needs a value the context lacks falls back to the catalog's ``default``; a
locale the catalogs lack falls back to English.

Every message is a :mod:`lumos._text` template, checked when the catalog is
read: fields are plain names (no ``{company.__class__}``, ``{x[0]}`` or
``{x!r}``) and a format spec's width is at most 64, its precision at most 12.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from lumos._text import TemplateError, TextTemplate, parse_template
from lumos.errors import LumosUserError

BUILTIN = Path(__file__).parent / "catalogs"
FALLBACK = "en"


class Catalogs:
    """Message catalogs by locale.

    Examples
    --------
    >>> catalogs = Catalogs()
    >>> catalogs.header("fr", "pymk_company", {"company": "Acme"})
    'Personnes que vous connaissez peut-être chez Acme'
    >>> catalogs.header("de", "pymk_company", {})   # no German catalog, no company
    'Recommended for you'
    """

    def __init__(self, folder=None):
        self.messages: dict[str, dict] = {}
        for source in (BUILTIN, *([Path(folder)] if folder else [])):
            if not source.is_dir():
                raise LumosUserError(
                    f"catalog folder {str(source)!r} does not exist.", code="bad_config"
                )
            for path in sorted(source.glob("*.yaml")):
                try:
                    data = yaml.safe_load(path.read_text()) or {}
                except yaml.YAMLError as exc:
                    raise LumosUserError(
                        f"catalog {str(path)!r} is not YAML: {exc}", code="bad_config"
                    ) from None
                if not isinstance(data, dict) or not isinstance(data.get("headers", {}), dict):
                    raise LumosUserError(
                        f"catalog {str(path)!r} needs a mapping 'headers: {{cohort: template}}'.",
                        code="bad_config",
                    )
                mine = self.messages.setdefault(path.stem, {"headers": {}})
                mine["headers"].update(
                    (key, _checked(path, f"headers.{key}", text))
                    for key, text in (data.get("headers") or {}).items()
                )
                mine.update(
                    (key, _checked(path, key, text))
                    for key, text in data.items()
                    if key != "headers"
                )

    @property
    def locales(self) -> list[str]:
        return sorted(self.messages)

    def _catalog(self, locale: str | None) -> dict:
        locale = (locale or FALLBACK).replace("_", "-")
        for key in (locale, locale.split("-")[0].lower(), FALLBACK):
            if key in self.messages:
                return self.messages[key]
        return {"headers": {}}

    def header(self, locale: str | None, key: str, context: dict) -> str:
        """The header of cohort ``key`` in ``locale``, filled from ``context``."""
        catalog = self._catalog(locale)
        english = self.messages.get(FALLBACK, {"headers": {}})["headers"]
        template = catalog["headers"].get(key) or english.get(key)
        for candidate in (template, catalog["headers"].get("default"), english.get("default")):
            if candidate is None:
                continue
            try:
                return candidate.render(context)
            except (KeyError, ValueError, TypeError):  # a value lacking, or of another kind
                continue
        return key

    def text(self, locale: str | None, key: str, **values) -> str | None:
        """Any other message of the catalog (``see_all``, ``mutual``), filled."""
        template = self._catalog(locale).get(key) or self.messages.get(FALLBACK, {}).get(key)
        return None if template is None else template.render(values)


def _checked(path: Path, key: str, text) -> TextTemplate | None:
    """The message at ``key`` of catalog ``path`` as a template, or an error naming both."""
    if text is None:  # left empty: the English message stands in
        return None
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise LumosUserError(
            f"catalog {str(path)!r}, key {key!r}: a message must be a string; got {text!r}.",
            code="bad_config",
        )
    try:
        return parse_template(str(text))
    except TemplateError as exc:
        raise LumosUserError(
            f"catalog {str(path)!r}, key {key!r}: template {str(text)!r} is refused: {exc}. "
            "Write fields as plain names, e.g. {company}, optionally with a format spec "
            "such as {company:>20}; literal braces as {{ }}.",
            code="bad_config",
        ) from None


def entity_tables(tables: dict) -> dict[str, pd.DataFrame]:
    """``item_type -> DataFrame(name, subtitle, image_url)`` indexed by item id, from tables.

    Reads what is there of the social tables (``members``, ``groups``,
    ``events``, ``newsletters``, ``hashtags``) and the learning ``courses``.
    """
    out = {}

    def put(kind, table, key, name, subtitle, image=None):
        if table is None or key not in table.columns or name not in table.columns:
            return
        frame = pd.DataFrame(
            {
                "name": table[name].astype(str).to_numpy(),
                "subtitle": (
                    table[subtitle].astype(str).to_numpy() if subtitle in table.columns else None
                ),
                "image_url": table[image].to_numpy() if image in table.columns else None,
            },
            index=table[key].astype(str).to_numpy(),
        )
        out[kind] = frame[~frame.index.duplicated()]

    put("member", tables.get("members"), "member_id", "name", "title", "image_url")
    put("group", tables.get("groups"), "group_id", "name", "topic")
    put("event", tables.get("events"), "event_id", "name", "region")
    put("newsletter", tables.get("newsletters"), "newsletter_id", "name", "topic")
    hashtags = tables.get("hashtags")
    if hashtags is not None and "hashtag" in hashtags.columns:
        put(
            "hashtag", hashtags.assign(label="#" + hashtags["hashtag"]), "hashtag", "label", "topic"
        )
    put("course", tables.get("courses"), "course_id", "title", "difficulty")
    return out


class Decorator:
    """Readable fields for items: ``name``, ``subtitle``, ``image_url`` by item type and id."""

    def __init__(self, entities: dict[str, pd.DataFrame]):
        self.entities = {
            kind: dict(
                zip(
                    t.index,
                    t.astype(object).where(t.notna(), None).itertuples(index=False, name=None),
                    strict=True,
                )
            )
            for kind, t in entities.items()
        }

    def __call__(self, item_type: str, item_id: str) -> dict:
        row = self.entities.get(item_type, {}).get(item_id)
        if row is None:
            return {"name": None, "subtitle": None, "image_url": None}
        name, subtitle, image = row
        return {"name": name, "subtitle": subtitle, "image_url": image}
