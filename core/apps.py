from django.apps import AppConfig


class CoreConfig(AppConfig):
    """What every app shares: domain errors with codes, the API's permission, parser, pagination and error handler,
    bounded JSON fields, roles, the read-only admin. No models; it imports no other app of the project."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "core"
