"""Signing in to the dashboard: a read key asked for once, kept as a session cookie.

``GET /login`` shows the form, ``POST /login`` checks the key and sets a
signed, expiring, ``HttpOnly``, ``SameSite=Strict`` cookie, then goes back to
the page asked for (a path on this server, never another host); ``GET
/logout`` ends the session. A server without read keys needs no sign-in.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from lumos._html import esc
from lumos.serve._access import COOKIE, safe_next
from lumos.serve._pages.shell import page
from lumos.serve._services import services

router = APIRouter()


def _form(target: str, problem: str = "", status: int = 200) -> HTMLResponse:
    alert = f'<p class="alert" role="alert">{esc(problem)}</p>' if problem else ""
    body = (
        alert + "<p>This dashboard needs a read key. It is kept for this browser in a "
        "session cookie until it expires or you sign out.</p>"
        '<form class="filters" method="post" action="/login">'
        f'<input type="hidden" name="next" value="{esc(target)}">'
        '<label>Read key <input name="key" type="password" autocomplete="current-password" '
        'required maxlength="512"></label> <button type="submit">Sign in</button></form>'
    )
    return page("login", "Sign in", body, status=status)


def _go(target: str, cookie: str | None = None) -> Response:
    response = Response(status_code=303, headers={"location": target})
    if cookie is not None:
        response.headers.append("set-cookie", cookie)
    return response


@router.get("/login", include_in_schema=False)
def login_form(request: Request, next: str = Query("/accounts", max_length=2048)):
    target = safe_next(next)
    if not services(request).keys.configured("read"):
        return _go(target)  # reads are open: nothing to sign in to
    return _form(target)


@router.post("/login", include_in_schema=False)
async def login(request: Request):
    s = services(request)
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    target = safe_next(form.get("next"))
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
        return _form(target, "Sign in from this server's own page.", status=403)
    if not s.keys.configured("read"):
        return _go(target)
    digest = s.keys.match("read", form.get("key", "")[:512])
    if digest is None:
        return _form(target, "That is not a read key of this server.")
    secure = "; Secure" if request.url.scheme == "https" else ""
    token = s.sessions.issue(digest)
    cookie = (
        f"{COOKIE}={token}; Max-Age={s.sessions.max_age}; Path=/; HttpOnly; SameSite=Strict{secure}"
    )
    return _go(target, cookie)


@router.get("/logout", include_in_schema=False)
def logout():
    ended = f"{COOKIE}=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict"
    return _go("/login?" + urlencode({"next": "/accounts"}), ended)
