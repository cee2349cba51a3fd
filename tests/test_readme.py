"""The commands README.md and docs/*.md show still run, and their links still lead somewhere.

Every line of a ```bash block is a command this file knows how to check:

* ``lumos …`` runs with ``--help`` appended (click's ``CliRunner``, nothing
  else runs), and each option it uses must be one the command takes, under
  its current name (an older name such as ``--seed`` fails: the docs use the
  glossary's words);
* ``pip install …`` and ``python -m pytest …`` must be the README's two
  opening commands;
* ``python benchmarks/NAME.py [--flag]`` must name a script that exists and
  takes that flag.

``lumos …`` commands in the pages' inline code are held to the same option
names. Relative links and images must point at files that exist.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from lumos.cli import main

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
OPENING = (
    "pip install -e . && lumos demo",
    'pip install -e ".[test]" && python -m pytest -W error',
)
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
OPTION = re.compile(r"(?<![\w-])--[A-Za-z][\w-]*")


def name(page: Path) -> str:
    return str(page.relative_to(ROOT))


def bash_commands(text: str) -> list[tuple[int, str]]:
    """``(line, command)`` of every command in the ```bash blocks of ``text``.

    A line ending in a backslash continues on the next; comments and blank lines are dropped.

    >>> bash_commands("Run:\\n\\n```bash\\n# first\\nlumos demo \\\\\\n    --no-serve\\n```\\n")
    [(5, 'lumos demo --no-serve')]
    """
    out = []
    for block in FENCE.finditer(text):
        if block[1] != "bash":
            continue
        first = text.count("\n", 0, block.start(2)) + 1
        command, start = "", None
        for offset, line in enumerate(block[2].splitlines()):
            if not command and (not line.strip() or line.lstrip().startswith("#")):
                continue
            start = first + offset if not command else start
            command += line.strip().removesuffix("\\").strip() + " "
            if not line.rstrip().endswith("\\"):
                out.append((start, command.strip()))
                command = ""
    return out


def inline_commands(text: str) -> list[str]:
    """The ``lumos …`` and ``python benchmarks/…`` commands of ``text``'s inline code, outside
    fenced blocks, each on one line.

    >>> inline_commands("`lumos serve\\n  --store s`, not `lumos`:\\n```bash\\nlumos demo\\n```")
    ['lumos serve --store s']
    """
    prose = FENCE.sub("", text)
    spans = [" ".join(c.split()) for c in re.findall(r"`([^`]+)`", prose)]
    return [c for c in spans if re.match(r"(lumos [a-z]|python benchmarks/)", c)]


def as_typed(command: str) -> list[str]:
    """The arguments of a documented command line as a user would type one of its forms:
    optional parts ``[…]`` kept, the first of alternatives ``a|b`` chosen.

    >>> as_typed("lumos x --a 1 [--b p|q] [--c [--d URL]]")
    ['lumos', 'x', '--a', '1', '--b', 'p', '--c', '--d', 'URL']
    """
    words = shlex.split(command.replace("[", " ").replace("]", " "))
    return [w.split("|")[0] if "|" in w and not w.startswith("|") else w for w in words]


def resolve(words: list[str]) -> tuple[click.Command, list[str]]:
    """The command the words after ``lumos`` name, and those names."""
    command, path = main, []
    ctx = click.Context(main, info_name="lumos")
    for word in words:
        if not isinstance(command, click.Group) or word.startswith("-"):
            break
        sub = command.get_command(ctx, word)
        if sub is None:
            raise AssertionError(f"lumos {' '.join(path)} has no command {word!r}")
        command, path = sub, [*path, word]
    return command, path


def option_names(command: click.Command) -> tuple[set[str], dict[str, str]]:
    """A command's current option names, and its older names → the current one."""
    current, older = {"--help", "-h"}, {}
    for param in command.params:
        if not isinstance(param, click.Option):
            continue
        primary, *others = param.opts
        current |= {primary, *param.secondary_opts}
        older |= {o: primary for o in others if o.startswith("--")}
    return current, older


def every_command(group: click.Group = main, ctx=None):
    ctx = ctx or click.Context(main, info_name="lumos")
    for word in group.list_commands(ctx):
        sub = group.get_command(ctx, word)
        if isinstance(sub, click.Group):
            yield from every_command(sub, ctx)
        else:
            yield sub


def stale_options(command: click.Command, used) -> list[str]:
    current, older = option_names(command)
    problems = []
    for flag in used:
        if flag in older:
            problems.append(f"{flag} is an older name: write {older[flag]}")
        elif flag not in current:
            problems.append(f"{flag} is not an option of this command")
    return problems


COMMANDS = [
    pytest.param(command, id=f"{name(page)}:{line}")
    for page in PAGES
    for line, command in bash_commands(page.read_text(encoding="utf-8"))
]


@pytest.mark.parametrize("command", COMMANDS)
def test_documented_command(command):
    for part in (p.strip() for p in command.split("&&")):
        if part.startswith(("pip install", "python -m pytest")):
            assert command in OPENING, (
                f"{command!r}: the docs show no install or test command but the README's "
                f"opening two, {OPENING}; put others in inline code."
            )
        elif part.startswith("python benchmarks/"):
            script = ROOT / part.split()[1]
            assert script.is_file(), f"{part!r}: there is no {name(script)}"
            source = script.read_text(encoding="utf-8")
            missing = [f for f in OPTION.findall(part) if f'"{f}"' not in source]
            assert not missing, f"{part!r}: {name(script)} takes no {', '.join(missing)}"
        elif part.startswith("lumos "):
            check_lumos(part)
        else:
            pytest.fail(f"{part!r}: tests/test_readme.py does not know how to check this command")


def check_lumos(command: str) -> None:
    words = as_typed(command)[1:]
    target, path = resolve(words)
    assert not isinstance(target, click.Group), f"{command!r} names no command of its group"
    problems = stale_options(target, OPTION.findall(command))
    assert not problems, f"lumos {' '.join(path)}: " + "; ".join(problems)
    result = CliRunner().invoke(main, [*words, "--help"], prog_name="lumos")
    assert result.exit_code == 0, f"{command!r} --help: {result.output}"
    assert result.output.startswith("Usage: lumos " + " ".join(path)), result.output


INLINE = sorted({c for page in PAGES for c in inline_commands(page.read_text(encoding="utf-8"))})


@pytest.mark.parametrize("command", INLINE)
def test_inline_command_uses_current_options(command):
    """``lumos A B --x`` in prose: ``--x`` is a current option of ``lumos A B``; a span that
    lists several commands (``lumos explain run | recommend courses … --engine spark``) may
    use an option any command takes. ``python benchmarks/NAME.py`` names a script."""
    if command.startswith("python "):
        script = ROOT / command.split()[1]
        assert script.is_file(), f"{command!r}: there is no {name(script)}"
        return
    target, _ = resolve(as_typed(command.replace(" | ", " "))[1:])
    used = OPTION.findall(command)
    if " | " in command or isinstance(target, click.Group):
        commands = list(every_command(target if isinstance(target, click.Group) else main))
        unknown = [f for f in used if all(stale_options(c, [f]) for c in commands)]
        assert not unknown, f"{command!r}: no command takes {', '.join(unknown)} by that name"
    else:
        problems = stale_options(target, used)
        assert not problems, f"{command!r}: " + "; ".join(problems)


def test_readme_opens_with_the_two_commands():
    commands = [c for _, c in bash_commands(README.read_text(encoding="utf-8"))]
    assert tuple(commands[:2]) == OPENING


LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


@pytest.mark.parametrize("page", PAGES, ids=name)
def test_relative_links_lead_to_files(page):
    text = re.sub(r"`[^`]*`", "", FENCE.sub("", page.read_text(encoding="utf-8")))
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # a URL, or a heading of the same page
        if not (page.parent / target.split("#")[0]).exists():
            broken.append(target)
    assert not broken, f"{name(page)} links to files that do not exist: {broken}"
