"""A bare FastAPI endpoint under uvicorn, one process, as the services run: the HTTP ceiling
of this machine (`python -m bench.bare_app PORT`)."""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI, Request
from pydantic import BaseModel

app = FastAPI()


class Answer(BaseModel):
    report_id: str
    receipt_code: str


@app.post("/v1/echo", response_model=Answer, status_code=201)
async def echo(body: dict[str, str]) -> Answer:
    """Parse a small JSON body and answer a small JSON body, like intake's happy path."""
    return Answer(report_id=body.get("id", ""), receipt_code="ADU-0000-0000")


@app.post("/v1/channels/{channel:path}", response_model=Answer, status_code=201)
async def channel(channel: str, request: Request) -> Answer:
    """Any channel's complaint, read and answered without filing: the bench offers its real
    payloads here to measure what the generator itself costs per complaint."""
    body = await request.body()
    return Answer(report_id=str(len(body)), receipt_code="ADU-0000-0000")


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
