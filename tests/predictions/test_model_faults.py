"""The model endpoint down, slow, hanging or answering garbage, through a real server on each
stack: jobs fail with a clear reason or retry, nothing hangs, the queue drains when it returns.

The server's `vlm_base_url` points at a port the tests control: closed (the endpoint is
down), or served by a fake OpenAI server started there for the test (tests/support/fake_openai.py).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import STACKS
from tests.predictions.conftest import pred_env, start_stack, wait_final
from tests.predictions.test_vlm_api import INVOICE, image_url
from tests.support.fake_openai import FakeOpenAI
from tests.support.server import ServerProcess, free_port

KEY = "sk-fault-campaign-SECRET-0042"
VLM_ATTEMPTS = 2
JOB_RETRIES = 2
TRIES = VLM_ATTEMPTS * (JOB_RETRIES + 1)  # requests before a job gives up
VLM_TIMEOUT = 1
HANG_LIMIT = 4  # the job time limit of the server whose request timeout is far longer


def fault_env(port: int, **extra: str) -> dict[str, str]:
    env = {
        "VLMFILES_VLM_BASE_URL": f"http://127.0.0.1:{port}/v1",
        "VLMFILES_VLM_MODEL": "fake-vlm",
        "VLMFILES_VLM_API_KEY": KEY,
        "VLMFILES_ENGINE_ROUTES": json.dumps({"document.markdown": "offline"}),
        "VLMFILES_VLM_MAX_ATTEMPTS": str(VLM_ATTEMPTS),
        "VLMFILES_VLM_TIMEOUT_SECONDS": str(VLM_TIMEOUT),
        "VLMFILES_JOB_MAX_RETRIES": str(JOB_RETRIES),
    }
    return pred_env(**{**env, **extra})


@pytest.fixture(scope="module")
def port() -> int:
    return free_port()


@pytest.fixture(scope="module", params=STACKS)
def fault_server(request: Any, tmp_path_factory: Any, port: int) -> Iterator[ServerProcess]:
    yield from start_stack(request, tmp_path_factory, "faults", fault_env(port))


@pytest.fixture
def fapi(fault_server: ServerProcess) -> Iterator[httpx.Client]:
    key = fault_server.new_key(f"t-{uuid.uuid4().hex[:10]}")
    with fault_server.client(key, timeout=120) as c:
        yield c


@pytest.fixture
def fake(port: int) -> Iterator[FakeOpenAI]:
    """The endpoint up for this test, on the port the server was told."""
    with FakeOpenAI(api_key=KEY, port=port) as f:
        yield f


def endpoint(port: int) -> str:
    return f"http://127.0.0.1:{port}/v1/chat/completions"


def submit(api: httpx.Client, domain: str = "document.invoice", **extra: Any) -> str:
    r = api.post(
        "/image/generate", json={"images": [image_url()], "domain": domain, "batch": True, **extra}
    )
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


def all_logs(server: ServerProcess) -> str:
    """The server's log and, on the scale stack, its workers' (where the jobs run)."""
    workers = sorted(server.data_dir.parent.glob("worker-*.log"))
    return server.log() + "".join(p.read_text(errors="replace") for p in workers)


def assert_no_key(server: ServerProcess, *bodies: dict[str, Any]) -> None:
    for body in bodies:
        assert KEY not in json.dumps(body)
    assert KEY not in all_logs(server)


def test_endpoint_down_fails_naming_the_url_not_the_key(fault_server, fapi, port):
    body = wait_final(fapi, submit(fapi))
    assert body["status"] == "failed", body
    message = body["error"]["message"]
    assert f"gave up after {JOB_RETRIES + 1} attempts" in message
    assert endpoint(port) in message and "cannot connect" in message
    assert_no_key(fault_server, body)


def test_endpoint_down_then_back_drains_the_queue(fault_server, fapi, port):
    ids = [submit(fapi) for _ in range(4)]
    deadline = time.monotonic() + 60
    # Each job has met the closed port at least once before the endpoint comes back.
    while not all(f"prediction {i} attempt 1:" in all_logs(fault_server) for i in ids):
        assert time.monotonic() < deadline, "the jobs never tried the endpoint"
        time.sleep(0.05)
    with FakeOpenAI(api_key=KEY, port=port) as fake:
        for _ in ids:
            fake.reply(INVOICE)
        bodies = [wait_final(fapi, i) for i in ids]
        assert [b["status"] for b in bodies] == ["completed"] * len(ids), [
            b["error"] for b in bodies
        ]
        assert {b["response"]["invoice_id"] for b in bodies} == {"INV-42"}
        assert len(fake.requests) == len(ids)
    assert_no_key(fault_server, *bodies)


def test_slow_past_the_timeout_fails_saying_so_while_other_jobs_run(fault_server, fapi, fake):
    for _ in range(TRIES):
        fake.reply_hang(30)
    slow = submit(fapi)
    other = wait_final(fapi, submit(fapi, "document.markdown"))
    assert other["status"] == "completed", other
    body = wait_final(fapi, slow)
    assert body["status"] == "failed", body
    message = body["error"]["message"]
    assert f"{endpoint(fake.port)} did not answer usably after {VLM_ATTEMPTS} tries" in message
    assert f"no answer within {VLM_TIMEOUT} s" in message
    assert len(fake.requests) == TRIES
    assert_no_key(fault_server, body)


GARBAGE = {
    "html": b"<html><body><h1>502 Bad Gateway</h1></body></html>",
    "truncated": b'{"id": "chatcmpl-1", "choices": [{"message": {"content": "{\\"inv',
    "no choices": json.dumps({"id": "chatcmpl-1", "object": "chat.completion"}).encode(),
}


@pytest.mark.parametrize("kind", list(GARBAGE))
def test_a_200_that_is_not_a_chat_completion_fails_quoting_it(fault_server, fapi, fake, kind):
    for _ in range(TRIES):
        fake.reply_raw(GARBAGE[kind])
    body = wait_final(fapi, submit(fapi))
    assert body["status"] == "failed", body
    message = body["error"]["message"]
    assert f"{endpoint(fake.port)} answered 200 without a chat completion" in message
    assert GARBAGE[kind][:20].decode() in message
    assert len(fake.requests) == JOB_RETRIES + 1  # the queue retries it, the client does not
    assert_no_key(fault_server, body)


def test_content_that_is_not_json_is_asked_again_then_fails_at_once(fault_server, fapi, fake):
    fake.reply_text("Sure! Here is the invoice you asked for.")
    fake.reply_text("The total is 99.50 USD.")
    body = wait_final(fapi, submit(fapi, config={"max_retries": 1}))
    assert body["status"] == "failed", body
    message = body["error"]["message"]
    assert "did not follow the document.invoice schema after 2 tries" in message
    assert "not JSON" in message or "JSON" in message
    assert len(fake.requests) == 2  # a model that answers is not retried by the queue


def test_429_waits_its_retry_after_then_completes(fault_server, fapi, fake):
    fake.reply_error(429, "Rate limit reached for requests", retry_after=1)
    fake.reply(INVOICE)
    body = wait_final(fapi, submit(fapi))
    assert body["status"] == "completed", body
    assert len(fake.requests) == 2
    assert fake.arrivals[1] - fake.arrivals[0] >= 1  # Retry-After honoured (a lower bound)


@pytest.fixture(scope="module")
def hang_server(tmp_path_factory: Any, port: int) -> Iterator[ServerProcess]:
    """A request timeout far past the job's time limit: only the time limit can end a hang."""
    env = fault_env(
        port,
        VLMFILES_VLM_TIMEOUT_SECONDS="3600",
        VLMFILES_JOB_TIME_LIMIT_SECONDS=str(HANG_LIMIT),
    )
    srv = ServerProcess(data_dir=tmp_path_factory.mktemp("faults-hang") / "data", env=env)
    srv.start()
    yield srv
    srv.stop()


def test_the_job_time_limit_ends_a_hanging_endpoint(hang_server, fake):
    key = hang_server.new_key(f"t-{uuid.uuid4().hex[:10]}")
    with hang_server.client(key, timeout=120) as api:
        fake.reply_hang(3600)
        body = wait_final(api, submit(api), timeout=60)
        assert body["status"] == "failed", body
        assert "time limit" in body["error"]["message"]
        assert len(fake.requests) == 1  # the time limit is not a fault the queue retries
        # The worker thread is free again: the next job runs.
        fake.reply(INVOICE)
        assert wait_final(api, submit(api))["status"] == "completed"
    assert_no_key(hang_server, body)
