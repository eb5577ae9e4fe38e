"""The baseline of ``make bench``: bare FastAPI endpoints on the same server stack.

Same framework, same uvicorn command, same request and response sizes as
/interact and /recs, and no dependency at all: what the serving stack alone
costs on this machine.  The benchmark reports the real endpoints as a ratio
of these.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from recsys.domain.events import InteractionRequest

app = FastAPI(title="bare baseline")


@app.post("/interact")
def interact(request: InteractionRequest) -> JSONResponse:
    return JSONResponse(
        {
            "status": "ok",
            "user_id": request.user_id,
            "event_ids": [uuid.uuid4().hex for _ in request.item_ids],
            "timestamp": time.time(),
            "seen_marked": True,
        }
    )


@app.get("/recs/{user_id}")
def recs(user_id: str, n: int = 12) -> dict[str, Any]:
    item_ids = [str(i) for i in range(1, n + 1)]
    return {
        "user_id": user_id,
        "item_ids": item_ids,
        "items": [{"item_id": i, "source": "popular"} for i in item_ids],
        "sources": {"popular": n},
        "degraded": False,
    }


@app.get("/healthcheck")
def healthcheck() -> dict[str, str]:
    return {"status": "ok"}
