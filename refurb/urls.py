from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core.api.permissions import RolePermission
from grading import views as grading_views
from grading.api.urls import register as register_grading_api
from grading.api.views import CertificateVerifyView
from inventory.api.urls import extra_urlpatterns as inventory_api_extra
from inventory.api.urls import router as api_router
from resale import views as store_views
from resale.api.urls import register as register_resale_api
from testbench.api.urls import register as register_bench_api

register_bench_api(api_router)  # one router, so /api/ lists every resource
register_grading_api(api_router)
register_resale_api(api_router)

urlpatterns = [
    # Public: what this seller does and a certificate lookup (the admin's "View site" leads here).
    path("", grading_views.home, name="home"),
    path("bench/", include("workbench.urls")),  # the technician's screens (signed in)
    path("admin/dashboard/", store_views.dashboard, name="dashboard"),  # lots: yield and profit (resellers, admins)
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(permission_classes=[RolePermission]), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema", permission_classes=[RolePermission]),
         name="api-docs"),
    path("api/auth/", include("rest_framework.urls")),  # log in/out links of the browsable API
    path("api/certificates/<str:public_id>/verify/", CertificateVerifyView.as_view(), name="certificate-verify"),
    path("api/", include(inventory_api_extra)),
    path("api/", include(api_router.urls)),
    # Public, no account: what a certificate's QR code opens, its PDF, and the keys to check signatures offline.
    path("verify/<str:public_id>/", grading_views.verify_page, name="certificate-verify-page"),
    path("verify/<str:public_id>/certificate.pdf", grading_views.certificate_pdf_download,
         name="certificate-pdf"),
    path(".well-known/refurb-keys.json", grading_views.published_keys, name="published-keys"),
    # Public, no account: the storefront's offers and each offer's page.
    path("store/", store_views.store, name="store"),
    path("store/<int:listing_id>/", store_views.store_item, name="store-item"),
]
# Nothing is served under MEDIA_URL, not even by a DEBUG server: inspection photos go through their API view,
# which checks the user; certificate PDFs through /verify/<id>/certificate.pdf.
