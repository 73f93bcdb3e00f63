"""A fake OpenAI-compatible ``/v1/chat/completions``: a real HTTP server on a free loopback
port, for the model engine's tests and the benchmark.

It checks each request as the real API does (bearer key, model name, messages, ``image_url``
parts whose data URLs decode to images, ``response_format`` with a valid JSON Schema) and
answers 400/401/404 in OpenAI's error shape otherwise. Answers come from a queue the test
scripts (``reply``, ``reply_text``, ``reply_error``, ``reply_hang``...); when the queue is
empty, the smallest object valid for the schema sent. ``latency`` delays every answer
(the benchmark's model time). Every request received is kept in ``requests``.

    with FakeOpenAI() as fake:
        fake.reply({"invoice_id": "INV-1"})
        ... point the engine at fake.base_url, model fake.model, key fake.api_key ...
        assert fake.requests[0]["model"] == fake.model

Standalone (for bench/): ``python -m tests.support.fake_openai --port 8001 --latency 0.5``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import io
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import uvicorn
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

PROMPT_TOKENS_PER_IMAGE = 85
PROMPT_TOKENS_PER_TEXT = 20
_VALID_SCHEMAS: set[str] = set()  # schemas that passed check_schema, by their JSON text


@dataclass
class Reply:
    """One scripted answer: ``status`` 200 with ``content``, or an error status."""

    content: str | None = None
    status: int = 200
    message: str = ""
    retry_after: float | None = None
    delay: float = 0.0  # seconds before answering ("hang": longer than the client waits)
    usage: dict[str, int] | None = None
    raw: bytes | None = None  # a body sent as it stands, in place of a chat completion


@dataclass
class FakeOpenAI:
    api_key: str = "sk-fake-test-key"
    model: str = "fake-vlm"
    latency: float = 0.0
    port: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)  # time.monotonic() of each request
    _queue: deque[Reply] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None
    _stopping: bool = False
    in_flight: int = 0  # requests being answered now
    peak_in_flight: int = 0  # the most at once since the last reset()

    # Scripting ----------------------------------------------------------------------

    def reply(self, obj: Any, *, delay: float = 0.0, usage: dict[str, int] | None = None) -> None:
        self._push(Reply(json.dumps(obj), delay=delay, usage=usage))

    def reply_text(self, text: str, *, usage: dict[str, int] | None = None) -> None:
        """A 200 whose content is ``text`` as it stands (malformed JSON, say)."""
        self._push(Reply(text, usage=usage))

    def reply_error(self, status: int, message: str, *, retry_after: float | None = None) -> None:
        self._push(Reply(status=status, message=message, retry_after=retry_after))

    def reply_raw(self, body: bytes, *, status: int = 200) -> None:
        """``body`` as the whole HTTP answer (HTML, truncated JSON...), not a completion."""
        self._push(Reply(status=status, raw=body))

    def reply_hang(self, seconds: float = 3600.0) -> None:
        """No answer for ``seconds`` (the client's timeout should end it first)."""
        self._push(Reply(json.dumps({}), delay=seconds))

    def _push(self, reply: Reply) -> None:
        with self._lock:
            self._queue.append(reply)

    def _pop(self) -> Reply | None:
        with self._lock:
            return self._queue.popleft() if self._queue else None

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()
            self.arrivals.clear()
            self.peak_in_flight = 0

    # Serving ------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FakeOpenAI:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restartable on its port
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        app = Starlette(routes=[Route("/v1/chat/completions", self._handle, methods=["POST"])])
        config = uvicorn.Config(
            app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake OpenAI server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._stopping = True
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _sleep(self, seconds: float) -> None:
        """A delay that ends early when the server stops, so a hang does not hold it up."""
        end = time.monotonic() + seconds
        while not self._stopping and time.monotonic() < end:
            await asyncio.sleep(min(0.05, end - time.monotonic()))

    async def _handle(self, request: Request) -> Response:
        self.in_flight += 1  # one event loop: no lock needed
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            return await self._answer(request)
        finally:
            self.in_flight -= 1

    async def _answer(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        with self._lock:
            self.requests.append(body)
            self.arrivals.append(time.monotonic())
        auth = request.headers.get("authorization", "")
        if auth != f"Bearer {self.api_key}":
            return _error(401, "Incorrect API key provided.", "invalid_api_key", None)
        if body is None:
            return _error(400, "We could not parse the JSON body of your request.", None, None)
        if not isinstance(body, dict):
            return _error(400, "The body must be a JSON object.", None, None)
        if body.get("model") != self.model:
            return _error(
                404,
                f"The model `{body.get('model')}` does not exist or you do not have access to it.",
                "model_not_found",
                "model",
            )
        problem = _check_messages(body.get("messages"))
        if problem is None:
            problem = _check_response_format(body.get("response_format"))
        if problem is not None:
            return _error(400, problem[1], None, problem[0])
        reply = self._pop()
        if self.latency:
            await self._sleep(self.latency)
        if reply is None:
            schema = body["response_format"]["json_schema"]["schema"]
            reply = Reply(json.dumps(minimal_instance(schema, schema)))
        if reply.delay:
            await self._sleep(reply.delay)
        if reply.raw is not None:
            return Response(reply.raw, status_code=reply.status, media_type="text/html")
        if reply.status != 200:
            headers = {}
            if reply.retry_after is not None:
                headers["retry-after"] = f"{reply.retry_after:g}"
            return _error(reply.status, reply.message, None, None, headers)
        content = reply.content or ""
        usage = reply.usage or _usage(body["messages"], content)
        return JSONResponse(
            {
                "id": f"chatcmpl-fake{len(self.requests)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": self.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": usage,
            }
        )


def _error(
    status: int,
    message: str,
    code: str | None,
    param: str | None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    kind = "invalid_request_error" if status < 500 else "server_error"
    if status == 429:
        kind = "rate_limit_exceeded"
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": param, "code": code}},
        status_code=status,
        headers=headers,
    )


def _check_messages(messages: Any) -> tuple[str, str] | None:
    if not isinstance(messages, list) or not messages:
        return "messages", "'messages' must be a non-empty array."
    for n, m in enumerate(messages):
        where = f"messages[{n}]"
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant"):
            return where, f"{where}.role must be one of 'system', 'user', 'assistant'."
        content = m.get("content")
        if isinstance(content, str):
            continue
        if not isinstance(content, list) or m["role"] != "user":
            return where, f"Invalid type for '{where}.content'."
        for k, part in enumerate(content):
            problem = _check_part(part, f"{where}.content[{k}]")
            if problem:
                return problem
    return None


def _check_part(part: Any, where: str) -> tuple[str, str] | None:
    if not isinstance(part, dict):
        return where, f"Invalid content part at '{where}'."
    if part.get("type") == "text":
        ok = isinstance(part.get("text"), str)
        return None if ok else (where, f"'{where}.text' must be a string.")
    if part.get("type") != "image_url":
        return where, f"Invalid value for '{where}.type': expected 'text' or 'image_url'."
    url = (part.get("image_url") or {}).get("url", "")
    if part["image_url"].get("detail", "auto") not in ("low", "high", "auto"):
        return where, f"Invalid value for '{where}.image_url.detail'."
    head, _, data = url.partition(",")
    if not (head.startswith("data:image/") and head.endswith(";base64")):
        return where, f"'{where}.image_url.url' must be a base64 image data URL here."
    try:
        with Image.open(io.BytesIO(base64.b64decode(data, validate=True))) as img:
            img.verify()
    except (binascii.Error, OSError, SyntaxError, ValueError):
        return where, f"You uploaded an unsupported image at '{where}'."
    return None


def _check_response_format(fmt: Any) -> tuple[str, str] | None:
    where = "response_format"
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return where, "This fake requires response_format of type 'json_schema'."
    spec = fmt.get("json_schema")
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        return where, "Missing required parameter: 'response_format.json_schema.name'."
    schema = spec.get("schema")
    if not isinstance(schema, dict):
        return where, "'response_format.json_schema.schema' must be an object."
    key = json.dumps(schema, sort_keys=True)
    if key in _VALID_SCHEMAS:  # checked before: a fixed-latency endpoint should not add CPU
        return None
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        return where, f"Invalid schema for response_format: {exc.message}"
    if len(_VALID_SCHEMAS) < 1000:
        _VALID_SCHEMAS.add(key)
    return None


def _usage(messages: list[dict[str, Any]], content: str) -> dict[str, int]:
    prompt = 0
    for m in messages:
        parts = m["content"] if isinstance(m["content"], list) else [m["content"]]
        for p in parts:
            prompt += (
                PROMPT_TOKENS_PER_IMAGE
                if isinstance(p, dict) and p.get("type") == "image_url"
                else PROMPT_TOKENS_PER_TEXT
            )
    completion = max(1, len(content) // 4)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def minimal_instance(schema: Any, root: dict[str, Any]) -> Any:
    """The smallest value ``schema`` accepts: required properties only, filled in turn."""
    if not isinstance(schema, dict):
        return None
    if "$ref" in schema:
        target: Any = root
        for key in schema["$ref"].lstrip("#/").split("/"):
            target = target[key]
        return minimal_instance(target, root)
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return minimal_instance(schema[key][0], root)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = "null" if "null" in kind else kind[0]
    if kind == "object":
        props = schema.get("properties", {})
        return {k: minimal_instance(props.get(k, {}), root) for k in schema.get("required", [])}
    return {"array": [], "string": "", "number": 0, "integer": 0, "boolean": False}.get(str(kind))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--api-key", default=FakeOpenAI.api_key)
    parser.add_argument("--model", default=FakeOpenAI.model)
    args = parser.parse_args()
    fake = FakeOpenAI(api_key=args.api_key, model=args.model, latency=args.latency, port=args.port)
    fake.start()
    print(f"fake OpenAI at {fake.base_url} model {fake.model} key {fake.api_key}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
