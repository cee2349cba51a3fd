"""docs/data.md is lumos.data.schemas_markdown(), and that text follows the schemas."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from lumos.data import SCHEMAS, schemas_markdown
from lumos.data import _schema_docs as docs
from lumos.errors import LumosUserError

PAGE = Path(__file__).parents[2] / "docs" / "data.md"
MARKER = "<!-- made by lumos.data.schemas_markdown(): edit the schemas, not this page -->"


def test_page_holds_the_functions_output():
    intro, marker, made = PAGE.read_text(encoding="utf-8").partition(MARKER)
    assert marker, f"docs/data.md lost its marker line {MARKER!r}"
    assert intro.strip(), "docs/data.md needs its intro above the marker"
    assert made == "\n\n" + schemas_markdown(), (
        "docs/data.md is stale: replace what follows its marker line (after one blank line) "
        "with the output of lumos.data.schemas_markdown()"
    )


def test_every_table_and_column_is_on_the_page():
    text = schemas_markdown()
    for name, schema in SCHEMAS.items():
        section = text.split(f"### `{name}`\n", 1)[1].split("\n### ", 1)[0]
        for column in schema.names:
            assert f"| `{column}` |" in section, (name, column)


def test_optional_text_and_types_come_from_the_schemas():
    courses = schemas_markdown(["courses"])
    assert "| `author` | text | may be empty |" in courses
    assert "| `duration` | number | required |" in courses
    assert "| `release_date` | date | required |" in courses
    assert "Each `course_id` appears once." in courses
    assert "| `timestamp` | time | required |" in schemas_markdown(["interactions"])


def test_a_sentence_about_a_column_no_schema_holds_is_an_error(monkeypatch):
    monkeypatch.setitem(docs._COLUMNS, ("contracts", "seats"), "units")
    with pytest.raises(LumosUserError, match=r"contracts\.seats"):
        schemas_markdown()


def test_a_new_table_is_listed_even_before_it_is_described(monkeypatch):
    monkeypatch.setitem(SCHEMAS, "regions", pa.schema([("region_id", pa.string())]))
    text = schemas_markdown()
    assert "## Other tables\n\n### `regions`" in text


def test_an_unknown_table_is_refused():
    with pytest.raises(LumosUserError, match="Unknown table 'nope'"):
        schemas_markdown(["nope"])
