"""The input tables as Markdown, made from :data:`~lumos.data.SCHEMAS`: the page ``docs/data.md``.

Columns, their types and which may be empty come from the schemas themselves;
the allowed values and unique keys from the rules :func:`~lumos.data.validate_table`
applies; a sentence per table and per column says what it means. A sentence
about a table or column that no schema holds is an error, so the page cannot
describe what is gone.
"""

from __future__ import annotations

import pyarrow as pa

from lumos.data._schemas import (
    _IDS,
    _OPTIONAL,
    _PAIRS,
    CONTRACT_KINDS,
    FOLLOW_ENTITY_TYPES,
    INTERACTION_TYPES,
    SCHEMAS,
)
from lumos.errors import LumosUserError


def _one_of(values) -> str:
    return "one of " + ", ".join(f"`{v}`" for v in values)


#: section title → (what reads these tables, their names in order)
_GROUPS = {
    "Account prioritizer": (
        "`AccountPrioritizer.fit` / `.score` and `lumos propensity train | score` read "
        "`contracts`, `usage` and, optionally, `firmographics` (`--contracts`, `--usage`, "
        "`--firmographics`: one file each, .parquet, .csv or .jsonl).",
        ("contracts", "usage", "firmographics", "accounts"),
    ),
    "Course recommender": (
        "`CourseRecommender.fit`, `course_lists` and `lumos recommend courses | publish` read "
        "these six tables (`--tables FOLDER`: one file per table, named after it, "
        "e.g. `members.parquet`).",
        ("members", "member_skills", "courses", "course_skills", "skills", "interactions"),
    ),
    "Social network (discovery cohorts)": (
        "The built-in first-pass rankers of the discovery cohorts read these tables from the "
        "folder a cohorts config names as `data`, one file per table named without the "
        "`social_` prefix (`members.parquet`, `connections.parquet`, …); "
        "`validate_table('social_members', …)` checks one.",
        (
            "social_members",
            "social_connections",
            "social_groups",
            "social_group_members",
            "social_events",
            "social_event_attendees",
            "social_newsletters",
            "social_hashtags",
            "social_follows",
        ),
    ),
}

#: table → one sentence about its rows
_TABLES = {
    "contracts": "One row per contract: an account's units of one product over a period.",
    "usage": "One row per account, product, month and usage metric.",
    "firmographics": "Optional. One row per account and month; every other column must hold "
    "numbers (`employees`, `hiring`, …), and each becomes window features.",
    "accounts": "One row per account, with any descriptive columns (`industry`, `region`, "
    "`size`, …). The demo generates it; no job requires it.",
    "members": "One row per learner; other columns (`seniority`, …) are kept.",
    "member_skills": "The skills members wrote on their profile.",
    "courses": "The course catalogue.",
    "course_skills": "The skill taxonomy's tags of each course.",
    "skills": "The skill taxonomy.",
    "interactions": "What members did with courses: the log the supervised models learn from.",
    "social_members": "Members of the network.",
    "social_connections": "Connections, one row per direction.",
    "social_groups": "Groups members join.",
    "social_group_members": "Who is in which group.",
    "social_events": "Events members attend.",
    "social_event_attendees": "Who attends which event.",
    "social_newsletters": "Newsletters members follow.",
    "social_hashtags": "Hashtags members follow.",
    "social_follows": "What members follow: newsletters and hashtags.",
}

#: (table, column) → what the column means
_COLUMNS = {
    ("contracts", "account_id"): "the customer account",
    ("contracts", "product"): "the product contracted",
    ("contracts", "start"): "the first day the contract covers",
    ("contracts", "end"): "the first day it no longer covers (a 12-month contract from "
    "2025-01-01 ends 2026-01-01); after `start`",
    ("contracts", "quantity"): "units contracted (seats, licences); a number >= 0",
    ("contracts", "amount"): "what the contract is worth; a number >= 0",
    ("contracts", "kind"): _one_of(CONTRACT_KINDS),
    ("usage", "month"): "the first day of its month",
    ("usage", "metric"): "the usage metric's name (`searches`, `seat_utilization`, …)",
    ("usage", "value"): "the metric's value that month",
    ("firmographics", "month"): "the first day of its month",
    ("members", "title"): "job title; with `industry`, the cohort whose skills cold start mixes in",
    ("members", "industry"): "the member's industry",
    ("members", "company"): "employer",
    ("members", "region"): "where the member is",
    ("member_skills", "score"): "how strongly the member holds the skill, in [0, 1]",
    ("courses", "title"): "the course's title; the skill tagger reads it",
    ("courses", "description"): "what it teaches; the skill tagger reads it",
    ("courses", "category"): "its subject (`Finance`, `Leadership`, …); the skill tagger reads it",
    ("courses", "author"): "who teaches it",
    ("courses", "difficulty"): "`beginner`, `intermediate`, `advanced`, …",
    ("courses", "duration"): "length in seconds, > 0",
    ("courses", "release_date"): 'the day the course came out (the "new" reason reads it)',
    ("course_skills", "skill_id"): "a skill of the `skills` table",
    ("skills", "name"): "what members and reasons read (\"Because of your skill 'Python'\")",
    ("skills", "category"): "the skill's field (`Software development`, …)",
    ("interactions", "channel"): "where the course was shown (`homepage`, `email`, …)",
    ("interactions", "type"): _one_of(INTERACTION_TYPES),
    ("interactions", "seconds"): "seconds watched (`watch`; 0 for the other types), >= 0",
    ("interactions", "timestamp"): "when it happened",
    ("social_members", "name"): "the member's name",
    ("social_members", "title"): "job title",
    ("social_members", "company"): "employer",
    ("social_members", "school"): "the school the member went to",
    ("social_members", "region"): "where the member is",
    ("social_members", "image_url"): "the member's picture",
    ("social_members", "joined"): "when the member joined",
    ("social_connections", "other_id"): "the other member; never `member_id` itself",
    ("social_connections", "since"): "when they connected",
    ("social_events", "region"): "where it takes place",
    ("social_events", "starts"): "when it starts",
    ("social_newsletters", "author_id"): "the member who writes it",
    ("social_hashtags", "hashtag"): "lower-case, without `#`",
    ("social_follows", "entity_type"): _one_of(FOLLOW_ENTITY_TYPES),
    ("social_follows", "entity_id"): "a `newsletter_id`, or the hashtag",
}

#: column → what it means in any table (where ``_COLUMNS`` says nothing more)
_NAMES = {
    "account_id": "the customer account",
    "member_id": "the member",
    "course_id": "the course",
    "skill_id": "the skill",
    "group_id": "the group",
    "event_id": "the event",
    "newsletter_id": "the newsletter",
    "product": "the product",
    "name": "what pages show it as",
    "topic": "what it is about",
}

#: table → the columns no two rows may share, beyond ``_IDS`` and ``_PAIRS``
_KEYS = {
    "usage": ["account_id", "product", "month", "metric"],
    "firmographics": ["account_id", "month"],
}

#: Arrow type → (the word the page uses, how a value is written)
_TYPES = {
    pa.string(): ("text", "any text"),
    pa.float64(): ("number", "a number; read as a 64-bit float"),
    pa.date32(): ("date", "a calendar date, `YYYY-MM-DD`"),
    pa.timestamp("s"): ("time", "a date and time, ISO 8601 (`2025-03-02 14:05:00`)"),
}


def _check_sentences() -> None:
    """Every sentence is about a table and column a schema holds."""
    placed = [name for _, names in _GROUPS.values() for name in names]
    stale = [t for t in {*placed, *_TABLES, *_KEYS} if t not in SCHEMAS]
    stale += [f"{t}.{c}" for t, c in _COLUMNS if t not in SCHEMAS or c not in SCHEMAS[t].names]
    columns = {c for schema in SCHEMAS.values() for c in schema.names}
    stale += [f"column {c}" for c in _NAMES if c not in columns]
    stale += [f"{t}.{c}" for t, cols in _KEYS.items() for c in cols if c not in SCHEMAS[t].names]
    if stale:
        raise LumosUserError(
            f"lumos.data._schema_docs describes {', '.join(sorted(stale))}, which no schema of "
            "lumos.data.SCHEMAS holds; update the sentences.",
            code="bad_argument",
        )


def _unique(name: str) -> list[str] | None:
    if name in _IDS:
        return [_IDS[name]]
    return _PAIRS.get(name) or _KEYS.get(name)


def _table(name: str) -> list[str]:
    schema = SCHEMAS[name]
    lines = [f"### `{name}`", ""]
    if name in _TABLES:
        lines += [_TABLES[name], ""]
    lines += ["| column | type | value | meaning |", "|---|---|---|---|"]
    for field in schema:
        if field.type not in _TYPES:
            raise LumosUserError(
                f"schema {name!r}, column {field.name!r}: type {field.type} has no word in "
                "lumos.data._schema_docs; add it to _TYPES.",
                code="bad_argument",
            )
        word = _TYPES[field.type][0]
        value = "may be empty" if (name, field.name) in _OPTIONAL else "required"
        meaning = _COLUMNS.get((name, field.name)) or _NAMES.get(field.name, "")
        lines.append(f"| `{field.name}` | {word} | {value} | {meaning} |")
    unique = _unique(name)
    if unique:
        keys = ", ".join(f"`{c}`" for c in unique)
        lines += ["", f"Each {keys if len(unique) == 1 else f'({keys})'} appears once."]
    return [*lines, ""]


def schemas_markdown(tables=None) -> str:
    """The input tables' schemas as Markdown: the text of ``docs/data.md`` below its intro.

    One section per system, one table per input table: each column's name,
    type (text, number, date, time), whether its value may be empty, and what it
    means; then the columns whose values, together, no two rows may share.

    Parameters
    ----------
    tables : list of str, optional
        Only these tables of :data:`~lumos.data.SCHEMAS` (default: all, and the
        legend of the types).

    Examples
    --------
    >>> print(schemas_markdown(["course_skills"]))
    ## Course recommender
    <BLANKLINE>
    `CourseRecommender.fit`, `course_lists` and `lumos recommend courses | publish` read these six tables (`--tables FOLDER`: one file per table, named after it, e.g. `members.parquet`).
    <BLANKLINE>
    ### `course_skills`
    <BLANKLINE>
    The skill taxonomy's tags of each course.
    <BLANKLINE>
    | column | type | value | meaning |
    |---|---|---|---|
    | `course_id` | text | required | the course |
    | `skill_id` | text | required | a skill of the `skills` table |
    <BLANKLINE>
    """  # noqa: E501
    _check_sentences()
    chosen = list(SCHEMAS) if tables is None else list(tables)
    unknown = [t for t in chosen if t not in SCHEMAS]
    if unknown:
        raise LumosUserError(
            f"Unknown table {unknown[0]!r}; use one of {', '.join(SCHEMAS)}.", code="bad_argument"
        )
    lines = []
    if tables is None:
        lines += [
            "Every column a table lists must be present; a *required* value may not be "
            "empty, and other columns are kept. Types:",
            "",
            *[f"- **{word}**: {how}." for word, how in _TYPES.values()],
            "",
        ]
    groups = dict(_GROUPS)
    placed = {n for _, names in _GROUPS.values() for n in names}
    rest = tuple(n for n in SCHEMAS if n not in placed)
    if rest:
        groups["Other tables"] = ("", rest)
    for title, (readers, names) in groups.items():
        names = [n for n in names if n in chosen]
        if not names:
            continue
        lines += [f"## {title}", ""]
        if readers:
            lines += [readers, ""]
        for name in names:
            lines += _table(name)
    return "\n".join(lines)
