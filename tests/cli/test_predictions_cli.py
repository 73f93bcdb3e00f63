"""``vlmfiles generate`` and ``vlmfiles predictions ...`` against a real server, on invoices
drawn with known values: results for scripts (``--json``), tables for people, exit codes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.sdk.invoice_image import Invoice, save
from vlmfiles.cli import app

runner = CliRunner()


@pytest.fixture
def env(server, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    key = server.new_key(f"cli-p-{uuid.uuid4().hex[:10]}")
    monkeypatch.setenv("VLMFILES_API_KEY", key)
    monkeypatch.setenv("VLMFILES_BASE_URL", server.base_url)
    monkeypatch.delenv("VLMRUN_API_KEY", raising=False)
    return {"VLMFILES_API_KEY": key, "VLMFILES_BASE_URL": server.base_url}


def invoices(tmp_path: Path, n: int) -> dict[Path, Invoice]:
    made = {}
    for i in range(n):
        invoice = Invoice(f"INV-{5100 + i}", 50.0 + 10 * i)
        made[save(invoice, tmp_path / f"inv{i}.pdf")] = invoice
    return made


def test_generate_batch_wait_json_reads_every_invoice(env, tmp_path):
    made = invoices(tmp_path, 3)
    args = ["generate", *map(str, made), "-d", "document.invoice", "--batch", "--wait"]
    r = runner.invoke(app, [*args, "--sleep", "0.2", "--json"])
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    assert [p["status"] for p in got] == ["completed"] * 3
    assert [(p["response"]["invoice_number"], p["response"]["total_amount"]) for p in got] == [
        (inv.number, inv.total) for inv in made.values()
    ]

    r = runner.invoke(app, ["predictions", "list", "--all", "--json"])
    assert r.exit_code == 0, r.output
    assert {p["id"] for p in json.loads(r.stdout)} == {p["id"] for p in got}

    r = runner.invoke(app, ["predictions", "list"])
    assert all(p["id"] in r.stdout for p in got)  # whole ids in the table

    r = runner.invoke(app, ["predictions", "get", got[0]["id"]])
    assert r.exit_code == 0 and "INV-5100" in r.stdout

    r = runner.invoke(app, ["predictions", "wait", got[1]["id"], "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["response"]["total_amount"] == 60.0


def test_a_failed_prediction_exits_4_with_its_reason(env, tmp_path):
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ngarbage")
    r = runner.invoke(
        app, ["generate", str(broken), "-d", "document.markdown", "--batch", "--wait"]
    )
    assert r.exit_code == 4, r.output
    assert re.search(r"broken\.pdf: Prediction \S+ failed: \S", r.stderr), r.stderr
    pid = re.search(r"Prediction (\S+) failed", r.stderr).group(1)
    r = runner.invoke(app, ["predictions", "wait", pid, "--sleep", "0.1"])
    assert r.exit_code == 4 and pid in r.stderr


def test_unknown_domain_exits_1_and_unknown_id_exits_1(env, tmp_path):
    (path,) = invoices(tmp_path, 1)
    r = runner.invoke(app, ["generate", str(path), "-d", "document.nope"])
    assert r.exit_code == 1 and "document.invoice" in r.stderr  # the domains it offers
    r = runner.invoke(app, ["predictions", "get", "pred_" + "0" * 24])
    assert r.exit_code == 1 and "404" in r.stderr


def test_progress_display_on_a_terminal(env, tmp_path):
    """On a terminal, generate draws the uploads and the predictions as they go."""
    import pty
    import select

    made = invoices(tmp_path, 3)
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vlmfiles.cli", "generate", *map(str, made)]
        + ["-d", "document.invoice", "--batch", "--wait", "--sleep", "0.2"],
        env={**os.environ, **env, "COLUMNS": "160", "TERM": "xterm"},
        stdout=slave,
        stderr=slave,
    )
    os.close(slave)
    seen = b""
    while select.select([master], [], [], 120)[0]:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        seen += data
    os.close(master)
    assert proc.wait(timeout=60) == 0
    screen = seen.decode(errors="replace")
    assert "Uploads" in screen and "Predictions" in screen, screen
    assert re.search(r"\d/3 done", screen), screen
    assert "INV-5102" in screen  # then the results table
