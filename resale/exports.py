"""Files that marketplaces accept, written from listings and their cards' public facts (no cost, lot, supplier,
note or bench ever reaches an export). Every cell of every CSV or TSV is guarded against spreadsheet formula
injection: a cell starting with =, +, -, @, a tab or a carriage return is written with a leading apostrophe, which
spreadsheets show as text and never evaluate (OWASP's advice for CSV injection).

- eBay Seller Hub upload (drafts): the #INFO lines, the Action(SiteID=…|Country=…|Currency=…|Version=…|CC=UTF-8)
  header, Custom label (SKU) = asset tag, Category ID 27386 (Graphics/Video Cards), Title ≤ 80, Condition ID,
  Price, Quantity 1, Description (HTML), and the item specifics named in resale.models.EbaySpecific.
- Google Merchant Center product feed (TSV): id, title, description, link, image_link, price, availability,
  condition (refurbished only with a warranty), brand, mpn or identifier_exists=no, product_type.
- Back Market listing CSV: sku, product_id, quantity, warranty_delay (months), price, state, currency, grade.
- A JSON feed of listings for anyone's integration.
"""

from __future__ import annotations

import csv
import html
import io
import json
from dataclasses import dataclass
from decimal import Decimal

from .choices import SpecificSource
from .selectors import CardFacts

FORMULA_LEAD = ("=", "+", "-", "@", "\t", "\r")
EBAY_CATEGORY_GRAPHICS_CARDS = 27386
EBAY_TEMPLATE_VERSION = 1193
# Back Market's condition states by the grade names of the grading policy (grading.policy.MARKETPLACE).
BACKMARKET_STATE = {"Excellent": 1, "Good": 2, "Fair": 3}
PRODUCT_TYPE = "Computer Components > Graphics Cards"


def cell(value) -> str:
    """A value as a spreadsheet-safe cell: a number as written (a negative margin stays a number), any text that a
    spreadsheet would evaluate guarded with an apostrophe."""
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return str(value)
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_LEAD) else text


def csv_text(rows: list[list], *, delimiter: str = ",") -> str:
    """Rows as CSV text, every cell spreadsheet-safe."""
    return _csv(rows, delimiter=delimiter)


def _csv(rows: list[list], *, delimiter: str = ",") -> str:
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerows([[cell(v) for v in row] for row in rows])
    return out.getvalue()


def _one_line(text: str) -> str:
    # Google's TSV has no quoting: tabs and line breaks inside a value would split it.
    return " ".join(str(text or "").split())


@dataclass(frozen=True)
class ExportItem:
    """A listing as an export sees it: its public fields and its cards' public facts."""

    listing_id: int
    status: str
    sku: str
    title: str
    description: str
    price: Decimal
    currency: str
    condition: dict
    warranty_days: int
    return_days: int
    image_url: str
    url: str  # the listing's storefront page
    cards: tuple[CardFacts, ...]
    spread: float | None  # a matched set's
    backmarket_product_id: str = ""

    @property
    def model(self):
        return self.cards[0].gpu_model


def specific_value(item: ExportItem, source: str) -> str:
    model, card = item.model, item.cards[0]
    vendors = sorted({c.board_vendor for c in item.cards if c.board_vendor})
    value = {
        SpecificSource.BOARD_VENDOR: " / ".join(vendors),
        SpecificSource.CHIP_VENDOR: model.get_vendor_display(),
        SpecificSource.GPU_MODEL: model.name,
        SpecificSource.MEMORY_SIZE: f"{float(model.vram_gib):g} GB",
        SpecificSource.MEMORY_TYPE: model.memory_type,
        SpecificSource.SLOT: f"PCI Express {model.pcie_gen}.0 x{model.pcie_lanes}",
        SpecificSource.COOLING: "Heatsink" if model.segment == "datacenter" else "Fan & Heatsink",
        SpecificSource.PART_NUMBER: card.board_part_number if len(item.cards) == 1 else "",
    }
    return value.get(source, "")


def description_html(item: ExportItem) -> str:
    """The plain description as HTML: each line a paragraph, links made links, everything else escaped."""
    paragraphs = []
    for line in item.description.splitlines():
        words = [f'<a href="{html.escape(w)}">{html.escape(w)}</a>' if w.startswith(("https://", "http://"))
                 else html.escape(w) for w in line.split(" ")]
        paragraphs.append(f"<p>{' '.join(words)}</p>")
    return "".join(paragraphs)


def ebay_csv(items: list[ExportItem], *, specifics: list[tuple[str, str]], site_id: str, country: str,
             currency: str) -> str:
    """The Seller Hub "draft listings" upload: each row becomes a draft to finish and publish on eBay."""
    action = f"Action(SiteID={site_id}|Country={country}|Currency={currency}|Version={EBAY_TEMPLATE_VERSION}|CC=UTF-8)"
    header = [action, "Custom label (SKU)", "Category ID", "Title", "UPC", "Price", "Quantity", "Item photo URL",
              "Condition ID", "Description", "Format", *[column for column, _ in specifics]]
    blank = [""] * (len(header) - 1)
    rows = [
        ["#INFO", f"Version={EBAY_TEMPLATE_VERSION}", "Template= eBay-draft-listings-template", *blank[2:]],
        ["#INFO Action and Category ID are required fields. Written by refurb: upload it in Seller Hub > Reports > "
         "Uploads, then finish the drafts.", *blank],
        ["#INFO", *blank],
        header,
    ]
    for item in items:
        rows.append(["Draft", item.sku, EBAY_CATEGORY_GRAPHICS_CARDS, item.title[:80], "Does not apply",
                     item.price, 1, item.image_url, (item.condition or {}).get("id", ""), description_html(item),
                     "FixedPrice", *[specific_value(item, source) for _, source in specifics]])
    return _csv(rows)


def google_tsv(items: list[ExportItem]) -> str:
    header = ["id", "title", "description", "link", "image_link", "price", "availability", "condition", "brand",
              "mpn", "identifier_exists", "product_type"]
    rows = [header]
    for item in items:
        part = item.cards[0].board_part_number if len(item.cards) == 1 else ""
        vendors = sorted({c.board_vendor for c in item.cards if c.board_vendor})
        rows.append([item.sku, _one_line(item.title)[:150], _one_line(item.description)[:5000], item.url,
                     item.image_url, f"{item.price} {item.currency}", "in_stock" if item.status == "active"
                     else "out_of_stock", "refurbished" if item.warranty_days else "used",
                     vendors[0] if len(vendors) == 1 else item.model.get_vendor_display(), part,
                     "yes" if part else "no", f"{PRODUCT_TYPE} > {item.model.get_vendor_display()}"])
    return _csv([[_one_line(v) if isinstance(v, str) else v for v in row] for row in rows], delimiter="\t")


def backmarket_csv(items: list[ExportItem]) -> str:
    rows = [["sku", "product_id", "quantity", "warranty_delay", "price", "state", "currency", "grade"]]
    for item in items:
        grade = (item.condition or {}).get("name") or ""
        rows.append([item.sku, item.backmarket_product_id, 1 if item.status == "active" else 0,
                     round(item.warranty_days / 30.4) if item.warranty_days else 0, item.price,
                     BACKMARKET_STATE.get(grade, ""), item.currency, grade])
    return _csv(rows)


def json_feed(items: list[ExportItem], *, verify_url) -> str:
    listings = []
    for item in items:
        listings.append({
            "id": item.listing_id, "sku": item.sku, "status": item.status, "title": item.title,
            "description": item.description, "price": str(item.price), "currency": item.currency,
            "condition": item.condition or None, "warranty_days": item.warranty_days,
            "return_days": item.return_days, "url": item.url, "image_url": item.image_url or None,
            "matched_within": round(item.spread, 4) if item.spread is not None else None,
            "model": {"name": item.model.name, "vendor": item.model.get_vendor_display(),
                      "vram_gib": float(item.model.vram_gib), "memory_type": item.model.memory_type},
            "cards": [{"asset_tag": c.asset_tag, "board_vendor": c.board_vendor,
                       "grade": {"functional": c.functional, "cosmetic": c.cosmetic},
                       "measured": {k: c.figures.get(k) for k in ("memory_bandwidth_gbs", "fp16_tflops",
                                                                  "fp32_tflops")},
                       "certificate": verify_url(c.certificate_id) if c.certificate_id else None}
                      for c in item.cards],
        })
    return json.dumps({"listings": listings}, ensure_ascii=False, indent=1)
