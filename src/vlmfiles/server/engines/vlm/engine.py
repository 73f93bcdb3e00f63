"""The model engine: a vision-language model behind an OpenAI-compatible endpoint.

For each job: the inputs as image parts (``images``), the domain's prompt and schema
(``prompts``, ``predictions.schemas``), one chat completion with ``response_format`` set to
that schema (``client``), and the answer checked with jsonschema
(``predictions.user_schemas.answer_validator``). An answer that is not JSON or breaks the
schema is sent back with the error, up to ``config.max_retries`` times.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import jsonschema
import referencing.exceptions

from ..base import Engine, EngineError, EngineInput, EngineResult, InputRejected, Limits
from . import images, prompts
from .client import ChatClient

if TYPE_CHECKING:
    from ...settings import Settings

SDK_MAX_TOKENS = 65535  # the SDK's default: "as many as the model allows", so not sent
MAX_RETRIES_CEILING = 10
ANSWER_ECHO_CHARS = 4000  # of a rejected answer, sent back with its error


class VlmEngine:
    """Serves every vlmrun-hub domain, document.markdown, image.classification, and any
    domain a request gives a JSON schema for."""

    name = "vlm"

    def __init__(self, client: ChatClient) -> None:
        self.client = client

    @classmethod
    def from_settings(cls, settings: Settings) -> VlmEngine:
        if not settings.vlm_model:
            raise ValueError(
                "vlm_base_url is set but vlm_model is not: name the model (--vlm-model)"
            )
        key = settings.vlm_api_key.get_secret_value() if settings.vlm_api_key else None
        assert settings.vlm_base_url is not None
        client = ChatClient(
            settings.vlm_base_url,
            settings.vlm_model,
            key,
            max_concurrency=settings.vlm_max_concurrency,
            timeout=settings.vlm_timeout_seconds,
            max_attempts=settings.vlm_max_attempts,
        )
        return cls(client)

    def close(self) -> None:
        self.client.close()

    def domains(self) -> Mapping[str, str]:
        from ...predictions.schemas import hub_domains

        served = {
            d["domain"]: d["description"] or d["domain"] + " (vlmrun-hub schema)"
            for d in hub_domains()
        }
        served["document.markdown"] = "The document as markdown, page by page, by the model"
        served["image.classification"] = "A label and confidence for the image, by the model"
        return served

    def run(
        self,
        domain: str,
        inputs: Sequence[EngineInput],
        config: Mapping[str, Any],
        limits: Limits,
    ) -> EngineResult:
        from ...errors import BadRequest
        from ...predictions.schemas import schema_for
        from ...predictions.user_schemas import answer_validator

        config = dict(config) if isinstance(config, Mapping) else {}
        try:
            schema = schema_for(domain, config)
        except BadRequest as exc:  # the API checked it at submit; a stored job may predate that
            raise InputRejected(str(exc)) from None
        if schema is None:
            raise InputRejected(
                f"no schema for {domain!r}: give one in config.json_schema, or use a "
                "vlmrun-hub domain"
            )
        if not inputs:
            raise InputRejected("no input: send one PDF or one or more images")
        schema = prompts.with_metadata(schema, config)
        sent = images.image_parts(inputs, config, limits)
        text = prompts.prompt_for(domain, config, sent.element_type)
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": prompts.instructions(config)},
            {"role": "user", "content": [{"type": "text", "text": text}, *sent.parts]},
        ]
        body: dict[str, Any] = {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": _schema_name(domain), "schema": schema, "strict": False},
            },
            "temperature": _number(config.get("temperature"), 0.0),
        }
        max_tokens = config.get("max_tokens")
        if isinstance(max_tokens, int) and 0 < max_tokens < SDK_MAX_TOKENS:
            body["max_tokens"] = max_tokens
        retries = config.get("max_retries", 3)
        retries = min(max(retries, 0), MAX_RETRIES_CEILING) if isinstance(retries, int) else 3
        validator = answer_validator(schema)
        tokens: dict[str, int] = {}
        error = ""
        for _ in range(retries + 1):
            answer = self.client.complete({**body, "messages": messages}, limits)
            for k, v in answer.usage.items():
                tokens[k] = tokens.get(k, 0) + v
            parsed, error = _check(answer.content, validator)
            if parsed is not None:
                return EngineResult(
                    _finish(domain, parsed),
                    len(sent.parts),
                    sent.element_type,
                    f"vlm/{self.client.model}",
                    tokens,
                )
            messages = [
                *messages[:2],
                {"role": "assistant", "content": answer.content[:ANSWER_ECHO_CHARS]},
                {
                    "role": "user",
                    "content": f"That answer is not valid: {error}. Answer again with one JSON "
                    "object that follows the schema.",
                },
            ]
        raise EngineError(
            f"the model's answer did not follow the {domain} schema after {retries + 1} "
            f"tries: {error}"
        )


def _check(content: str, validator: Any) -> tuple[dict[str, Any] | None, str]:
    try:
        parsed = json.loads(_strip_fence(content))
    except RecursionError:
        return None, "JSON nested too deeply"
    except ValueError as exc:
        return None, f"not JSON ({exc})"
    if not isinstance(parsed, dict):
        return None, f"a JSON {type(parsed).__name__}, not an object"
    try:
        best = jsonschema.exceptions.best_match(validator.iter_errors(parsed))
    except RecursionError:
        return None, "JSON nested too deeply to check"
    except referencing.exceptions.Unresolvable as exc:  # a schema stored before the check
        raise InputRejected(
            f"the schema's reference {exc} points outside it; this server fetches nothing "
            "a schema names"
        ) from None
    if best is not None:
        where = "/".join(map(str, best.absolute_path)) or "the top"
        return None, f"schema violation at {where}: {best.message[:300]}"
    return parsed, ""


def _strip_fence(content: str) -> str:
    """Some models wrap JSON in a markdown code fence even when asked not to."""
    s = content.strip()
    if s.startswith("```") and s.endswith("```"):
        s = s[3:-3]
        s = s[4:] if s.startswith("json") else s
    return s


def _finish(domain: str, response: dict[str, Any]) -> dict[str, Any]:
    if domain == "document.invoice" and response.get("invoice_number") is None:
        # The Files API's examples read invoice_number; the hub's name is invoice_id.
        response["invoice_number"] = response.get("invoice_id")
    return response


def _schema_name(domain: str) -> str:
    """OpenAI allows [a-zA-Z0-9_-]{1,64} as the schema's name."""
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in domain)[:64] or "schema"


def _number(value: Any, default: float) -> float:
    return float(value) if isinstance(value, (int, float)) else default


if TYPE_CHECKING:  # mypy checks that the class meets the protocol the pipeline calls
    _engine: Engine = VlmEngine(
        ChatClient("http://x", "m", None, max_concurrency=1, timeout=1, max_attempts=1)
    )
