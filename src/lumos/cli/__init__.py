"""The ``lumos`` command: one module per command group, each loaded when it is used.

Errors the user can fix print one line, ``error [code]: message``, to standard
error and exit with status 2; nothing half-written is left behind. The
commands are thin: what they read and check lives in the library they call.
"""

from __future__ import annotations

import importlib

import click

#: name → (module, command, one line of help): ``lumos --help`` imports none of them.
COMMANDS = {
    "demo": ("demo", "demo", "Run the main job on generated data, then serve what it computed."),
    "explain": ("explain", "explain", "Narrative explanations of a model's scores."),
    "propensity": (
        "propensity",
        "propensity",
        "Account propensity: upsell and churn by renewal, per account and product.",
    ),
    "recommend": ("recommend", "recommend", "Recommendations with reasons: courses for members."),
    "serve": (
        "serve",
        "serve",
        "Serve recommendations, cohorts, offers and insights over HTTP, and the dashboard.",
    ),
    "events": ("events", "events", "Funnel events: convert them for older consumers."),
    "cohorts": (
        "cohorts",
        "cohorts",
        "Discovery cohorts: run a first-pass ranker as a service, fit the relevance ranker.",
    ),
    "offers": (
        "offers",
        "offers",
        "Offer matching: retrain a policy from the event log, judge it off-policy.",
    ),
    "evaluate": (
        "evaluate",
        "evaluate",
        "Modeler tools: where a model under-performs, fairness gaps, A/B tests.",
    ),
    "report": ("report", "report", "Reports read from the event log."),
}


class LazyGroup(click.Group):
    """A group whose commands are imported from ``lumos.cli.<module>`` when first used."""

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[name]
        return getattr(importlib.import_module(f"lumos.cli.{module}"), attr)

    def format_commands(self, ctx, formatter):
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lumos")
def main():
    """Lumos: explainable recommendations that say why, in plain sentences."""


if __name__ == "__main__":  # pragma: no cover
    main()
