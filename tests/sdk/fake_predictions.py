"""An in-process fake of the predictions wire (``httpx.MockTransport``), for SDK tests that
check what the SDK sends and how it reads answers, without a server."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

import vlmfiles

BASE = "http://fake.test/v1"


def prediction(pid: str, status: str = "completed", response: Any = None, **extra: Any) -> dict:
    return {
        "id": pid,
        "created_at": "2026-01-01T00:00:00Z",
        "status": status,
        "usage": {},
        "response": response,
        **extra,
    }


@dataclass
class FakeServer:
    """Records every request; answers from ``predictions`` (newest first) and ``script``
    (a list of statuses a polled prediction goes through)."""

    predictions: list[dict] = field(default_factory=list)
    script: dict[str, list[dict]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    on_generate: Callable[[dict], dict] | None = None
    between_pages: Callable[[], None] | None = None
    max_page: int = 1000

    def bodies(self, path: str) -> list[dict]:
        return [json.loads(r.content) for r in self.requests if r.url.path == f"/v1/{path}"]

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path.removeprefix("/v1/")
        if request.method == "POST" and path in ("image/generate", "document/generate"):
            body = json.loads(request.content)
            answer = (self.on_generate or (lambda b: prediction("pred_new", response={})))(body)
            return httpx.Response(200, json=answer)
        if request.method == "GET" and path == "predictions":
            skip = int(request.url.params["skip"])
            limit = min(int(request.url.params["limit"]), self.max_page)
            page = self.predictions[skip : skip + limit]
            if self.between_pages is not None:
                self.between_pages()
            return httpx.Response(200, json=page)
        if request.method == "GET" and path.startswith("predictions/"):
            pid = path.split("/", 1)[1]
            if pid in self.script:
                states = self.script[pid]
                return httpx.Response(200, json=states.pop(0) if len(states) > 1 else states[0])
            for p in self.predictions:
                if p["id"] == pid:
                    return httpx.Response(200, json=p)
            return httpx.Response(404, json={"error": {"message": f"No prediction {pid}"}})
        if request.method == "GET" and path.startswith("files/hash/"):
            return httpx.Response(404, json={"error": {"message": "not found"}})
        if request.method == "POST" and path == "files":
            size = len(request.read())
            return httpx.Response(
                201,
                json={
                    "id": "file_0123",
                    "filename": "x",
                    "bytes": size,
                    "purpose": "assistants",
                    "created_at": "2026-01-01T00:00:00Z",
                },
            )
        return httpx.Response(404, json={"error": {"message": f"no route {path}"}})

    def client(self, kind: str) -> vlmfiles.Client | vlmfiles.AsyncClient:
        transport = httpx.MockTransport(self.handle)
        if kind == "sync":
            return vlmfiles.Client(
                api_key="k", base_url=BASE, http_client=httpx.Client(transport=transport)
            )
        return vlmfiles.AsyncClient(
            api_key="k", base_url=BASE, http_client=httpx.AsyncClient(transport=transport)
        )


def data_url_bytes(url: str) -> tuple[str, bytes]:
    head, _, data = url.partition(",")
    assert head.startswith("data:") and head.endswith(";base64"), head
    return head[5:-7], base64.b64decode(data)
