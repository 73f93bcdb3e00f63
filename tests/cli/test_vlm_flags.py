"""The model engine's flags on `serve` and `worker`, and its settings checked at start."""

from __future__ import annotations

import subprocess

import pytest

from tests.support.server import vlmfiles_cmd


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_serve_and_worker_take_the_vlm_flags(command: str) -> None:
    out = subprocess.run(
        vlmfiles_cmd(command, "--help"),
        capture_output=True,
        text=True,
        timeout=60,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr
    for flag in ("--vlm-base-url", "--vlm-model", "--vlm-api-key"):
        assert flag in out.stdout, (flag, out.stdout)


def test_a_base_url_without_a_model_is_refused_with_what_to_set(tmp_path) -> None:
    out = subprocess.run(
        vlmfiles_cmd(
            "worker", "--queue-url", "redis://127.0.0.1:1/0", "--vlm-base-url", "http://x/v1"
        ),
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "VLMFILES_DATA_DIR": str(tmp_path)},
    )
    assert out.returncode == 2
    assert "vlm_model is not" in out.stderr and "--vlm-model" in out.stderr
