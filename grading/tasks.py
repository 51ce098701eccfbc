"""Celery tasks of grading. They take ids and are sent on commit."""

from __future__ import annotations

from celery import shared_task

from .services.documents import certificate_render


@shared_task(ignore_result=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def certificate_pdf_render_task(certificate_id: int) -> str:
    """Render (or re-render) a certificate's PDF and store it with its SHA-256."""
    return certificate_render(certificate_id).pdf_sha256
