"""Resale API serializers: shape input and output; resale.services do the work. Costs, floors and margins show
only to users who may see costs (inventory.roles.can_see_costs)."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from inventory.models import Unit
from inventory.roles import can_see_costs
from inventory.validators import BLOCK_TEXT, LINE_TEXT

from ..choices import WARRANTY_DAYS, Channel
from ..models import CardReturn, Listing, MatchedSet, Order, OrderLine, PriceChange, ReturnReason
from ..pricing import margin_at

INTERNAL_FIELDS = {"cost", "floor_price", "margin", "cost_basis"}


class HideInternalMixin:
    def to_representation(self, instance):
        data = super().to_representation(instance)
        request = self.context.get("request")
        if request is not None and not can_see_costs(request.user):
            for name in INTERNAL_FIELDS & set(data):
                del data[name]
        return data


class ListingSerializer(HideInternalMixin, serializers.ModelSerializer):
    asset_tags = serializers.SerializerMethodField()
    margin = serializers.SerializerMethodField(help_text="Price − the channel's fees − cost, by today's rules")

    class Meta:
        model = Listing
        fields = ["id", "channel", "status", "title", "description", "price", "currency", "condition",
                  "warranty_days", "return_days", "external_id", "image_url", "matched_set", "asset_tags",
                  "suggested_price", "floor_price", "cost", "margin", "pricing_version", "created_at",
                  "published_at", "ended_at", "end_reason"]
        read_only_fields = fields

    def get_asset_tags(self, listing) -> list[str]:
        return [item.unit.asset_tag for item in listing.items.all()]

    def get_margin(self, listing) -> str | None:
        rules = self.context.get("pricing_rules")
        if rules is None or listing.cost is None:
            return None
        return str(margin_at(rules, listing.channel, listing.price, listing.cost))  # exact, as DecimalFields are


class ListingCreateSerializer(serializers.Serializer):
    units = serializers.PrimaryKeyRelatedField(queryset=Unit.objects.all(), many=True, required=False,
                                               help_text="The certified cards (or give matched_set)")
    matched_set = serializers.PrimaryKeyRelatedField(queryset=MatchedSet.objects.all(), required=False,
                                                     allow_null=True)
    channel = serializers.ChoiceField(choices=Channel.choices)
    title = serializers.CharField(max_length=80, required=False, allow_blank=True, validators=[LINE_TEXT],
                                  help_text="Blank: written from the grade and measured figures")
    description = serializers.CharField(max_length=20000, required=False, allow_blank=True,
                                        validators=[BLOCK_TEXT])
    price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, required=False, allow_null=True,
                                     help_text="Blank: the suggested price")
    currency = serializers.CharField(max_length=3, required=False, allow_blank=True)
    warranty_days = serializers.ChoiceField(choices=WARRANTY_DAYS, default=30)
    return_days = serializers.IntegerField(min_value=0, max_value=365, default=30)
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, validators=[LINE_TEXT],
                                   help_text="Required for a price under the floor (admins only)")
    publish = serializers.BooleanField(default=False, help_text="Make it active at once")

    def validate(self, data):
        if not data.get("units") and not data.get("matched_set"):
            raise serializers.ValidationError({"units": ["give the cards, or a matched_set"]})
        return data


class ListingUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=80, required=False, validators=[LINE_TEXT])
    description = serializers.CharField(max_length=20000, required=False, allow_blank=True, validators=[BLOCK_TEXT])
    external_id = serializers.CharField(max_length=64, required=False, allow_blank=True, validators=[LINE_TEXT])
    image_url = serializers.URLField(max_length=200, required=False, allow_blank=True)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200, validators=[LINE_TEXT])


class PriceSerializer(serializers.Serializer):
    price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, validators=[LINE_TEXT])


class SellSerializer(serializers.Serializer):
    price_paid = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, required=False,
                                          allow_null=True, help_text="Blank: the listing's price")
    fees = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, required=False, allow_null=True,
                                    help_text="Blank: the channel's fees by the pricing rules")
    shipping = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, default=Decimal(0))
    buyer_reference = serializers.CharField(max_length=100, required=False, allow_blank=True, validators=[LINE_TEXT])
    sold_at = serializers.DateTimeField(required=False, allow_null=True)


class PriceChangeSerializer(serializers.ModelSerializer):
    changed_by = serializers.CharField(source="changed_by.username", read_only=True, default=None)

    class Meta:
        model = PriceChange
        fields = ["from_price", "to_price", "currency", "floor", "below_floor", "reason", "changed_by",
                  "actor_label", "changed_at"]
        read_only_fields = fields


class MatchedSetSerializer(serializers.ModelSerializer):
    asset_tags = serializers.SerializerMethodField()
    certificates = serializers.SerializerMethodField()
    model = serializers.CharField(source="gpu_model.name", read_only=True)

    class Meta:
        model = MatchedSet
        fields = ["id", "model", "status", "tolerance", "spread", "figures", "asset_tags", "certificates",
                  "created_at", "ended_at", "end_reason"]
        read_only_fields = fields

    def get_asset_tags(self, matched) -> list[str]:
        return [m.unit.asset_tag for m in matched.members.all()]

    def get_certificates(self, matched) -> list[str]:
        return [c.public_id for m in matched.members.all() for c in m.unit.certificates.all()
                if c.status == "valid"]


class SetCreateSerializer(serializers.Serializer):
    units = serializers.PrimaryKeyRelatedField(queryset=Unit.objects.all(), many=True)
    tolerance = serializers.FloatField(min_value=0.001, max_value=0.2, default=0.03)


class OrderLineSerializer(HideInternalMixin, serializers.ModelSerializer):
    asset_tag = serializers.CharField(source="unit.asset_tag", read_only=True)

    class Meta:
        model = OrderLine
        fields = ["id", "unit", "asset_tag", "serial_at_sale", "cost_basis"]
        read_only_fields = fields


class OrderSerializer(serializers.ModelSerializer):
    lines = OrderLineSerializer(many=True, read_only=True)

    class Meta:
        model = Order
        fields = ["id", "listing", "channel", "buyer_reference", "price_paid", "fees", "shipping", "currency",
                  "sold_at", "lines"]
        read_only_fields = fields


class CardReturnSerializer(serializers.ModelSerializer):
    order = serializers.IntegerField(source="line.order_id", read_only=True)
    asset_tag = serializers.CharField(source="line.unit.asset_tag", read_only=True)

    class Meta:
        model = CardReturn
        fields = ["id", "order", "asset_tag", "reason", "scanned_serial", "refund", "cost", "notes", "received_at"]
        read_only_fields = fields


class ReturnCreateSerializer(serializers.Serializer):
    order = serializers.PrimaryKeyRelatedField(queryset=Order.objects.all())
    scanned_serial = serializers.CharField(max_length=64, help_text="The returned card's serial, as scanned")
    reason = serializers.ChoiceField(choices=ReturnReason.choices)
    refund = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, default=Decimal(0))
    cost = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, default=Decimal(0))
    notes = serializers.CharField(max_length=2000, required=False, allow_blank=True, validators=[BLOCK_TEXT])
