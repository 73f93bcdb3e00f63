"""The package's public surface: an explicit, sorted ``__all__``; a light import."""

from __future__ import annotations

import json
import subprocess
import sys
import types

import vlmfiles
import vlmfiles.exceptions
import vlmfiles.types


def test_all_is_explicit_and_sorted():
    assert vlmfiles.__all__ == sorted(vlmfiles.__all__)
    assert len(set(vlmfiles.__all__)) == len(vlmfiles.__all__)


def test_every_exported_name_is_importable():
    for name in vlmfiles.__all__:
        assert getattr(vlmfiles, name) is not None, name
    namespace: dict[str, object] = {}
    exec("from vlmfiles import *", namespace)
    assert set(vlmfiles.__all__) <= set(namespace)


def test_every_public_name_is_exported():
    public = {
        name
        for name, value in vars(vlmfiles).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public <= set(vlmfiles.__all__), public - set(vlmfiles.__all__)


def test_every_exception_is_exported_at_the_top():
    assert set(vlmfiles.exceptions.__all__) <= set(vlmfiles.__all__)
    for name in vlmfiles.exceptions.__all__:
        assert getattr(vlmfiles, name) is getattr(vlmfiles.exceptions, name)


def test_submodule_all_lists_are_sorted_and_importable():
    for module in (vlmfiles.exceptions, vlmfiles.types):
        assert module.__all__ == sorted(module.__all__), module.__name__
        for name in module.__all__:
            assert hasattr(module, name), (module.__name__, name)


SERVER_DEPENDENCIES = ["alembic", "boto3", "fastapi", "sqlalchemy", "starlette", "uvicorn"]


def test_importing_the_sdk_pulls_in_no_server_dependency():
    code = (
        "import json, sys, vlmfiles, vlmfiles.client.exceptions;"
        "c = vlmfiles.Client(api_key='k'); c.files; c.close();"
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    modules = json.loads(out)
    loaded = {m.split(".")[0] for m in modules}
    assert "httpx" in loaded and "vlmfiles.resources.files" in modules  # it sees real imports
    assert loaded.isdisjoint(SERVER_DEPENDENCIES), loaded & set(SERVER_DEPENDENCIES)
    assert not [m for m in modules if m.startswith("vlmfiles.server")]
