"""Resale API: listings (create, publish, withdraw, sell, price, regenerate, export, sale import), matched sets
(propose, create, dissolve), orders and returns. Views shape requests; resale.services decide."""

from __future__ import annotations

from django.db.models import Prefetch
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from core.api.views import ActionPermsMixin
from grading.models import Certificate
from inventory.models import GpuModel

from ..choices import Channel
from ..filtersets import CardReturnFilterSet, ListingFilterSet, MatchedSetFilterSet, OrderFilterSet
from ..models import CardReturn, ListedUnit, Listing, MatchedSet, Order, PriceChange, SetMember
from ..services import (
    listing_create,
    listing_price_set,
    listing_publish,
    listing_sell,
    listing_text_regenerate,
    listing_update,
    listing_withdraw,
    pricing_rules_current,
    return_receive,
    set_create,
    set_dissolve,
    sets_propose,
)
from ..services.exports import FORMATS, listings_export, sales_import
from .serializers import (
    CardReturnSerializer,
    ListingCreateSerializer,
    ListingSerializer,
    ListingUpdateSerializer,
    MatchedSetSerializer,
    OrderSerializer,
    PriceChangeSerializer,
    PriceSerializer,
    ReasonSerializer,
    ReturnCreateSerializer,
    SellSerializer,
    SetCreateSerializer,
)


class ListingViewSet(ActionPermsMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin,
                     viewsets.ReadOnlyModelViewSet):
    """Listings of certified cards and matched sets on channels. A card sells once: selling withdraws its other
    listings. Costs, floors and margins show only to roles that may see costs."""

    queryset = (Listing.objects.prefetch_related(Prefetch("items", ListedUnit.objects.select_related("unit")))
                .order_by("-created_at", "-id"))
    serializer_class = ListingSerializer
    filterset_class = ListingFilterSet
    ordering_fields = ["created_at", "price", "published_at"]

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "pricing_rules": pricing_rules_current()}

    def _out(self, listing, code=status.HTTP_200_OK):
        return Response(self.get_serializer(self.get_queryset().get(pk=listing.pk)).data, status=code)

    @extend_schema(request=ListingCreateSerializer, responses={201: ListingSerializer})
    def create(self, request, *args, **kwargs):
        """A listing of certified cards or a matched set; blank title, description and price are written from the
        grade, the measured figures and the pricing rules. `publish` makes it active at once."""
        serializer = ListingCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        publish = data.pop("publish")
        listing = listing_create(actor=request.user, **data)
        if publish:
            listing = listing_publish(listing=listing, actor=request.user)
        return self._out(listing, status.HTTP_201_CREATED)

    http_method_names = ["get", "post", "patch", "head", "options"]

    @extend_schema(request=ListingUpdateSerializer, responses={200: ListingSerializer})
    def partial_update(self, request, *args, **kwargs):
        """Edit the title, description, the channel's id or the photo URL of an open listing."""
        serializer = ListingUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        return self._out(listing_update(listing=self.get_object(), actor=request.user, **serializer.validated_data))

    @extend_schema(request=None, responses={200: ListingSerializer})
    @action(detail=True, methods=["post"], required_perms=("resale.change_listing",))
    def publish(self, request, pk=None):
        return self._out(listing_publish(listing=self.get_object(), actor=request.user))

    @extend_schema(request=ReasonSerializer, responses={200: ListingSerializer})
    @action(detail=True, methods=["post"], required_perms=("resale.change_listing",))
    def withdraw(self, request, pk=None):
        serializer = ReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._out(listing_withdraw(listing=self.get_object(), actor=request.user,
                                          reason=serializer.validated_data["reason"]))

    @extend_schema(request=PriceSerializer, responses={200: ListingSerializer})
    @action(detail=True, methods=["post"], required_perms=("resale.change_listing",))
    def price(self, request, pk=None):
        """Reprice; recorded with who, when, from, to and why. Under the floor: admins only, with a reason."""
        serializer = PriceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._out(listing_price_set(listing=self.get_object(), actor=request.user,
                                           **serializer.validated_data))

    @extend_schema(request=None, responses={200: PriceChangeSerializer(many=True)})
    @action(detail=True, methods=["get"], required_perms=("resale.view_pricechange",))
    def prices(self, request, pk=None):
        """The listing's price history."""
        changes = PriceChange.objects.filter(listing=self.get_object()).select_related("changed_by")
        return Response(PriceChangeSerializer(changes, many=True).data)

    @extend_schema(request=None, responses={200: ListingSerializer})
    @action(detail=True, methods=["post"], required_perms=("resale.change_listing",))
    def regenerate(self, request, pk=None):
        """Write the title and description again from today's grade and figures."""
        return self._out(listing_text_regenerate(listing=self.get_object()))

    @extend_schema(request=SellSerializer, responses={201: OrderSerializer})
    @action(detail=True, methods=["post"], required_perms=("resale.add_order",))
    def sell(self, request, pk=None):
        serializer = SellSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order = listing_sell(listing=self.get_object(), actor=request.user, **serializer.validated_data)
        return Response(OrderSerializer(order, context=self.get_serializer_context()).data,
                        status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[OpenApiParameter("channel", str, enum=list(FORMATS), required=True),
                               OpenApiParameter("only", str, enum=list(Channel.values))],
                   responses={(200, "text/csv"): OpenApiTypes.STR})
    @action(detail=False, methods=["get"], required_perms=("resale.view_listing",))
    def export(self, request):
        """A channel's file of its listings: eBay's draft upload, Google's feed (TSV), Back Market's CSV, or JSON."""
        export = listings_export(fmt=request.query_params.get("channel", ""),
                                 channel=request.query_params.get("only") or None)
        response = HttpResponse(export.content, content_type=export.content_type)
        response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
        return response

    @extend_schema(request={"multipart/form-data": {"type": "object", "properties": {
        "channel": {"type": "string", "enum": list(Channel.values)}, "file": {"type": "string", "format": "binary"}}}},
        responses={200: OpenApiTypes.OBJECT})
    @action(detail=False, methods=["post"], url_path="import-sales", required_perms=("resale.add_order",),
            parser_classes=[MultiPartParser, FormParser, JSONParser])
    def import_sales(self, request):
        """A channel's sale/status CSV: all or nothing, every bad line named (400 with `errors`)."""
        upload = request.FILES.get("file")
        if upload is None:
            raise serializers.ValidationError({"file": ["attach the channel's CSV as `file`"]})
        if upload.size > 4 * 2**20:
            raise serializers.ValidationError({"file": ["at most 4 MiB"]})
        done = sales_import(channel=request.data.get("channel", ""), content=upload.read(), actor=request.user)
        return Response(done)


class MatchedSetViewSet(ActionPermsMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Matched sets: 2–8 certified cards of one model within a tolerance on measured bandwidth and FP16."""

    queryset = (MatchedSet.objects.select_related("gpu_model").prefetch_related(
        Prefetch("members", SetMember.objects.select_related("unit").prefetch_related(
            Prefetch("unit__certificates", Certificate.objects.only("id", "unit_id", "public_id", "status")))))
        .order_by("-created_at", "-id"))
    serializer_class = MatchedSetSerializer
    filterset_class = MatchedSetFilterSet

    @extend_schema(request=SetCreateSerializer, responses={201: MatchedSetSerializer})
    def create(self, request, *args, **kwargs):
        serializer = SetCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        matched = set_create(actor=request.user, **serializer.validated_data)
        return Response(self.get_serializer(self.get_queryset().get(pk=matched.pk)).data,
                        status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[OpenApiParameter("model", str), OpenApiParameter("tolerance", float),
                               OpenApiParameter("size", int)], responses={200: OpenApiTypes.OBJECT})
    @action(detail=False, methods=["get"], required_perms=("resale.view_matchedset",))
    def propose(self, request):
        """Sets that could be made from certified stock: largest first, then the tightest."""
        params = request.query_params
        errors = {}
        model = None
        if params.get("model"):
            model = GpuModel.objects.filter(slug=params["model"]).first()
            if model is None:
                errors["model"] = [f"{params['model']!r} is not a catalog slug"]
        try:
            tolerance = float(params.get("tolerance") or 0.03)
            size = int(params["size"]) if params.get("size") else None
        except ValueError:
            errors["tolerance"] = ["tolerance is a number (0.03) and size a whole number"]
        if errors:
            raise serializers.ValidationError(errors)
        proposals = sets_propose(gpu_model=model, tolerance=tolerance, size=size, limit=200)
        return Response({"sets": [{"model": p.gpu_model.name, "units": p.unit_ids,
                                   "asset_tags": [c.asset_tag for c in p.cards], "spread": round(p.spread, 4),
                                   "figures": p.figures} for p in proposals]})

    @extend_schema(request=ReasonSerializer, responses={200: MatchedSetSerializer})
    @action(detail=True, methods=["post"], required_perms=("resale.change_matchedset",))
    def dissolve(self, request, pk=None):
        serializer = ReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        matched = set_dissolve(matched_set=self.get_object(), reason=serializer.validated_data["reason"])
        return Response(self.get_serializer(self.get_queryset().get(pk=matched.pk)).data)


class OrderViewSet(viewsets.ReadOnlyModelViewSet):
    """Sales: one per listing sold, with the serials that left (what a return is checked against)."""

    queryset = Order.objects.prefetch_related("lines__unit").order_by("-sold_at", "-id")
    serializer_class = OrderSerializer
    filterset_class = OrderFilterSet
    ordering_fields = ["sold_at", "price_paid"]


class CardReturnViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Returns (RMA): the serial scanned must be one that left in the order, within its window."""

    queryset = CardReturn.objects.select_related("line__unit").order_by("-received_at", "-id")
    serializer_class = CardReturnSerializer
    filterset_class = CardReturnFilterSet

    @extend_schema(request=ReturnCreateSerializer, responses={201: CardReturnSerializer})
    def create(self, request, *args, **kwargs):
        serializer = ReturnCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        taken = return_receive(actor=request.user, **serializer.validated_data)
        return Response(self.get_serializer(self.get_queryset().get(pk=taken.pk)).data,
                        status=status.HTTP_201_CREATED)
