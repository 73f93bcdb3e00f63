"""No log line carries a URL's signature: whoever reads the logs could fetch the file.

Signed download URLs and presigned PUT URLs end up in request lines (uvicorn's access log,
at the default level) and may appear in messages or their arguments anywhere else. Every
record is redacted when it is made (``logging.setLogRecordFactory``), so no handler,
formatter or logger configuration can let one through.
"""

from __future__ import annotations

import logging
import re
from typing import Any

_SIGNED = re.compile(
    r"((?:signature|x-amz-signature|x-amz-credential|x-amz-security-token)=)[^&\s\"'<>]+",
    re.IGNORECASE,
)
REDACTED = "REDACTED"


def redact(text: str) -> str:
    """``text`` with the value of every signature-bearing query parameter replaced."""
    if "=" not in text:
        return text
    return _SIGNED.sub(r"\g<1>" + REDACTED, text)


def _redacted(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


def install() -> None:
    """Redact every log record of this process from now on. Idempotent."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "redacts", False):
        return

    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        record.msg = _redacted(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _redacted(v) for k, v in record.args.items()}
        return record

    make.redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(make)
