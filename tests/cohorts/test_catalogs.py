"""Message catalogs: checked when read, so no header reaches Python's internals or grows huge."""

import pytest

from lumos.cohorts import Catalogs
from lumos.errors import LumosUserError


def write(folder, headers: dict, **others):
    folder.mkdir(exist_ok=True)
    lines = ["headers:" if headers else "headers: {}"]
    lines += [f"  {k}: {v!r}" for k, v in headers.items()]
    lines += [f"{k}: {v!r}" for k, v in others.items()]
    (folder / "en.yaml").write_text("\n".join(lines) + "\n")
    return folder


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("From {company.__class__.__mro__}", "attribute access"),
        ("From {company[0]}", "indexing"),
        ("From {company!r}", "conversion"),
        ("From {company:>99999999}", "width 99999999 is over 64"),
    ],
)
def test_an_unsafe_header_is_refused_when_read(tmp_path, template, reason):
    folder = write(tmp_path / "catalogs", {"pymk_company": template})
    with pytest.raises(LumosUserError) as err:
        Catalogs(folder)
    message = str(err.value)
    assert str(folder / "en.yaml") in message and "'headers.pymk_company'" in message
    assert repr(template) in message and reason in message and "plain names" in message
    assert err.value.code == "bad_config"


def test_an_unsafe_message_or_a_non_string_is_refused(tmp_path):
    folder = write(tmp_path / "a", {}, mutual="{count.real} mutual")
    with pytest.raises(LumosUserError, match=r"key 'mutual'.*attribute access"):
        Catalogs(folder)
    folder = write(tmp_path / "b", {"groups": ["a", "list"]})
    with pytest.raises(LumosUserError, match=r"'headers\.groups': a message must be a string"):
        Catalogs(folder)


def test_headers_fill_and_fall_back_as_before(tmp_path):
    folder = write(
        tmp_path / "catalogs",
        {"pymk_company": "From {company:.3}", "events": "In {region}"},
        see_all="More",
        mutual="{count:>3} in common",
    )
    catalogs = Catalogs(folder)
    assert catalogs.header("en", "pymk_company", {"company": "Acmeco"}) == "From Acm"
    assert catalogs.header("en", "events", {}) == "Recommended for you"  # the default
    assert catalogs.header("en", "pymk_company", {"company": 3.5}) == "From 3.5"
    assert catalogs.header("en-GB", "hashtags", {"hashtag": "ml"}) == "Because you follow #ml"
    assert catalogs.text("en", "see_all") == "More" and catalogs.text("fr", "nope") is None
    assert catalogs.text("en", "mutual", count=4) == "  4 in common"
