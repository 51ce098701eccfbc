"""Admin for grades: read-only, since grades are given by the grading service, not typed in."""

from django.contrib import admin
from django.utils.html import format_html

from testbench.admin import ReadOnlyAdmin

from .models import Certificate, Grade, PublishedKey


@admin.register(Grade)
class GradeAdmin(ReadOnlyAdmin):
    list_display = ["unit", "functional", "cosmetic", "disposition", "overridden", "policy_version", "created_at"]
    list_filter = ["functional", "cosmetic", "disposition", "policy_version"]

    @admin.display(boolean=True)
    def overridden(self, grade) -> bool:
        return grade.is_override
    search_fields = ["unit__asset_tag", "unit__serial"]
    list_select_related = ["unit", "unit__gpu_model"]


@admin.register(Certificate)
class CertificateAdmin(ReadOnlyAdmin):
    """Certificates as issued. Issue and revoke through the API or `manage.py certify`, which sign and record."""

    list_display = ["printed_id", "unit", "status", "issued_at", "key_id", "verify_link", "pdf_link"]
    list_filter = ["status", "key_id"]
    search_fields = ["public_id", "unit__asset_tag", "unit__serial"]
    list_select_related = ["unit", "unit__gpu_model"]

    @admin.display(description="verify")
    def verify_link(self, certificate):
        return format_html('<a href="/verify/{}/" target="_blank">public page</a>', certificate.public_id)

    @admin.display(description="PDF")
    def pdf_link(self, certificate):
        if not certificate.pdf:
            return "rendering…"
        return format_html('<a href="/verify/{}/certificate.pdf">PDF</a>', certificate.public_id)


@admin.register(PublishedKey)
class PublishedKeyAdmin(ReadOnlyAdmin):
    list_display = ["key_id", "created_at", "retired_at"]
