from rest_framework.routers import DefaultRouter

from .views import GpuModelViewSet, LotViewSet, UnitViewSet

router = DefaultRouter()
router.register("catalog", GpuModelViewSet, basename="gpumodel")
router.register("lots", LotViewSet, basename="lot")
router.register("units", UnitViewSet, basename="unit")

urlpatterns = router.urls
