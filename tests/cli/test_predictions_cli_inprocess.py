"""``vlmfiles generate`` and ``vlmfiles predictions ...`` on the in-process fake of the wire
(``tests/sdk/fake_predictions.py``): output, exit codes and errors. The same commands run
against a real server in ``test_predictions_cli.py``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.sdk.fake_predictions import FakeServer, prediction
from vlmfiles.cli import app
from vlmfiles.cli.files import Settings

runner = CliRunner()
LONG_ID = "pred_" + "0123456789abcdef" * 3  # longer than a narrow table would allow


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeServer:
    server = FakeServer()
    monkeypatch.setattr(Settings, "client", lambda self: server.client("sync"))
    monkeypatch.setenv("VLMFILES_API_KEY", "k")
    return server


def pdf(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(b"%PDF-1.4\n" + name.encode() * 20)
    return path


def test_generate_uploads_each_file_and_prints_one_prediction_per_file(fake, tmp_path):
    a, b = pdf(tmp_path, "a.pdf"), pdf(tmp_path, "b.pdf")
    fake.on_generate = lambda body: prediction(
        f"pred_{len(fake.bodies('document/generate'))}", response={"total_amount": 1.5}
    )
    r = runner.invoke(app, ["generate", str(a), str(b), "-d", "document.invoice", "--json"])
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    assert [p["status"] for p in got] == ["completed", "completed"]
    bodies = fake.bodies("document/generate")
    assert [b["file_id"] for b in bodies] == ["file_0123", "file_0123"]
    assert {b["domain"] for b in bodies} == {"document.invoice"}
    assert sum(r.url.path == "/v1/files" for r in fake.requests) == 2


def test_image_domains_go_to_image_generate_with_the_files_url(fake, tmp_path):
    a = tmp_path / "a.png"
    a.write_bytes(b"\x89PNG\r\n\x1a\n")
    url = "http://h.test/x.png"
    r = runner.invoke(app, ["generate", url, "-d", "image.classification", "--json"])
    assert r.exit_code == 0, r.output
    assert fake.bodies("image/generate")[0]["images"] == [url]


def test_a_missing_file_exits_3_before_anything_is_sent(fake, tmp_path):
    a = pdf(tmp_path, "a.pdf")
    r = runner.invoke(app, ["generate", str(a), str(tmp_path / "nope.pdf"), "-d", "d"])
    assert r.exit_code == 3 and "nope.pdf" in r.stderr
    assert fake.requests == []


def test_no_domain_is_a_usage_error(fake, tmp_path):
    r = runner.invoke(app, ["generate", str(pdf(tmp_path, "a.pdf"))])
    assert r.exit_code == 2 and "--domain" in r.output


def test_batch_then_wait_polls_to_completed(fake, tmp_path, monkeypatch):
    monkeypatch.setattr("time.sleep", lambda s: None)
    fake.on_generate = lambda body: prediction("pred_b", "pending")
    fake.script["pred_b"] = [
        prediction("pred_b", "running"),
        prediction("pred_b", "completed", response={"invoice_number": "INV-1"}),
    ]
    r = runner.invoke(
        app, ["generate", str(pdf(tmp_path, "a.pdf")), "-d", "d", "--batch", "--wait", "--json"]
    )
    assert r.exit_code == 0, r.output
    assert fake.bodies("document/generate")[0]["batch"] is True
    assert json.loads(r.stdout)[0]["response"] == {"invoice_number": "INV-1"}


def test_a_failed_prediction_exits_4_saying_why(fake, tmp_path):
    fake.on_generate = lambda body: prediction("pred_x", "failed", error="PDF is encrypted")
    r = runner.invoke(app, ["generate", str(pdf(tmp_path, "a.pdf")), "-d", "d", "--json"])
    assert r.exit_code == 4
    assert "pred_x failed: PDF is encrypted" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert json.loads(r.stdout)[0]["status"] == "failed"


def test_wait_out_of_time_exits_5(fake, tmp_path, monkeypatch):
    monkeypatch.setattr("time.sleep", lambda s: None)
    fake.on_generate = lambda body: prediction("pred_s", "pending")
    fake.script["pred_s"] = [prediction("pred_s", "running")]
    r = runner.invoke(
        app, ["generate", str(pdf(tmp_path, "a.pdf")), "-d", "d", "--wait", "--timeout", "0"]
    )
    assert r.exit_code == 5 and "did not complete within 0 seconds" in r.stderr


def test_an_api_error_on_one_file_exits_1_and_the_others_finish(fake, tmp_path):
    def answer(body):
        if body.get("url"):
            raise AssertionError
        return prediction("pred_ok")

    fake.on_generate = answer
    missing = "http://h.test/404.pdf"
    original = fake.handle

    def handle(request):
        if b"404.pdf" in request.content:
            import httpx

            fake.requests.append(request)
            return httpx.Response(400, json={"error": {"message": "could not fetch the URL"}})
        return original(request)

    fake.handle = handle  # type: ignore[method-assign]
    r = runner.invoke(app, ["generate", str(pdf(tmp_path, "a.pdf")), missing, "-d", "d", "--json"])
    assert r.exit_code == 1
    assert "could not fetch the URL" in r.stderr
    assert [p["id"] for p in json.loads(r.stdout)] == ["pred_ok"]


def test_predictions_list_shows_whole_ids_in_a_narrow_table(fake):
    fake.predictions = [prediction(LONG_ID, response={"x": "y" * 300}, domain="document.invoice")]
    r = runner.invoke(app, ["predictions", "list"], env={"COLUMNS": "60"})
    assert r.exit_code == 0, r.output
    assert LONG_ID in r.stdout and "completed" in r.stdout


def test_predictions_list_all_json_pages_through(fake):
    fake.predictions = [prediction(f"pred_{i:03}") for i in range(230)]
    r = runner.invoke(app, ["predictions", "list", "--all", "--json"])
    assert [p["id"] for p in json.loads(r.stdout)] == [f"pred_{i:03}" for i in range(230)]
    r = runner.invoke(app, ["predictions", "list", "-n", "5", "--skip", "10", "--json"])
    assert [p["id"] for p in json.loads(r.stdout)] == [f"pred_{i:03}" for i in range(10, 15)]


def test_predictions_get_shows_the_result(fake):
    fake.predictions = [prediction(LONG_ID, response={"invoice_number": "INV-42"})]
    r = runner.invoke(app, ["predictions", "get", LONG_ID])
    assert r.exit_code == 0 and LONG_ID in r.stdout and "INV-42" in r.stdout
    r = runner.invoke(app, ["predictions", "get", LONG_ID], env={"COLUMNS": "40"})
    folded = "".join(line.strip("│ ").split("│")[-1].strip() for line in r.stdout.splitlines())
    assert "…" not in r.stdout and LONG_ID in folded  # whole, over two lines
    r = runner.invoke(app, ["predictions", "get", LONG_ID, "--json"])
    assert json.loads(r.stdout)["response"] == {"invoice_number": "INV-42"}
    r = runner.invoke(app, ["predictions", "get", "pred_missing"])
    assert r.exit_code == 1 and "404" in r.stderr


def test_predictions_wait_failed_exits_4(fake, monkeypatch):
    monkeypatch.setattr("time.sleep", lambda s: None)
    fake.script["pred_f"] = [prediction("pred_f", "running"), prediction("pred_f", "failed")]
    r = runner.invoke(app, ["predictions", "wait", "pred_f", "--sleep", "0.1"])
    assert r.exit_code == 4 and "pred_f failed: the server gave no reason" in r.stderr
