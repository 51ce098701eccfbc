from django.apps import AppConfig


class TestbenchConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "testbench"

    def ready(self) -> None:
        from inventory.lifecycle import register_record_source

        from .selectors import unit_run_record

        register_record_source(unit_run_record)  # the lifecycle's "run in progress" and "fresh run" needs
