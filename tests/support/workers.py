"""`vlmfiles worker` processes for the scale stack's tests, on a namespace of their own."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.support.server import ServerProcess, vlmfiles_cmd

REPO = Path(__file__).resolve().parents[2]


def redis_url() -> str:
    return os.environ.get("VLMFILES_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def queue_env(threads: int = 2) -> dict[str, str]:
    """Settings of a deployment on the test Redis: its own key namespace, and a heartbeat
    short enough that a killed worker's job moves within seconds."""
    return {
        "VLMFILES_QUEUE_URL": redis_url(),
        "VLMFILES_QUEUE_NAMESPACE": f"vlmfiles-test-{uuid.uuid4().hex[:10]}",
        "VLMFILES_QUEUE_HEARTBEAT_SECONDS": "2",
        "VLMFILES_QUEUE_MAINTENANCE_CHANCE": "1000000",
        "VLMFILES_WORKER_THREADS": str(threads),
    }


def drop_namespace(namespace: str) -> None:
    client = redis.Redis.from_url(redis_url())
    keys = list(client.scan_iter(f"{namespace}*"))
    if keys:
        client.delete(*keys)
    client.close()


@dataclass
class Workers:
    """Worker processes sharing a server's settings (its env)."""

    server: ServerProcess
    procs: list[subprocess.Popen] = field(default_factory=list)

    def start(self, n: int = 1) -> None:
        for _ in range(n):
            log = open(self.server.data_dir.parent / f"worker-{uuid.uuid4().hex[:6]}.log", "ab")
            with log:
                self.procs.append(
                    subprocess.Popen(
                        vlmfiles_cmd("worker"),
                        env=self.server._env(),
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        time.sleep(1.0)  # the broker declares its queue at boot
        for p in self.procs:
            if p.poll() is not None:
                raise RuntimeError(f"worker exited with {p.returncode}")

    def alive(self) -> list[int]:
        return [p.pid for p in self.procs if p.poll() is None]

    def kill(self, pid: int) -> None:
        os.kill(pid, signal.SIGKILL)
        for p in self.procs:
            if p.pid == pid:
                p.wait()

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
