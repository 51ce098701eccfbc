from django.apps import AppConfig


class TestbenchConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "testbench"
