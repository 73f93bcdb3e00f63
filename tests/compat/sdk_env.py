"""The official ``vlmrun`` SDK in a virtualenv of its own (its pins clash with ours).

Created once under ``<repo>/.cache/vlmrun-venv-<version>`` and reused while it imports."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

SDK_VERSION = "0.9.2"
REPO = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("sdk_driver.py")


class SdkVenvError(RuntimeError):
    """Creating the SDK's virtualenv failed; the message carries the command's output."""


@dataclass
class SdkVenv:
    path: Path
    created: bool  # False when an existing venv was reused
    seconds: float  # time spent creating (or checking) it

    @property
    def python(self) -> Path:
        return self.path / ("Scripts/python.exe" if os.name == "nt" else "bin/python")

    def run(
        self, program: dict, env: dict[str, str], cwd: Path | None = None, timeout: float = 120
    ) -> dict:
        """Run the driver on ``program`` (see sdk_driver.py) and return its JSON report."""
        proc = subprocess.run(
            [str(self.python), str(DRIVER)],
            input=json.dumps(program),
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0 or not proc.stdout.strip():
            raise AssertionError(
                f"SDK driver exited with {proc.returncode}\n"
                f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
            )
        return json.loads(proc.stdout)


def clean_env() -> dict[str, str]:
    """The environment without our venv leaking into the SDK's."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PIP_REQUIRE_VIRTUALENV")
        and not k.startswith("VLMRUN_")
    }
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _imports(python: Path) -> bool:
    if not python.exists():
        return False
    check = (
        "import vlmrun.version, vlmrun.client, sys; "
        f"sys.exit(0 if vlmrun.version.__version__ == {SDK_VERSION!r} else 1)"
    )
    try:
        proc = subprocess.run(
            [str(python), "-c", check],
            env=clean_env(),
            capture_output=True,
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def ensure_sdk_venv(root: Path | None = None) -> SdkVenv:
    """Return the SDK venv, creating it when missing or broken. Raises SdkVenvError with the
    output of the failing command."""
    root = root or REPO / ".cache"
    path = root / f"vlmrun-venv-{SDK_VERSION}"
    venv = SdkVenv(path=path, created=False, seconds=0.0)
    start = time.monotonic()
    if _imports(venv.python):
        venv.seconds = time.monotonic() - start
        return venv
    if path.exists():
        shutil.rmtree(path)
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f"vlmrun-venv-{SDK_VERSION}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    steps = [
        [sys.executable, "-m", "venv", str(tmp)],
        [str(tmp / "bin" / "python"), "-m", "pip", "install", f"vlmrun=={SDK_VERSION}"],
    ]
    for cmd in steps:
        try:
            proc = subprocess.run(cmd, env=clean_env(), capture_output=True, text=True, timeout=900)
        except subprocess.TimeoutExpired as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise SdkVenvError(f"{' '.join(cmd)} timed out:\n{exc.stdout}\n{exc.stderr}") from exc
        if proc.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            raise SdkVenvError(
                f"{' '.join(cmd)} exited with {proc.returncode}\n"
                f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
            )
    # venv scripts embed their own path; a renamed venv's python still runs with -m.
    try:
        tmp.rename(path)
    except OSError:  # another process (pytest-xdist worker) got there first
        shutil.rmtree(tmp, ignore_errors=True)
    if not _imports(venv.python):
        raise SdkVenvError(f"vlmrun=={SDK_VERSION} installed in {path} but does not import")
    venv.created = True
    venv.seconds = time.monotonic() - start
    return venv


class LazySdkVenv:
    """The official SDK's venv, created on first use (about a minute) and cached under
    .cache/. It is made from inside a test, not in fixture setup, so a failed install FAILS
    the tests (with pip's output) rather than erroring or skipping them; it is tried once."""

    def __init__(self) -> None:
        self._venv: SdkVenv | None = None
        self._error: str | None = None

    def get(self) -> SdkVenv:
        if self._venv is None and self._error is None:
            try:
                self._venv = ensure_sdk_venv()
            except SdkVenvError as exc:
                self._error = str(exc)
            else:
                how = "created" if self._venv.created else "reused"
                print(f"\nvlmrun SDK venv {how} in {self._venv.seconds:.1f}s: {self._venv.path}")
        if self._error is not None:
            pytest.fail(f"could not set up the official vlmrun SDK:\n{self._error}", pytrace=False)
        assert self._venv is not None
        return self._venv
