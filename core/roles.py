"""The three roles every app's permissions are given to, and a user's roles. (Which permissions and lifecycle moves
each role has is the inventory's: inventory.roles.)"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser

TECHNICIAN = "technician"
RESELLER = "reseller"
ADMIN = "admin"
ROLES = (TECHNICIAN, RESELLER, ADMIN)


def user_roles(user) -> set[str]:
    if user is None or isinstance(user, AnonymousUser) or not user.is_authenticated or not user.is_active:
        return set()
    if user.is_superuser:
        return {ADMIN}
    cached = getattr(user, "_refurb_roles", None)
    if cached is None:
        cached = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        user._refurb_roles = cached
    return cached
