from django.apps import AppConfig
from django.db.models.signals import post_migrate


class InventoryConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "inventory"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
        from .roles import roles_sync

        # Groups need the permissions that migrate creates for every app (testbench's too, which migrate reaches
        # after this one), so they are synced after each app's turn; it is idempotent and a few queries.
        post_migrate.connect(lambda **kwargs: roles_sync(), dispatch_uid="inventory_roles_sync", weak=False)
