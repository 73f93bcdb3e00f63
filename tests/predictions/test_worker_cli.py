"""`vlmfiles worker` refuses to start without a broker to take jobs from."""

from __future__ import annotations

import os
import subprocess

from tests.support.server import vlmfiles_cmd


def test_worker_without_a_queue_url_says_what_to_give(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("VLMFILES_")}
    env["VLMFILES_DATA_DIR"] = str(tmp_path)
    run = subprocess.run(
        vlmfiles_cmd("worker"), env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 2
    assert "--queue-url redis://" in run.stderr and "vlmfiles serve" in run.stderr
