"""A server per stack with the scripted engine (tests/support/engines.py) next to the
offline one; on the scale stack, a Redis broker and two `vlmfiles worker` processes."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import STACKS, _start
from tests.support.server import ServerProcess
from tests.support.workers import REPO, Workers, drop_namespace, queue_env

ENGINES = json.dumps(
    ["tests.support.engines:ScriptedEngine", "vlmfiles.server.engines.offline:OfflineEngine"]
)
SYNC_WAIT = 8  # a batch=false request answers `pending` past this
TIME_LIMIT = 12
THREADS = 2
WORKERS = 2


def pred_env(**extra: str) -> dict[str, str]:
    return {
        "PYTHONPATH": str(REPO),  # the scripted engine lives in tests/support
        "VLMFILES_PREDICTION_ENGINES": ENGINES,
        "VLMFILES_SYNC_WAIT_SECONDS": str(SYNC_WAIT),
        "VLMFILES_JOB_TIME_LIMIT_SECONDS": str(TIME_LIMIT),
        "VLMFILES_WORKER_THREADS": str(THREADS),
        **extra,
    }


def start_stack(
    request: Any, tmp_path_factory: Any, name: str, env: dict[str, str]
) -> Iterator[ServerProcess]:
    """``_start`` (tests/conftest.py), plus the queue and its workers on the scale stack."""
    stack = request.param
    if stack == "embedded":
        yield from _start(request, tmp_path_factory, name, env)
        return
    q = queue_env(THREADS)
    for srv in _start(request, tmp_path_factory, name, {**env, **q}):
        workers = Workers(srv)
        workers.start(WORKERS)
        srv.workers = workers  # type: ignore[attr-defined]
        try:
            yield srv
        finally:
            workers.stop()
            drop_namespace(q["VLMFILES_QUEUE_NAMESPACE"])


@pytest.fixture(scope="session", params=STACKS)
def pred_server(request: Any, tmp_path_factory: Any) -> Iterator[ServerProcess]:
    yield from start_stack(request, tmp_path_factory, "pred", pred_env())


def job_slots(server: ServerProcess) -> int:
    """How many jobs run at once on this stack."""
    return THREADS * (WORKERS if getattr(server, "workers", None) else 1)


@pytest.fixture
def papi(pred_server: ServerProcess) -> Iterator[httpx.Client]:
    key = pred_server.new_key(f"t-{uuid.uuid4().hex[:10]}")
    with pred_server.client(key, timeout=120) as c:
        yield c


def wait_final(api: httpx.Client, pred_id: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body = api.get(f"/predictions/{pred_id}").json()
        if body["status"] in ("completed", "failed") or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


@pytest.fixture
def upload(papi: httpx.Client) -> Callable[..., dict[str, Any]]:
    def _upload(data: bytes, name: str = "f.bin") -> dict[str, Any]:
        r = papi.post("/files", files={"file": (name, data)})
        assert r.status_code == 201, r.text
        return r.json()

    return _upload
