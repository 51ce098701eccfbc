"""Grading API serializers."""

from __future__ import annotations

from rest_framework import serializers

from inventory.models import Unit
from inventory.validators import BLOCK_TEXT

from ..models import Certificate, FunctionalGrade, Grade


class GradeSerializer(serializers.ModelSerializer):
    asset_tag = serializers.CharField(source="unit.asset_tag", read_only=True)
    graded_by = serializers.CharField(source="graded_by.username", read_only=True, default=None)

    class Meta:
        model = Grade
        fields = ["id", "unit", "asset_tag", "run", "functional", "cosmetic", "policy_version", "reasons",
                  "disposition", "marketplace", "ai", "overrides", "override_reason", "graded_by", "created_at"]
        read_only_fields = fields


class GradeRequestSerializer(serializers.Serializer):
    unit = serializers.PrimaryKeyRelatedField(queryset=Unit.objects.all(),
                                              help_text="A card whose test run has finished (tested or failed)")


class GradeOverrideSerializer(serializers.Serializer):
    functional = serializers.ChoiceField(choices=FunctionalGrade.choices)
    reason = serializers.CharField(max_length=1000, validators=[BLOCK_TEXT],
                                   help_text="Why; printed on the certificate")


class CertificateSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id", read_only=True)
    printed_id = serializers.CharField(read_only=True)
    asset_tag = serializers.CharField(source="unit.asset_tag", read_only=True)
    superseded_by = serializers.SlugRelatedField(slug_field="public_id", read_only=True)
    verify_url = serializers.SerializerMethodField()
    pdf_ready = serializers.SerializerMethodField()

    class Meta:
        model = Certificate
        fields = ["id", "printed_id", "unit", "asset_tag", "run", "grade", "issued_at", "status", "status_reason",
                  "status_changed_at", "superseded_by", "key_id", "signature", "verify_url", "pdf_ready",
                  "pdf_sha256", "payload"]
        read_only_fields = fields

    def get_verify_url(self, certificate) -> str:
        return certificate.payload.get("verify_url", "")

    def get_pdf_ready(self, certificate) -> bool:
        return bool(certificate.pdf)


class CertificateIssueSerializer(serializers.Serializer):
    unit = serializers.PrimaryKeyRelatedField(queryset=Unit.objects.all(), help_text="A graded card")


class CertificateRevokeSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=1000, help_text="Shown to anyone who verifies the certificate",
                                   validators=[BLOCK_TEXT])


class VerificationSerializer(serializers.Serializer):
    """The public verification answer (GET /api/certificates/{id}/verify/)."""

    id = serializers.CharField()
    printed_id = serializers.CharField()
    status = serializers.CharField()
    valid = serializers.BooleanField(help_text="status valid and the signature checks out")
    status_sentence = serializers.CharField()
    status_reason = serializers.CharField()
    status_changed_at = serializers.DateTimeField(allow_null=True)
    superseded_by = serializers.DictField(allow_null=True)
    issued_at = serializers.CharField()
    issuer = serializers.CharField()
    signature = serializers.DictField()
    facts = serializers.DictField()
    payload = serializers.DictField()
