"""Grading API: grade cards, override a grade (admins), issue and revoke certificates, and the public verify
endpoint."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.views import ActionPermsMixin

from ..filtersets import CertificateFilterSet, GradeFilterSet
from ..keys import keyring
from ..models import Certificate, Grade
from ..services import (
    certificate_by_public_id,
    certificate_issue,
    certificate_revoke,
    grade_override,
    unit_grade,
    verify_url,
)
from ..throttles import VerifyRateThrottle
from ..verification import verification_report
from .serializers import (
    CertificateIssueSerializer,
    CertificateRevokeSerializer,
    CertificateSerializer,
    GradeOverrideSerializer,
    GradeRequestSerializer,
    GradeSerializer,
    VerificationSerializer,
)


class GradeViewSet(ActionPermsMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Grades: the latest of a card is its current grade. Grading a card moves it to graded, repair or failed."""

    queryset = Grade.objects.select_related("unit", "graded_by").order_by("-created_at", "-id")
    serializer_class = GradeSerializer
    filterset_class = GradeFilterSet
    ordering_fields = ["created_at"]

    @extend_schema(request=GradeRequestSerializer, responses={201: GradeSerializer})
    def create(self, request, *args, **kwargs):
        """Grade a card from its latest finished run and its inspection."""
        serializer = GradeRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        grade = unit_grade(unit=serializer.validated_data["unit"], actor=request.user)
        return Response(GradeSerializer(self.get_queryset().get(pk=grade.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=GradeOverrideSerializer, responses={201: GradeSerializer})
    @action(detail=True, methods=["post"], required_perms=("grading.override_grade",))
    def override(self, request, pk=None):
        """Override the card's current grade (admins), with a reason that the certificate prints. The grade given
        must be the card's current one."""
        grade = self.get_object()
        serializer = GradeOverrideSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        record = grade_override(unit=grade.unit, actor=request.user, overriding=grade, **serializer.validated_data)
        return Response(GradeSerializer(self.get_queryset().get(pk=record.pk)).data, status=status.HTTP_201_CREATED)


class CertificateViewSet(ActionPermsMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Certificates, by their public id. Issuing one signs the card's current grade and moves the card to
    certified; the PDF follows within seconds (`pdf_ready`)."""

    queryset = Certificate.objects.select_related("unit", "superseded_by").order_by("-issued_at", "-id")
    serializer_class = CertificateSerializer
    filterset_class = CertificateFilterSet
    lookup_field = "public_id"
    lookup_url_kwarg = "public_id"
    ordering_fields = ["issued_at"]

    def get_object(self):
        certificate = certificate_by_public_id(self.kwargs["public_id"])
        if certificate is None:
            raise Http404
        self.check_object_permissions(self.request, certificate)
        return certificate

    @extend_schema(request=CertificateIssueSerializer, responses={201: CertificateSerializer})
    def create(self, request, *args, **kwargs):
        """Issue a certificate for a graded card."""
        serializer = CertificateIssueSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        certificate = certificate_issue(unit=serializer.validated_data["unit"], actor=request.user)
        certificate.refresh_from_db()
        return Response(CertificateSerializer(certificate).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CertificateRevokeSerializer, responses={200: CertificateSerializer})
    @action(detail=True, methods=["post"], required_perms=("grading.revoke_certificate",))
    def revoke(self, request, public_id=None):
        """Revoke a certificate (admins), with a reason anyone verifying it will see."""
        certificate = self.get_object()
        serializer = CertificateRevokeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        certificate = certificate_revoke(certificate=certificate, actor=request.user, **serializer.validated_data)
        return Response(CertificateSerializer(certificate).data)


class CertificateVerifyView(APIView):
    """Public: is this certificate genuine and current, and what does it say. No account needed; rate limited per
    client address. An unknown id is a plain 404."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [VerifyRateThrottle]

    @extend_schema(responses={200: VerificationSerializer}, auth=[])
    def get(self, request, public_id: str):
        certificate = certificate_by_public_id(public_id)
        if certificate is None:
            raise Http404
        report = verification_report(certificate, keyring(needs=certificate.key_id), public_url=verify_url)
        response = Response(report)
        response["Cache-Control"] = "no-cache"
        return response
