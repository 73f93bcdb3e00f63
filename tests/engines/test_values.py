"""Printed amounts, dates and currencies into typed values, and None when unsure."""

from __future__ import annotations

from datetime import date

import pytest

from vlmfiles.server.engines.offline import values


@pytest.mark.parametrize(
    ("text", "comma", "want"),
    [
        ("$1,234.56", None, 1234.56),
        ("1.234,56 €", None, 1234.56),
        ("1 234,56 €", None, 1234.56),
        ("CHF 1'861.48", None, 1861.48),
        ("¥123,456", None, 123456.0),
        ("12,50 €", None, 12.5),
        ("(12.00)", None, -12.0),
        ("1.500 €", True, 1500.0),  # a document that writes "12,50": fifteen hundred
        ("1.5", True, 1.5),
        ("1.234.567", None, 1234567.0),
        ("Total", None, None),
    ],
)
def test_amounts(text, comma, want):
    assert values.amount(text, comma) == want


def test_decimal_separator_of_a_document():
    assert values.decimal_comma("Summe 12,50 €\nMwSt. 2,38 €\n1.500 €") is True
    assert values.decimal_comma("Total $12.50\nTax $1.00") is False
    assert values.decimal_comma("no money here") is None


@pytest.mark.parametrize(
    ("text", "month_first", "want"),
    [
        ("2024-03-05", False, date(2024, 3, 5)),
        ("05.03.2024", True, date(2024, 3, 5)),  # dotted: day first everywhere
        ("05/03/2024", False, date(2024, 3, 5)),
        ("03/05/2024", True, date(2024, 3, 5)),  # US documents
        ("25/12/2024", True, date(2024, 12, 25)),  # a day over 12 settles it
        ("March 5, 2024", False, date(2024, 3, 5)),
        ("5 Mar 2024", False, date(2024, 3, 5)),
        ("5. März 2024", False, date(2024, 3, 5)),
        ("5 février 2024", False, date(2024, 2, 5)),
        ("5 de marzo de 2024", False, date(2024, 3, 5)),
        ("31/02/2024", False, None),  # no such day: nothing, not a guess
        ("Invoice 42", False, None),
    ],
)
def test_dates(text, month_first, want):
    assert values.parse_date(text, month_first=month_first) == want


@pytest.mark.parametrize(
    ("text", "want"),
    [("CA$12.00", "CAD"), ("$12.00", "USD"), ("12,00 €", "EUR"), ("£5", "GBP"),
     ("CHF 10", "CHF"), ("Total 12.00", None)],
)  # fmt: skip
def test_currencies(text, want):
    assert values.currency(text) == want
