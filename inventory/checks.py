"""System checks of inventory settings: a bad value is reported at start-up, not at the first intake."""

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ValidationError

from .validators import currency_validator


@register()
def default_currency_check(app_configs, **kwargs):
    try:
        currency_validator(settings.REFURB_DEFAULT_CURRENCY)
    except ValidationError as exc:
        return [Error(f"REFURB_DEFAULT_CURRENCY: {' '.join(exc.messages)}", id="inventory.E001")]
    return []
