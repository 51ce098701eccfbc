"""A certificate's PDF: WeasyPrint over a Django template, from the signed payload (and, for payloads of schema 1
and 2, the run's telemetry, which they do not carry).

Deterministic: the same certificate gives the same bytes. Every date printed or written into the PDF (document and
attachment) is the certificate's issue time, the charts are plain SVG, nothing reads the clock, and the payload's
members are laid out in a fixed order (a payload read back from PostgreSQL's jsonb, or from a PDF's attachment,
orders its keys otherwise). From schema 3 on the PDF is a function of (payload, signature, key id) alone, so anyone
with the renderer can draw it again from the attachment and compare (grading/pages.py). The payload is only read:
re-rendering never changes what was signed.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime

import segno
from django.template.loader import render_to_string

from .charts import bit_histogram_chart, thermal_chart
from .payload import SOFTWARE_KEYS, THERMAL_SERIES, printed_form, schema_version
from .readiness import measured_rates
from .signing import envelope, envelope_bytes

ATTACHMENT_NAME = "refurb-certificate.json"
GRADE_COLOURS = {"F-A": "#1a7f37", "F-B": "#2f6fb3", "F-C": "#b7791f", "FAIL": "#c0392b"}
CHECK_LABELS = {"identity": "Identity", "vram": "VRAM", "compute": "Compute", "performance": "Performance",
                "pcie": "PCIe", "thermal": "Thermal soak", "health": "Health", "ai": "AI workload"}
# Rows in a fixed order, whatever order the payload's keys come in; anything else after these, by name.
PERFORMANCE_ORDER = ("memory_bandwidth_gbs", "fp32_tflops", "fp16_tflops", "bf16_tflops")
PRECISION_ORDER = ("fp16", "int8", "int4")


def _in_order(keys, first: tuple) -> list:
    return sorted(keys, key=lambda k: (first.index(k) if k in first else len(first), str(k)))


@dataclass(frozen=True)
class SignedCertificate:
    """What a certificate's PDF is drawn from, as its attachment carries it: the payload, its signature and key id.
    (A Certificate record has the same attributes, so either can be rendered.)"""

    payload: dict
    signature: str
    key_id: str

    @property
    def public_id(self) -> str:
        return self.payload["id"]

    @property
    def printed_id(self) -> str:
        return printed_form(self.public_id)


def performance_rows(checks: list[dict]) -> list[dict]:
    """Measured throughput against its reference, from the performance check's metrics."""
    metrics = next((c["metrics"] for c in checks if c["name"] == "performance"), {})
    rows = []
    for name in _in_order((k.removesuffix("_vs_expected") for k in metrics if k.endswith("_vs_expected")),
                          PERFORMANCE_ORDER):
        ratio = metrics[f"{name}_vs_expected"]
        if not isinstance(ratio, int | float) or not ratio:
            continue
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


def thermal_columns(payload: dict, telemetry_columns: dict | None) -> dict:
    """What the thermal chart draws: from schema 3 on the payload's own series (and nothing else), before it the
    run's telemetry."""
    if schema_version(payload) < 3:
        return telemetry_columns or {}
    series = payload["test"].get("thermal") or {}
    return {"time": series.get("time_s"), **{key: series.get(key) for key in THERMAL_SERIES}}


def certificate_html(certificate, *, telemetry_columns: dict | None) -> str:
    payload = certificate.payload
    checks = payload["test"]["checks"]
    vram = next((c for c in checks if c["name"] == "vram"), None)
    histogram = (vram or {}).get("evidence", {}).get("bit_histogram")
    ai = payload.get("ai_readiness") or {}
    decode = ai.get("decode_tokens_per_s_estimate") or {}
    fits_by_precision = ai.get("largest_model_billions") or {}
    software = payload["test"].get("software") or {}
    context = {
        "p": payload,
        "card": payload["card"],
        "test": payload["test"],
        "software": [(name, software[name]) for name in _in_order(software, SOFTWARE_KEYS)],
        "grade": payload["grade"],
        "ai": ai,
        "measured": measured_rates(ai),
        "ai_rows": [{"precision": precision.upper(), "fits": fits_by_precision[precision],
                     "decode_7b": decode.get(f"7B_{precision}"), "decode_13b": decode.get(f"13B_{precision}")}
                    for precision in _in_order(fits_by_precision, PRECISION_ORDER)],
        "checks": [{**c, "label": CHECK_LABELS.get(c["name"], c["name"])} for c in checks],
        "performance": performance_rows(checks),
        "printed_id": certificate.printed_id,
        "key_id": certificate.key_id,
        "signature": certificate.signature,
        "grade_colour": GRADE_COLOURS.get(payload["grade"]["functional"], "#444"),
        "qr": qr_svg(payload["verify_url"]),
        # The drawing the payload's schema names: a certificate draws again exactly as it was issued.
        "thermal_svg": thermal_chart(thermal_columns(payload, telemetry_columns),
                                     layout=2 if schema_version(payload) >= 5 else 1),
        "histogram_svg": bit_histogram_chart(histogram) if histogram else "",
        "attachment_name": ATTACHMENT_NAME,
        "renderer": renderer(),
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


def renderer() -> str:
    """What draws the pages here: WeasyPrint, Pango and the font subsetter, written into each PDF's Creator. Another
    renderer may lay the same payload out differently, so a verifier that re-renders tells that apart from an edit."""
    if getattr(renderer, "text", None) is None:
        weasyprint = _weasyprint()
        from weasyprint.text import ffi

        pango = ffi.pango.pango_version()
        subsetter = ("HarfBuzz" if ffi.harfbuzz_subset is not None and ffi.harfbuzz.hb_version_atleast(4, 1, 0)
                     else "fontTools")
        renderer.text = (f"refurb (WeasyPrint {weasyprint.__version__}, Pango {pango // 10000}.{pango // 100 % 100}."
                         f"{pango % 100}, fonts subset by {subsetter})")
    return renderer.text


def _font_config():
    """One WeasyPrint font configuration per thread, kept: building one per render cost a quarter of the render
    time. (Not shared across threads: it wraps a Pango font map.)"""
    _weasyprint()
    from weasyprint.text.fonts import FontConfiguration

    if getattr(_per_thread, "font_config", None) is None:
        _per_thread.font_config = FontConfiguration()
    return _per_thread.font_config


def pdf_from_html(html: str) -> bytes:
    """Any other document of ours (labels) drawn the way certificates are: same WeasyPrint set-up and fonts."""
    return _weasyprint().HTML(string=html, base_url=None).write_pdf(font_config=_font_config())


def certificate_pdf(certificate, *, telemetry_columns: dict | None = None) -> bytes:
    """The PDF of `certificate` (a Certificate or a SignedCertificate). `telemetry_columns`: the run's, for the
    thermal chart of a payload older than schema 3."""
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
