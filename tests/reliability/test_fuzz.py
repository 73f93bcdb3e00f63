"""Fuzz the API from its own OpenAPI document (schemathesis, every check): no input makes
it fail, and every answer is one the document allows (status, content type, body schema,
``Allow`` headers, auth), so ``/openapi.json`` stays a reference users can trust. Bounded:
a fixed number of examples per operation, deterministic, seconds per stack."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

EXAMPLES = os.environ.get("VLMFILES_FUZZ_EXAMPLES", "30")
CONFIG = Path(__file__).with_name("schemathesis.toml")


def test_the_server_answers_as_its_openapi_document_says(server, tmp_path: Path):
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    assert st, "schemathesis is part of the dev extra"
    out = subprocess.run(
        [
            st,
            "--config-file",
            str(CONFIG),
            "run",
            server.origin + "/openapi.json",
            "-H",
            f"Authorization: Bearer {server.new_key('fuzz')}",
            "--checks",
            "all",
            "--max-examples",
            EXAMPLES,
            "--generation-deterministic",
            "--request-timeout",
            "30",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout[-5000:] + out.stderr[-2000:]
    summary = out.stdout.split("SUMMARY")[-1]
    assert re.search(r"(\d+) generated, \1 passed", summary), summary
