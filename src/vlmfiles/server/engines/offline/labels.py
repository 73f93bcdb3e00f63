"""The printed labels each field is found by, in English, German, French and Spanish.

Each pattern is matched at the start of a cell's folded text (lower case, no accents; see
``fields.fold``), so "Subtotal" never answers for "Total".
"""

from __future__ import annotations

import re


def _p(*alternatives: str) -> re.Pattern[str]:
    return re.compile(r"(?:" + "|".join(alternatives) + r")(?![a-z])")


_NO = r"(?:number|num\.?|no\.?|nr\.?|n[o°]\.?|#|id|nro\.?)"

INVOICE_ID = _p(
    rf"(?:invoice|inv\.?|bill)\s*{_NO}",
    r"rechnungs\s*-?\s*(?:nummer|nr\.?)",
    rf"rechnung\s*{_NO}",
    r"(?:numero|n[o°]\.?)\s*(?:de\s*)?(?:la\s*)?factur[ea]",
    rf"factur[ea]\s*{_NO}",
    r"numero\s*de\s*factura",
)
RECEIPT_ID = _p(
    rf"(?:receipt|rcpt|transaction|trans\.?|txn|ticket|bon|beleg|recibo|quittung|recu)\s*{_NO}",
    r"(?:numero|n[o°]\.?)\s*(?:de\s*)?(?:ticket|recibo|recu)",
)
ORDER_ID = _p(rf"(?:order|po|purchase\s*order|bestell|commande|pedido)\s*{_NO}")
CUSTOMER_ID = _p(rf"(?:customer|client|kunden?|cliente)\s*{_NO}", r"kundennummer")
ISSUE_DATE = _p(
    r"invoice\s*date",
    r"date\s*of\s*issue",
    r"issue\s*date",
    r"issued(?:\s*on)?",
    r"rechnungsdatum",
    r"date\s*(?:de\s*)?(?:la\s*)?facture",
    r"date\s*d'emission",
    r"fecha(?:\s*de\s*(?:emision|factura|expedicion))?",
    r"datum",
    r"date",
)
DUE_DATE = _p(
    r"due\s*date",
    r"payment\s*due",
    r"date\s*due",
    r"due(?:\s*on|\s*by)?",
    r"fallig(?:keitsdatum)?(?:\s*am)?",
    r"zahlbar\s*bis",
    r"(?:date\s*d')?echeance",
    r"fecha\s*de\s*vencimiento",
    r"vencimiento",
)
TRANSACTION_DATE = _p(r"date", r"datum", r"fecha", r"transaction\s*date")

# Labels that start like a total but are not the total.
NOT_TOTAL = re.compile(
    r"(?:total|gesamt|summe)\s*(?:tax|vat|tva|iva|mwst|ust|excl|ht(?![a-z])|hors|net|before|"
    r"items?|qty|quantity|discount|savings|paid|tip)"
)
TOTAL = _p(
    r"grand\s*total",
    r"total\s*(?:amount\s*)?(?:due|payable|to\s*pay|ttc|a\s*pagar|incl\.?[^0-9]*)?",
    r"gesamt\s*(?:betrag|summe)?",
    r"rechnungsbetrag",
    r"endbetrag",
    r"summe",
    r"montant\s*(?:total|ttc|a\s*payer)",
    r"net\s*a\s*payer",
    r"importe\s*total",
)
AMOUNT_DUE = _p(r"amount\s*due", r"balance\s*due", r"zu\s*zahlen", r"a\s*payer")
SUBTOTAL = _p(
    r"sub\s*-?\s*total",
    r"zwischensumme",
    r"sous\s*-?\s*total",
    r"total\s*(?:ht|hors\s*taxes?|excl\.?(?:\s*(?:vat|tax))?|net|before\s*tax)",
    r"net\s*(?:amount|total)",
    r"netto\s*(?:betrag|summe)?",
    r"base\s*imponible",
)
NOT_TAX = re.compile(r"(?:tax|vat|tva|iva|ust|mwst)\.?\s*(?:-\s*)?(?:id|no|number|reg|nr|n[o°]|#)")
TAX = _p(
    r"total\s*(?:tax|vat|tva|iva)",
    r"sales\s*tax",
    r"(?:tax|vat|gst|hst|tva|iva)",
    r"mwst\.?",
    r"ust\.?",
    r"umsatzsteuer",
    r"mehrwertsteuer",
    r"impuesto",
)
DISCOUNT = _p(r"discount", r"rabatt", r"remise", r"descuento")
SHIPPING = _p(r"shipping", r"delivery", r"versand", r"livraison", r"envio")
TIP = _p(r"tip", r"gratuity", r"trinkgeld", r"pourboire", r"propina")
AMOUNT_PAID = _p(r"amount\s*paid", r"paid", r"bezahlt", r"paye", r"pagado")

BILL_TO = _p(
    r"bill(?:ed)?\s*to",
    r"invoice\s*to",
    r"sold\s*to",
    r"customer(?!\s*(?:id|no|number|#))",
    r"client(?!\s*(?:id|no|number|#))",
    r"rechnungsempfanger",
    r"kunde(?!n)",
    r"factur[ee]\s*a",
    r"cliente(?!\s*(?:id|no|n))",
    r"facturar\s*a",
)
FROM = _p(
    r"from",
    r"seller",
    r"vendor",
    r"supplier",
    r"issued\s*by",
    r"lieferant",
    r"vendeur",
    r"(?:von|de|emisor)\s*:?\s*$",  # short words: only as a heading alone on its cell
)
PHONE = _p(r"phone", r"tel\.?", r"telephone", r"telefon", r"telefono")
VAT_ID = _p(
    r"vat\s*(?:id|no\.?|number|reg\.?(?:\s*no\.?)?)",
    r"ust\s*-?\s*id(?:nr)?\.?",
    r"tva\s*intracom(?:munautaire)?",
    r"n[io]f",
    r"cif",
    r"tax\s*id",
)
CASHIER = _p(r"cashier", r"server", r"kassierer", r"caissier", r"cajero")

TITLE_WORDS = re.compile(
    r"^(?:tax\s*)?(?:invoice|receipt|rechnung|quittung|beleg|facture|factura|recibo|ticket|bill)"
    r"(?:\s*(?:no\.?|#|nr\.?))?$"
)

# Item tables: header words for each column.
ITEM_DESCRIPTION = re.compile(
    r"(?:description|item|article|artikel|beschreibung|bezeichnung|leistung|designation|"
    r"descripcion|producto|concepto|product|service)"
)
ITEM_QTY = re.compile(r"(?:qty|quantity|menge|anz|qte|quantite|cantidad|cant\.?|units?)(?![a-z])")
ITEM_UNIT = re.compile(
    r"(?:unit\s*price|price|rate|preis|einzelpreis|e-preis|prix|precio|p\.\s*u\.?)(?![a-z])"
)
ITEM_TOTAL = re.compile(r"(?:amount|total|line\s*total|betrag|gesamt|montant|importe|sum)(?![a-z])")

# Every label a field is read by: a cell that starts with one holds that field, never
# another's value, and is never a name.
ANY_FIELD = (
    INVOICE_ID, RECEIPT_ID, ORDER_ID, CUSTOMER_ID, ISSUE_DATE, DUE_DATE, TOTAL, AMOUNT_DUE,
    SUBTOTAL, TAX, DISCOUNT, SHIPPING, TIP, AMOUNT_PAID, BILL_TO, FROM, PHONE, VAT_ID, CASHIER,
    ITEM_DESCRIPTION, ITEM_QTY, ITEM_UNIT, ITEM_TOTAL,
)  # fmt: skip
