"""Nothing is lost: a worker killed mid-job, a server killed with jobs queued."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from tests.predictions.conftest import pred_env, start_stack, wait_final
from tests.support.server import ServerProcess


def _sleep_job(api, file_id: str, seconds: float, marker_dir: Path | None = None) -> str:
    config: dict = {"seconds": seconds}
    if marker_dir is not None:
        config["marker_dir"] = str(marker_dir)
    r = api.post(
        "/document/generate",
        json={"file_id": file_id, "domain": "document.test-sleep", "config": config, "batch": True},
    )
    assert r.status_code == 200, r.text
    return r.json()["id"]


def _wait_for(predicate, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture(params=["scale"])
def fresh_scale(request, tmp_path_factory):
    """Its own scale stack: this test kills one of its workers."""
    yield from start_stack(request, tmp_path_factory, "kill", pred_env())


def test_a_worker_killed_mid_job_its_job_completes_once_on_another(fresh_scale, tmp_path):
    srv: ServerProcess = fresh_scale
    with srv.client(srv.new_key(f"t-{uuid.uuid4().hex[:8]}")) as api:
        f = api.post("/files", files={"file": ("x", uuid.uuid4().bytes)}).json()
        pred_id = _sleep_job(api, f["id"], 4, tmp_path)
        _wait_for(lambda: any(tmp_path.iterdir()))
        victim = int(next(tmp_path.iterdir()).name)
        assert victim in srv.workers.alive()
        srv.workers.kill(victim)
        body = wait_final(api, pred_id, timeout=90)
        assert body["status"] == "completed", body
        assert body["response"]["pid"] != victim
        assert body["attempts"] == 2
        # completed once: a later look finds the same completion
        time.sleep(1)
        again = api.get(f"/predictions/{pred_id}").json()
        assert again["completed_at"] == body["completed_at"]


def test_jobs_queued_when_the_embedded_server_dies_run_after_its_restart(tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    srv = ServerProcess(data_dir=tmp_path / "data", env=pred_env(VLMFILES_WORKER_THREADS="1"))
    srv.start()
    try:
        key = srv.new_key("restart")
        with srv.client(key) as api:
            f = api.post("/files", files={"file": ("x", uuid.uuid4().bytes)}).json()
            running = _sleep_job(api, f["id"], 3, markers)
            queued = [_sleep_job(api, f["id"], 0) for _ in range(3)]
            _wait_for(lambda: any(markers.iterdir()))
            srv.kill()  # one job mid-run, three in the in-memory queue: all lost with it
        srv.start()
        with srv.client(key) as api:
            for pred_id in [running, *queued]:
                body = wait_final(api, pred_id)
                assert body["status"] == "completed", body
            assert api.get(f"/predictions/{running}").json()["attempts"] == 2
    finally:
        srv.stop()
