"""Grade records: what a card was graded, from which run, under which policy, and why."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class FunctionalGrade(models.TextChoices):
    A = "F-A", "F-A: all checks pass at reference performance"
    B = "F-B", "F-B: passes with warnings"
    C = "F-C", "F-C: usable with a stated limitation"
    FAIL = "FAIL", "FAIL: not sellable as working"


class Grade(models.Model):
    """One grading of one card from one test run. A retest and regrade adds a new row; the latest is current."""

    unit = models.ForeignKey("inventory.Unit", on_delete=models.PROTECT, related_name="grades")
    run = models.ForeignKey("testbench.TestRun", on_delete=models.PROTECT, related_name="grades")
    functional = models.CharField(max_length=4, choices=FunctionalGrade.choices)
    cosmetic = models.CharField(max_length=1, blank=True, help_text="From the inspection; empty if never inspected")
    policy_version = models.CharField(max_length=32)
    reasons = models.JSONField(default=list, blank=True,
                               help_text="code, check, severity, measured, threshold, sentence — worst first")
    disposition = models.CharField(max_length=16, help_text="Where the card went: graded, repair or failed")
    marketplace = models.JSONField(default=dict, blank=True, help_text="What a listing may claim, per marketplace")
    ai = models.JSONField("AI-readiness", default=dict, blank=True)
    graded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="+")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.unit_id}: {self.functional}/{self.cosmetic or '-'}"
