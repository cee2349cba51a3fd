"""``lumos demo``: every system on one generated population, then the dashboard served."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lumos.cli._common import SEED, friendly


@click.command()
@click.option(
    "--out",
    default="lumos-demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder to write the demo's model, data, narratives and report to.",
)
@click.option(
    "--accounts",
    "n_accounts",
    default=2000,
    show_default=True,
    type=click.IntRange(50),
    help="Number of generated customer accounts.",
)
@click.option(
    "--months",
    default=36,
    show_default=True,
    type=click.IntRange(18),
    help="Months of generated history.",
)
@SEED
@click.option("--no-serve", is_flag=True, help="Stop after writing (for scripts and CI).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--no-browser", is_flag=True, help="Do not open the dashboard in a web browser.")
@friendly
def demo(out, n_accounts, months, random_state, no_serve, port, no_browser):
    """Run the main job on generated data, then serve what it computed."""
    from lumos.demo import demo_app, run_demo

    done = run_demo(
        Path(out), n_accounts=n_accounts, months=months, random_state=random_state, echo=click.echo
    )
    if no_serve:
        return
    from lumos.serve import run_server

    with demo_app(Path(out)) as app:
        account = done["scores"]["account_id"].iloc[0]
        click.echo(
            f"\nServing on http://127.0.0.1:{port} — the dashboard at / (Accounts, "
            f"/learning?member=M000001, /network?member=U000001, /offers, /health); the API: "
            "/v1/members/M000001/recommendations,"
            f" /v1/members/U000001/cohorts, /v1/accounts/{account}/insights, POST "
            "/v1/members/om000001/offer?channel=email, /docs. Ctrl-C stops."
        )
        if not no_browser and has_display():
            import threading
            import webbrowser

            threading.Timer(1.5, webbrowser.open, args=(f"http://127.0.0.1:{port}/",)).start()
        run_server(app, "127.0.0.1", port)


def has_display(environ=None, platform: str = sys.platform) -> bool:
    """Whether a graphical browser can open here: never a text browser on a bare terminal.

    >>> has_display({}, "linux"), has_display({"DISPLAY": ":0"}, "linux")
    (False, True)
    >>> has_display({}, "darwin")
    True
    """
    import os

    environ = os.environ if environ is None else environ
    if platform in ("darwin", "win32"):
        return True
    return bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))
