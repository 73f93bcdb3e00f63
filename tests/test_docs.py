"""Docs checked by tests: every setting documented, the purposes table true to the code."""

from __future__ import annotations

import re
from pathlib import Path

from vlmfiles.server.settings import Settings
from vlmfiles.server.sniff import JSON_TYPES, PURPOSES, VISION_TYPES, check_accepted

DOCS = Path(__file__).parent.parent / "docs"


def test_every_setting_is_documented():
    text = (DOCS / "configuration.md").read_text()
    for name in Settings.model_fields:
        assert f"`{name}`" in text and f"`VLMFILES_{name.upper()}`" in text, name


def test_purposes_table_matches_the_policy():
    text = (DOCS / "api.md").read_text()
    table = text.split("<!-- purposes-table -->")[1].split("<!-- /purposes-table -->")[0]
    documented = set(re.findall(r"^\| `([a-z_-]+)`", table, re.M))
    assert documented == set(PURPOSES)
    for purpose in PURPOSES:
        broad = (
            f"| `{purpose}`" in table
            and "any non-empty file" in table.split(f"| `{purpose}`")[1].split("\n")[0]
        )
        for ctype in ("application/zip", "video/mp4", "image/png", "application/json"):
            try:
                check_accepted(purpose, ctype)
                accepted = True
            except Exception:
                accepted = False
            if broad:
                assert accepted, (purpose, ctype)
        if not broad:
            rejects_zip = True
            try:
                check_accepted(purpose, "application/zip")
                rejects_zip = False
            except Exception:
                pass
            assert rejects_zip, purpose
    assert "image/png" in VISION_TYPES and "application/json" in JSON_TYPES
