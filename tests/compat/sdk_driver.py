"""Runs INSIDE the official SDK's virtualenv (not ours): reads a program from stdin, runs each
step against the SDK, prints one JSON report on stdout.

Program: {"steps": [step, ...]} where a step is
  {"name": "c", "op": "client", "kwargs": {...}}          -> VLMRun(**kwargs), kept as "c"
  {"name": "x", "op": "call", "client": "c", "method": "files.upload", "args": [], "kwargs": {}}
  {"name": "y", "op": "attr", "of": "x", "path": "response.invoice_number"}
                                                          -> getattr chain on step x's result
  {"name": "z", "op": "function", "function": "vlmrun.common.viz.get_boxes_from_response",
   "args": [...]}                                         -> a function of the SDK, called
Argument values may be markers, resolved here: {"__ref__": ["x", "id"]} (an attribute of an
earlier step's result), {"__pil__": PATH} (a PIL image), {"__path__": PATH} (a Path),
{"__config__": {...}} (a GenerationConfig).

Report: {"sdk_version": ..., "steps": [{"name", "ok", "result" | "error", "seconds",
"requests": [...]}]}, where "requests" lists every HTTP exchange the step made (seen by
wrapping ``requests.Session.send``; the SDK itself runs unchanged)."""

from __future__ import annotations

import json
import sys
import time
import traceback

import requests

_trace: list[dict] = []
_orig_send = requests.Session.send


def _send(self, request, **kwargs):
    entry: dict = {
        "method": request.method,
        "url": request.url,
        "headers": {
            k: ("<set>" if k.lower() == "authorization" else v) for k, v in request.headers.items()
        },
    }
    _trace.append(entry)
    start = time.monotonic()
    try:
        resp = _orig_send(self, request, **kwargs)
    except Exception as exc:
        entry["exception"] = repr(exc)
        entry["seconds"] = time.monotonic() - start
        raise
    entry["seconds"] = time.monotonic() - start
    entry["status"] = resp.status_code
    entry["response_headers"] = dict(resp.headers)
    if "json" in resp.headers.get("content-type", "") and len(resp.content) < 65536:
        try:
            entry["json"] = resp.json()
        except ValueError:
            entry["body"] = resp.text[:2000]
    return resp


requests.Session.send = _send


def _dump(value):
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [_dump(v) for v in value]
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    if hasattr(value, "model_dump"):
        out = value.model_dump(mode="json")
        out["__type__"] = type(value).__name__
        return out
    return repr(value)


def _error(exc: BaseException) -> dict:
    return {
        "type": type(exc).__name__,
        "mro": [c.__name__ for c in type(exc).__mro__],
        "http_status": getattr(exc, "http_status", None),
        "error_type": getattr(exc, "error_type", None),
        "request_id": getattr(exc, "request_id", None),
        "message": str(exc),
        "cause": repr(exc.__cause__) if exc.__cause__ else None,
        "traceback": traceback.format_exc(),
    }


def _resolve(value, results: dict):
    """Argument markers (see the module docstring) made into the SDK's objects."""
    if isinstance(value, list):
        return [_resolve(v, results) for v in value]
    if not isinstance(value, dict):
        return value
    if "__ref__" in value:
        target = results[value["__ref__"][0]]
        for attr in value["__ref__"][1:]:
            target = getattr(target, attr)
        return target
    if "__pil__" in value:
        from PIL import Image

        return Image.open(value["__pil__"])
    if "__path__" in value:
        from pathlib import Path

        return Path(value["__path__"])
    if "__config__" in value:
        from vlmrun.client.types import GenerationConfig

        return GenerationConfig(**value["__config__"])
    return {k: _resolve(v, results) for k, v in value.items()}


def main() -> None:
    from vlmrun.client import VLMRun
    from vlmrun.version import __version__

    program = json.load(sys.stdin)
    clients: dict[str, object] = {}
    results: dict[str, object] = {}
    report = {"sdk_version": __version__, "steps": []}
    for step in program["steps"]:
        _trace.clear()
        out: dict = {"name": step["name"], "op": step["op"]}
        start = time.monotonic()
        try:
            if step["op"] == "client":
                clients[step["name"]] = VLMRun(**step.get("kwargs", {}))
                result = {"base_url": clients[step["name"]].base_url}
            elif step["op"] == "call":
                target = clients[step.get("client", "c")]
                for attr in step["method"].split("."):
                    target = getattr(target, attr)
                args = _resolve(step.get("args", []), results)
                result = target(*args, **_resolve(step.get("kwargs", {}), results))
            elif step["op"] == "function":
                import importlib

                module, _, name = step["function"].rpartition(".")
                target = getattr(importlib.import_module(module), name)
                args = _resolve(step.get("args", []), results)
                result = target(*args, **_resolve(step.get("kwargs", {}), results))
            elif step["op"] == "attr":
                result = results[step["of"]]
                for attr in step["path"].split("."):
                    result = getattr(result, attr)
                out["type"] = type(result).__name__
            else:
                raise ValueError(f"unknown op {step['op']!r}")
            results[step["name"]] = result
            out["ok"] = True
            out["result"] = _dump(result)
        except Exception as exc:
            out["ok"] = False
            out["error"] = _error(exc)
        out["seconds"] = time.monotonic() - start
        out["requests"] = list(_trace)
        report["steps"].append(out)
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
