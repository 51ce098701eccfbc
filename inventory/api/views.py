"""API views: validate input, call one service, serialize the result."""

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.parsers import JSONParser
from core.api.views import ActionPermsMixin

from .. import events, selectors
from ..errors import IntakeRejected
from ..filtersets import GpuModelFilterSet, LotFilterSet, UnitFilterSet
from ..media import protected_file_response
from ..models import InspectionPhoto
from ..roles import allowed_targets_for, can_see_costs
from ..services import (
    IntakeRow,
    inspection_record,
    intake_import,
    intake_read_upload,
    lot_cost_warnings,
    lot_create,
    lot_update,
    unit_transition,
    unit_update,
)
from .serializers import (
    GpuModelSerializer,
    InspectionCreateSerializer,
    InspectionSerializer,
    IntakeResultSerializer,
    IntakeSerializer,
    LotSerializer,
    TransitionSerializer,
    UnitCreateSerializer,
    UnitDetailSerializer,
    UnitSerializer,
    UnitUpdateSerializer,
)

CONFLICT = OpenApiResponse(description="Illegal transition: the body lists the allowed targets")
REJECTED = OpenApiResponse(description="Rows rejected: errors name each line and field; nothing imported")


class GpuModelViewSet(viewsets.ReadOnlyModelViewSet):
    """The GPU catalog with reference figures."""

    queryset = selectors.gpu_model_list()
    serializer_class = GpuModelSerializer
    filterset_class = GpuModelFilterSet
    search_fields = ["name", "slug", "chip"]
    ordering_fields = ["name", "launch_date", "fp32_tflops", "vram_gib"]


class LotViewSet(ActionPermsMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Purchase lots. Costs are shown to resellers and admins only."""

    queryset = selectors.lot_list()
    serializer_class = LotSerializer
    filterset_class = LotFilterSet
    search_fields = ["reference", "supplier"]
    ordering_fields = ["created_at", "purchased_on", "reference"]

    def _check_cost_write(self, data):
        if "total_cost" in data and not can_see_costs(self.request.user):
            raise PermissionDenied("setting a lot's cost needs the reseller or admin role")

    def perform_create(self, serializer):
        self._check_cost_write(serializer.validated_data)
        serializer.instance = lot_create(**serializer.validated_data)
        serializer.instance.unit_count = 0

    def perform_update(self, serializer):
        self._check_cost_write(serializer.validated_data)
        serializer.instance = lot_update(lot=serializer.instance, **serializer.validated_data)

    @extend_schema(request=IntakeSerializer, responses={201: IntakeResultSerializer, 200: IntakeResultSerializer,
                                                        400: REJECTED})
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser, JSONParser],
            required_perms=("inventory.add_unit",))
    def intake(self, request, pk=None):
        """Take in a batch of cards: a CSV file (multipart field `file`) or a JSON list `units`. All or nothing."""
        lot = self.get_object()
        serializer = IntakeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data.get("file"):
            sheet = intake_read_upload(data["file"])
            rows, separator, source = sheet.rows, sheet.separator_name, "api-csv"
        else:
            rows = [IntakeRow(line=index + 2, values=card) for index, card in enumerate(data["units"])]
            separator, source = None, "api"
        _, units = intake_import(lot_reference=lot.reference, rows=rows, actor=request.user, source=source,
                                 dry_run=data["dry_run"], allow_costs=can_see_costs(request.user))
        warnings = lot_cost_warnings(lot=lot) if can_see_costs(request.user) and units else []
        result = {"lot": lot, "dry_run": data["dry_run"], "checked": len(rows), "separator": separator,
                  "created": units, "warnings": warnings}
        return Response(IntakeResultSerializer(result, context={"request": request}).data,
                        status=status.HTTP_200_OK if data["dry_run"] else status.HTTP_201_CREATED)


@extend_schema_view(
    create=extend_schema(request=UnitCreateSerializer, responses={201: UnitDetailSerializer, 400: REJECTED}),
    partial_update=extend_schema(request=UnitUpdateSerializer, responses=UnitDetailSerializer),
    update=extend_schema(request=UnitUpdateSerializer, responses=UnitDetailSerializer),
)
class UnitViewSet(ActionPermsMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Units (one per card). Filter by state, model, lot, grade; search by serial or asset tag."""

    filterset_class = UnitFilterSet
    search_fields = ["=asset_tag", "serial"]
    ordering_fields = ["received_at", "state_changed_at", "asset_tag"]

    def get_queryset(self):
        if self.action == "list":
            return selectors.unit_list()
        return selectors.unit_detail_list()

    queryset = selectors.unit_list()  # for permissions and the schema; get_queryset picks per action

    def get_serializer_class(self):
        return UnitSerializer if self.action == "list" else UnitDetailSerializer

    def _detail(self, unit, status_code=status.HTTP_200_OK):
        unit = self.get_queryset().get(pk=unit.pk)
        return Response(UnitDetailSerializer(unit, context=self.get_serializer_context()).data, status=status_code)

    def create(self, request, *args, **kwargs):
        """Take in a single card into an existing lot (the same checks as a CSV row)."""
        serializer = UnitCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = dict(serializer.validated_data)
        lot = values.pop("lot")
        try:
            _, units = intake_import(lot_reference=lot.reference, rows=[IntakeRow(line=1, values=values)],
                                     actor=request.user, source="api", allow_costs=can_see_costs(request.user))
        except IntakeRejected as exc:
            # One card: answer like a form, errors keyed by field.
            body: dict[str, list[str]] = {}
            for error in exc.errors:
                body.setdefault(error.field, []).append(error.message)
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        return self._detail(units[0], status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        unit = self.get_object()
        serializer = UnitUpdateSerializer(data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        unit_update(unit=unit, actor=request.user, **serializer.validated_data)
        return self._detail(unit)

    @extend_schema(request=TransitionSerializer, responses={200: UnitDetailSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"], required_perms=("inventory.change_unit",))
    def transition(self, request, pk=None):
        """Move the unit to another state. An illegal move answers 409 with the allowed targets."""
        unit = self.get_object()
        serializer = TransitionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        to_state = serializer.validated_data["to"]
        if to_state not in allowed_targets_for(request.user):
            raise PermissionDenied(f"your role may not move units to {to_state}")
        unit_transition(unit=unit, to_state=to_state, actor=request.user,
                        reason=serializer.validated_data.get("reason", ""),
                        event=events.moved(note=serializer.validated_data.get("payload")))
        return self._detail(unit)

    @extend_schema(request={"multipart/form-data": InspectionCreateSerializer,
                            "application/json": InspectionCreateSerializer},
                   responses={201: InspectionSerializer})
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser, JSONParser],
            required_perms=("inventory.add_inspection",))
    def inspection(self, request, pk=None):
        """Record an inspection (with photos); a received card moves to inspected."""
        unit = self.get_object()
        serializer = InspectionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        inspection = inspection_record(unit=unit, actor=request.user, **serializer.validated_data)
        return Response(InspectionSerializer(inspection, context=self.get_serializer_context()).data,
                        status=status.HTTP_201_CREATED)


class _AnyAccept(BaseContentNegotiation):
    """A file answers whatever the client accepts (an <img> asks for image/avif, image/webp, */*)."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class InspectionPhotoImageApi(APIView):
    """An inspection photo, for users who may view inspection photos (token or session). Photos are stored under
    random names and never served under MEDIA_URL: this is the only way to them."""

    queryset = InspectionPhoto.objects.all()
    required_perms = ("inventory.view_inspectionphoto",)
    content_negotiation_class = _AnyAccept

    @extend_schema(responses={(200, "image/*"): OpenApiResponse(OpenApiTypes.BINARY, description="The photo")})
    def get(self, request, pk: int):
        photo = get_object_or_404(InspectionPhoto, pk=pk)
        return protected_file_response(photo.image, filename=photo.original_name)
