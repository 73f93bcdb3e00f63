"""Feedback on predictions over HTTP (POST /v1/feedback/submit, GET /v1/feedback/{id})."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.predictions.conftest import wait_final


@pytest.fixture
def prediction(papi: httpx.Client, upload: Any) -> dict[str, Any]:
    f = upload(b"feedback " + uuid.uuid4().bytes)
    r = papi.post("/document/generate", json={"file_id": f["id"], "domain": "document.test-echo"})
    assert r.status_code == 200, r.text
    return wait_final(papi, r.json()["id"])


def test_a_correction_is_stored_next_to_its_prediction(papi, prediction):
    fixed = {"invoice_id": "INV-7", "total_amount": 12.5, "items": [{"description": "x"}]}
    r = papi.post(
        "/feedback/submit",
        json={"request_id": prediction["id"], "response": fixed, "notes": "total was wrong"},
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["id"].startswith("fb_") and created["request_id"] == prediction["id"]
    assert created["created_at"].endswith("Z")

    r = papi.get(f"/feedback/{prediction['id']}")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "request_id": prediction["id"],
        "items": [
            {
                "id": created["id"],
                "created_at": created["created_at"],
                "response": fixed,
                "notes": "total was wrong",
            }
        ],
    }


def test_every_submission_is_kept_newest_first_and_pages(papi, prediction):
    ids = []
    for n in range(5):
        r = papi.post("/feedback/submit", json={"request_id": prediction["id"], "notes": f"n{n}"})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    everything = papi.get(f"/feedback/{prediction['id']}", params={"limit": 100}).json()["items"]
    assert [i["notes"] for i in everything] == ["n4", "n3", "n2", "n1", "n0"]
    assert [i["response"] for i in everything] == [None] * 5
    page = papi.get(f"/feedback/{prediction['id']}", params={"offset": 1, "limit": 2}).json()
    assert [i["notes"] for i in page["items"]] == ["n3", "n2"]
    assert sorted(i["id"] for i in everything) == sorted(ids)


def test_a_prediction_without_feedback_has_an_empty_list(papi, prediction):
    r = papi.get(f"/feedback/{prediction['id']}")
    assert r.status_code == 200
    assert r.json() == {"request_id": prediction["id"], "items": []}


def test_feedback_is_only_on_the_tenants_own_predictions(pred_server, papi, prediction):
    other = pred_server.new_key(f"t-{uuid.uuid4().hex[:10]}")
    with pred_server.client(other) as api:
        r = api.post("/feedback/submit", json={"request_id": prediction["id"], "notes": "x"})
        assert r.status_code == 404, r.text
        assert prediction["id"] in r.json()["error"]["message"]
        assert api.get(f"/feedback/{prediction['id']}").status_code == 404
    # and nothing was stored by the refused submission
    assert papi.get(f"/feedback/{prediction['id']}").json()["items"] == []


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"request_id": "PRED"}, "`response`"),
        ({"request_id": "PRED", "notes": ""}, "`notes`"),
        ({"request_id": "PRED", "notes": "x" * 10_001}, "limit is 10000"),
        ({"notes": "no id"}, "request_id"),
        ({"request_id": "PRED", "notes": 5}, "notes"),
        ({"request_id": "PRED", "notes": "x", "rating": 5}, "rating"),
    ],
)
def test_bad_feedback_is_a_400_that_says_what_is_wrong(papi, prediction, body, says):
    body = {k: prediction["id"] if v == "PRED" else v for k, v in body.items()}
    r = papi.post("/feedback/submit", json=body)
    assert r.status_code == 400, r.text
    assert says in r.json()["error"]["message"]
    assert papi.get(f"/feedback/{prediction['id']}").json()["items"] == []


def test_unknown_prediction_is_a_404_naming_it(papi):
    r = papi.post("/feedback/submit", json={"request_id": "pred_nope", "notes": "x"})
    assert r.status_code == 404 and "pred_nope" in r.json()["error"]["message"]
    r = papi.get("/feedback/pred_nope")
    assert r.status_code == 404 and "pred_nope" in r.json()["error"]["message"]
