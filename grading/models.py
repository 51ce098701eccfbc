"""Grade records: what a card was graded, from which run, under which policy, and why."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from inventory.validators import BLOCK_TEXT, LINE_TEXT


class FunctionalGrade(models.TextChoices):
    A = "F-A", "F-A: all checks pass at reference performance"
    B = "F-B", "F-B: passes with warnings"
    C = "F-C", "F-C: usable with a stated limitation"
    FAIL = "FAIL", "FAIL: not sellable as working"


class Grade(models.Model):
    """One grading of one card from one test run. A retest and regrade adds a new row, which becomes the card's
    current grade (`is_current`); the older rows stay, as the record of what the card was graded before."""

    unit = models.ForeignKey("inventory.Unit", on_delete=models.PROTECT, related_name="grades")
    run = models.ForeignKey("testbench.TestRun", on_delete=models.PROTECT, related_name="grades")
    functional = models.CharField(max_length=4, choices=FunctionalGrade.choices, validators=[LINE_TEXT])
    cosmetic = models.CharField(max_length=1, blank=True, help_text="From the inspection; empty if never inspected",
                                validators=[LINE_TEXT])
    policy_version = models.CharField(max_length=32, validators=[LINE_TEXT])
    reasons = models.JSONField(default=list, blank=True,
                               help_text="code, check, severity, measured, threshold, sentence — worst first")
    disposition = models.CharField(max_length=16, help_text="Where the card went: graded, repair or failed",
                                   validators=[LINE_TEXT])
    marketplace = models.JSONField(default=dict, blank=True, help_text="What a listing may claim, per marketplace")
    ai = models.JSONField("AI-readiness", default=dict, blank=True)
    graded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="+")
    # An admin's override: this grade replaces `overrides`, keeps its measured reasons and says why it differs.
    overrides = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    override_reason = models.TextField(blank=True, validators=[BLOCK_TEXT])
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Set by the grading services on the newest grade of each card (and cleared on the one it replaces), so that
    # lists of many cards join their current grade instead of looking for each card's newest row.
    is_current = models.BooleanField(default=False, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("override_grade", "Can override a grade, with a reason")]
        constraints = [models.UniqueConstraint(fields=["unit"], condition=models.Q(is_current=True),
                                               name="grade_one_current_per_unit")]
        # What lists and the dashboard read of a current grade, in the index (PostgreSQL answers from it alone,
        # without the wide rows of reasons and AI figures); SQLite, without covering indexes, skips it.
        indexes = [models.Index(fields=["unit"], include=["functional", "cosmetic", "run"],
                                condition=models.Q(is_current=True), name="grade_current_cover_idx")]

    def __str__(self) -> str:
        current = " (current)" if self.is_current else ""
        return f"{self.unit.asset_tag}: {self.functional}/{self.cosmetic or '-'}{current}"

    @property
    def is_override(self) -> bool:
        return self.overrides_id is not None


class CertificateStatus(models.TextChoices):
    VALID = "valid", "valid"
    REVOKED = "revoked", "revoked"
    SUPERSEDED = "superseded", "superseded by a retest"


class Certificate(models.Model):
    """A signed statement of what was measured on one card and the grade it got. The payload and its signature are
    fixed at issue; only the status changes (revoked, or superseded by a retest)."""

    public_id = models.CharField(max_length=32, unique=True, editable=False,
                                 help_text="140 random bits in Crockford base32; printed in groups of four",
                                 validators=[LINE_TEXT])
    unit = models.ForeignKey("inventory.Unit", on_delete=models.PROTECT, related_name="certificates")
    run = models.ForeignKey("testbench.TestRun", on_delete=models.PROTECT, related_name="certificates")
    grade = models.ForeignKey(Grade, on_delete=models.PROTECT, related_name="certificates")
    issued_at = models.DateTimeField(default=timezone.now, db_index=True)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="+")
    status = models.CharField(max_length=12, choices=CertificateStatus.choices, default=CertificateStatus.VALID,
                              db_index=True, validators=[LINE_TEXT])
    status_reason = models.TextField(blank=True, help_text="Why it was revoked or superseded", validators=[BLOCK_TEXT])
    status_changed_at = models.DateTimeField(null=True, blank=True)
    superseded_by = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    payload = models.JSONField(help_text="The signed facts; never changed after issue")
    canonical = models.TextField(help_text="The payload's RFC 8785 canonical form: the exact bytes signed",
                                 validators=[BLOCK_TEXT])
    signature = models.CharField(max_length=128, help_text="Ed25519 signature, base64url", validators=[LINE_TEXT])
    key_id = models.CharField(max_length=32, validators=[LINE_TEXT])
    pdf = models.FileField(upload_to="certificates/%Y/%m/", blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True, validators=[LINE_TEXT])
    pdf_rendered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-issued_at", "-id"]
        permissions = [("revoke_certificate", "Can revoke a certificate, with a reason")]
        constraints = [
            # One valid certificate per card: a new one supersedes the old in the same transaction.
            models.UniqueConstraint(fields=["unit"], condition=models.Q(status="valid"),
                                    name="certificate_one_valid_per_unit"),
        ]

    def __str__(self) -> str:
        return self.printed_id

    @property
    def printed_id(self) -> str:
        return "-".join(self.public_id[i:i + 4] for i in range(0, len(self.public_id), 4))


class PublishedKey(models.Model):
    """A public key that has signed certificates. Kept and published after rotation, so old certificates still
    verify; the private key lives only in the key file or setting (docs/grading.md)."""

    key_id = models.CharField(max_length=32, unique=True, validators=[LINE_TEXT])
    public_key = models.CharField(max_length=64, help_text="Raw Ed25519 public key, base64url", validators=[LINE_TEXT])
    created_at = models.DateTimeField(default=timezone.now)
    retired_at = models.DateTimeField(null=True, blank=True, help_text="No longer signs; still verifies")

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.key_id
