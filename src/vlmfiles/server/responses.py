"""The server's one JSON response class: Starlette's, rendered by orjson.

A listing page is many file objects with signed URLs, and orjson encodes it several times
faster than the standard library's encoder (or pydantic-core's ``to_json``). The bytes are
the same JSON: UTF-8, compact, no NaN (nothing we send is a float).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse as _StarletteJSONResponse


class JSONResponse(_StarletteJSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
