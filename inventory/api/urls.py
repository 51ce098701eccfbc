from django.urls import path
from rest_framework.routers import DefaultRouter

from .views import GpuModelViewSet, InspectionPhotoImageApi, LotViewSet, UnitViewSet

router = DefaultRouter()
router.register("catalog", GpuModelViewSet, basename="gpumodel")
router.register("lots", LotViewSet, basename="lot")
router.register("units", UnitViewSet, basename="unit")

# Not a router resource: a file, behind the same role check as the API (added to refurb/urls.py's /api/).
extra_urlpatterns = [
    path("inspection-photos/<int:pk>/image/", InspectionPhotoImageApi.as_view(), name="inspectionphoto-image"),
]

urlpatterns = router.urls + extra_urlpatterns
