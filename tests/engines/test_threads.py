"""One tesseract per worker thread: concurrent jobs read the same as one at a time."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.support.invoices import invoice_sample


def test_concurrent_ocr_jobs_give_the_same_answers(run, tmp_path):
    paths = [invoice_sample(s).image(tmp_path / f"{s}.png") for s in range(4)]
    alone = [run("document.invoice", p).response for p in paths]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda p: run("document.invoice", p).response, paths * 2))
    assert together == alone * 2
