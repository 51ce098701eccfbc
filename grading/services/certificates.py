"""Certificate services: issue a signed certificate for a graded card, revoke one, and look one up by its id."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from core.errors import InvalidInput
from core.roles import ADMIN
from inventory import events
from inventory.choices import UnitState
from inventory.lifecycle import CERTIFICATE_REVOKED_ON, CERTIFICATE_SURVIVES, Mover
from inventory.models import Unit
from inventory.services import unit_decide, unit_event_record, unit_transition
from inventory.validators import serial_lookup_key
from testbench.selectors import run_results

from ..keys import signing_key_for_issue
from ..models import Certificate, CertificateStatus, FunctionalGrade
from ..payload import build_payload
from ..selectors import grade_current
from .documents import telemetry_columns

# Crockford's base32 (no I, L, O, U): read off paper without confusion. 28 characters = 140 random bits.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ID_LENGTH = 28
_READ_AS = str.maketrans({"I": "1", "L": "1", "O": "0"})


def public_id_generate() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(ID_LENGTH))


def public_id_normalize(text: str) -> str:
    """An id as typed or printed (any case, with hyphens or spaces, I/L/O for 1/0) in its stored form; "" if it
    cannot be one."""
    compact = "".join((text or "").split()).replace("-", "").upper().translate(_READ_AS)
    return compact if len(compact) == ID_LENGTH and all(c in ALPHABET for c in compact) else ""


def verify_url(public_id: str) -> str:
    return settings.REFURB_PUBLIC_URL + reverse("certificate-verify-page", args=[public_id])


def _override_facts(grade) -> dict | None:
    if not grade.is_override:
        return None
    # By role, not by name: a certificate is public, and only the admin role may override (the event names who).
    return {"measured_grade": grade.overrides.functional, "reason": grade.override_reason, "by": ADMIN,
            "at": grade.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")}


def certificate_issue(*, unit: Unit, actor=None, actor_label: str = "") -> Certificate:
    """Sign and record a certificate of a graded card's current grade and move the card to certified, in one
    transaction. The PDF is rendered afterwards (grading.tasks.certificate_pdf_render_task, sent on commit)."""
    with transaction.atomic():
        locked = Unit.objects.select_for_update().select_related("gpu_model").get(pk=unit.pk)
        if locked.state != UnitState.GRADED:
            raise InvalidInput({"unit": [f"{locked.asset_tag} is {locked.state}; a certificate is issued for a "
                                         "graded card"]})
        grade = grade_current(locked)
        if grade is None or grade.functional == FunctionalGrade.FAIL:
            raise InvalidInput({"unit": [f"{locked.asset_tag} has no passing grade to certify"]})
        run = grade.run
        results = run_results(run)
        # The card's last certificate, whatever became of it (superseded pending this retest, or revoked): the new
        # one names it, so a buyer holding the old one finds the new.
        previous = (Certificate.objects.select_for_update().filter(unit=locked, superseded_by__isnull=True)
                    .order_by("-issued_at", "-id").first())
        key = signing_key_for_issue()
        public_id = public_id_generate()
        issued_at = timezone.now().replace(microsecond=0)
        payload = build_payload(
            public_id=public_id, issued_at=issued_at, issuer=settings.REFURB_ISSUER, verify_url=verify_url(public_id),
            unit=locked, run=run, grade=grade, results=results, override=_override_facts(grade),
            supersedes=previous.public_id if previous else None, telemetry=telemetry_columns(run.pk))
        canonical, signature = key.sign(payload)
        if previous is not None and previous.status == CertificateStatus.VALID:
            # The lifecycle marks a certificate when its card leaves certified, so a graded card has none valid;
            # certificates issued before that rule may still be.
            previous.status, previous.status_changed_at = CertificateStatus.SUPERSEDED, issued_at
            previous.save(update_fields=["status", "status_changed_at"])
        certificate = Certificate.objects.create(
            public_id=public_id, unit=locked, run=run, grade=grade, issued_at=issued_at, issued_by=actor,
            payload=payload, canonical=canonical.decode("utf-8"), signature=signature, key_id=key.key_id)
        if previous is not None:
            changes = {"superseded_by": certificate}
            if previous.status == CertificateStatus.SUPERSEDED:
                # Name the run that actually happened (a revoked certificate keeps its revocation reason).
                changes["status_reason"] = (f"the card was tested again ({run.plan} test run {run.pk}, finished "
                                            f"{run.finished_at:%Y-%m-%d %H:%M} UTC), graded {grade.functional}, "
                                            f"and certificate {certificate.printed_id} issued")
            Certificate.objects.filter(pk=previous.pk).update(**changes)
        unit_transition(unit=locked, to_state=UnitState.CERTIFIED, actor=actor, actor_label=actor_label,
                        mover=Mover.CERTIFICATE,
                        reason=f"certificate {certificate.printed_id} issued ({grade.functional}/"
                               f"{grade.cosmetic or '-'})",
                        event=events.certificate_issued(certificate_id=public_id, grade_id=grade.pk,
                                                        key_id=key.key_id))
        from ..tasks import certificate_pdf_render_task  # here: tasks imports these services

        transaction.on_commit(lambda: certificate_pdf_render_task.delay(certificate.pk))
    return certificate


def certificate_revoke(*, certificate: Certificate, reason: str, actor=None, actor_label: str = "") -> Certificate:
    """Revoke a certificate with a reason anyone verifying it will see. A card that is certified or listed on it
    goes on hold; a sold card stays sold (the buyer sees the revocation when they verify)."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput({"reason": ["a revocation needs a reason (verification shows it)"]})
    with transaction.atomic():
        locked = Certificate.objects.select_for_update().get(pk=certificate.pk)
        if locked.status == CertificateStatus.REVOKED:
            raise InvalidInput({"certificate": [f"{locked.printed_id} is already revoked"]})
        unit = Unit.objects.select_for_update().get(pk=locked.unit_id)
        was_valid = locked.status == CertificateStatus.VALID
        locked.status, locked.status_reason, locked.status_changed_at = (CertificateStatus.REVOKED, reason,
                                                                         timezone.now())
        locked.save(update_fields=["status", "status_reason", "status_changed_at"])
        summary = f"certificate {locked.printed_id} revoked: {reason}"[:1000]
        event = events.certificate_revoked(certificate_id=locked.public_id)
        on_sale = was_valid and unit.state in (UnitState.CERTIFIED, UnitState.LISTED)
        unit_decide(unit=unit, to_state=UnitState.ON_HOLD if on_sale else None, event=event, reason=summary,
                    actor=actor, actor_label=actor_label, mover=Mover.CERTIFICATE)
    certificate.refresh_from_db()
    return certificate


# Why a certificate stopped standing when its card moved on, as a buyer verifying it reads it (fixed sentences:
# the reason a person typed for the move may be internal).
LEFT_FOR = {
    UnitState.QUEUED: "the card was sent for a new test",
    UnitState.INSPECTED: "the card went back to inspection",
    UnitState.RECEIVED: "the card went back to intake",
    UnitState.REPAIR: "the card went to repair",
}


def certificate_follow_move(*, unit: Unit, from_state: str, to_state: str, record, **_) -> None:
    """A card leaving the states its certificate survives (inventory.lifecycle.CERTIFICATE_SURVIVES) takes the
    certificate with it, in the move's transaction: revoked where the card failed a later test or was scrapped,
    else superseded pending a retest. A certificate superseded pending a retest that the card then fails (or a
    scrap) is revoked: no newer certificate will follow it. Registered as a lifecycle move listener (grading.apps)."""
    if to_state in CERTIFICATE_SURVIVES:
        return
    pending = to_state in CERTIFICATE_REVOKED_ON and record.certificate_status == CertificateStatus.SUPERSEDED
    if record.certificate_status != CertificateStatus.VALID and not pending:
        return
    certificate = (Certificate.objects.select_for_update()
                   .filter(unit=unit, status__in=[CertificateStatus.VALID, CertificateStatus.SUPERSEDED],
                           superseded_by__isnull=True)
                   .order_by("-issued_at", "-id").first())
    if certificate is None:
        return
    if to_state in CERTIFICATE_REVOKED_ON:
        status, why = CertificateStatus.REVOKED, CERTIFICATE_REVOKED_ON[to_state]
        event = events.certificate_revoked(certificate_id=certificate.public_id)
    else:
        status, event = (CertificateStatus.SUPERSEDED,
                         events.certificate_superseded(certificate_id=certificate.public_id))
        why = f"{LEFT_FOR.get(to_state, f'the card moved to {to_state}')}; superseded pending a retest"
    certificate.status, certificate.status_reason, certificate.status_changed_at = status, why, timezone.now()
    certificate.save(update_fields=["status", "status_reason", "status_changed_at"])
    unit_event_record(unit=unit, event=event, reason=f"certificate {certificate.printed_id} {status}: {why}",
                      actor_label="lifecycle", mover=Mover.CERTIFICATE)


SERIAL_LOOKUP_MAX = 64


def certificates_for_serial(text: str) -> list[Certificate]:
    """What a buyer holding a card may see by its board serial: for each certified card with that serial (boards of
    two makers may share one), its valid certificate, else its newest. A card never certified is not named, so the
    lookup says nothing about stock. The serial is read as intake stores it (inventory.validators: NFKC, no spaces or
    invisible characters, upper case), so `sn 2104 0012` and a copy-pasted one with a zero-width space both match."""
    serial = serial_lookup_key(text)
    if not serial or len(serial) > SERIAL_LOOKUP_MAX:
        return []
    chosen: dict[int, Certificate] = {}
    for certificate in (Certificate.objects.filter(unit__serial=serial).select_related("unit__gpu_model")
                        .order_by("-issued_at", "-id")[:50]):
        current = chosen.get(certificate.unit_id)
        if current is None or (certificate.status == CertificateStatus.VALID
                               and current.status != CertificateStatus.VALID):
            chosen[certificate.unit_id] = certificate
    return sorted(chosen.values(), key=lambda c: (c.unit.gpu_model.name, c.unit.board_vendor))


def certificate_by_public_id(text: str) -> Certificate | None:
    public_id = public_id_normalize(text)
    if not public_id:
        return None
    # One plain get() (no ordering, no join: the newer certificate of a superseded one is fetched only then), since
    # this runs on every public page view.
    try:
        return Certificate.objects.get(public_id=public_id)
    except Certificate.DoesNotExist:
        return None
