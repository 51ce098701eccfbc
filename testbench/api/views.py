"""Bench API: benches with their slots, test runs with live progress, queueing and cancelling runs."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.views import ActionPermsMixin

from ..filtersets import RunFilterSet
from ..models import Bench, TestRun
from ..services import run_cancel_request, runs_queue
from .serializers import BenchSerializer, RunCancelSerializer, RunDetailSerializer, RunQueueSerializer, RunSerializer


class BenchViewSet(viewsets.ReadOnlyModelViewSet):
    """Bench hosts, their GPU slots, the card seated in each and the run it is busy with."""

    queryset = Bench.objects.prefetch_related("slots__unit__gpu_model").order_by("name")
    serializer_class = BenchSerializer
    search_fields = ["name"]


class RunViewSet(ActionPermsMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Test runs. Progress (check, phase, share done, ETA) is written by the running bench at least every 2 s."""

    queryset = TestRun.objects.select_related("unit__gpu_model", "bench").order_by("-created_at", "-id")
    filterset_class = RunFilterSet
    ordering_fields = ["created_at", "started_at", "finished_at"]

    def get_queryset(self):
        queryset = super().get_queryset()
        return queryset.prefetch_related("results") if self.action == "retrieve" else queryset

    def get_serializer_class(self):
        return RunDetailSerializer if self.action == "retrieve" else RunSerializer

    @extend_schema(request=RunQueueSerializer, responses={201: RunSerializer(many=True)})
    def create(self, request, *args, **kwargs):
        """Queue a run for each card, on the bench where it is seated. All or nothing: a card not seated or not
        testable refuses the request with each reason."""
        serializer = RunQueueSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        runs = runs_queue(units=serializer.validated_data["units"], plan=serializer.validated_data["plan"],
                          bench=serializer.validated_data.get("bench"), actor=request.user)
        fresh = self.get_queryset().in_bulk([r.pk for r in runs])
        return Response(RunSerializer([fresh[r.pk] for r in runs], many=True, context={"request": request}).data,
                        status=status.HTTP_201_CREATED)

    @extend_schema(request=RunCancelSerializer, responses={202: RunSerializer})
    @action(detail=True, methods=["post"], required_perms=("testbench.change_testrun",))
    def cancel(self, request, pk=None):
        """Cancel a run: a queued one ends at once; a running one stops within seconds, between chunks of work.
        The card goes back in the queue or on hold."""
        run = self.get_object()
        serializer = RunCancelSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        run = run_cancel_request(run=run, to_state=serializer.validated_data["to"],
                                 reason=serializer.validated_data.get("reason", ""), actor=request.user)
        return Response(RunSerializer(self.get_queryset().get(pk=run.pk), context={"request": request}).data,
                        status=status.HTTP_202_ACCEPTED)
