"""Test bench records: bench hosts, test runs, one result per check, and each run's telemetry as columns."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from inventory.validators import BLOCK_TEXT, LINE_TEXT

from .choices import RunState, Verdict


class Bench(models.Model):
    """A bench host: a machine with PCIe slots where cards are seated and tested."""

    name = models.CharField(max_length=64, unique=True, help_text="Host name, e.g. bench-03", validators=[LINE_TEXT])
    description = models.CharField(max_length=200, blank=True, validators=[LINE_TEXT])
    simulated = models.BooleanField(default=False, help_text="Runs simulated cards (demo, CI)")
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True, help_text="Last heartbeat from the bench's worker")
    worker = models.CharField(max_length=128, blank=True, help_text="The worker that registered the bench last",
                              validators=[LINE_TEXT])

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "benches"

    def __str__(self) -> str:
        return self.name

    @property
    def queue(self) -> str:
        """The Celery queue this bench's worker consumes: runs are routed here."""
        return f"bench.{self.name}"


class BenchSlot(models.Model):
    """A GPU position of a bench host: the device there, the card seated in it and the run it is busy with."""

    bench = models.ForeignKey(Bench, on_delete=models.CASCADE, related_name="slots")
    index = models.PositiveSmallIntegerField(help_text="NVML index, or position in a simulated set")
    device = models.JSONField(default=dict, blank=True, help_text="How the bench opens the device")
    uuid = models.CharField("NVML UUID", max_length=64, blank=True, validators=[LINE_TEXT])
    name = models.CharField(max_length=96, blank=True, validators=[LINE_TEXT])
    unit = models.OneToOneField("inventory.Unit", on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="seat", help_text="The card seated here")
    # The claim: a slot runs one run at a time, enforced by a conditional UPDATE, not by worker concurrency.
    run = models.OneToOneField("TestRun", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                               help_text="The run this slot is busy with")
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["bench", "index"]
        constraints = [models.UniqueConstraint(fields=["bench", "index"], name="slot_unique_index")]

    def __str__(self) -> str:
        return f"{self.bench.name}/{self.index}"


class TestRun(models.Model):
    """One plan run on one card."""

    __test__ = False  # not a pytest test class, whatever its name says

    unit = models.ForeignKey("inventory.Unit", on_delete=models.PROTECT, related_name="test_runs")
    bench = models.ForeignKey(Bench, on_delete=models.PROTECT, related_name="runs", null=True, blank=True)
    device_index = models.PositiveSmallIntegerField(default=0)
    device_label = models.CharField(max_length=32, blank=True, validators=[LINE_TEXT])
    slot = models.ForeignKey(BenchSlot, on_delete=models.SET_NULL, null=True, blank=True, related_name="runs")
    plan = models.CharField(max_length=32, validators=[LINE_TEXT])
    state = models.CharField(max_length=16, choices=RunState.choices, default=RunState.QUEUED, db_index=True,
                             validators=[LINE_TEXT])
    verdict = models.CharField(max_length=8, choices=Verdict.choices, blank=True, validators=[LINE_TEXT])
    identity = models.JSONField(default=dict, blank=True, help_text="What the card reported when the run began")
    software = models.JSONField(default=dict, blank=True, help_text="torch, CUDA and driver versions")
    faults = models.JSONField(default=list, blank=True, help_text="Injected fault profiles (simulated cards)")
    progress = models.JSONField(default=dict, blank=True)
    worker = models.CharField(max_length=128, blank=True, help_text="Who claimed the run (worker host and process)",
                              validators=[LINE_TEXT])
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last sign of life of a running run")
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    cancel_to = models.CharField(max_length=16, blank=True, help_text="Where the card goes when cancelled",
                                 validators=[LINE_TEXT])
    end_reason = models.TextField(blank=True, help_text="Why the run was cancelled, interrupted or errored",
                                  validators=[BLOCK_TEXT])
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A card is in one run at a time: a second queued run for it is refused by the database.
            models.UniqueConstraint(fields=["unit"], condition=Q(state__in=["queued", "running"]),
                                    name="run_one_active_per_unit"),
        ]
        # The sweep looks for running runs by heartbeat time, often, from every bench host.
        indexes = [models.Index(fields=["heartbeat_at"], condition=Q(state="running"), name="run_running_heartbeat")]

    def __str__(self) -> str:
        # The card by its asset tag, as people know it (the database id means nothing on a screen).
        return f"{self.plan} run {self.pk} of {self.unit.asset_tag} ({self.state})"


class CheckResultRecord(models.Model):
    """The outcome of one check in one run."""

    run = models.ForeignKey(TestRun, on_delete=models.CASCADE, related_name="results")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=32, validators=[LINE_TEXT])
    status = models.CharField(max_length=8, choices=Verdict.choices, validators=[LINE_TEXT])
    summary = models.TextField(validators=[BLOCK_TEXT])
    metrics = models.JSONField(default=dict, blank=True)
    evidence = models.JSONField(default=dict, blank=True)
    duration_s = models.FloatField(default=0.0)
    # What the check found, as codes (testbench/checks/findings.py): what grading reads. Null for results recorded
    # before checks reported findings; the grader then goes by the status alone.
    findings = models.JSONField(null=True, blank=True, default=None)

    class Meta:
        ordering = ["run", "position"]
        constraints = [models.UniqueConstraint(fields=["run", "name"], name="result_one_per_check")]
        verbose_name = "check result"

    def __str__(self) -> str:
        return f"{self.name}: {self.status}"


class RunTelemetry(models.Model):
    """A run's sensor samples in columns (one list per sensor, same length), not one row per sample."""

    run = models.OneToOneField(TestRun, on_delete=models.CASCADE, related_name="telemetry")
    columns = models.JSONField(default=dict)
    samples = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name_plural = "run telemetry"

    def __str__(self) -> str:
        return f"telemetry of run {self.run_id} ({self.samples} samples)"
