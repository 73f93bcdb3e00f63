"""The model benchmark's smoke form: it runs, and the fake endpoint never saw more requests in
flight than `vlm_max_concurrency` allowed. Figures are not judged here (the machine is noisy);
the full run is `python -m bench.model` (docs/benchmarks.md)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_model_benchmark_smoke_bounds_requests_in_flight(tmp_path):
    out_json = tmp_path / "rows.json"
    run = subprocess.run(
        [sys.executable, "-m", "bench.model", "--smoke", "--concurrency", "1,3"]
        + ["--json", str(out_json)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "VLMFILES_BENCH_DIR": str(tmp_path)},
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    rows = json.loads(out_json.read_text())
    assert len(rows) == 2
    for (_, measure, figure, _, _), bound in zip(rows, (1, 3), strict=True):
        assert measure.endswith(f"vlm_max_concurrency {bound}"), measure
        peak = re.search(r"peak (\d+) in flight", figure)
        assert peak and 1 <= int(peak.group(1)) <= bound, figure
