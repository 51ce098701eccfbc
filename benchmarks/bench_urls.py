"""The project's URLs plus `/__bench__/bare/`: a Django view that does no work (same middleware and session as every
page, no query of its own), the yardstick that makes a page's answer time mean the same on any machine."""

from django.http import HttpResponse
from django.urls import path

from refurb.urls import urlpatterns as project_urlpatterns


def bare(request):
    return HttpResponse(b"ok\n", content_type="text/plain")


urlpatterns = [path("__bench__/bare/", bare), *project_urlpatterns]
