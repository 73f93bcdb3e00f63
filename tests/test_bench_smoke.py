"""The benchmark's smoke form, so the harness cannot rot. Figures are not judged here (the
machine is noisy); the full run is `python -m bench.run` (docs/benchmarks.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_benchmark_smoke_run_prints_every_row(tmp_path):
    out_json = tmp_path / "rows.json"
    run = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--json", str(out_json)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env={**__import__("os").environ, "VLMFILES_BENCH_DIR": str(tmp_path)},
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    rows = json.loads(out_json.read_text())
    measures = {(stack, measure.split(",")[0]) for stack, measure, _, _ in rows}
    for stack in ("embedded", "scale"):
        for name in (
            "large upload through the SDK",
            "re-upload of a known file (de-dup hit)",
            "same bytes PUT straight to SeaweedFS S3 (boto3)",
            "4 KiB uploads",
            "list 2",
            "peak RSS growth",
        ):
            assert any(s == stack and m.startswith(name) for s, m in measures), (stack, name)
    small = [ratio for _, measure, _, ratio in rows if measure.startswith("4 KiB uploads")]
    # Both SeaweedFS buckets were measured: as it comes, and with fsync on.
    assert small and all(
        "× SeaweedFS (" in ratio and "× SeaweedFS with fsync (" in ratio for ratio in small
    ), small
    assert "| stack | measure |" in run.stdout
    engine = [measure for stack, measure, _, _ in rows if stack == "engine"]
    for name in ("OCR pipeline pages/s", "text-layer PDF pages/s", "Field accuracy, invoices"):
        assert any(m.startswith(name) for m in engine), (name, engine)
    predictions = {(stack, measure.split(",")[0]) for stack, measure, _, _ in rows}
    for stack in ("embedded", "scale"):
        assert (stack, "no-op job submit→completed") in predictions, stack
    assert ("scale", "no-op jobs through 2 worker process(es)") in predictions, predictions
    assert any(m.endswith("PDF through document.markdown") for _, m in predictions)
