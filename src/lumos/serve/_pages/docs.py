"""``/docs``: the API's reference, rendered by Lumos from its own OpenAPI schema — every
route with the scope it needs and its parameters' limits; nothing fetched from elsewhere."""

from __future__ import annotations

from fastapi import APIRouter, Request

from lumos._html import esc
from lumos.serve._access import scope_of
from lumos.serve._pages.shell import page

router = APIRouter()

_SCOPES = {
    None: "open",
    "read": "read key (or a dashboard session)",
    "decide": "decide key",
    "write": "write key",
}


def _limits(schema: dict) -> str:
    schema = schema or {}
    if "anyOf" in schema:  # an optional parameter: the limits are on its non-null branch
        schema = next((s for s in schema["anyOf"] if s.get("type") != "null"), {})
    bits = [schema.get("type", "")]
    for key, word in (
        ("minLength", "at least {} characters"),
        ("maxLength", "at most {} characters"),
        ("minimum", "≥ {}"),
        ("maximum", "≤ {}"),
    ):
        if key in schema:
            bits.append(word.format(schema[key]))
    return ", ".join(b for b in bits if b)


def _operation(path: str, method: str, op: dict) -> str:
    needs = scope_of(method.upper(), path)
    rows = "".join(
        f"<tr><th scope='row'><code>{esc(p['name'])}</code></th><td>{esc(p['in'])}</td>"
        f"<td>{'yes' if p.get('required') else 'no'}</td>"
        f"<td>{esc(_limits(p.get('schema')))}</td>"
        f"<td>{esc(p.get('description', ''))}</td></tr>"
        for p in op.get("parameters", [])
    )
    table = (
        "<table class='book'><thead><tr><th scope='col'>Parameter</th><th scope='col'>In</th>"
        "<th scope='col'>Required</th><th scope='col'>Type and limits</th>"
        f"<th scope='col'>What</th></tr></thead><tbody>{rows}</tbody></table>"
        if rows
        else ""
    )
    body = " (JSON body)" if "requestBody" in op else ""
    about = (op.get("description") or op.get("summary") or "").strip()
    return (
        f"<section><h2><code>{esc(method.upper())} {esc(path)}</code></h2>"
        f"<p><strong>Needs:</strong> {esc(_SCOPES[needs])}{esc(body)}.</p>"
        f"<p>{esc(about)}</p>{table}</section>"
    )


@router.get("/docs", include_in_schema=False)
def docs(request: Request):
    schema = request.app.openapi()
    parts = [
        "<p>Every route, the key it needs and the limits of its parameters. Keys travel in "
        "the <code>X-API-Key</code> header. The machine-readable schema is at "
        "<a href='/openapi.json'>/openapi.json</a>.</p>"
    ]
    for path, methods in schema.get("paths", {}).items():
        for method, op in methods.items():
            parts.append(_operation(path, method, op))
    return page("docs", "API reference", "".join(parts))
