"""The fake OpenAI server refuses what the real API refuses, in OpenAI's error shape."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.support.fake_openai import FakeOpenAI

SCHEMA = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as f:
        yield f


def png_url() -> str:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def body(fake: FakeOpenAI, **change: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "model": fake.model,
        "messages": [
            {"role": "system", "content": "json"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "hi"},
                    {"type": "image_url", "image_url": {"url": png_url()}},
                ],
            },
        ],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "x", "schema": SCHEMA, "strict": False},
        },
    }
    out.update(change)
    return out


def post(fake: FakeOpenAI, payload: Any, key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key or fake.api_key}"}
    return httpx.post(f"{fake.base_url}/chat/completions", json=payload, headers=headers)


def test_a_valid_request_gets_the_smallest_valid_answer_and_usage(fake: FakeOpenAI) -> None:
    r = post(fake, body(fake))
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == '{"a": ""}'
    usage = r.json()["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0


@pytest.mark.parametrize(
    ("change", "status", "fragment"),
    [
        ({"model": "other"}, 404, "does not exist"),
        ({"messages": []}, 400, "non-empty"),
        ({"messages": [{"role": "robot", "content": "x"}]}, 400, "role"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "image_url",
                                "image_url": {"url": "data:image/png;base64,AAAA"},
                            }
                        ],
                    }
                ]
            },
            400,
            "unsupported image",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}],
                    }
                ]
            },
            400,
            "data URL",
        ),
        ({"response_format": {"type": "json_object"}}, 400, "json_schema"),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "x", "schema": {"type": 5}},
                }
            },
            400,
            "Invalid schema",
        ),
    ],
)
def test_refusals(fake: FakeOpenAI, change: dict[str, Any], status: int, fragment: str) -> None:
    r = post(fake, body(fake, **change))
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert fragment in err["message"] and set(err) == {"message", "type", "param", "code"}


def test_a_wrong_key_is_401(fake: FakeOpenAI) -> None:
    r = post(fake, body(fake), key="sk-wrong")
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"


def test_scripted_429_carries_retry_after(fake: FakeOpenAI) -> None:
    fake.reply_error(429, "slow down", retry_after=2)
    r = post(fake, body(fake))
    assert r.status_code == 429 and r.headers["retry-after"] == "2"
    assert r.json()["error"]["message"] == "slow down"
