"""A vlmfiles server whose model engine points at the fake OpenAI server, per stack:
`vlmfiles serve --vlm-base-url ...` on the embedded stack (the flags, as an operator starts
it), the same settings by environment on the scale stack (its workers read them there).
Import the fixtures ``fake`` and ``vlm_server`` into a test module to use them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import STACKS
from tests.predictions.conftest import pred_env, start_stack
from tests.support.fake_openai import FakeOpenAI
from tests.support.server import ServerProcess

VLM_ATTEMPTS = 2
JOB_RETRIES = 1
ROUTES = {"document.markdown": "offline"}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as f:
        yield f


@pytest.fixture(scope="module", params=STACKS)
def vlm_server(request: Any, tmp_path_factory: Any, fake: FakeOpenAI) -> Iterator[ServerProcess]:
    env = pred_env(
        VLMFILES_ENGINE_ROUTES=json.dumps(ROUTES),
        VLMFILES_VLM_MAX_ATTEMPTS=str(VLM_ATTEMPTS),
        VLMFILES_JOB_MAX_RETRIES=str(JOB_RETRIES),
    )
    flags = ["--vlm-base-url", fake.base_url, "--vlm-model", fake.model]
    if request.param == "embedded":  # the flags, as an operator would start it
        srv = ServerProcess(
            data_dir=tmp_path_factory.mktemp("vlm-embedded") / "data",
            env={**env, "VLMFILES_VLM_API_KEY": fake.api_key},
        )
        srv.start(*flags)
        yield srv
        srv.stop()
        return
    env.update(
        VLMFILES_VLM_BASE_URL=fake.base_url,
        VLMFILES_VLM_MODEL=fake.model,
        VLMFILES_VLM_API_KEY=fake.api_key,
    )
    yield from start_stack(request, tmp_path_factory, "vlm", env)
