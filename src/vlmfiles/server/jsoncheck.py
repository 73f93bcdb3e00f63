"""Is a fine-tune file JSONL, or one JSON document? Judged as its bytes stream past.

Every JSON value is parsed whole by orjson (strict RFC 8259, nesting capped at 1024 levels
with an error, never a RecursionError), and none may be larger than ``max_value`` bytes:
one line of JSONL, or the whole file when it is a single (pretty-printed) document. So the
work is linear in the file's size and the memory bounded by ``max_value``, whatever the
length of a line. A streaming parser would lift the bound on one value, but a value of
tens of MiB is no usable training record, and orjson validates several times faster than
the pure-Python streaming parsers; ijson's C backend would still cost a Python call per
token.

The first line that holds a value decides the form: if it parses, the file must be JSONL
(a pretty-printed document cannot begin with a whole value on its first line); if it does
not, the whole file must be one document. A file whose first byte cannot begin a JSON
value is known not to be JSON at once, and nothing more is done: the validator also runs
on uploads whose purpose is not known yet (a ``purpose`` form field sent after the file),
where it must cost nothing for files that are not JSON.
"""

from __future__ import annotations

import orjson

from .errors import UnsupportedMediaType

MAX_DEPTH = 1024  # orjson's fixed nesting limit
_BOM = b"\xef\xbb\xbf"
_WHITESPACE = b" \t\r\n"
_VALUE_STARTS = frozenset(b'{["-0123456789tfn')


class JsonValidator:
    """Feed it the file's bytes in order (``feed``), then ask ``finish`` for the verdict."""

    def __init__(self, max_value: int) -> None:
        self.max_value = max_value
        self._mode = "start"  # start | lines | document | failed
        self._buf = bytearray()  # the current line; in start/document mode the file so far
        self._head: bytes | None = b""  # until the first bytes are past a possible BOM
        self._line_no = 0  # lines completed
        self._values = 0  # non-blank JSONL lines parsed
        self._problem = ""
        self._value_at = -1  # where the first value begins, once a byte of it was seen
        self._first_line_error = ""

    # Feeding ---------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        if self._mode == "failed" or not data:
            return
        if self._head is not None:  # the first bytes: a BOM to drop (orjson refuses one)?
            data = self._head + data
            if len(data) < len(_BOM) and _BOM.startswith(data):
                self._head = data
                return
            self._head = None
            data = data.removeprefix(_BOM)
        if self._mode == "lines":
            self._feed_lines(data)
        elif self._mode == "document":
            self._keep(data, "a single JSON document")
        else:
            self._feed_start(data)

    def _fail(self, problem: str) -> None:
        self._mode = "failed"
        self._problem = problem
        self._buf = bytearray()

    def _keep(self, data: bytes | memoryview, what: str) -> bool:
        if len(self._buf) + len(data) > self.max_value:
            self._fail(
                f"{what} is larger than {self.max_value} bytes, the most one JSON value may take"
            )
            return False
        self._buf += data
        return True

    def _feed_start(self, data: bytes) -> None:
        """Before the first line holding a value is complete: the file so far is kept."""
        scanned = len(self._buf)
        if self._value_at < 0:
            stripped = data.lstrip(_WHITESPACE)
            if not stripped:
                self._keep(data, "its leading whitespace")
                return
            if stripped[0] not in _VALUE_STARTS:
                self._fail(f"it begins with {stripped[:1]!r}, which cannot begin a JSON value")
                return
            self._value_at = scanned + len(data) - len(stripped)
        end = data.find(b"\n", max(0, self._value_at - scanned))
        if not self._keep(data if end < 0 else data[:end], "its first line") or end < 0:
            return
        self._line_no = self._buf.count(b"\n") + 1
        try:
            orjson.loads(memoryview(self._buf)[self._value_at :])
        except orjson.JSONDecodeError as exc:
            if self._buf[self._value_at] in b"{[":  # a document over several lines, or nothing
                self._mode = "document"
                self._first_line_error = self._explain(exc)
                self._keep(data[end:], "a single JSON document")
            else:
                self._fail(f"line {self._line_no} is not JSON ({self._explain(exc)})")
            return
        self._values = 1
        self._buf = bytearray()
        self._mode = "lines"
        self._feed_lines(data[end + 1 :])

    def _feed_lines(self, data: bytes) -> None:
        view = memoryview(data)
        pos = 0
        while (end := data.find(b"\n", pos)) >= 0:
            self._line_no += 1
            if self._buf:  # the line began in an earlier chunk
                if not self._keep(view[pos:end], f"line {self._line_no}"):
                    return
                self._check_line(self._buf)
                self._buf = bytearray()
            elif end - pos > self.max_value:
                self._keep(view[pos:end], f"line {self._line_no}")
                return
            else:
                self._check_line(view[pos:end])
            if self._mode == "failed":
                return
            pos = end + 1
        self._keep(view[pos:], f"line {self._line_no + 1}")

    def _check_line(self, line: bytes | bytearray | memoryview) -> None:
        try:
            orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            if bytes(line).strip(_WHITESPACE):
                self._fail(f"line {self._line_no} is not JSON ({self._explain(exc)})")
            return
        self._values += 1

    @staticmethod
    def _explain(exc: orjson.JSONDecodeError) -> str:
        if "depth limit" in exc.msg:
            return f"arrays or objects nested deeper than {MAX_DEPTH} levels"
        return f"{exc.msg} at column {exc.colno}"

    # The verdict -----------------------------------------------------------------------

    def finish(self) -> str:
        """The validated type (JSON or JSONL), or raise 415 saying what is wrong."""
        if self._mode == "lines":
            if self._buf:
                self._line_no += 1
                self._check_line(self._buf)
            if self._mode == "lines":
                return "application/x-ndjson" if self._values > 1 else "application/json"
        elif self._mode in ("start", "document"):
            try:
                orjson.loads(self._buf)
            except orjson.JSONDecodeError as exc:
                what = "is not one JSON document" if self._buf.strip(_WHITESPACE) else "is empty"
                if self._mode == "document":
                    what = f"is not JSONL (line 1: {self._first_line_error}) nor one JSON document"
                self._fail(f"it {what} ({self._explain(exc)})")
            else:
                return "application/json"
        raise UnsupportedMediaType(
            f"Purpose 'fine-tune' accepts JSON or JSONL (UTF-8): one document, or one value "
            f"per line, each value at most {self.max_value} bytes and nested at most "
            f"{MAX_DEPTH} deep. This file is neither: {self._problem}."
        )
