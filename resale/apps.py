from django.apps import AppConfig


class ResaleConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "resale"

    def ready(self) -> None:
        from inventory.lifecycle import register_move_listener

        from .services import listings_follow_move

        register_move_listener(listings_follow_move)  # a card leaving sale takes its listings off every channel
