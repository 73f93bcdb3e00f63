"""Byte counts for people: ``1000 bytes``, ``1.5 MiB``, ``5 GiB``."""

from __future__ import annotations

__all__ = ["human_bytes"]

_UNITS = ("KiB", "MiB", "GiB", "TiB")


def human_bytes(n: int) -> str:
    """``n`` in the largest binary unit it reaches, one decimal where it is not whole."""
    if n < 1024:
        return f"{n} byte" if n == 1 else f"{n} bytes"
    value = float(n)
    for unit in _UNITS:
        value /= 1024
        if value < 1024 or unit == _UNITS[-1]:
            text = f"{value:.1f}".removesuffix(".0")
            return f"{text} {unit}"
    raise AssertionError("unreachable")
