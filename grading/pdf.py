"""A certificate's PDF: WeasyPrint over a Django template, from the signed payload and the run's telemetry.

Deterministic: the same certificate gives the same bytes. Every date printed or written into the PDF (document and
attachment) is the certificate's issue time, the charts are plain SVG, and nothing reads the clock. The payload is
only read: re-rendering never changes what was signed.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from datetime import UTC, datetime

import segno
from django.template.loader import render_to_string

from .charts import bit_histogram_chart, thermal_chart
from .signing import envelope, envelope_bytes

ATTACHMENT_NAME = "refurb-certificate.json"
GRADE_COLOURS = {"F-A": "#1a7f37", "F-B": "#2f6fb3", "F-C": "#b7791f", "FAIL": "#c0392b"}
CHECK_LABELS = {"identity": "Identity", "vram": "VRAM", "compute": "Compute", "performance": "Performance",
                "pcie": "PCIe", "thermal": "Thermal soak", "health": "Health"}


def performance_rows(checks: list[dict]) -> list[dict]:
    """Measured throughput against its reference, from the performance check's metrics."""
    metrics = next((c["metrics"] for c in checks if c["name"] == "performance"), {})
    rows = []
    for key, ratio in metrics.items():
        if not key.endswith("_vs_expected") or not isinstance(ratio, int | float) or not ratio:
            continue
        name = key.removesuffix("_vs_expected")
        measured = metrics.get(name)
        if not isinstance(measured, int | float):
            continue
        unit = "GB/s" if name.endswith("_gbs") else "TFLOP/s"
        label = name.removesuffix("_gbs").removesuffix("_tflops").replace("_", " ")
        label = label.upper() if label in ("fp32", "fp16", "bf16") else label.capitalize()
        rows.append({"label": label, "unit": unit, "measured": measured, "reference": float(f"{measured / ratio:.4g}"),
                     "percent": round(100 * ratio)})
    return rows


def qr_svg(url: str) -> str:
    return segno.make(url, error="m").svg_inline(scale=2.4, border=0, dark="#111")


def certificate_html(certificate, *, telemetry_columns: dict | None) -> str:
    payload = certificate.payload
    checks = payload["test"]["checks"]
    vram = next((c for c in checks if c["name"] == "vram"), None)
    histogram = (vram or {}).get("evidence", {}).get("bit_histogram")
    ai = payload.get("ai_readiness") or {}
    decode = ai.get("decode_tokens_per_s_estimate") or {}
    context = {
        "p": payload,
        "card": payload["card"],
        "test": payload["test"],
        "grade": payload["grade"],
        "ai": ai,
        "ai_rows": [{"precision": precision.upper(), "fits": fits,
                     "decode_7b": decode.get(f"7B_{precision}"), "decode_13b": decode.get(f"13B_{precision}")}
                    for precision, fits in (ai.get("largest_model_billions") or {}).items()],
        "checks": [{**c, "label": CHECK_LABELS.get(c["name"], c["name"])} for c in checks],
        "performance": performance_rows(checks),
        "printed_id": certificate.printed_id,
        "key_id": certificate.key_id,
        "signature": certificate.signature,
        "grade_colour": GRADE_COLOURS.get(payload["grade"]["functional"], "#444"),
        "qr": qr_svg(payload["verify_url"]),
        "thermal_svg": thermal_chart(telemetry_columns or {}),
        "histogram_svg": bit_histogram_chart(histogram) if histogram else "",
        "attachment_name": ATTACHMENT_NAME,
    }
    return render_to_string("grading/certificate.html", context)


_per_thread = threading.local()
log = logging.getLogger(__name__)
HARFBUZZ_FIX = "apt-get install libharfbuzz-subset0 (Debian, Ubuntu) or your system's HarfBuzz >= 4.1 package"


class _FontToolsFallbackFilter(logging.Filter):
    """WeasyPrint warns once per font per document when it subsets with fontTools; we say it once per process."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "instead of HarfBuzz-Subset" not in record.getMessage()


def _weasyprint():
    """Import WeasyPrint once, quietly. Without HarfBuzz's subsetter it falls back to fontTools, which stamps the
    time into each subset font: SOURCE_DATE_EPOCH (the reproducible-builds convention, which fontTools reads) pins
    that stamp, so that rendering stays byte-for-byte deterministic either way; and its warnings, several per
    certificate, become one line naming the fix."""
    if getattr(_weasyprint, "ready", False):
        import weasyprint

        return weasyprint
    os.environ.setdefault("SOURCE_DATE_EPOCH", "0")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="HarfBuzz-Subset will be required", category=DeprecationWarning)
        import weasyprint
        from weasyprint.text import ffi
    # WeasyPrint's own test: the subsetter present, and HarfBuzz 4.1 or newer (hb_set_add_sorted_array).
    if ffi.harfbuzz_subset is None or not ffi.harfbuzz.hb_version_atleast(4, 1, 0):
        logging.getLogger("weasyprint").addFilter(_FontToolsFallbackFilter())
        log.warning("HarfBuzz's font subsetter (4.1 or newer) is missing: certificate fonts are subset with fontTools "
                    "(slower, and unsupported by future WeasyPrint). Fix: %s", HARFBUZZ_FIX)
    _weasyprint.ready = True
    return weasyprint


def _font_config():
    """One WeasyPrint font configuration per thread, kept: building one per render cost a quarter of the render
    time. (Not shared across threads: it wraps a Pango font map.)"""
    _weasyprint()
    from weasyprint.text.fonts import FontConfiguration

    if getattr(_per_thread, "font_config", None) is None:
        _per_thread.font_config = FontConfiguration()
    return _per_thread.font_config


def certificate_pdf(certificate, *, telemetry_columns: dict | None = None) -> bytes:
    weasyprint = _weasyprint()  # imported here: loading Pango costs web processes that never render
    HTML, Attachment = weasyprint.HTML, weasyprint.Attachment

    issued = datetime.strptime(certificate.payload["issued_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    attachment = Attachment(
        string=envelope_bytes(envelope(certificate.payload, certificate.signature, certificate.key_id)),
        name=ATTACHMENT_NAME, description="Signed certificate payload (RFC 8785 JSON, Ed25519)",
        created=issued, modified=issued, relationship="Data")
    html = certificate_html(certificate, telemetry_columns=telemetry_columns)
    # PDF/A-3b: the archival form of PDF that allows embedded files (the signed payload travels with the document).
    return HTML(string=html, base_url=None).write_pdf(attachments=[attachment], font_config=_font_config(),
                                                      pdf_identifier=certificate.public_id.encode("ascii"),
                                                      pdf_variant="pdf/a-3b")
