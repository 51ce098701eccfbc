"""Bench hosts authenticate with a token of their own (`Authorization: Bench <token>`), which lets them report for
their own bench and do nothing else. Only a SHA-256 digest of the token is stored."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from ..services import bench_for_token


class BenchHost:
    """The principal of a request made with a bench token: authenticated, with no user roles."""

    is_authenticated = True
    is_active = True
    is_superuser = False
    is_staff = False
    is_anonymous = False

    def __init__(self, bench):
        self.bench = bench
        self.pk = None

    def __str__(self) -> str:
        return f"bench {self.bench.name}"

    def has_perms(self, perms) -> bool:
        return False

    @property
    def groups(self):  # user_roles() asks; a bench host has none
        from django.contrib.auth.models import Group

        return Group.objects.none()


class BenchTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bench"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Bench token header: 'Authorization: Bench <token>'")
        bench = bench_for_token(header[1].decode("latin-1"))
        if bench is None:
            raise exceptions.AuthenticationFailed("Unknown bench token")
        return BenchHost(bench), bench

    def authenticate_header(self, request) -> str:
        return self.keyword


class IsThisBench(permissions.BasePermission):
    """A bench token may act for its own bench only."""

    message = "A bench token may report for its own bench only."

    def has_permission(self, request, view) -> bool:
        return isinstance(request.user, BenchHost)

    def has_object_permission(self, request, view, obj) -> bool:
        return request.user.bench.pk == obj.pk


class BenchTokenScheme(OpenApiAuthenticationExtension):
    """Describes the scheme in the OpenAPI schema (which then generates without warnings)."""

    target_class = "testbench.api.authentication.BenchTokenAuthentication"
    name = "benchToken"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "A bench host's token: `Bench <token>` (manage.py bench token --bench NAME)"}
