from django.apps import AppConfig


class WorkbenchConfig(AppConfig):
    """The technician's screens at the test bench (/bench/): scan to act, batches, a card's page, intake."""

    name = "workbench"
    default_auto_field = "django.db.models.BigAutoField"
