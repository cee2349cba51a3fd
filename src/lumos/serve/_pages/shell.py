"""The dashboard's page shell: the navigation, the document, and an empty state."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi.responses import HTMLResponse

from lumos._html import esc

PAGES = (
    ("accounts", "Accounts", "/accounts"),
    ("learning", "Learning", "/learning"),
    ("network", "My Network", "/network"),
    ("offers", "Offers", "/offers"),
    ("health", "Model health", "/health"),
)


def page(
    active: str, title: str, body: str, *, status: int = 200, refresh: int | None = None
) -> HTMLResponse:
    """A dashboard page: the navigation with ``active`` current, ``title`` and ``body``;
    the browser reloads it after ``refresh`` seconds, when given."""
    current = ' aria-current="page"'
    links = "".join(
        f'<a href="{href}"{current if key == active else ""}>{label}</a>'
        for key, label, href in PAGES
    )
    reload = "" if refresh is None else f'\n<meta http-equiv="refresh" content="{int(refresh)}">'
    doc = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">{reload}
<title>{esc(title)} · Lumos</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/lumos.css"><script src="/static/lumos.js" defer></script>
</head><body>
<a class="skip" href="#main">Skip to content</a>
<header><span class="brand">Lumos</span><nav aria-label="Dashboard">{links}</nav></header>
<main id="main"><h1>{esc(title)}</h1>{body}</main>
</body></html>"""
    return HTMLResponse(doc, status_code=status)


#: Seconds after which a page whose figures are being computed reloads itself.
RELOAD = 2


def computing(name: str, href: str) -> str:
    """What a page says while its figures are computed in the background (it reloads itself
    every :data:`RELOAD` seconds, see :func:`page`)."""
    return (
        f'<p class="empty computing" role="status">Computing the figures from {esc(name)}… '
        f"This page reloads itself every {RELOAD} seconds until they are ready; or "
        f'<a href="{esc(href)}">reload it now</a>.</p>'
    )


def empty(message: str) -> str:
    return f'<p class="empty">{esc(message)}</p>'


def try_member(action: str, member: str | None) -> str:
    """A link to ``action`` for ``member`` ("Try member M000123"), or nothing without one."""
    if not member:
        return ""
    href = f"{action}?{urlencode({'member': member})}"
    return f'<p class="try"><a href="{esc(href)}">Try member {esc(member)}</a></p>'


def member_form(action: str, member: str) -> str:
    """The GET form that asks for a member id."""
    return (
        f'<form class="filters" method="get" action="{action}" role="search">'
        f'<label>Member <input name="member" value="{esc(member)}" required></label> '
        '<button type="submit">Show</button></form>'
    )
