"""An engine for the pipeline's tests and bench: behaviour chosen by domain and config.

document.test-echo / image.test-echo   the inputs' sha256, size and media type
document.test-sleep                    sleeps ``config["seconds"]`` (not checking the
                                       deadline: the runner's limit must end it); writes
                                       ``config["marker_dir"]/<pid>`` first
document.test-fail                     raises EngineError
document.test-crash                    raises a plain exception (an engine bug)
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from vlmfiles.server.engines.base import EngineError, EngineInput, EngineResult, Limits

DOMAINS = {
    "document.test-echo": "the inputs' hashes",
    "image.test-echo": "the inputs' hashes",
    "document.test-sleep": "sleeps",
    "document.test-fail": "fails",
    "document.test-crash": "crashes",
}


class ScriptedEngine:
    name = "test"

    def domains(self) -> Mapping[str, str]:
        return DOMAINS

    def run(
        self,
        domain: str,
        inputs: Sequence[EngineInput],
        config: Mapping[str, Any],
        limits: Limits,
    ) -> EngineResult:
        kind = domain.split(".", 1)[1]
        if kind == "test-sleep":
            marker = config.get("marker_dir")
            if marker:
                (Path(marker) / str(os.getpid())).touch()
            time.sleep(float(config.get("seconds", 1)))
        elif kind == "test-fail":
            raise EngineError("the test engine was told to fail")
        elif kind == "test-crash":
            raise ZeroDivisionError("division by zero")
        files = [
            {
                "sha256": hashlib.sha256(i.path.read_bytes()).hexdigest(),
                "bytes": i.path.stat().st_size,
                "media_type": i.media_type,
                "name": i.name,
            }
            for i in inputs
        ]
        return EngineResult(
            response={"files": files, "pid": os.getpid(), "config": dict(config)},
            elements=len(inputs),
            element_type="image" if domain.startswith("image.") else "page",
            engine="test",
        )
