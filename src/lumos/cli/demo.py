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
    """Run the main job on generated data, then serve what it computed.

    SIGTERM stops it as Ctrl-C does: the services it started stop with it.
    """
    import signal

    from lumos.demo import demo_app, run_demo
    from lumos.serve import check_port

    signal.signal(signal.SIGTERM, _terminated)  # unwinds: child services stop with it
    if not no_serve:
        check_port("127.0.0.1", port)  # before the minute of computing
    check_writable(Path(out))
    done = run_demo(
        Path(out), n_accounts=n_accounts, months=months, random_state=random_state, echo=click.echo
    )
    if no_serve:
        return
    import secrets

    from lumos.serve import run_server

    keys = {"decide": secrets.token_urlsafe(16), "write": secrets.token_urlsafe(16)}
    with demo_app(Path(out), keys=keys) as app:  # keys of this run only: printed, not stored
        click.echo(serving_message(port, done["member"], done["account"], keys))
        if not no_browser and has_display():
            import threading
            import webbrowser

            threading.Timer(1.5, webbrowser.open, args=(f"http://127.0.0.1:{port}/",)).start()
        run_server(app, "127.0.0.1", port)


def _terminated(signum, frame):
    raise SystemExit(128 + signum)


def check_writable(folder: Path) -> None:
    """Fail at once when ``folder`` cannot be written, before anything is computed."""
    import tempfile

    from lumos.errors import LumosUserError

    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise LumosUserError(
            f"--out {str(folder)!r} cannot be written ({exc.strerror}); give a folder you "
            "can write to.",
            code="not_writable",
            file=str(folder),
        ) from None


def serving_message(port: int, member: str, account: str, keys: dict | None = None) -> str:
    """What ``lumos demo`` says when it serves: where, the URLs that show one member and
    one account everywhere, and this run's decide and write keys.

    >>> keys = {"decide": "d-123", "write": "w-456"}
    >>> print(serving_message(8000, "M000042", "A000007", keys))
    ... # doctest: +NORMALIZE_WHITESPACE
    <BLANKLINE>
    Serving on http://127.0.0.1:8000 (Ctrl-C stops). Try member M000042 and account A000007:
      dashboard  http://127.0.0.1:8000/accounts  (A000007 is in the book)
                 http://127.0.0.1:8000/learning?member=M000042
                 http://127.0.0.1:8000/network?member=M000042
                 http://127.0.0.1:8000/offers
                 http://127.0.0.1:8000/health
      API        GET  http://127.0.0.1:8000/v1/members/M000042/recommendations
                 GET  http://127.0.0.1:8000/v1/members/M000042/cohorts
                 POST http://127.0.0.1:8000/v1/members/M000042/offer?channel=email
                      (header X-API-Key: d-123, this run's decide key)
                 GET  http://127.0.0.1:8000/v1/accounts/A000007/insights
                 POST http://127.0.0.1:8000/v1/events
                      (header X-API-Key: w-456, this run's write key)
                 http://127.0.0.1:8000/docs
      Reads are open to this machine only; decisions and events need the keys above.
    """
    keys = keys or {}
    base = f"http://127.0.0.1:{port}"
    pad = " " * 13
    return "\n".join(
        [
            "",
            f"Serving on {base} (Ctrl-C stops). Try member {member} and account {account}:",
            f"  dashboard  {base}/accounts  ({account} is in the book)",
            f"{pad}{base}/learning?member={member}",
            f"{pad}{base}/network?member={member}",
            f"{pad}{base}/offers",
            f"{pad}{base}/health",
            f"  API        GET  {base}/v1/members/{member}/recommendations",
            f"{pad}GET  {base}/v1/members/{member}/cohorts",
            f"{pad}POST {base}/v1/members/{member}/offer?channel=email",
            *[f"{pad}     (header X-API-Key: {keys['decide']}, this run's decide key)"]
            * ("decide" in keys),
            f"{pad}GET  {base}/v1/accounts/{account}/insights",
            *[f"{pad}POST {base}/v1/events"] * ("write" in keys),
            *[f"{pad}     (header X-API-Key: {keys['write']}, this run's write key)"]
            * ("write" in keys),
            f"{pad}{base}/docs",
            "  Reads are open to this machine only; decisions and events need the keys above.",
        ]
    )


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
