"""Reads: querysets shaped so that a page of results costs a fixed number of queries."""

from django.db.models import Count, Prefetch, QuerySet

from .models import GpuModel, Inspection, Lot, Unit, UnitEvent


def gpu_model_list() -> QuerySet[GpuModel]:
    return GpuModel.objects.all()


def lot_list() -> QuerySet[Lot]:
    # Explicit order: Django drops Meta.ordering from GROUP BY queries.
    return Lot.objects.annotate(unit_count=Count("units")).order_by("-created_at", "-id")


def unit_list() -> QuerySet[Unit]:
    return Unit.objects.select_related("gpu_model", "lot")


def unit_detail_list() -> QuerySet[Unit]:
    return unit_list().prefetch_related(
        Prefetch("events", queryset=UnitEvent.objects.select_related("actor")),
        Prefetch("inspections", queryset=Inspection.objects.prefetch_related("photos")),
    )


def units_by_asset_tag(tags: list[str]) -> tuple[list[Unit], list[str]]:
    """The units with these asset tags (as typed: any case), in the order given, and the tags no unit has."""
    found = {u.asset_tag: u for u in Unit.objects.filter(asset_tag__in=[t.upper() for t in tags])}
    return [found[t.upper()] for t in tags if t.upper() in found], [t for t in tags if t.upper() not in found]
