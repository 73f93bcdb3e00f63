"""``ResponseData``: a prediction's JSON result, read by key or by attribute.

The spec reads ``prediction.response.invoice_number``; the official SDK hands back a plain
``dict`` (``prediction.response["invoice_number"]``). ``ResponseData`` is a ``dict`` (JSON,
``isinstance(r, dict)``, ``r["key"]`` and ``r.get("key")`` all work) whose keys are also
attributes, nested objects included: ``r.items[0].description``, ``r["issuer"].name``.

- A ``dict`` method wins over a key of the same name, so ``json.dumps``, ``copy`` and
  ``pickle`` (which call ``r.items()``) keep working: read such keys by key. An invoice's line
  items are ``r["items"]`` (``r.items`` is the method); the names are ``clear``, ``copy``,
  ``fromkeys``, ``get``, ``items``, ``keys``, ``pop``, ``popitem``, ``setdefault``,
  ``to_dict``, ``update`` and ``values``.
- A key that is absent raises ``AttributeError`` (``KeyError`` by key), naming the keys there
  are, so a typo fails loudly; ``getattr(r, "x", None)`` and ``r.get("x")`` give ``None``. A
  field the engine looked for and did not find is present, with the value ``None``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ResponseData", "wrap_response"]


class ResponseData(dict[str, Any]):
    """A JSON object whose keys are also attributes (see the module docstring)."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        # Called only when no dict attribute has this name: methods win, then keys.
        if not name.startswith("_") and name in self:
            return self[name]
        if name.startswith("_"):
            raise AttributeError(name)
        keys = ", ".join(sorted(dict.keys(self))) or "none"
        raise AttributeError(f"The response has no key {name!r} (its keys: {keys})")

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *(k for k in dict.keys(self) if k.isidentifier())})

    def to_dict(self) -> dict[str, Any]:
        """A plain ``dict`` copy, nested values included."""
        return _plain(self)  # type: ignore[no-any-return]


def wrap_response(value: Any) -> Any:
    """``value`` with every JSON object in it, at any depth, as a ``ResponseData``."""
    if isinstance(value, dict):
        return ResponseData({k: wrap_response(v) for k, v in dict.items(value)})
    if isinstance(value, list):
        return [wrap_response(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in dict.items(value)}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
