"""Named values for test runs."""

from django.db import models


class RunState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"
    ERROR = "error", "Error"
    CANCELLED = "cancelled", "Cancelled"
    INTERRUPTED = "interrupted", "Interrupted"


ACTIVE_RUN_STATES = frozenset({RunState.QUEUED, RunState.RUNNING})
# Runs that ended with results (a card is graded from one); cancelled and interrupted runs have none.
RESULT_RUN_STATES = frozenset({RunState.PASSED, RunState.FAILED, RunState.ERROR})


class Verdict(models.TextChoices):
    PASS = "pass", "Pass"
    WARN = "warn", "Pass with warnings"
    FAIL = "fail", "Fail"
    ERROR = "error", "Error"
