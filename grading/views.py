"""Public pages: the home page with its certificate lookup; anyone can verify a certificate, download its PDF and
fetch the published keys — no account."""

from __future__ import annotations

import math

from django.conf import settings
from django.http import FileResponse, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from inventory.choices import COSMETIC_GRADE_DEFINITIONS

from .buyer_words import buyer_sentence
from .keys import keyring, keys_document
from .models import FunctionalGrade
from .readiness import decode_rates, measured_rates
from .services import certificate_by_public_id, certificates_for_serial, verify_url
from .throttles import VerifyRateThrottle
from .verification import verification_report


def _throttled(request) -> HttpResponse | None:
    throttle = VerifyRateThrottle()
    if throttle.allow_request(request, None):
        return None
    wait = math.ceil(throttle.wait() or 1)
    response = HttpResponse(f"Too many verification requests; try again in {wait} s.\n", status=429,
                            content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(wait)
    return response


def _public(context: dict) -> dict:
    """What every public page shows: who issues the certificates."""
    return {"issuer": settings.REFURB_ISSUER, **context}


def _verify_path(certificate) -> str:
    return reverse("certificate-verify-page", args=[certificate.public_id])


LOOKUP_MAX = 100


@require_safe
def home(request):
    """What this seller does, and a box to look a certificate up by its printed id or by a card's board serial."""
    query = request.GET.get("q", "").strip()
    context = _public({"about": settings.REFURB_SELLER_ABOUT, "query": query[:LOOKUP_MAX]})
    if not query:
        return render(request, "grading/home.html", context)
    if (limited := _throttled(request)) is not None:  # each lookup counts like a verify page view
        return limited
    if len(query) > LOOKUP_MAX:
        context["error"] = f"That is longer than any certificate id or serial ({LOOKUP_MAX} characters at most)."
        return render(request, "grading/home.html", context, status=400)
    if any(ord(c) < 32 or ord(c) == 127 for c in query):  # a NUL would not even reach the database as a query
        context["query"] = ""
        context["error"] = "That holds control characters, which no certificate id or serial has."
        return render(request, "grading/home.html", context, status=400)
    certificate = certificate_by_public_id(query)
    if certificate is not None:
        return redirect(_verify_path(certificate))
    found = certificates_for_serial(query)
    if len(found) == 1:
        return redirect(_verify_path(found[0]))
    if found:  # boards of two makers with the same serial: the buyer picks theirs
        context["found"] = [{"url": _verify_path(c), "model": c.unit.gpu_model.name, "printed_id": c.printed_id,
                             "board_vendor": c.unit.board_vendor, "status": c.status} for c in found]
        return render(request, "grading/home.html", context)
    context["error"] = ("No certificate has this id, and no certified card has this serial. Check the id against "
                        "the printed certificate, or the serial against the sticker on the card.")
    return render(request, "grading/home.html", context, status=404)


def _not_found(request) -> HttpResponse:
    # Rendered here rather than raised, so that even a DEBUG server answers a guessed id with the plain page.
    return render(request, "404.html", status=404)


@require_safe
def verify_page(request, public_id: str):
    if (limited := _throttled(request)) is not None:
        return limited
    certificate = certificate_by_public_id(public_id)
    if certificate is None:
        return _not_found(request)
    report = verification_report(certificate, keyring(needs=certificate.key_id), public_url=verify_url)
    # What fits for AI, from the signed payload (shown only when its signature holds, as every other fact).
    signed = (certificate.payload or {}) if report["signature"]["valid"] else {}
    ai = signed.get("ai_readiness")
    reasons = [buyer_sentence(r) for r in (signed.get("grade") or {}).get("reasons") or [] if isinstance(r, dict)]
    response = render(request, "grading/verify.html", _public({
        "r": report, "has_pdf": bool(certificate.pdf), "ai": ai, "decode": decode_rates(ai),
        "measured": measured_rates(ai), "reasons": reasons,
        "functional_scale": FunctionalGrade.choices, "cosmetic_scale": COSMETIC_GRADE_DEFINITIONS.items(),
        "contact": settings.REFURB_ISSUER_CONTACT, "warranty": settings.REFURB_WARRANTY_TERMS}))
    response["Cache-Control"] = "no-cache"  # a revocation shows at once
    return response


@require_safe
def certificate_pdf_download(request, public_id: str):
    if (limited := _throttled(request)) is not None:
        return limited
    certificate = certificate_by_public_id(public_id)
    if certificate is None or not certificate.pdf:
        return _not_found(request)
    return FileResponse(certificate.pdf.open("rb"), content_type="application/pdf",
                        filename=f"certificate-{certificate.printed_id}.pdf")


@require_safe
@cache_control(public=True, max_age=300)
def published_keys(request):
    return JsonResponse(keys_document(), json_dumps_params={"indent": 2})
