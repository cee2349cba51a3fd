"""Text templates that cannot surprise: plain named fields and small format specs.

A template is literal text around fields, ``"People you may know from
{company}"``. Operators write templates (cohort catalogs, insights designs);
the values filled in come from members' and accounts' data, and the server
renders them for any caller. So a template here is narrower than
``str.format``:

* a field is a plain name — letters, digits and underscores, not starting
  with a digit. No attribute access (``{x.y}``), no indexing (``{x[0]}``), no
  conversion (``{x!r}``), no nested field in a spec (``{x:{w}}``);
* a format spec follows Python's standard grammar
  (``[[fill]align][sign][z][#][0][width][grouping][.precision][type]``) with
  a width of at most :data:`MAX_WIDTH` and a precision of at most
  :data:`MAX_PRECISION`; a caller may accept its own named specs beside it.

:func:`parse_template` checks a template once, where it is loaded, and raises
:class:`TemplateError` with the reason; the caller names the file and key.
:meth:`TextTemplate.render` fills it: a name the values lack raises
``KeyError``, a spec that does not fit its value ``ValueError``.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

#: The widest field a standard spec may ask for: wider than any sentence needs,
#: small enough that no template multiplies its text by thousands.
MAX_WIDTH = 64
#: The most digits after the point (or characters of a string) a spec may ask for.
MAX_PRECISION = 12

_NAME = re.compile(r"[^\W\d]\w*")
_STANDARD = re.compile(
    r"(?:(?P<fill>.)?[<>=^])?[-+ ]?z?#?0?(?P<width>\d+)?[,_]?(?:\.(?P<precision>\d+))?"
    r"[bcdeEfFgGnosxX%]?",
    re.DOTALL,
)


class TemplateError(ValueError):
    """Why a template is refused; the caller adds the file and key."""


def check_standard_spec(spec: str) -> None:
    """Raise :class:`TemplateError` unless ``spec`` is a standard spec within the caps.

    Examples
    --------
    >>> check_standard_spec(",.0f"), check_standard_spec(">20"), check_standard_spec("+.1%")
    (None, None, None)
    >>> check_standard_spec(">99999999")
    Traceback (most recent call last):
    ...
    lumos._text.TemplateError: width 99999999 is over 64, the most a field may take
    """
    match = _STANDARD.fullmatch(spec)
    if match is None:
        raise TemplateError(
            "not the standard grammar [[fill]align][sign][width][,][.precision][type]"
        )
    if match["fill"] in ("{", "}"):
        raise TemplateError("a brace cannot fill a field")
    for what, digits, most in (
        ("width", match["width"], MAX_WIDTH),
        ("precision", match["precision"], MAX_PRECISION),
    ):
        digits = (digits or "0").lstrip("0") or "0"
        if len(digits) > 6 or int(digits) > most:  # compared as text first: no huge int()
            shown = digits if len(digits) <= 12 else digits[:12] + "..."
            raise TemplateError(f"{what} {shown} is over {most}, the most a field may take")


@dataclass(frozen=True)
class TextTemplate:
    """A checked template: ``literals`` has one more entry than ``fields``.

    ``fields`` holds ``(name, spec)`` pairs in order.

    Examples
    --------
    >>> template = parse_template("People you may know from {company}")
    >>> template.render({"company": "Acme"})
    'People you may know from Acme'
    >>> parse_template("{count:>3} mutual").render({"count": 4})
    '  4 mutual'
    """

    text: str
    literals: tuple[str, ...]
    fields: tuple[tuple[str, str], ...]

    def __bool__(self) -> bool:
        """An empty template is false, as its text is."""
        return bool(self.text)

    @property
    def names(self) -> set[str]:
        """The names of the template's fields."""
        return {name for name, _ in self.fields}

    def render(self, values: Mapping) -> str:
        """The text with every field filled from ``values`` by its spec."""
        out = [self.literals[0]]
        for (name, spec), literal in zip(self.fields, self.literals[1:], strict=True):
            out.append(format(values[name], spec))
            out.append(literal)
        return "".join(out)


def parse_template(
    text: str,
    *,
    allowed: Iterable[str] | None = None,
    check_spec: Callable[[str], None] = check_standard_spec,
) -> TextTemplate:
    """``text`` as a :class:`TextTemplate`, or :class:`TemplateError` saying what is wrong.

    Parameters
    ----------
    text : str
        The template, literal braces doubled (``{{`` ``}}``).
    allowed : iterable of str, optional
        The only names a field may take (default: any plain name).
    check_spec : callable, default=check_standard_spec
        Raises ``ValueError`` for a spec it refuses; a caller with its own
        named specs passes a check that accepts them and defers the rest to
        :func:`check_standard_spec`.

    Examples
    --------
    >>> parse_template("{n:,} rows in {{braces}}").fields
    (('n', ','),)
    >>> parse_template("{company.__class__}")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    lumos._text.TemplateError: field {company.__class__} uses attribute access; ...
    """
    allowed = None if allowed is None else tuple(allowed)
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise TemplateError(
            f"not a valid template ({exc}); write literal braces as {{{{ }}}}"
        ) from None
    literals, fields = [""], []
    for literal, name, spec, conversion in parsed:
        literals[-1] += literal
        if name is None:
            continue
        if name == "":
            raise TemplateError("empty field '{}'; put a name between the braces")
        if "." in name:
            raise TemplateError(
                f"field {{{name}}} uses attribute access; use a plain name "
                "(letters, digits, underscore)"
            )
        if "[" in name:
            raise TemplateError(
                f"field {{{name}}} uses indexing; use a plain name (letters, digits, underscore)"
            )
        if not _NAME.fullmatch(name):
            raise TemplateError(
                f"field {{{name}}} is not a plain name (letters, digits, underscore)"
            )
        if allowed is not None and name not in allowed:
            raise TemplateError(f"field {{{name}}} is not one of {', '.join(allowed)}")
        if conversion:
            raise TemplateError(
                f"field {{{name}!{conversion}}} uses a conversion; drop '!{conversion}'"
            )
        spec = spec or ""
        if "{" in spec or "}" in spec:
            raise TemplateError(f"field {{{name}}} has a nested field in its format spec")
        try:
            check_spec(spec)
        except ValueError as exc:
            raise TemplateError(
                f"field {{{name}:{spec}}} has an invalid format spec {spec!r}: {exc}"
            ) from None
        fields.append((name, spec))
        literals.append("")
    return TextTemplate(text, tuple(literals), tuple(fields))
