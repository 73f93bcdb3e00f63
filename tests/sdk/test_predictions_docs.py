"""docs/sdk.md documents every prediction call with its parameters, and every field of
``Prediction``; the async resources mirror the sync ones."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

import vlmfiles
from vlmfiles.resources.document import AsyncDocument, Document
from vlmfiles.resources.image import AsyncImage, Image
from vlmfiles.resources.predictions import AsyncPredictions, Predictions

TEXT = (Path(__file__).parents[2] / "docs" / "sdk.md").read_text()


def public(cls: type) -> dict[str, list[inspect.Parameter]]:
    return {
        n: list(inspect.signature(f).parameters.values())
        for n, f in vars(cls).items()
        if not n.startswith("_") and callable(f)
    }


@pytest.mark.parametrize(
    "prefix, sync, async_",
    [
        ("image", Image, AsyncImage),
        ("document", Document, AsyncDocument),
        ("predictions", Predictions, AsyncPredictions),
    ],
)
def test_every_call_is_documented_and_mirrored(prefix, sync, async_):
    calls = public(sync)
    assert calls == public(async_)  # same names, same parameters and defaults
    for name, params in calls.items():
        assert f"### `{prefix}.{name}(" in TEXT, name
        heading = TEXT.split(f"### `{prefix}.{name}(")[1].split("\n")[0]
        for param in params[1:]:
            assert param.name in heading, (name, param.name)


def test_every_prediction_field_is_documented():
    for field in vlmfiles.Prediction.model_fields:
        assert f"| `{field}` |" in TEXT, field
