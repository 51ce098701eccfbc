"""Bench API serializers: shape input and output; the services do the work."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from inventory.choices import UnitState
from inventory.models import Unit
from inventory.validators import BLOCK_TEXT

from ..choices import RunState
from ..models import Bench, BenchSlot, CheckResultRecord, TestRun
from ..plans import PLANS
from ..selectors import SLOT_FLAG_CARDS, slot_strikes


class UnitBriefSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="gpu_model.slug", read_only=True)

    class Meta:
        model = Unit
        fields = ["id", "asset_tag", "model", "serial", "state"]
        read_only_fields = fields


class SlotSerializer(serializers.ModelSerializer):
    unit = UnitBriefSerializer(read_only=True)
    strikes = serializers.SerializerMethodField(
        help_text="How many cards showed a degraded or slow PCIe link in this slot (testbench.selectors.slot_strikes)")
    flagged = serializers.SerializerMethodField(help_text="Strikes from several cards: suspect the slot or riser")

    class Meta:
        model = BenchSlot
        fields = ["id", "index", "name", "uuid", "unit", "run", "strikes", "flagged", "last_seen_at"]
        read_only_fields = fields

    def to_representation(self, slot):
        self._strikes = slot_strikes([slot.pk]).get(slot.pk, 0)  # one query per slot, for both fields
        return super().to_representation(slot)

    def get_strikes(self, slot) -> int:
        return self._strikes

    def get_flagged(self, slot) -> bool:
        return self._strikes >= SLOT_FLAG_CARDS


class BenchSerializer(serializers.ModelSerializer):
    slots = SlotSerializer(many=True, read_only=True)
    online = serializers.SerializerMethodField()

    class Meta:
        model = Bench
        fields = ["id", "name", "description", "simulated", "queue", "worker", "last_seen_at", "online", "slots"]
        read_only_fields = fields

    @extend_schema_field(serializers.BooleanField())
    def get_online(self, bench) -> bool:
        """Heard from within three of its heartbeats."""
        return bool(bench.last_seen_at) and (
            timezone.now() - bench.last_seen_at).total_seconds() < 3 * settings.REFURB_BENCH_HEARTBEAT_S


class CheckResultSerializer(serializers.ModelSerializer):
    class Meta:
        model = CheckResultRecord
        # findings: what grading reads (docs/findings.md); null for results recorded before findings existed
        fields = ["name", "status", "summary", "findings", "metrics", "duration_s"]
        read_only_fields = fields


class RunSerializer(serializers.ModelSerializer):
    unit = UnitBriefSerializer(read_only=True)
    bench = serializers.SlugRelatedField(slug_field="name", read_only=True)
    eta_s = serializers.SerializerMethodField()
    url = serializers.HyperlinkedIdentityField(view_name="testrun-detail")

    class Meta:
        model = TestRun
        fields = ["id", "url", "unit", "bench", "slot", "device_label", "plan", "state", "verdict", "progress",
                  "eta_s", "worker", "heartbeat_at", "cancel_requested_at", "end_reason", "faults", "created_at",
                  "started_at", "finished_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_eta_s(self, run) -> float | None:
        """Seconds left, from the time so far and the share done (null until there is something to go by)."""
        fraction = (run.progress or {}).get("fraction") or 0.0
        if run.state != RunState.RUNNING or not run.started_at or fraction < 0.02:
            return None
        elapsed = (timezone.now() - run.started_at).total_seconds()
        return round(elapsed * (1 - fraction) / fraction, 1)


class RunDetailSerializer(RunSerializer):
    results = CheckResultSerializer(many=True, read_only=True)
    identity = serializers.JSONField(read_only=True)
    software = serializers.JSONField(read_only=True)

    class Meta(RunSerializer.Meta):
        fields = [*RunSerializer.Meta.fields, "identity", "software", "results"]
        read_only_fields = fields


class RunQueueSerializer(serializers.Serializer):
    units = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
                                  allow_empty=False, max_length=1000, help_text="Unit ids, at most 1000")
    plan = serializers.ChoiceField(choices=list(PLANS), default="quick")
    bench = serializers.SlugRelatedField(slug_field="name", queryset=Bench.objects.all(), required=False,
                                         help_text="Only if every card is seated in this bench (a check, not a move)")

    def validate_units(self, ids):
        if len(set(ids)) != len(ids):
            raise serializers.ValidationError("a card is listed twice")
        found = Unit.objects.in_bulk(ids)  # one query, whatever the count
        missing = [i for i in ids if i not in found]
        if missing:
            raise serializers.ValidationError(f"no unit with id {', '.join(map(str, missing[:10]))}")
        return [found[i] for i in ids]


class RunCancelSerializer(serializers.Serializer):
    to = serializers.ChoiceField(choices=[UnitState.QUEUED, UnitState.ON_HOLD], default=UnitState.QUEUED,
                                 help_text="Where the card goes: back in the queue, or on hold")
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, validators=[BLOCK_TEXT])
