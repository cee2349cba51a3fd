"""The dashboard's page shell and the small formatting helpers its pages share."""

from __future__ import annotations

import html
import math
import threading
import time

from fastapi.responses import HTMLResponse

PAGES = (
    ("accounts", "Accounts", "/accounts"),
    ("learning", "Learning", "/learning"),
    ("network", "My Network", "/network"),
    ("offers", "Offers", "/offers"),
    ("health", "Model health", "/health"),
)


def _page(active: str, title: str, body: str, *, status: int = 200) -> HTMLResponse:
    current = ' aria-current="page"'
    links = "".join(
        f'<a href="{href}"{current if key == active else ""}>{label}</a>'
        for key, label, href in PAGES
    )
    doc = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)} · Lumos</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/lumos.css"><script src="/static/lumos.js" defer></script>
</head><body>
<a class="skip" href="#main">Skip to content</a>
<header><span class="brand">Lumos</span><nav aria-label="Dashboard">{links}</nav></header>
<main id="main"><h1>{_e(title)}</h1>{body}</main>
</body></html>"""
    return HTMLResponse(doc, status_code=status)


def _scroller(label: str) -> str:
    """The opening of a box a wide table scrolls in; the box takes keyboard focus."""
    return f'<div class="scroll" tabindex="0" role="region" aria-label="{_e(label)}">'


def _empty(message: str) -> str:
    return f'<p class="empty">{_e(message)}</p>'


def _num(value, digits: int, *, signed: bool = False) -> str:
    if value is None or not math.isfinite(float(value)):
        return "—"
    return f"{float(value):{'+' if signed else ''}.{digits}f}"


def _e(value) -> str:
    return html.escape(str(value), quote=True)


class Lazy:
    """A page's figures: ``compute()`` on the first visit, kept, and redone when older
    than ``max_age`` seconds (never, by default). Thread-safe: one visitor computes."""

    def __init__(self, compute, name: str, *, max_age: float | None = None):
        self._compute, self.name, self.max_age = compute, name, max_age
        self._lock = threading.Lock()
        self._done, self._at = None, 0.0

    def get(self):
        with self._lock:
            stale = self.max_age is not None and time.monotonic() - self._at > self.max_age
            if self._done is None or stale:
                self._done, self._at = self._compute(), time.monotonic()
            return self._done
