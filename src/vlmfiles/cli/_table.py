"""Tables of files that fit the terminal without cutting what people copy.

An id is whole or useless (it goes back into ``download``/``delete``), so, as ``gh`` does,
the id column never shrinks: the filename wraps, and the columns that matter least are
dropped (created_at, then purpose, then bytes) until the rest fits.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table

from .._units import human_bytes

COLUMNS = ("id", "filename", "bytes", "purpose", "created_at")
DROP_ORDER = ("created_at", "purpose", "bytes")
FILENAME_MIN = 12


def _cells(f: Any) -> dict[str, str]:
    return {
        "id": f.id or "",
        "filename": f.filename or "",
        "bytes": human_bytes(f.bytes) if f.bytes is not None else "",
        "purpose": f.purpose or "",
        "created_at": f.created_at.strftime("%Y-%m-%d %H:%M:%S UTC") if f.created_at else "",
    }


def _needed(columns: list[str], widths: dict[str, int]) -> int:
    # Rich's default box: a border, then per column one space each side and a border.
    return 1 + sum(
        (min(widths[c], FILENAME_MIN) if c == "filename" else widths[c]) + 3 for c in columns
    )


def files_table(files: list[Any], width: int) -> Table:
    rows = [_cells(f) for f in files]
    widths = {c: max([len(c), *(len(r[c]) for r in rows)]) for c in COLUMNS}
    columns = list(COLUMNS)
    for name in DROP_ORDER:
        if _needed(columns, widths) <= width:
            break
        columns.remove(name)
    table = Table()
    for name in columns:
        if name == "id":
            table.add_column(name, no_wrap=True, min_width=widths["id"])
        elif name == "filename":
            table.add_column(name, overflow="fold", min_width=FILENAME_MIN)
        else:
            table.add_column(name, no_wrap=True, min_width=widths[name])
    for row in rows:
        table.add_row(*(row[c] for c in columns))
    return table


def file_fields(f: Any) -> list[tuple[str, str]]:
    """Every field of one file, as (name, text): shown as lines, never cut."""
    return [(name, "" if value is None else str(value)) for name, value in f.model_dump().items()]
