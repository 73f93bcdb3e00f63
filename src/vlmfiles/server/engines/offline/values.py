"""Printed values into typed ones: amounts, dates, currencies. ``None`` when unsure.

Amounts take both decimal conventions (``1,234.56`` and ``1.234,56``, ``1 234,56``); a
date written with slashes is read month-first only where the document's currency is USD
(the US convention), day-first elsewhere; a day above 12 settles it either way.
"""

from __future__ import annotations

import re
from datetime import date

CURRENCY_CODES = frozenset(
    "USD EUR GBP CHF JPY CNY INR CAD AUD NZD SEK NOK DKK PLN CZK HUF BRL MXN ZAR SGD HKD KRW".split()
)
# Longest first, so "CA$" is not read as "$".
SYMBOLS = {
    "CA$": "CAD",
    "C$": "CAD",
    "A$": "AUD",
    "AU$": "AUD",
    "US$": "USD",
    "R$": "BRL",
    "€": "EUR",
    "£": "GBP",
    "¥": "JPY",
    "₹": "INR",
    "₩": "KRW",
    "$": "USD",
    "Fr.": "CHF",
    "zł": "PLN",
    "kr": "SEK",
}
_SYMBOL_ORDER = sorted(SYMBOLS, key=len, reverse=True)
_CODE_RE = re.compile(r"(?<![A-Z])(" + "|".join(sorted(CURRENCY_CODES)) + r")(?![A-Z])")
_NUMBER_RE = re.compile(r"[-−(]?\d[\d.,' \u00a0\u202f]*\d|[-−(]?\d")

MONTHS = {
    # English, German, French, Spanish, Italian; abbreviations by prefix below
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "januar": 1, "februar": 2, "märz": 3, "maerz": 3, "mai": 5, "juni": 6, "juli": 7,
    "oktober": 10, "dezember": 12,
    "janvier": 1, "février": 2, "fevrier": 2, "mars": 3, "avril": 4, "juin": 6,
    "juillet": 7, "août": 8, "aout": 8, "septembre": 9, "octobre": 10, "novembre": 11,
    "décembre": 12, "decembre": 12,
    "enero": 1, "febrero": 2, "marzo": 3, "abril": 4, "mayo": 5, "junio": 6, "julio": 7,
    "agosto": 8, "septiembre": 9, "setiembre": 9, "octubre": 10, "noviembre": 11,
    "diciembre": 12,
}  # fmt: skip
_ABBREV = {name[:3]: n for name, n in MONTHS.items() if name[:3] not in ("mar", "jun", "jul")}
_ABBREV.update({"mar": 3, "jun": 6, "jul": 7, "sept": 9, "mär": 3, "dic": 12, "ene": 1})


def currency(text: str) -> str | None:
    """The ISO code a text names, by code or by symbol; None if it names none."""
    m = _CODE_RE.search(text)
    if m:
        return m.group(1)
    for sym in _SYMBOL_ORDER:
        if sym in text:
            if sym == "kr" and not re.search(r"\bkr\b", text):
                continue
            return SYMBOLS[sym]
    return None


_COMMA_CENTS = re.compile(r"\d,\d\d(?!\d)")
_DOT_CENTS = re.compile(r"\d\.\d\d(?!\d)")


def decimal_comma(text: str) -> bool | None:
    """Whether a document writes cents after a comma ("12,50"), after a dot, or cannot tell."""
    commas, dots = len(_COMMA_CENTS.findall(text)), len(_DOT_CENTS.findall(text))
    return None if commas == dots else commas > dots


def amount(text: str, comma: bool | None = None) -> float | None:
    """The (last) amount in a text: '1.234,56 €' → 1234.56, '$(12.00)' → -12.0.
    ``comma``: the document's decimal separator is a comma (see ``decimal_comma``)."""
    candidates = [m.group(0) for m in _NUMBER_RE.finditer(text.replace("O", "0"))]
    candidates = [c for c in candidates if re.search(r"\d", c)]
    if not candidates:
        return None
    return parse_number(candidates[-1], comma)


def parse_number(raw: str, comma: bool | None = None) -> float | None:
    neg = raw.startswith(("-", "−", "("))
    s = re.sub(r"[^\d.,' \u00a0\u202f]", "", raw).strip()
    s = re.sub(r"['\s\u00a0\u202f]", "", s)
    if not s:
        return None
    last_dot, last_comma = s.rfind("."), s.rfind(",")
    if last_dot >= 0 and last_comma >= 0:
        decimal = "." if last_dot > last_comma else ","
    elif last_comma >= 0:
        # "1,234" is a thousands group, "12,50" a decimal comma (in a comma document, always)
        three = len(s) - last_comma - 1 == 3
        decimal = "," if comma or not three or s.count(",") == 1 and s[0] == "0" else ""
    elif last_dot >= 0:
        # "1.500" in a document that writes "12,50" is fifteen hundred; elsewhere 1.5
        groups = s.split(".")[1:]
        thousands = all(len(g) == 3 for g in groups) and (comma or len(groups) > 1)
        decimal = "" if thousands else "."
    else:
        decimal = ""
    if decimal:
        whole, frac = s.rsplit(decimal, 1)
        whole = re.sub(r"[.,]", "", whole)
        s = f"{whole}.{frac}"
    else:
        s = re.sub(r"[.,]", "", s)
    try:
        value = float(s)
    except ValueError:
        return None
    return -value if neg else value


_ISO = re.compile(r"\b(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})\b")
_NUMERIC = re.compile(r"\b(\d{1,2})([-/.])(\d{1,2})\2(\d{4}|\d{2})\b")
_WORDY = re.compile(
    r"\b(?:(\d{1,2})\.?(?:st|nd|rd|th|er)?\s+(?:de\s+)?([A-Za-zÀ-ÿ]{3,10})\.?,?\s+(?:de\s+)?(\d{4})"
    r"|([A-Za-zÀ-ÿ]{3,10})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4}))\b"
)


def parse_date(text: str, *, month_first: bool = False) -> date | None:
    """The first date in a text, in any of the usual printed forms; None if none or invalid."""
    if m := _ISO.search(text):
        return _make(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if m := _WORDY.search(text):
        if m.group(1):
            day, month_name, year = m.group(1), m.group(2), m.group(3)
        else:
            month_name, day, year = m.group(4), m.group(5), m.group(6)
        month = _month(month_name)
        if month:
            return _make(int(year), month, int(day))
    if m := _NUMERIC.search(text):
        a, sep, b, y = int(m.group(1)), m.group(2), int(m.group(3)), m.group(4)
        year = int(y) + (2000 if len(y) == 2 else 0)
        if sep == "." or a > 12:  # dotted dates are day-first everywhere they are used
            return _make(year, b, a)
        if b > 12:
            return _make(year, a, b)
        return _make(year, a, b) if month_first else _make(year, b, a)
    return None


def _month(name: str) -> int | None:
    key = name.lower().rstrip(".")
    if key in MONTHS:
        return MONTHS[key]
    return _ABBREV.get(key[:4]) or _ABBREV.get(key[:3])


def _make(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def percentage(text: str) -> float | None:
    m = re.search(r"(\d{1,2}(?:[.,]\d{1,3})?)\s?%", text)
    return parse_number(m.group(1).replace(",", ".")) if m else None
