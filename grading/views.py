"""Public pages: anyone can verify a certificate, download its PDF and fetch the published keys — no account."""

from __future__ import annotations

import math

from django.http import FileResponse, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from .keys import keyring, keys_document
from .services import certificate_by_public_id, verify_url
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
    response = render(request, "grading/verify.html", {"r": report, "has_pdf": bool(certificate.pdf)})
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
