"""The Celery app. Without CELERY_BROKER_URL tasks run in-process (see settings.REFURB_EMBEDDED)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refurb.settings")

app = Celery("refurb")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()  # each app's tasks.py (grading.tasks)
app.autodiscover_tasks(["testbench.orchestration"])  # the bench's, which live with the rest of its orchestration
