"""``lumos report funnel``: served → impression → action rates from the event log."""

from __future__ import annotations

import click

from lumos.cli._common import events_option, friendly, warn


@click.group()
def report():
    """Reports read from the event log."""


@report.command("funnel")
@events_option(help="An event log folder, redis://…, or a .jsonl/.parquet/.csv file.")
@click.option(
    "--by",
    default="cohort",
    show_default=True,
    type=click.Choice(["cohort", "item_type", "channel"]),
)
@friendly
def report_funnel(events, by):
    """Served → impression → action rates per cohort (or item type, channel)."""
    from lumos.events import funnel, read_events

    table = funnel(read_events(events, name="--events", notify=warn), by=by)
    if table.empty:
        click.echo("no served events with a " + by)
        return
    click.echo(table.to_string(float_format=lambda x: f"{x:.3f}"))
