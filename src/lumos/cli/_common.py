"""What the commands share: the one-line error, the options several take, writing a table."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import click

from lumos.errors import LumosError


def friendly(fn):
    """Turn Lumos's errors into one clear line, ``error [code]: message``, and exit status 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except LumosError as exc:
            click.echo(f"error [{exc.code}]: {exc.message}", err=True)
            sys.exit(2)
        except Exception as exc:
            clear = _spark_worker_error(exc)
            if clear is None:
                raise
            click.echo(f"error [{clear.code}]: {clear.message}", err=True)
            sys.exit(2)

    return wrapper


def _spark_worker_error(exc: BaseException):
    """A Spark worker's missing module as Lumos's clear error (None for anything else)."""
    if type(exc).__module__.split(".")[0] not in ("py4j", "pyspark"):
        return None
    from lumos.spark import worker_env_error

    return worker_env_error(exc)


def warn(message: str) -> None:
    """``warning: message`` on standard error: something the command worked around."""
    click.echo(f"warning: {message}", err=True)


class Renamed(click.Option):
    """An option whose older names still work for a release: hidden from ``--help``, and a
    warning on standard error when used (``old``: those names, e.g. ``("--logs",)``)."""

    def __init__(self, *decls, old=(), **kwargs):
        super().__init__(*decls, **kwargs)
        self.old = tuple(old)

    def add_to_parser(self, parser, ctx) -> None:
        super().add_to_parser(parser, ctx)
        action = "append" if self.multiple else "store"
        parser.add_option(obj=self, opts=self.old, dest=f"{self.name}.old", action=action)

    def handle_parse_result(self, ctx, opts, args):
        used = opts.get(f"{self.name}.old")
        if used is not None:
            click.echo(
                f"warning: {'/'.join(self.old)} is now {self.opts[0]}; the old name will be "
                "removed in a later release.",
                err=True,
            )
            opts = {k: v for k, v in opts.items() if k != f"{self.name}.old"}
            mine = opts.get(self.name)
            opts[self.name] = used if mine is None else (mine + used if self.multiple else mine)
        return super().handle_parse_result(ctx, opts, args)


def renamed(*decls, old, **kwargs):
    """``click.option(*decls, **kwargs)`` whose ``old`` names still work (:class:`Renamed`)."""
    return click.option(*decls, cls=Renamed, old=old, **kwargs)


MODEL = click.option(
    "--model",
    "model_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="XGBoost .json/.ubj, LightGBM .txt, a scores table, or a pickle with --trust.",
)
DATA = click.option(
    "--data",
    "data_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="A table holding the model's features (.csv, .parquet, .jsonl).",
)
TRUST = click.option("--trust", is_flag=True, help="Allow loading a pickle/joblib model file.")
SEED = renamed(
    "--random-state",
    "random_state",
    old=("--seed",),
    default=0,
    show_default=True,
    type=int,
    help="Seeds every random draw.",
)


def engine(help_text):
    """The ``--engine`` and ``--master`` options of a job that also runs on Spark."""

    def wrap(fn):
        fn = click.option(
            "--master", help="With --engine spark: the Spark master (default local[2])."
        )(fn)
        return click.option(
            "--engine",
            default="local",
            show_default=True,
            type=click.Choice(["local", "spark"]),
            help=f"spark: {help_text} (pip install 'lumos[spark]').",
        )(fn)

    return wrap


def spark_session(engine: str, master):
    """The Spark session ``--engine spark --master`` asks for (None on the local engine)."""
    if engine != "spark":
        return None
    from lumos.spark import session

    return session(master)


def spark_out(out) -> None:
    """Spark writes a new .parquet folder: refuse any other name, or one that exists."""
    if Path(out).suffix.lower() != ".parquet":
        raise click.BadParameter("--engine spark writes a .parquet folder", param_hint="--out")
    if Path(out).exists():
        raise click.BadParameter(
            f"{out!r} exists; Spark writes a new folder (remove it or choose another)",
            param_hint="--out",
        )


def check_out(out) -> None:
    if Path(out).suffix.lower() not in (".parquet", ".csv", ".jsonl"):
        raise click.BadParameter("use a .parquet, .csv or .jsonl file name", param_hint="--out")


def write_table(table, out) -> None:
    """Write a table atomically in the format its file name says (.parquet, .csv, .jsonl)."""
    from lumos.data import write_table as write

    write(table, out)


def write_html(out, page: str) -> None:
    if out:
        from lumos.data import atomic_path

        with atomic_path(out) as tmp:
            tmp.write_text(page, encoding="utf-8")
        click.echo(f"Report: {out}")


def parse_date(text, hint):
    """``YYYY-MM-DD`` as a Timestamp (None stays None)."""
    import datetime

    import pandas as pd

    if text is None:
        return None
    try:
        return pd.Timestamp(datetime.date.fromisoformat(text))
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a date; use YYYY-MM-DD", param_hint=hint
        ) from None


def split(text):
    """A comma-separated option as a list (None when empty)."""
    return [c.strip() for c in text.split(",") if c.strip()] if text else None


def router(config, experiment, default):
    """The ModelRouter of ``--experiments FILE --experiment NAME`` (default model otherwise)."""
    from lumos.experiments import Experiments, ModelRouter

    if (config is None) != (experiment is None):
        raise click.BadParameter(
            "give --experiments and --experiment together", param_hint="--experiment"
        )
    return ModelRouter(Experiments.load(config) if config else None, experiment, default)


EVENTS_HELP = "The funnel events: an event log folder, redis://…, or a .jsonl/.parquet/.csv file."


def events_option(*, required=True, help=EVENTS_HELP):
    """``--events`` (``--logs``, its older name, still works)."""
    return renamed("--events", "events", old=("--logs",), required=required, help=help)
