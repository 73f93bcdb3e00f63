"""``callback_url`` webhooks on a real server per stack, POSTing to a real receiver on a
loopback port (so the server allows private URLs; the default server refuses them)."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import vlmfiles
from tests.compat.sdk_env import LazySdkVenv, clean_env
from tests.conftest import STACKS
from tests.predictions.conftest import job_slots, pred_env, start_stack, wait_final
from tests.support.receiver import Receiver
from tests.support.server import ServerProcess, free_port
from vlmfiles import verify_signature

MAX_ATTEMPTS = 3
CALLBACK_ENV = {
    "VLMFILES_ALLOW_PRIVATE_URLS": "true",
    "VLMFILES_CALLBACK_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
    "VLMFILES_CALLBACK_BACKOFF_SECONDS": "0.05",
    "VLMFILES_CALLBACK_TIMEOUT_SECONDS": "60",  # a held receiver stays held
    "VLMFILES_CALLBACK_THREADS": "2",
}


@pytest.fixture(scope="session", params=STACKS)
def cb_server(request: Any, tmp_path_factory: Any) -> Iterator[ServerProcess]:
    yield from start_stack(request, tmp_path_factory, "cb", pred_env(**CALLBACK_ENV))


@pytest.fixture
def capi(cb_server: ServerProcess) -> Iterator[httpx.Client]:
    key = cb_server.new_key(f"t-{uuid.uuid4().hex[:10]}")
    with cb_server.client(key, timeout=120) as c:
        yield c


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def submit(api: httpx.Client, domain: str, callback_url: str | None, **extra: Any) -> str:
    f = api.post("/files", files={"file": ("f.bin", b"cb " + uuid.uuid4().bytes)}).json()
    body = {"file_id": f["id"], "domain": domain, "batch": True, "callback_url": callback_url}
    r = api.post("/document/generate", json={**body, **extra})
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


def wait_callback(api: httpx.Client, pred_id: str, timeout: float = 60) -> dict[str, Any]:
    """The prediction once its callback is no longer pending."""
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = api.get(f"/predictions/{pred_id}").json()
        if body["callback"]["status"] != "pending" or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def test_a_completed_job_posts_its_json_signed(capi, receiver):
    pred_id = submit(capi, "document.test-echo", receiver.url("/done"))
    (post,) = receiver.wait_for("/done", 1)
    final = wait_callback(capi, pred_id)
    assert final["status"] == "completed"
    assert final["callback"]["status"] == "delivered"
    (attempt,) = final["callback"]["attempts"]
    assert attempt["status_code"] == 200 and attempt["error"] is None
    assert attempt["duration_ms"] >= 0 and attempt["at"].endswith("Z")
    # The body is the prediction as GET showed it when it completed: the same fields, and
    # the callback still pending with no attempt yet.
    sent = json.loads(post.body)
    assert sent["callback"] == {"url": receiver.url("/done"), "status": "pending", "attempts": []}
    assert {k: v for k, v in sent.items() if k != "callback"} == {
        k: v for k, v in final.items() if k != "callback"
    }
    assert post.headers["Content-Type"] == "application/json"
    assert post.headers["X-VLMRun-Delivery"] == f"{pred_id}/1"
    secret = capi.get("/webhooks/secret").json()["secret"]
    header = post.headers["X-VLMRun-Signature"]
    assert verify_signature(post.body, header, secret)
    assert not verify_signature(post.body + b" ", header, secret)
    assert not verify_signature(post.body, header, secret + "x")


def test_the_official_sdk_verifies_the_signature_and_parses_the_body(capi, receiver):
    pred_id = submit(capi, "document.test-echo", receiver.url("/sdk"))
    (post,) = receiver.wait_for("/sdk", 1)
    secret = capi.get("/webhooks/secret").json()["secret"]
    program = (
        "import json, sys\n"
        "from vlmrun.common.webhook import verify_webhook\n"
        "from vlmrun.client.types import PredictionResponse\n"
        "a = json.load(sys.stdin)\n"
        "body = a['body'].encode('latin-1')\n"
        "ok = verify_webhook(body, a['header'], a['secret'])\n"
        "bad = verify_webhook(body + b' ', a['header'], a['secret'])\n"
        "p = PredictionResponse(**json.loads(body))\n"
        "print(json.dumps({'ok': ok, 'bad': bad, 'id': p.id, 'status': p.status}))\n"
    )
    venv = LazySdkVenv().get()
    proc = subprocess.run(
        [str(venv.python), "-c", program],
        input=json.dumps(
            {
                "body": post.body.decode("latin-1"),
                "header": post.headers["X-VLMRun-Signature"],
                "secret": secret,
            }
        ),
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        "ok": True,
        "bad": False,
        "id": pred_id,
        "status": "completed",
    }


def test_tenants_have_different_secrets(cb_server, capi):
    key = cb_server.new_key(f"t-{uuid.uuid4().hex[:10]}")
    with cb_server.client(key) as other:
        theirs = other.get("/webhooks/secret").json()["secret"]
    mine = capi.get("/webhooks/secret").json()["secret"]
    assert mine.startswith("whsec_") and theirs.startswith("whsec_") and mine != theirs
    assert capi.get("/webhooks/secret").json()["secret"] == mine  # stable


def test_a_failed_job_posts_status_failed(capi, receiver):
    pred_id = submit(capi, "document.test-fail", receiver.url("/failed"))
    (post,) = receiver.wait_for("/failed", 1)
    sent = json.loads(post.body)
    assert sent["id"] == pred_id and sent["status"] == "failed"
    assert "told to fail" in sent["error"]["message"]
    assert wait_callback(capi, pred_id)["callback"]["status"] == "delivered"


def test_5xx_answers_are_retried_and_each_attempt_shows(capi, receiver):
    receiver.script("/flaky", 500, 500, 200)
    pred_id = submit(capi, "document.test-echo", receiver.url("/flaky"))
    final = wait_callback(capi, pred_id)
    assert final["callback"]["status"] == "delivered", final["callback"]
    codes = [a["status_code"] for a in final["callback"]["attempts"]]
    assert codes == [500, 500, 200]
    assert "answered 500" in final["callback"]["attempts"][0]["error"]
    posts = receiver.posts("/flaky")
    assert [p.headers["X-VLMRun-Delivery"] for p in posts] == [f"{pred_id}/{n}" for n in (1, 2, 3)]
    assert len({p.body for p in posts}) == 3  # each shows the attempts before it


def test_a_4xx_is_final(capi, receiver):
    receiver.script("/gone", 410)
    pred_id = submit(capi, "document.test-echo", receiver.url("/gone"))
    final = wait_callback(capi, pred_id)
    assert final["callback"]["status"] == "failed"
    assert [a["status_code"] for a in final["callback"]["attempts"]] == [410]


def test_a_receiver_down_gives_up_after_the_max_and_the_job_stands(capi):
    url = f"http://127.0.0.1:{free_port()}/nobody"
    pred_id = submit(capi, "document.test-echo", url)
    final = wait_callback(capi, pred_id)
    assert final["status"] == "completed" and final["response"] is not None
    assert final["callback"]["status"] == "failed"
    attempts = final["callback"]["attempts"]
    assert len(attempts) == MAX_ATTEMPTS
    assert all(a["status_code"] is None and a["error"] for a in attempts)


def test_a_slow_receiver_holds_no_job_slot(cb_server, capi, receiver):
    held = [submit(capi, "document.test-echo", receiver.url("/hold/slow")) for _ in range(2)]
    assert receiver.wait_held(2) == 2
    others = [submit(capi, "document.test-echo", None) for _ in range(job_slots(cb_server) + 1)]
    for pred_id in others:
        assert wait_final(capi, pred_id, timeout=30)["status"] == "completed"
    assert receiver.held == 2  # still holding both deliveries
    for pred_id in held:
        assert capi.get(f"/predictions/{pred_id}").json()["callback"]["status"] == "pending"
    receiver.release()
    for pred_id in held:
        assert wait_callback(capi, pred_id)["callback"]["status"] == "delivered"


def test_no_callback_url_shows_null(capi):
    pred_id = submit(capi, "document.test-echo", None)
    assert wait_final(capi, pred_id)["callback"] is None


@pytest.mark.parametrize(
    "url, says",
    [
        ("ftp://example.com/hook", "http(s) URL"),
        ("example.com/hook", "http(s) URL"),
        ("https://" + "a" * 2100 + ".com/", "the limit is 2048"),
    ],
)
def test_bad_callback_urls_are_400_at_submit(capi, url, says):
    f = capi.post("/files", files={"file": ("f.bin", uuid.uuid4().bytes)}).json()
    r = capi.post(
        "/document/generate",
        json={"file_id": f["id"], "domain": "document.test-echo", "callback_url": url},
    )
    assert r.status_code == 400, r.text
    message = r.json()["error"]["message"]
    assert "callback_url" in message and says in message


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/x", "http://localhost/x", "http://10.1.2.3/", "http://[::1]/"]
)
def test_private_callback_urls_are_400_without_allow_private(papi, url):
    f = papi.post("/files", files={"file": ("f.bin", uuid.uuid4().bytes)}).json()
    r = papi.post(
        "/document/generate",
        json={"file_id": f["id"], "domain": "document.test-echo", "callback_url": url},
    )
    assert r.status_code == 400, r.text
    message = r.json()["error"]["message"]
    assert "callback_url" in message and "VLMFILES_ALLOW_PRIVATE_URLS" in message


def test_an_embedded_restart_sends_a_pending_delivery_again(tmp_path):
    """The in-memory broker loses the delayed next attempt with the process; the row says
    the delivery is pending, so the next start sends it."""
    port = free_port()
    env = pred_env(**{**CALLBACK_ENV, "VLMFILES_CALLBACK_BACKOFF_SECONDS": "3600"})
    srv = ServerProcess(data_dir=tmp_path / "data", env=env).start()
    receiver = Receiver(port=port)
    try:
        with srv.client(srv.api_key) as api:
            pred_id = submit(api, "document.test-echo", receiver.url("/later"))
            deadline = time.monotonic() + 60
            while not api.get(f"/predictions/{pred_id}").json()["callback"]["attempts"]:
                assert time.monotonic() < deadline, "no first attempt"
                time.sleep(0.05)
        srv.stop()
        receiver.start()  # now someone listens
        srv.start()
        with srv.client(srv.api_key) as api:
            final = wait_callback(api, pred_id)
        assert final["callback"]["status"] == "delivered", final["callback"]
        first, second = final["callback"]["attempts"]
        assert first["status_code"] is None and "Connect" in first["error"]
        assert second["status_code"] == 200
        (post,) = receiver.posts("/later")
        assert json.loads(post.body)["id"] == pred_id
    finally:
        srv.stop()
        receiver.stop()


def test_the_sdk_reads_the_secret_and_the_attempts(cb_server, capi, receiver):
    receiver.script("/sdk-own", 503, 204)
    pred_id = submit(capi, "document.test-echo", receiver.url("/sdk-own"))
    wait_callback(capi, pred_id)
    key = capi.headers["Authorization"].removeprefix("Bearer ")
    with vlmfiles.Client(api_key=key, base_url=cb_server.base_url) as client:
        secret = client.webhooks.secret()
        prediction = client.predictions.get(pred_id)
    assert prediction.callback is not None and prediction.callback.status == "delivered"
    assert [a.status_code for a in prediction.callback.attempts] == [503, 204]
    assert prediction.callback.attempts[0].at.tzinfo is not None

    async def async_secret() -> str:
        async with vlmfiles.AsyncClient(api_key=key, base_url=cb_server.base_url) as client:
            return await client.webhooks.secret()

    assert asyncio.run(async_secret()) == secret
    first, second = receiver.posts("/sdk-own")
    assert all(
        verify_signature(p.body, p.headers["X-VLMRun-Signature"], secret) for p in (first, second)
    )


def test_a_name_resolving_to_a_private_address_is_refused_when_called(papi):
    """Past the submit check (a name), the address is checked at connect time: final."""
    host = socket.gethostname()
    address = socket.getaddrinfo(host, 80, type=socket.SOCK_STREAM)[0][4][0]
    pred_id = submit(papi, "document.test-echo", f"http://{host}:9/hook")
    final = wait_callback(papi, pred_id)
    assert final["status"] == "completed"
    assert final["callback"]["status"] == "failed"
    (attempt,) = final["callback"]["attempts"]
    assert attempt["status_code"] is None
    assert address in attempt["error"] and "callback_url" in attempt["error"]
