"""A real Chromium (Debian's package, driven by Playwright) against `lumos serve` on loopback.

The demo's data is generated once; the app `lumos demo` serves runs in a
uvicorn thread on a free port. Tests skip where Playwright or Chromium is
missing (`.ci/run` installs both; no browser is ever downloaded).
"""

import importlib.util
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = Path(__file__).parent / "screenshots"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",  # the machine's closed network refuses the rest
    "--disable-component-update",
    "--disable-sync",
]

if importlib.util.find_spec("playwright") is None or CHROMIUM is None:
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    from click.testing import CliRunner

    from lumos.cli import main

    out = tmp_path_factory.mktemp("demo") / "demo"
    result = CliRunner().invoke(
        main, ["demo", "--out", str(out), "--accounts", "300", "--months", "26", "--no-serve"]
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="session")
def server(demo, tmp_path_factory):
    """The base URL of the app `lumos demo` serves, on a free loopback port."""
    import uvicorn

    from lumos.cli import _app

    events = tmp_path_factory.mktemp("events")
    app = _app(str(demo / "store"), str(demo / "experiments.yaml"), "course_ranker", "glmix",
               str(events), str(demo / "scores.parquet"), [])  # fmt: skip
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chrome = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chrome
        chrome.close()


@pytest.fixture
def page(browser):
    """A fresh page whose console errors and failed requests fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems = []
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    yield page
    context.close()
    assert problems == [], problems


def shoot(page, name: str, *, full_page: bool = True) -> Path:
    """A screenshot in tests/browser/screenshots/ (look at them; the README shows one)."""
    SHOTS.mkdir(exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
