"""Fixtures for running the official ``vlmrun`` SDK (its own venv) against a real server."""

from __future__ import annotations

import pytest

from tests.compat.sdk_env import LazySdkVenv


@pytest.fixture(scope="session")
def sdk_venv() -> LazySdkVenv:
    return LazySdkVenv()
