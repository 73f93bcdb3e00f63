"""``document.invoice`` and ``document.receipt``: every field of the vlmrun-hub schema, each
either read from the page by its label (``fields.locate``) or ``None``.

The field names come from the installed ``vlmrun-hub`` package's models, so the response
always carries exactly the hub's keys; the spec's ``invoice_number`` (= ``invoice_id``) is
added for invoices.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from vlmrun.hub.schemas.document.invoice import Invoice
from vlmrun.hub.schemas.document.receipt import Receipt

from . import labels as L
from . import values
from .fields import Document, Found, block_below, identifier, locate, plain_text
from .items import invoice_items, receipt_items

_PERCENT = re.compile(r"\(?\d{1,2}(?:[.,]\d{1,3})?\s?%\)?")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_TIME = re.compile(r"\b([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?\b")
_CARD_LAST4 = re.compile(r"(?:\*{2,}|[xX]{2,}|•{2,}|ending\s+(?:in\s+)?)\s?(\d{4})\b")
_CARD_TYPES = {
    "visa": "VISA",
    "mastercard": "Mastercard",
    "master card": "Mastercard",
    "amex": "American Express",
    "american express": "American Express",
    "maestro": "Maestro",
    "discover": "Discover",
}


def empty(model: type[Any]) -> dict[str, Any]:
    return dict.fromkeys(model.model_fields)


def _money_parser(doc: Document) -> Callable[[str], float | None]:
    """Amounts in value cells, read with the document's decimal separator, percentages
    ("VAT (20%)") left out."""

    def money(text: str) -> float | None:
        text = _PERCENT.sub(" ", text)
        if not re.search(r"\d", text):
            return None
        return values.amount(text, doc.decimal_comma)

    return money


def document_currency(doc: Document, *found: Found | None) -> str | None:
    """The currency printed with the total (or another amount), else the one the document
    names most often; None when it names none."""
    for f in found:
        if f is not None:
            code = values.currency(f.source.text) or values.currency(f.label.text)
            if code:
                return code
    counts = Counter(c for c in (values.currency(cell.text) for cell in doc.cells()) if c)
    return counts.most_common(1)[0][0] if counts else None


def _date_parser(month_first: bool) -> Callable[[str], str | None]:
    def parse(text: str) -> str | None:
        d = values.parse_date(text, month_first=month_first)
        return d.isoformat() if d else None

    return parse


def _first(found: tuple[Any, Found] | None) -> Any:
    return found[0] if found else None


def _party(doc: Document, heading: re.Pattern[str]) -> tuple[str | None, list[str]]:
    """A name and the lines under a heading such as "Bill to:" (name on the heading's line
    after the colon, or the first line under it)."""
    for cell in doc.cells():
        end = cell.match(heading)
        if end is None:
            continue
        lines = [c.text for c in block_below(doc, cell)]
        rest = cell.text[end:].strip(" :")
        if rest:
            lines.insert(0, rest)
        if lines:
            return plain_text(lines[0]), lines[1:]
    return None, []


def _header_name(
    doc: Document, *, topmost: bool = False, skip: frozenset[str] = frozenset()
) -> str | None:
    """The issuer as most documents print it: the largest (or, on a receipt, the first) text
    near the top of the first page that is not the document's title ("INVOICE") or a label
    with a value."""
    if not doc.rows:
        return None
    first_page = doc.rows[0].page
    page = doc.pages[0]
    top = [r for r in doc.rows if r.page == first_page and r.cells[0].y0 < page.height * 0.3]
    best: tuple[float, str] | None = None
    for row in top:
        for cell in row.cells:
            text = cell.text.strip()
            if (
                not plain_text(text)
                or L.TITLE_WORDS.match(cell.folded.strip())
                or any(ch.isdigit() for ch in text)
                or ":" in text
                or _EMAIL.search(text)
                or text in skip
                or cell.is_label()
            ):
                continue
            if topmost:
                return text
            if best is None or cell.height > best[0] + 0.5:
                best = (cell.height, text)
    return best[1] if best else None


def _contact(cells: list[str]) -> tuple[str | None, str | None]:
    text = " ".join(cells)
    email = _EMAIL.search(text)
    phone = re.search(r"(?:\+\d[\d ()./-]{6,}\d|\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4})", text)
    return (email.group(0) if email else None), (phone.group(0).strip() if phone else None)


def invoice(doc: Document) -> dict[str, Any]:
    out = empty(Invoice)
    money = _money_parser(doc)
    total = locate(doc, L.TOTAL, money, last=True, exclude=L.NOT_TOTAL)
    due = locate(doc, L.AMOUNT_DUE, money, last=True)
    if total is None:
        total = due
    currency = document_currency(doc, total[1] if total else None)
    out["currency"] = currency
    month_first = currency == "USD"
    out["invoice_id"] = _first(locate(doc, L.INVOICE_ID, identifier))
    out["order_id"] = _first(locate(doc, L.ORDER_ID, identifier))
    out["customer_id"] = _first(locate(doc, L.CUSTOMER_ID, identifier))
    out["invoice_issue_date"] = _first(locate(doc, L.ISSUE_DATE, _date_parser(month_first)))
    out["invoice_due_date"] = _first(locate(doc, L.DUE_DATE, _date_parser(month_first)))
    out["total_amount"] = _first(total)
    out["balance_due"] = _first(due) if due is not None and due is not total else None
    out["subtotal"] = _first(locate(doc, L.SUBTOTAL, money, last=True))
    tax = locate(doc, L.TAX, money, last=True, exclude=L.NOT_TAX)
    out["tax_amount"] = _first(tax)
    if tax is not None:
        out["tax_percentage"] = values.percentage(doc.rows[tax[1].label.row].text)
    out["discount_amount"] = _first(locate(doc, L.DISCOUNT, money, last=True))
    out["shipping_cost"] = _first(locate(doc, L.SHIPPING, money, last=True))
    out["amount_paid"] = _first(locate(doc, L.AMOUNT_PAID, money, last=True))

    customer, customer_lines = _party(doc, L.BILL_TO)
    out["customer_name"] = customer
    out["customer_email"], out["customer_phone"] = _contact(customer_lines)
    issuer, issuer_lines = _party(doc, L.FROM)
    # the customer's block is never the issuer, however large it is printed
    named = frozenset(filter(None, [customer, *customer_lines]))
    out["issuer_name"] = issuer or _header_name(doc, skip=named)
    customer_set = set(customer_lines)
    others = [c.text for c in doc.cells() if c.text not in customer_set]
    email, phone = _contact(issuer_lines or others)
    out["issuer_email"] = email
    labelled_phone = _first(locate(doc, L.PHONE, plain_phone))
    out["issuer_phone"] = phone if issuer_lines else labelled_phone
    out["issuer_vat_id"] = _first(locate(doc, L.VAT_ID, identifier))
    items = invoice_items(doc)
    out["items"] = [{**item, "currency": currency} for item in items] if items else None
    out["invoice_number"] = out["invoice_id"]
    return out


def plain_phone(text: str) -> str | None:
    m = re.search(r"\+?[\d(][\d ()./-]{5,}\d", text)
    return m.group(0).strip() if m else None


def receipt(doc: Document) -> dict[str, Any]:
    out = empty(Receipt)
    money = _money_parser(doc)
    total = locate(doc, L.TOTAL, money, last=True, exclude=L.NOT_TOTAL)
    currency = document_currency(doc, total[1] if total else None)
    out["currency"] = currency
    out["total"] = _first(total)
    out["subtotal"] = _first(locate(doc, L.SUBTOTAL, money, last=True))
    out["tax"] = _first(locate(doc, L.TAX, money, last=True, exclude=L.NOT_TAX))
    out["tip_amount"] = _first(locate(doc, L.TIP, money, last=True))
    out["discount_amount"] = _first(locate(doc, L.DISCOUNT, money, last=True))
    out["receipt_id"] = _first(locate(doc, L.RECEIPT_ID, identifier))
    out["transaction_date"] = _transaction_date(doc, currency == "USD")
    out["merchant_name"] = _header_name(doc, topmost=True)
    _, out["merchant_phone"] = _contact([c.text for c in doc.cells()])
    out["cashier_name"] = _first(locate(doc, L.CASHIER, plain_text))
    out["payment_method"] = _payment(doc.text)
    out["items"] = receipt_items(doc)
    return out


def _transaction_date(doc: Document, month_first: bool) -> str | None:
    """The receipt's date (labelled, else the first one printed), with its time if the same
    row prints one."""
    found = locate(doc, L.TRANSACTION_DATE, _date_parser(month_first))
    rows = [doc.rows[found[1].source.row]] if found else doc.rows
    for row in rows:
        d = values.parse_date(row.text, month_first=month_first)
        if d is None:
            continue
        t = _TIME.search(_date_free(row.text))
        if t:
            hh, mm, ss = int(t.group(1)), int(t.group(2)), int(t.group(3) or 0)
            return f"{d.isoformat()}T{hh:02d}:{mm:02d}:{ss:02d}"
        return d.isoformat()
    return None


def _date_free(text: str) -> str:
    return re.sub(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{2,4}", " ", text)


def _payment(text: str) -> dict[str, Any] | None:
    folded = text.lower()
    card_type = next((v for k, v in _CARD_TYPES.items() if k in folded), None)
    last4 = _CARD_LAST4.search(text)
    if card_type or last4 or re.search(r"\b(?:card|karte|carte|tarjeta|debit|credit)\b", folded):
        # a brand does not say credit or debit: only a printed word does
        kind = (
            "debit card" if "debit" in folded else "credit card" if "credit" in folded else "card"
        )
        return {
            "type": kind,
            "card_last_4": last4.group(1) if last4 else None,
            "card_type": card_type,
        }
    if re.search(r"\b(?:cash|bar|bargeld|especes|efectivo|contado)\b", folded):
        return {"type": "cash", "card_last_4": None, "card_type": None}
    return None
