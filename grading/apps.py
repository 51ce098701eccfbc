from django.apps import AppConfig


class GradingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "grading"

    def ready(self) -> None:
        from inventory.lifecycle import register_move_listener, register_record_source

        from .selectors import unit_grading_record
        from .services.certificates import certificate_follow_move

        register_record_source(unit_grading_record)  # the lifecycle's "fresh grade" and "valid certificate" needs
        register_move_listener(certificate_follow_move)  # a card leaving certified takes its certificate with it
