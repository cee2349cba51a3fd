"""Text templates of plain named fields: what is refused, and what renders as str.format would."""

import re

import pytest

from lumos._text import MAX_PRECISION, MAX_WIDTH, TemplateError, parse_template


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{company.__class__.__mro__}", "attribute access"),
        ("{x[0]}", "indexing"),
        ("{x!r}", "conversion"),
        ("{x!s}", "conversion"),
        ("{x!a}", "conversion"),
        ("{x:>99999999}", "width 99999999 is over 64"),
        ("{x:0{w}}", "nested field"),
        ("{x:.99f}", "precision 99 is over 12"),
        ("{x:" + "9" * 5000 + "}", "width 999999999999... is over 64"),
        ("{x:%b %Y}", "not the standard grammar"),
        ("{0}", "not a plain name"),
        ("{}", "empty field"),
        ("{x", "not a valid template"),
    ],
)
def test_unsafe_or_broken_templates_are_refused(text, reason):
    with pytest.raises(TemplateError, match=re.escape(reason)):
        parse_template(text)


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("People you may know from {company}", {"company": "Acme"}),
        ("{{literal}} #{tag} and {{ more }}", {"tag": "ml"}),
        ("{n:,} rows, {share:+.1%}, {x:*^12.3s}|", {"n": 12345, "share": 0.25, "x": "abcdef"}),
        (f"{{x:>{MAX_WIDTH}.{MAX_PRECISION}f}}", {"x": 1 / 3}),
        ("no fields", {}),
    ],
)
def test_accepted_templates_render_as_str_format(text, values):
    template = parse_template(text)
    assert template.render(values) == text.format(**values)
    assert template.names == set(values)


def test_allowed_names_and_missing_values():
    with pytest.raises(TemplateError, match="is not one of score, gap"):
        parse_template("{typical}", allowed=("score", "gap"))
    with pytest.raises(KeyError):
        parse_template("{company}").render({})
