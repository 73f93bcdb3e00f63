"""``UTCDateTime``: an aware UTC ``datetime`` that also compares with naive datetimes.

The API sends timestamps in UTC, so ``FileResponse.created_at`` is timezone-aware. Plain
Python refuses to order an aware datetime against a naive one, yet the natural clean-up
code does exactly that::

    cutoff = datetime.datetime.now() - timedelta(days=30)   # naive, local time
    if file.created_at < cutoff: ...

``UTCDateTime`` reads a naive operand the way ``datetime.now()`` made it: as local time
(``other.astimezone()``), then compares instants. It is still a ``datetime`` (and hashes
like one), so everything else behaves as usual.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

__all__ = ["UTCDateTime"]


def _aware(other: datetime) -> datetime:
    """``other`` as an aware datetime; a naive one is taken as local time."""
    if other.tzinfo is None or other.utcoffset() is None:
        return other.astimezone()
    return other


class UTCDateTime(datetime):
    """A timezone-aware UTC datetime whose comparisons accept naive (local-time) datetimes."""

    @classmethod
    def from_datetime(cls, value: datetime) -> UTCDateTime:
        """``value`` in UTC; a naive ``value`` is taken to be UTC already (as the API sends)."""
        if value.tzinfo is None or value.utcoffset() is None:
            value = value.replace(tzinfo=timezone.utc)
        value = value.astimezone(timezone.utc)
        return cls(
            value.year,
            value.month,
            value.day,
            value.hour,
            value.minute,
            value.second,
            value.microsecond,
            tzinfo=timezone.utc,
        )

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(
            cls.from_datetime, handler.generate_schema(datetime)
        )

    # Comparisons: a naive datetime operand is local time. ------------------------------

    def __eq__(self, other: object) -> bool:
        if isinstance(other, datetime):
            return datetime.__eq__(self, _aware(other))
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __lt__(self, other: object) -> bool:
        if isinstance(other, datetime):
            return datetime.__lt__(self, _aware(other))
        return NotImplemented

    def __le__(self, other: object) -> bool:
        if isinstance(other, datetime):
            return datetime.__le__(self, _aware(other))
        return NotImplemented

    def __gt__(self, other: object) -> bool:
        if isinstance(other, datetime):
            return datetime.__gt__(self, _aware(other))
        return NotImplemented

    def __ge__(self, other: object) -> bool:
        if isinstance(other, datetime):
            return datetime.__ge__(self, _aware(other))
        return NotImplemented

    __hash__ = datetime.__hash__

    # Arithmetic: keep the type on shifts, accept naive operands on differences. ---------

    def __add__(self, other: object) -> Any:
        result = datetime.__add__(self, other)  # type: ignore[operator]
        if isinstance(result, datetime):
            return UTCDateTime.from_datetime(result)
        return result

    __radd__ = __add__

    def __sub__(self, other: object) -> Any:
        if isinstance(other, datetime):
            return datetime.__sub__(self, _aware(other))
        result = datetime.__sub__(self, other)  # type: ignore[operator]
        if isinstance(result, datetime):
            return UTCDateTime.from_datetime(result)
        return result

    def __rsub__(self, other: object) -> Any:
        if isinstance(other, datetime):
            return datetime.__sub__(_aware(other), self)
        return NotImplemented
