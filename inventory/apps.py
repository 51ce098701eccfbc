from django.apps import AppConfig
from django.db.models.signals import post_migrate


class InventoryConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "inventory"

    def ready(self) -> None:
        from .roles import roles_sync

        # Groups need the permissions that migrate creates, so they are synced after it.
        post_migrate.connect(lambda **kwargs: roles_sync(), sender=self, dispatch_uid="inventory_roles_sync",
                             weak=False)
