"""Certificate documents: render a certificate's PDF and store it beside the record."""

from __future__ import annotations

import hashlib

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from testbench.models import RunTelemetry

from ..models import Certificate
from ..payload import schema_version
from ..pdf import certificate_pdf


def telemetry_columns(run_id: int) -> dict | None:
    return RunTelemetry.objects.filter(run_id=run_id).values_list("columns", flat=True).first()


def certificate_pdf_bytes(certificate: Certificate) -> bytes:
    """The certificate's PDF. Schema 3 draws everything from the payload; older schemas chart the run's telemetry."""
    columns = telemetry_columns(certificate.run_id) if schema_version(certificate.payload) < 3 else None
    return certificate_pdf(certificate, telemetry_columns=columns)


def certificate_render(certificate_id: int) -> Certificate:
    """Render the certificate's PDF from its signed payload and store it. Only the pdf fields are written: the
    payload and signature are never touched, so a re-render cannot change what was signed."""
    certificate = Certificate.objects.get(pk=certificate_id)
    data = certificate_pdf_bytes(certificate)
    digest = hashlib.sha256(data).hexdigest()
    if certificate.pdf and certificate.pdf_sha256 == digest:
        return certificate  # deterministic rendering: nothing changed
    old_name = certificate.pdf.name if certificate.pdf else ""
    certificate.pdf.save(f"certificate-{certificate.public_id}.pdf", ContentFile(data), save=False)
    certificate.pdf_sha256 = digest
    certificate.pdf_rendered_at = timezone.now()
    with transaction.atomic():
        Certificate.objects.filter(pk=certificate.pk).update(
            pdf=certificate.pdf.name, pdf_sha256=digest, pdf_rendered_at=certificate.pdf_rendered_at)
    if old_name and old_name != certificate.pdf.name:
        certificate.pdf.storage.delete(old_name)
    return certificate
