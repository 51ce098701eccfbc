"""API permissions: a user needs a role, and the model permission the action implies."""

from rest_framework.permissions import BasePermission

from ..roles import user_roles

ACTION_PERMS = {
    "list": "view", "retrieve": "view", "create": "add", "update": "change", "partial_update": "change",
    "destroy": "delete", "metadata": "view",
}


class RolePermission(BasePermission):
    """Anonymous users and users without a refurb role see nothing. Views say what each action needs:
    by default the model permission for the action (view for reads); custom actions set `required_perms`."""

    def has_permission(self, request, view) -> bool:
        if not user_roles(request.user):
            return False
        perms = getattr(view, "required_perms", None)
        if perms is None:
            queryset = getattr(view, "queryset", None)
            action = getattr(view, "action", None) or ("list" if request.method in ("GET", "HEAD") else None)
            verb = ACTION_PERMS.get(action or "", "view" if request.method in ("GET", "HEAD", "OPTIONS") else None)
            if queryset is None:
                return request.method in ("GET", "HEAD", "OPTIONS")
            if verb is None:
                return False
            meta = queryset.model._meta
            perms = (f"{meta.app_label}.{verb}_{meta.model_name}",)
        return request.user.has_perms(perms)
