"""Running the server: settings sources, migrations, several workers, the sweeper."""

from __future__ import annotations

import time

import httpx

from tests.server.helpers import unique, upload
from tests.support.postgres import fresh_database
from tests.support.server import ServerProcess, free_port


def test_settings_precedence_flags_over_env_over_toml(tmp_path, monkeypatch):
    from vlmfiles.server.settings import load_settings

    toml = tmp_path / "vlmfiles.toml"
    toml.write_text('port = 9001\nmax_file_size = 1234\npublic_url = "https://files.example"\n')
    monkeypatch.setenv("VLMFILES_CONFIG", str(toml))
    monkeypatch.setenv("VLMFILES_PORT", "9002")
    s = load_settings()
    assert (s.port, s.max_file_size, s.resolved_public_url) == (9002, 1234, "https://files.example")
    assert load_settings(port=9003).port == 9003
    monkeypatch.delenv("VLMFILES_CONFIG")
    monkeypatch.delenv("VLMFILES_PORT")
    assert load_settings().port == 8000


def test_bad_settings_are_a_clear_error(tmp_path):
    srv = ServerProcess(data_dir=tmp_path / "d", env={"VLMFILES_MAX_FILE_SIZE": "-1"})
    out = srv.cli("serve", check=False)
    assert out.returncode == 2 and "max_file_size" in out.stderr


def test_server_refuses_an_unmigrated_postgres_database_and_says_what_to_run(tmp_path):
    with fresh_database() as url:
        srv = ServerProcess(data_dir=tmp_path / "d", env={"VLMFILES_DATABASE_URL": url})
        out = srv.cli("serve", "--port", str(free_port()), check=False)
        assert out.returncode == 1
        assert "vlmfiles db upgrade" in out.stderr and "revision none" in out.stderr
        assert srv.cli("db", "upgrade").returncode == 0
        srv.start()
        srv.stop()


def test_embedded_default_needs_no_setup_and_prints_a_key(tmp_path):
    srv = ServerProcess(data_dir=tmp_path / "fresh").start()
    try:
        log = srv.log()
        assert "export VLMRUN_API_KEY=vlmf_" in log
        assert f"export VLMRUN_BASE_URL={srv.base_url}" in log
        key = log.split("export VLMRUN_API_KEY=")[1].split()[0]
        with srv.client(key) as c:
            assert c.get("/health").status_code == 200
    finally:
        srv.stop()


def test_keys_create_prints_only_the_key(tmp_path):
    srv = ServerProcess(data_dir=tmp_path / "k")
    out = srv.cli("keys", "create", "--tenant", "acme", "--create-data-dir")
    assert out.stdout.strip().startswith("vlmf_") and len(out.stdout.strip().splitlines()) == 1
    listed = srv.cli("keys", "list").stdout
    assert "tenant=acme" in listed and out.stdout.strip() not in listed


def test_several_workers_serve_one_data_dir(tmp_path):
    srv = ServerProcess(data_dir=tmp_path / "w").start("--workers", "2")
    try:
        with srv.client() as c:
            ids = {upload(c, unique()).json()["id"] for _ in range(10)}
            assert len(ids) == 10
            listed = {f["id"] for f in c.get("/files", params={"limit": 100}).json()}
            assert listed == ids
    finally:
        srv.stop()


def test_expired_presigned_uploads_are_swept(tmp_path):
    srv = ServerProcess(
        data_dir=tmp_path / "s", env={"VLMFILES_SWEEP_INTERVAL_SECONDS": "1"}
    ).start()
    try:
        with srv.client() as c:
            p = c.post("/files/presigned-url", json={"filename": "x", "expiration": 1}).json()
            assert c.get(f"/files/verify-upload/{p['id']}").status_code == 409
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                if c.get(f"/files/verify-upload/{p['id']}").status_code == 404:
                    break
                time.sleep(0.5)
            assert c.get(f"/files/verify-upload/{p['id']}").status_code == 404
            assert httpx.put(p["url"], content=b"late").status_code == 403
    finally:
        srv.stop()


def test_max_connections_turns_the_next_connection_away(tmp_path):
    """Past max_connections a process answers 503 (which every SDK retries) instead of
    taking on another upload's memory."""
    import socket

    srv = ServerProcess(data_dir=tmp_path / "d", env={"VLMFILES_MAX_CONNECTIONS": "2"}).start()
    held = []
    try:
        for _ in range(2):  # two connections busy sending an upload's body
            s = socket.create_connection(("127.0.0.1", srv.port))
            s.sendall(
                b"POST /v1/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                + srv.api_key.encode()
                + b"\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                b"Content-Length: 100000\r\n\r\n--b\r\n"
            )
            held.append(s)
        time.sleep(0.3)
        with srv.client() as c:
            assert c.get("/files").status_code == 503
        for s in held:
            s.close()
        time.sleep(0.3)
        with srv.client() as c:
            assert c.get("/files").status_code == 200
    finally:
        for s in held:
            s.close()
        srv.stop()
