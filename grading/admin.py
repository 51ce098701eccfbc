"""Admin for grades and certificates. Records are read-only, since the grading services give grades and sign
certificates; an admin overrides a grade or revokes a certificate through an action that asks for the reason."""

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils.html import format_html

from core.admin import FilterSetAdmin, ReadOnlyAdmin
from core.errors import DomainError
from inventory.validators import BLOCK_TEXT

from .filtersets import CertificateFilterSet, GradeFilterSet
from .models import Certificate, FunctionalGrade, Grade, PublishedKey
from .policy import condition_label
from .services import certificate_revoke, grade_override


class OverrideForm(forms.Form):
    functional = forms.ChoiceField(choices=FunctionalGrade.choices, label="New functional grade")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=1000, validators=[BLOCK_TEXT],
                             help_text="Printed on the certificate")


class RevokeForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=1000, validators=[BLOCK_TEXT],
                             help_text="Shown to anyone who verifies the certificate")


def decision(modeladmin, request, queryset, *, form_class, title, intro, submit, apply):
    """An action that asks for a reason first: shows the form, then calls `apply(obj, **cleaned)` for each object
    and reports each success or refusal."""
    form = form_class(request.POST if request.POST.get("apply") else None)
    if form.is_valid():
        done = 0
        for obj in queryset:
            try:
                apply(obj, **form.cleaned_data)
                done += 1
            except DomainError as exc:
                modeladmin.message_user(request, f"{obj}: {exc}", messages.ERROR)
        if done:
            modeladmin.message_user(request, f"{title}: {done} done", messages.SUCCESS)
        return None
    return TemplateResponse(request, "admin/grading/decision_form.html", {
        **modeladmin.admin_site.each_context(request), "title": title, "intro": intro, "objects": list(queryset),
        "form": form, "action": request.POST.get("action", ""), "submit": submit,
        "opts": modeladmin.model._meta})


@admin.register(Grade)
class GradeAdmin(FilterSetAdmin, ReadOnlyAdmin):
    filterset_class = GradeFilterSet
    list_display = ["unit", "functional", "cosmetic", "current", "disposition", "ebay_condition", "overridden",
                    "policy_version", "created_at"]
    list_filter = ["is_current", "functional", "cosmetic", "disposition", "policy_version"]
    search_fields = ["unit__asset_tag", "unit__serial"]
    list_select_related = ["unit", "unit__gpu_model"]
    actions = ["override"]

    @admin.display(description="eBay condition")
    def ebay_condition(self, grade) -> str:
        return condition_label((grade.marketplace or {}).get("ebay"))

    @admin.display(boolean=True, description="current", ordering="is_current")
    def current(self, grade) -> bool:
        """The card's grade now; the others are its earlier ones, kept."""
        return grade.is_current

    @admin.display(boolean=True)
    def overridden(self, grade) -> bool:
        return grade.is_override

    def has_override_permission(self, request) -> bool:
        return request.user.has_perm("grading.override_grade")

    @admin.action(description="Override the grade of the selected cards…", permissions=["override"])
    def override(self, request, queryset):
        def apply(grade, *, functional, reason):
            grade_override(unit=grade.unit, functional=functional, reason=reason, actor=request.user,
                           overriding=grade)

        return decision(self, request, queryset.select_related("unit"), form_class=OverrideForm,
                        title="Override grades", submit="Override",
                        intro="The measured reasons stay; the new grade, your name and the reason are recorded, "
                              "the card follows the new grade, and its certificate will show the override.",
                        apply=apply)


@admin.register(Certificate)
class CertificateAdmin(FilterSetAdmin, ReadOnlyAdmin):
    filterset_class = CertificateFilterSet
    """Certificates as issued (issue them with the API or `manage.py certify`, which sign and record)."""

    list_display = ["printed_id", "unit", "status", "issued_at", "key_id", "verify_link", "pdf_link"]
    # The PDF by its public URL: nothing under MEDIA_URL is served (docs/deploy.md), so the file field's own link
    # would lead nowhere.
    exclude = ["pdf"]
    readonly_fields = ["pdf_link"]
    list_filter = ["status", "key_id"]
    search_fields = ["public_id", "unit__asset_tag", "unit__serial"]
    list_select_related = ["unit", "unit__gpu_model"]
    actions = ["revoke"]

    @admin.display(description="verify")
    def verify_link(self, certificate):
        return format_html('<a href="/verify/{}/" target="_blank">public page</a>', certificate.public_id)

    @admin.display(description="PDF")
    def pdf_link(self, certificate):
        if not certificate.pdf:
            return "rendering…"
        return format_html('<a href="/verify/{}/certificate.pdf">PDF</a>', certificate.public_id)

    def has_revoke_permission(self, request) -> bool:
        return request.user.has_perm("grading.revoke_certificate")

    @admin.action(description="Revoke the selected certificates…", permissions=["revoke"])
    def revoke(self, request, queryset):
        return decision(self, request, queryset, form_class=RevokeForm, title="Revoke certificates",
                        submit="Revoke",
                        intro="Anyone who verifies these certificates will see them revoked, with your reason. A "
                              "certified or listed card goes on hold.",
                        apply=lambda certificate, *, reason: certificate_revoke(
                            certificate=certificate, reason=reason, actor=request.user))


@admin.register(PublishedKey)
class PublishedKeyAdmin(ReadOnlyAdmin):
    list_display = ["key_id", "created_at", "retired_at"]
