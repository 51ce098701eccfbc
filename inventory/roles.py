"""Roles: the three groups, what each may do, and which lifecycle targets each may move a unit to.

Groups and their model permissions are synced after every migrate, so a fresh database has them.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission

from core.roles import ADMIN, RESELLER, ROLES, TECHNICIAN, user_roles

from .choices import UnitState as S

# "app_label.codename" permissions per group. Admin gets every permission of the project apps and auth.
GROUP_PERMISSIONS: dict[str, set[str]] = {
    TECHNICIAN: {
        "inventory.view_gpumodel",
        "inventory.view_lot", "inventory.add_lot",
        "inventory.view_unit", "inventory.add_unit", "inventory.change_unit",
        "inventory.view_unitevent",
        "inventory.view_inspection", "inventory.add_inspection",
        "inventory.view_inspectionphoto", "inventory.add_inspectionphoto",
        "testbench.view_bench", "testbench.view_benchslot", "testbench.change_benchslot",
        "testbench.view_testrun", "testbench.add_testrun", "testbench.change_testrun",
        "testbench.view_checkresultrecord", "testbench.view_runtelemetry",
        "grading.view_grade", "grading.add_grade", "grading.view_certificate",
        "resale.view_listing", "resale.view_listedunit", "resale.view_matchedset", "resale.view_setmember",
    },
    RESELLER: {
        "inventory.view_gpumodel",
        "inventory.view_lot", "inventory.add_lot", "inventory.change_lot", "inventory.view_lot_costs",
        "inventory.view_unit", "inventory.change_unit",
        "inventory.view_unitevent",
        "inventory.view_inspection", "inventory.view_inspectionphoto",
        "testbench.view_bench", "testbench.view_benchslot", "testbench.view_testrun",
        "testbench.view_checkresultrecord", "testbench.view_runtelemetry",
        "grading.view_grade", "grading.view_certificate", "grading.add_certificate",
        # Resale is the reseller's: listings, prices, sets, orders and returns (new pricing rules are the admin's).
        "resale.view_listing", "resale.add_listing", "resale.change_listing", "resale.view_listedunit",
        "resale.view_setmember", "resale.view_orderline",
        "resale.view_matchedset", "resale.add_matchedset", "resale.change_matchedset",
        "resale.view_pricechange", "resale.view_pricingpolicy",
        "resale.view_referenceprice", "resale.add_referenceprice", "resale.change_referenceprice",
        "resale.view_order", "resale.add_order", "resale.view_cardreturn", "resale.add_cardreturn",
        "resale.view_ebayspecific", "resale.change_ebayspecific", "resale.view_stock",
    },
}
# Overriding a grade and revoking a certificate are the admin's (grading.override_grade, .revoke_certificate).
ADMIN_APPS = ("inventory", "testbench", "grading", "resale", "auth", "authtoken")

# Which lifecycle targets each role may move a unit to by hand (the table in lifecycle.py still applies).
# graded is set by grading, and only an admin may force it.
ROLE_TARGETS: dict[str, frozenset[str]] = {
    TECHNICIAN: frozenset({S.RECEIVED, S.INSPECTED, S.QUEUED, S.TESTING, S.TESTED, S.FAILED, S.REPAIR,
                           S.ON_HOLD, S.SCRAPPED}),
    RESELLER: frozenset({S.CERTIFIED, S.LISTED, S.SOLD, S.RETURNED, S.ON_HOLD}),
    ADMIN: frozenset(S.values),
}


def roles_sync() -> None:
    """Create the role groups and give them exactly their permissions (idempotent)."""
    all_perms = {f"{p.content_type.app_label}.{p.codename}": p
                 for p in Permission.objects.select_related("content_type")}
    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=role)
        if role == ADMIN:
            wanted = [p for key, p in all_perms.items() if key.split(".")[0] in ADMIN_APPS]
        else:
            wanted = [all_perms[key] for key in GROUP_PERMISSIONS[role] if key in all_perms]
        group.permissions.set(wanted)


def can_see_costs(user) -> bool:
    return bool(user and user.is_authenticated and user.has_perm("inventory.view_lot_costs"))


def allowed_targets_for(user) -> frozenset[str]:
    targets: set[str] = set()
    for role in user_roles(user):
        targets |= ROLE_TARGETS[role]
    return frozenset(targets)
