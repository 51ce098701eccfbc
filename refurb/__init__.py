"""refurb project package: settings, URLs and the Celery app. Domain code lives in the apps."""

from .celery import app as celery_app

__all__ = ["celery_app"]
