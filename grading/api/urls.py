"""The grading API's routes, added to the project's one API router (refurb/urls.py)."""

from .views import CertificateViewSet, GradeViewSet


def register(router) -> None:
    router.register("grades", GradeViewSet, basename="grade")
    router.register("certificates", CertificateViewSet, basename="certificate")
