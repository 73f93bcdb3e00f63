"""Two server processes on one PostgreSQL and one blob store: the rules hold across them.

Runs on the scale stack (PostgreSQL + SeaweedFS) and, when selected, on PostgreSQL + a
shared local directory."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import STACKS
from tests.server.helpers import sha256, unique, upload
from tests.support.postgres import fresh_database
from tests.support.server import ServerProcess, scale_env

MULTI = [s for s in STACKS if s in ("scale", "postgres")]


@pytest.fixture(scope="module", params=MULTI)
def pair(request, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("pair") / "data"
    with fresh_database() as url:
        if request.param == "postgres":
            env = {"VLMFILES_DATABASE_URL": url, "VLMFILES_SECRET_KEY": "shared-secret"}
        else:
            seaweed = request.getfixturevalue("seaweed")
            env = scale_env(seaweed, url, f"pair-{uuid.uuid4().hex[:8]}")
        a = ServerProcess(data_dir=data_dir, env=env)
        a.cli("db", "upgrade")
        a.start()
        b = ServerProcess(data_dir=data_dir, env=env, api_key=a.api_key).start()
        yield a, b
        a.stop()
        b.stop()


def test_identical_uploads_across_processes_end_as_one_record(pair):
    a, b = pair
    key = a.new_key(f"m-{uuid.uuid4().hex[:8]}")
    content = unique(512 * 1024)

    def go(i: int) -> str:
        srv = (a, b)[i % 2]
        with srv.client(key) as c:
            r = upload(c, content, "same.bin")
            assert r.status_code == 201, r.text
            return r.json()["id"]

    with ThreadPoolExecutor(16) as pool:
        ids = set(pool.map(go, range(32)))
    assert len(ids) == 1
    for srv in (a, b):
        with srv.client(key) as c:
            assert [f["id"] for f in c.get("/files").json()] == list(ids)
    assert a.staging() == []


def test_a_delete_on_one_is_seen_by_the_other_at_once(pair):
    a, b = pair
    key = a.new_key(f"d-{uuid.uuid4().hex[:8]}")
    with a.client(key) as ca, b.client(key) as cb:
        f = upload(ca, unique()).json()
        assert cb.get(f"/files/{f['id']}").status_code == 200
        assert ca.delete(f"/files/{f['id']}").status_code == 200
        assert cb.get(f"/files/{f['id']}").status_code == 404
        assert cb.delete(f"/files/{f['id']}").status_code == 404


def test_signed_urls_from_one_work_on_the_other(pair):
    a, b = pair
    key = a.new_key(f"s-{uuid.uuid4().hex[:8]}")
    content = unique()
    with a.client(key) as ca:
        f = ca.post("/files", files={"file": ("x", content)}).json()
    other = f["url"].replace(a.origin, b.origin)
    assert httpx.get(other).content == content


def test_delete_of_last_reference_racing_uploads_on_the_other_process(pair):
    a, b = pair
    key = a.new_key(f"r-{uuid.uuid4().hex[:8]}")
    for round_ in range(12):
        content = unique(128 * 1024)
        with a.client(key) as ca:
            old = upload(ca, content, purpose="batch").json()

        def delete_on_a(old: dict = old) -> int:
            with a.client(key) as c:
                return c.delete(f"/files/{old['id']}").status_code

        def upload_on_b(content: bytes = content) -> dict:
            with b.client(key) as c:
                return upload(c, content, purpose="datasets").json()

        with ThreadPoolExecutor(2) as pool:
            d, u = pool.submit(delete_on_a), pool.submit(upload_on_b)
            assert d.result() == 200
            new = u.result()
        for srv in (a, b):
            with srv.client(key) as c:
                r = c.get(f"/files/{new['id']}/content")
                assert r.status_code == 200, f"round {round_}: {r.text}"
                assert sha256(r.content) == sha256(content)
        with a.client(key) as c:
            c.delete(f"/files/{new['id']}")
    # Every blob left has a file; nothing is orphaned.
    check = a.cli("fsck", check=False)
    assert check.returncode == 0, check.stdout + check.stderr
