from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from inventory.api.permissions import RolePermission
from inventory.api.urls import router as api_router
from testbench.api.urls import register as register_bench_api

register_bench_api(api_router)  # one router, so /api/ lists every resource

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(permission_classes=[RolePermission]), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema", permission_classes=[RolePermission]),
         name="api-docs"),
    path("api/auth/", include("rest_framework.urls")),  # log in/out links of the browsable API
    path("api/", include(api_router.urls)),
]
if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
