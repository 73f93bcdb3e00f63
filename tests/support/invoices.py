"""Invoices and receipts with known values, drawn as a text-layer PDF (fpdf2) or an image
(Pillow: clean, or scanned-looking: a little rotated, noisy, JPEG-compressed).

    sample = invoice_sample(seed)          # the values and the page's layout
    sample.pdf(path); sample.image(path, scanned=True)
    sample.expected                        # field -> value as the engine must return it

Seeds vary the layout (label beside or above its value, totals in a column or inline), the
font, the language (en, de, fr, es), the currency and how amounts and dates are printed.
Some fields are left off on purpose (``expected[...] is None``): the engine must say null.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_DIRS = [Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu")]
TTF = {"sans": "DejaVuSans.ttf", "serif": "DejaVuSerif.ttf", "mono": "DejaVuSansMono.ttf"}
PDF_CORE = {"sans": "Helvetica", "serif": "Times", "mono": "Courier"}
DPI = 200

LANG = {
    "en": {
        "invoice": "INVOICE", "no": "Invoice No.", "date": "Invoice Date", "due": "Due Date",
        "bill": "Bill To", "from": "From", "desc": "Description", "qty": "Qty",
        "unit": "Unit Price", "amount": "Amount", "sub": "Subtotal", "tax": "VAT",
        "total": "Total", "receipt": "RECEIPT", "rno": "Receipt #", "thanks": "Thank you!",
        "cash": "CASH", "items": ["Consulting services", "Web hosting (annual)", "Design work",
                                  "Support plan", "Domain renewal"],
        "goods": ["Coffee", "Bagel", "Orange juice", "Sandwich", "Muffin", "Water"],
    },
    "de": {
        "invoice": "RECHNUNG", "no": "Rechnungsnummer", "date": "Rechnungsdatum",
        "due": "Fällig am", "bill": "Rechnungsempfänger", "from": "Von",
        "desc": "Beschreibung", "qty": "Menge", "unit": "Einzelpreis", "amount": "Betrag",
        "sub": "Zwischensumme", "tax": "MwSt.", "total": "Gesamtbetrag", "receipt": "BELEG",
        "rno": "Beleg Nr.", "thanks": "Vielen Dank!", "cash": "BAR",
        "items": ["Beratung", "Hosting", "Wartung", "Lizenz", "Schulung"],
        "goods": ["Kaffee", "Brezel", "Apfelsaft", "Brötchen", "Kuchen", "Wasser"],
    },
    "fr": {
        "invoice": "FACTURE", "no": "Facture N°", "date": "Date de facture", "due": "Échéance",
        "bill": "Facturé à", "from": "De", "desc": "Désignation", "qty": "Qté",
        "unit": "Prix unitaire", "amount": "Montant", "sub": "Sous-total", "tax": "TVA",
        "total": "Total TTC", "receipt": "TICKET", "rno": "Ticket N°", "thanks": "Merci !",
        "cash": "ESPECES", "items": ["Conseil", "Hébergement", "Maintenance", "Formation"],
        "goods": ["Café", "Croissant", "Jus d'orange", "Baguette", "Eau"],
    },
    "es": {
        "invoice": "FACTURA", "no": "Número de factura", "date": "Fecha", "due": "Vencimiento",
        "bill": "Facturar a", "from": "De", "desc": "Descripción", "qty": "Cantidad",
        "unit": "Precio", "amount": "Importe", "sub": "Subtotal", "tax": "IVA",
        "total": "Total", "receipt": "RECIBO", "rno": "Recibo N°", "thanks": "¡Gracias!",
        "cash": "EFECTIVO", "items": ["Consultoría", "Alojamiento web", "Diseño", "Soporte"],
        "goods": ["Café", "Tostada", "Zumo", "Bocadillo", "Agua"],
    },
}  # fmt: skip
# (language, currency, tax rate): the pairs a real document would print together
LOCALES = [
    ("en", "USD", 0.0), ("en", "USD", 8.0), ("en", "GBP", 20.0), ("en", "EUR", 23.0),
    ("de", "EUR", 19.0), ("de", "CHF", 8.1), ("fr", "EUR", 20.0), ("es", "EUR", 21.0),
    ("en", "JPY", 10.0), ("en", "CAD", 5.0),
]  # fmt: skip
MONTHS = {
    "en": ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"],
    "de": ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
           "Oktober", "November", "Dezember"],
    "fr": ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
           "septembre", "octobre", "novembre", "décembre"],
    "es": ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
           "septiembre", "octubre", "noviembre", "diciembre"],
}  # fmt: skip
COMPANIES = ["Acme Supplies Ltd", "Northwind Traders", "Globex Corporation", "Blue Harbor Co",
             "Kessler & Sohn GmbH", "Atelier Dupont SARL", "Soluciones Iberia SL", "Maple Leaf Inc"]  # fmt: skip
CUSTOMERS = ["Jane Cooper", "Initech LLC", "Umbrella Retail", "Hans Becker", "Marie Laurent",
             "Carlos Ruiz", "Stark Logistics", "Wayne Enterprises"]  # fmt: skip
SHOPS = ["CORNER CAFE", "BÄCKEREI MÜLLER", "LE PETIT BISTRO", "CAFETERIA SOL", "FRESH MART",
         "CITY DELI"]  # fmt: skip


def money(value: float, currency: str, lang: str) -> str:
    decimals = 0 if currency == "JPY" else 2
    s = f"{value:,.{decimals}f}"  # 1,234.56
    if lang in ("de", "es") and currency != "CHF":
        s = s.replace(",", "_").replace(".", ",").replace("_", ".")
    elif lang == "fr":
        s = s.replace(",", " ").replace(".", ",")
    elif currency == "CHF":
        s = s.replace(",", "'")
    sym = {"USD": "$", "GBP": "£", "EUR": "€", "JPY": "¥", "CAD": "CA$"}.get(currency)
    if currency == "CHF":
        return f"CHF {s}"
    if lang in ("de", "fr", "es") and sym:
        return f"{s} {sym}"
    return f"{sym}{s}" if sym else f"{s} {currency}"


def printed_date(d: date, currency: str, lang: str, style: int) -> str:
    if style == 0:
        return d.isoformat()
    if style == 1:
        if lang == "de":
            return d.strftime("%d.%m.%Y")
        return d.strftime("%m/%d/%Y") if currency == "USD" else d.strftime("%d/%m/%Y")
    month = MONTHS[lang][d.month - 1]
    if lang == "en":
        return (
            f"{month} {d.day}, {d.year}" if currency == "USD" else f"{d.day} {month[:3]} {d.year}"
        )
    if lang == "es":
        return f"{d.day} de {month} de {d.year}"
    return f"{d.day}. {month} {d.year}" if lang == "de" else f"{d.day} {month} {d.year}"


@dataclass
class Text:
    x: float  # mm from the left
    y: float  # mm from the top (of the text's box)
    text: str
    size: float = 10.0  # points
    bold: bool = False
    align: str = "L"  # "R": x is the right edge


@dataclass
class Sample:
    kind: str
    seed: int
    lang: str
    font: str
    width_mm: float
    height_mm: float
    texts: list[Text] = field(default_factory=list)
    expected: dict[str, Any] = field(default_factory=dict)

    def pdf(self, path: Path) -> Path:
        from fpdf import FPDF

        doc = FPDF(unit="mm", format=(self.width_mm, self.height_mm))
        doc.set_auto_page_break(False)
        doc.add_page()
        ttf = _ttf_path(self.font)
        if ttf is not None:
            doc.add_font("doc", "", str(ttf))
            doc.add_font("doc", "B", str(_ttf_path(self.font, bold=True) or ttf))
        for t in self.texts:
            text = t.text
            if ttf is None:
                doc.set_font(PDF_CORE[self.font], "B" if t.bold else "", t.size)
                text = text.replace("€", "EUR").encode("latin-1", "replace").decode("latin-1")
            else:
                doc.set_font("doc", "B" if t.bold else "", t.size)
            x = t.x - doc.get_string_width(text) if t.align == "R" else t.x
            doc.text(x, t.y + t.size * 0.3528 * 0.8, text)  # text() takes the baseline
        doc.output(str(path))
        return path

    def image(self, path: Path, *, scanned: bool = False) -> Path:
        px = DPI / 25.4
        img = Image.new("L", (round(self.width_mm * px), round(self.height_mm * px)), 255)
        draw = ImageDraw.Draw(img)
        for t in self.texts:
            font = _pil_font(self.font, t.bold, t.size * DPI / 72)
            width = draw.textlength(t.text, font=font)
            x = (t.x * px - width) if t.align == "R" else t.x * px
            draw.text((x, t.y * px), t.text, font=font, fill=0)
        if scanned:
            rnd = random.Random(self.seed)
            img = img.rotate(rnd.uniform(-1.2, 1.2), resample=Image.BICUBIC, fillcolor=255)
            noise = Image.effect_noise(img.size, 40).point(lambda v: 255 if v > 40 else 160)
            img = Image.blend(img, noise, 0.12).filter(ImageFilter.GaussianBlur(0.6))
            img.convert("RGB").save(
                path, "JPEG", quality=rnd.randint(55, 75), dpi=(DPI, DPI)
            )  # a scanner states its resolution
        else:
            img.save(path, dpi=(DPI, DPI))
        return path


def _ttf_path(font: str, bold: bool = False) -> Path | None:
    name = TTF[font].replace(".ttf", "-Bold.ttf") if bold else TTF[font]
    for d in FONT_DIRS:
        if (d / name).exists():
            return d / name
    return None


def _pil_font(font: str, bold: bool, px: float) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = _ttf_path(font, bold) or _ttf_path(font)
    if path is not None:
        return ImageFont.truetype(str(path), round(px))
    return ImageFont.load_default(size=round(px))  # Pillow's bundled scalable font


def invoice_sample(seed: int) -> Sample:
    rnd = random.Random(seed)
    lang, currency, rate = LOCALES[seed % len(LOCALES)]
    words = LANG[lang]
    layout = (seed // len(LOCALES)) % 3
    font = ("sans", "serif", "mono")[(seed // 3) % 3]
    s = Sample("invoice", seed, lang, font, 210, 297)
    issued = date(2023, 1, 1) + timedelta(days=rnd.randrange(700))
    due = issued + timedelta(days=rnd.choice((14, 30, 45))) if rnd.random() < 0.75 else None
    number = rnd.choice(["INV-{}-{:04d}", "{}{:05d}", "F{}/{:03d}", "RE-{}-{:03d}"]).format(
        issued.year, rnd.randrange(1, 9999)
    )
    issuer, customer = rnd.choice(COMPANIES), rnd.choice(CUSTOMERS)
    date_style = rnd.randrange(3)
    items = []
    for desc in rnd.sample(words["items"], rnd.randint(1, 4)):
        qty = rnd.randint(1, 5)
        unit = rnd.randrange(500, 250000) / 100 if currency != "JPY" else rnd.randrange(500, 90000)
        items.append((desc, qty, unit, round(qty * unit, 2)))
    subtotal = round(sum(i[3] for i in items), 2)
    tax = round(subtotal * rate / 100, 0 if currency == "JPY" else 2)
    total = round(subtotal + tax, 2)
    m = lambda v: money(v, currency, lang)  # noqa: E731
    pd = lambda d: printed_date(d, currency, lang, date_style)  # noqa: E731
    t = s.texts.append
    meta = [(words["no"], number), (words["date"], pd(issued))]
    if due is not None:
        meta.append((words["due"], pd(due)))
    if layout == 0:  # issuer big at top left, title right, meta as "label  value" rows
        t(Text(20, 18, issuer, 20, True))
        t(Text(190, 18, words["invoice"], 16, True, "R"))
        for i, (label, value) in enumerate(meta):
            t(Text(115, 45 + i * 7, label + ":"))
            t(Text(190, 45 + i * 7, value, align="R"))
        t(Text(20, 45, words["bill"] + ":", 10, True))
        t(Text(20, 52, customer))
    elif layout == 1:  # title at top, labels above values, parties under headings
        t(Text(20, 18, words["invoice"], 22, True))
        for i, (label, value) in enumerate(meta):
            t(Text(20 + i * 60, 38, label, 9, True))
            t(Text(20 + i * 60, 44, value))
        t(Text(20, 62, words["from"], 9, True))
        t(Text(20, 68, issuer))
        t(Text(115, 62, words["bill"], 9, True))
        t(Text(115, 68, customer))
    else:  # compact: everything as "Label: value" in one cell
        t(Text(20, 18, issuer, 14, True))
        t(Text(20, 32, f"{words['invoice']}"))
        for i, (label, value) in enumerate(meta):
            t(Text(20, 40 + i * 6, f"{label}: {value}"))
        t(Text(120, 40, f"{words['bill']}: {customer}"))
    y = 95
    cols = [(20, "L"), (125, "R"), (160, "R"), (190, "R")]
    for (x, align), head in zip(
        cols, (words["desc"], words["qty"], words["unit"], words["amount"]), strict=True
    ):
        t(Text(x, y, head, 10, True, align))
    for desc, qty, unit, line_total in items:
        y += 8
        for (x, align), val in zip(cols, (desc, str(qty), m(unit), m(line_total)), strict=True):
            t(Text(x, y, val, 10, False, align))
    y += 16
    tax_label = f"{words['tax']} ({rate:g}%)"
    rows = [(words["sub"], m(subtotal)), (tax_label, m(tax)), (words["total"], m(total))]
    for label, value in rows:
        if layout == 2:
            t(Text(190, y, f"{label}: {value}", 11 if label == words["total"] else 10, False, "R"))
        else:
            t(Text(120, y, label, 10, label == words["total"]))
            t(Text(190, y, value, 10, label == words["total"], "R"))
        y += 7
    s.expected = {
        "invoice_id": number,
        "invoice_issue_date": issued.isoformat(),
        "invoice_due_date": due.isoformat() if due else None,
        "total_amount": total,
        "subtotal": subtotal,
        "tax_amount": tax,
        "tax_percentage": rate,
        "currency": currency,
        "issuer_name": issuer,
        "customer_name": customer,
    }
    return s


def receipt_sample(seed: int) -> Sample:
    rnd = random.Random(seed)
    lang, currency, rate = LOCALES[seed % len(LOCALES)]
    words = LANG[lang]
    font = ("sans", "mono", "serif")[(seed // 2) % 3]
    goods = rnd.sample(words["goods"], rnd.randint(2, 4))
    s = Sample("receipt", seed, lang, font, 80, 60 + 7 * len(goods) + 60)
    shop = rnd.choice(SHOPS)
    when = date(2023, 1, 1) + timedelta(days=rnd.randrange(700))
    hh, mm = rnd.randrange(7, 22), rnd.randrange(60)
    number = str(rnd.randrange(1000, 999999)) if rnd.random() < 0.7 else None
    m = lambda v: money(v, currency, lang)  # noqa: E731
    lines = []
    for g in goods:
        qty = rnd.choice((1, 1, 1, 2, 3))
        price = rnd.randrange(150, 1500) / 100 if currency != "JPY" else rnd.randrange(150, 1500)
        lines.append((g if qty == 1 else f"{qty} x {g}", round(qty * price, 2)))
    total = round(sum(p for _, p in lines), 2)
    tax = round(total - total / (1 + rate / 100), 0 if currency == "JPY" else 2)
    subtotal = round(total - tax, 2)
    card = rnd.random() < 0.6
    last4 = f"{rnd.randrange(10000):04d}"
    t = s.texts.append
    t(Text(40 - len(shop) * 1.3, 8, shop, 12, True))
    t(Text(6, 18, printed_date(when, currency, lang, rnd.randrange(3)) + f"  {hh:02d}:{mm:02d}", 9))
    y = 24.0
    if number is not None:
        t(Text(6, y, f"{words['rno']} {number}", 9))
    y = 34.0
    for name, price in lines:
        t(Text(6, y, name, 9))
        t(Text(74, y, m(price), 9, False, "R"))
        y += 6
    y += 4
    for label, value, bold in (
        (words["sub"], subtotal, False),
        (f"{words['tax']} {rate:g}%", tax, False),
        (words["total"], total, True),
    ):
        t(Text(6, y, label, 10 if bold else 9, bold))
        t(Text(74, y, m(value), 10 if bold else 9, bold, "R"))
        y += 6
    y += 4
    t(Text(6, y, f"VISA ****{last4}" if card else words["cash"], 9))
    t(Text(24, y + 10, words["thanks"], 9))
    s.expected = {
        "receipt_id": number,
        "transaction_date": f"{when.isoformat()}T{hh:02d}:{mm:02d}:00",
        "total": total,
        "subtotal": subtotal,
        "tax": tax,
        "currency": currency,
        "merchant_name": shop,
        "payment_type": "card" if card else "cash",  # "VISA" alone says no more
        "card_last_4": last4 if card else None,
    }
    return s
