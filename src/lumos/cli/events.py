"""``lumos events convert``: unified funnel events as the tables older consumers read."""

from __future__ import annotations

from pathlib import Path

import click

from lumos.cli._common import events_option, friendly, warn, write_table


@click.group()
def events():
    """Funnel events: convert them for older consumers."""


@events.command("convert")
@events_option(help="An event log folder, redis://host:port/db, or a .jsonl/.parquet/.csv file.")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="A folder: one table per legacy type (served, impression, click, …) and interactions.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["parquet", "csv", "jsonl"]),
    default="parquet",
    show_default=True,
)
@click.option(
    "--item-type",
    default="course",
    show_default=True,
    help="The items the interactions table keeps ('all' for every type).",
)
@friendly
def events_convert(events, out, fmt, item_type):
    """Turn unified events into the per-type tables and the interactions table."""
    from lumos.events import by_type, read_events, to_interactions

    frame = read_events(events, name="--events", notify=warn)
    tables = by_type(frame)
    tables["interactions"] = to_interactions(
        frame, item_type=None if item_type == "all" else item_type
    )
    Path(out).mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():  # each file whole or not at all
        write_table(table, Path(out) / f"{name}.{fmt}")
    counts = ", ".join(f"{name} {len(t):,}" for name, t in tables.items())
    click.echo(f"{len(frame):,} events → {out}: {counts}")
