"""Labels for cards, drawn by WeasyPrint: an asset label (QR of the asset tag, model, serial) for label printers of
62 × 29 mm or 50 × 25 mm, the same labels on A4 sheets for a whole lot, and after certification a certificate label
whose QR opens the certificate's verify page. A label profile names the size."""

from __future__ import annotations

from dataclasses import dataclass

import segno
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from core.errors import InvalidInput
from grading.models import Certificate, CertificateStatus
from grading.pdf import pdf_from_html
from grading.services import verify_url


@dataclass(frozen=True)
class LabelProfile:
    name: str
    width_mm: float
    height_mm: float
    sheet: bool = False  # labels laid out on A4 pages, else one label per page (a label printer's roll)
    columns: int = 1
    rows: int = 1

    @property
    def per_page(self) -> int:
        return self.columns * self.rows


PROFILES = {
    "62x29": LabelProfile("62x29", 62, 29),  # Brother DK-11209 and alike
    "50x25": LabelProfile("50x25", 50, 25),  # Zebra, Dymo and alike
    "a4": LabelProfile("a4", 62, 29, sheet=True, columns=3, rows=9),  # 27 a sheet, 62 × 29 mm each
}
KINDS = ("asset", "certificate")
MAX_LABELS = 5000  # a lot's largest intake sheet


def _qr(text: str) -> str:
    return mark_safe(segno.make(text, error="m").svg_inline(scale=4, border=0, dark="#000"))


def labels_pdf(units, *, profile: str = "62x29", kind: str = "asset") -> bytes:
    """The labels of `units` (in the order given), one per card. A certificate label needs the card's valid
    certificate: cards without one are refused, named."""
    if profile not in PROFILES:
        raise InvalidInput({"profile": [f"{profile!r} is not a label profile; profiles are: {', '.join(PROFILES)}"]})
    if kind not in KINDS:
        raise InvalidInput({"kind": [f"{kind!r} is not a label; labels are: {', '.join(KINDS)}"]})
    units = list(units)
    if not units:
        raise InvalidInput({"units": ["no cards to label"]})
    if len(units) > MAX_LABELS:
        raise InvalidInput({"units": [f"{len(units)} labels: at most {MAX_LABELS} at once"]})
    labels = []
    if kind == "certificate":
        valid = {c.unit_id: c for c in Certificate.objects.filter(unit__in=units, status=CertificateStatus.VALID)
                 .select_related("grade")}
        missing = [u.asset_tag for u in units if u.pk not in valid]
        if missing:
            raise InvalidInput({"units": [f"no valid certificate: {', '.join(missing[:20])}"
                                          + (f" and {len(missing) - 20} more" if len(missing) > 20 else "")]})
        for unit in units:
            certificate = valid[unit.pk]
            url = verify_url(certificate.public_id)
            labels.append({"unit": unit, "qr": _qr(url), "certificate": certificate, "url": url,
                           "grade": f"{certificate.grade.functional}/{certificate.grade.cosmetic or '–'}"})
    else:
        labels = [{"unit": unit, "qr": _qr(unit.asset_tag)} for unit in units]
    chosen = PROFILES[profile]
    pages = ([labels[i:i + chosen.per_page] for i in range(0, len(labels), chosen.per_page)] if chosen.sheet
             else [[label] for label in labels])
    html = render_to_string("workbench/labels.html", {"profile": chosen, "pages": pages, "kind": kind})
    return pdf_from_html(html)
