"""The serving anchor: a bare FastAPI endpoint returning a member's stored bytes as they are.

Run: ``python _bare.py STORE --port PORT``.
"""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI, Response

from lumos.store import LMDBStore

store = LMDBStore(sys.argv[1], readonly=True)
app = FastAPI()


@app.get("/healthz")
def healthz() -> dict:
    return {"status": "ok"}


@app.get("/v1/members/{member_id}/recommendations")
async def raw(member_id: str) -> Response:  # async: no thread hop, as lumos serve
    return Response(
        store.get(member_id, decode=False) or b"", media_type="application/octet-stream"
    )


if __name__ == "__main__":
    uvicorn.run(  # the settings lumos serve runs with
        app,
        host="127.0.0.1",
        port=int(sys.argv[3]),
        log_level="warning",
        access_log=False,
        proxy_headers=False,
        server_header=False,
    )
