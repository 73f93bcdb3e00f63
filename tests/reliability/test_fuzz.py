"""Fuzz the API from its own OpenAPI document (schemathesis): no input makes it fail."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

EXAMPLES = os.environ.get("VLMFILES_FUZZ_EXAMPLES", "30")


def test_no_generated_request_gets_a_5xx(server, tmp_path: Path):
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    assert st, "schemathesis is part of the dev extra"
    out = subprocess.run(
        [
            st,
            "run",
            server.origin + "/openapi.json",
            "-H",
            f"Authorization: Bearer {server.new_key('fuzz')}",
            "--checks",
            "not_a_server_error",
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
