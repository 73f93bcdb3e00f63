"""Run a real ``vlmfiles serve`` process for the tests, on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def vlmfiles_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "vlmfiles.cli", *args]


@dataclass
class ServerProcess:
    """A server and the settings it runs with. ``env`` holds VLMFILES_* settings."""

    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    proc: subprocess.Popen | None = None
    api_key: str = ""
    log_path: Path | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.origin + "/v1"

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VLMFILES_")}
        env.update(self.env)
        env["VLMFILES_DATA_DIR"] = str(self.data_dir)
        return env

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            vlmfiles_cmd(*args),
            env=self._env(),
            capture_output=True,
            text=True,
            check=check,
            timeout=120,
        )

    def new_key(self, tenant: str = "default") -> str:
        """A new API key for ``tenant``, written straight to the server's metadata store
        (the same code `vlmfiles keys create` runs, without a process start per test)."""
        return self._with_store(lambda store: store.create_key(tenant))[0]

    def _with_store(self, fn):
        """``await fn(store)`` on the server's metadata store, opened from the test process."""
        import asyncio

        from vlmfiles.server.metadata.store import open_metadata_store

        async def run():
            store = open_metadata_store(self.database_url)
            try:
                return await fn(store)
            finally:
                await store.close()

        return asyncio.run(run())

    def start(self, *extra: str, timeout: float = 30) -> ServerProcess:
        if not self.port:
            self.port = free_port()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir.parent / f"server-{self.port}.log"
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the fd
            self.proc = subprocess.Popen(
                vlmfiles_cmd("serve", "--port", str(self.port), *extra),
                env=self._env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.origin + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            self.stop()
            raise RuntimeError(f"server did not start in {timeout}s:\n{self.log()}")
        if not self.api_key:
            self.api_key = self.new_key("default")
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    # Looking inside, whatever the stack ------------------------------------------------

    @property
    def database_url(self) -> str:
        return self.env.get("VLMFILES_DATABASE_URL") or (
            f"sqlite:///{self.data_dir.resolve() / 'metadata.sqlite3'}"
        )

    @property
    def storage_url(self) -> str:
        return self.env.get("VLMFILES_STORAGE_URL") or (self.data_dir.resolve() / "blobs").as_uri()

    @property
    def is_s3(self) -> bool:
        return self.storage_url.startswith("s3://")

    def blob_store(self):
        """The server's blob store, opened from the test process (same code, same URL)."""
        from vlmfiles.server.storage import open_blob_store

        old = {k: os.environ.get(k) for k in self.env if k.startswith("AWS_")}
        os.environ.update({k: v for k, v in self.env.items() if k.startswith("AWS_")})
        try:
            return open_blob_store(self.storage_url)
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def inline_blobs(self) -> set[str]:
        """Blobs whose bytes the metadata database holds (small files)."""
        return set(self._with_store(lambda store: store.blob_data_sizes()))

    def blob_keys(self) -> set[str]:
        """Every blob whose bytes are stored: in the blob store, or in the database."""
        return set(self.blob_store().keys()) | self.inline_blobs()

    def stored_bytes(self, sha256: str) -> bytes:
        """A blob's stored bytes, wherever they are kept."""
        data = self._with_store(lambda store: store.blob_data(sha256))
        return data if data is not None else b"".join(self.blob_store().read(sha256))

    def staging(self) -> list[str]:
        """Staged (uncommitted) upload bytes: temp files, or S3 objects/multipart uploads."""
        if not self.is_s3:
            staging = self.data_dir / "blobs" / ".staging"
            return [p.name for p in staging.iterdir()] if staging.exists() else []
        store = self.blob_store()
        return list(store.staging_entries())

    def settled_staging(self, timeout: float = 10) -> list[str]:
        """``staging()`` once it stops shrinking: an abort on S3 is a request or two after
        the answer."""
        deadline = time.monotonic() + timeout
        while (left := self.staging()) and time.monotonic() < deadline:
            time.sleep(0.1)
        return left

    def client(self, key: str | None = None, **kw) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {key or self.api_key}"},
            timeout=kw.pop("timeout", 60),
            **kw,
        )


def scale_env(seaweed, database_url: str, bucket: str) -> dict[str, str]:
    """Settings for the scale stack: PostgreSQL metadata, SeaweedFS S3 blobs, and the
    signing secret every process of one deployment shares."""
    return {
        "VLMFILES_DATABASE_URL": database_url,
        "VLMFILES_STORAGE_URL": seaweed.storage_url(bucket),
        "VLMFILES_SECRET_KEY": "test-secret-shared-by-all-processes",
        **seaweed.env(),
    }
