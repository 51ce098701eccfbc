"""The bench API's routes, added to the project's one API router (refurb/urls.py)."""

from .views import BenchViewSet, RunViewSet


def register(router) -> None:
    router.register("benches", BenchViewSet, basename="bench")
    router.register("runs", RunViewSet, basename="testrun")
