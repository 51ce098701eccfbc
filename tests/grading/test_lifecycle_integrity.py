"""A card's state and its certificate cannot disagree (issue 11's hostile-tester findings, one family per test):
certified only through issuing a certificate; no sale on a revoked or superseded certificate; a certificate marked
when its card fails, is scrapped or goes back for work; grades only from a run newer than the last return, repair or
hold; the facts a valid certificate states frozen. The state machine at the end searches for sequences of runs,
grades, certificates and hand moves that break any of it."""

import os
from dataclasses import replace

import pytest
from django.db.models import F
from django.urls import reverse
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from core.errors import DomainError, InvalidInput
from grading.models import Certificate, CertificateStatus, Grade
from grading.services import certificate_issue, certificate_revoke, grade_override, unit_grade
from inventory.choices import REASON_REQUIRED_STATES, UnitState
from inventory.errors import IllegalTransition
from inventory.lifecycle import (
    CERTIFICATE_SURVIVES,
    RESET_STATES,
    SERVICE_ONLY_MOVES,
    STATED_BY_CERTIFICATE,
    Mover,
    allowed_targets,
)
from inventory.models import Unit, UnitEvent
from inventory.services import inspection_record, unit_transition, unit_update
from resale.models import Order
from resale.services import listing_create, listing_publish, listing_sell, return_receive
from testbench.checks.base import CheckStatus
from testbench.choices import RunState
from testbench.models import Bench, TestRun
from testbench.services import BenchRefused, run_cancel, run_cancel_request, run_create, run_finish, run_start
from testbench.services.benches import unit_identity_record

S = UnitState


def new_url(certificate):
    from grading.services import verify_url

    return verify_url(certificate.public_id)


def move(client, unit, to, reason="because"):
    return client.post(f"/api/units/{unit.pk}/transition/", {"to": to, "reason": reason}, format="json")


def valid_certificates(unit):
    return Certificate.objects.filter(unit=unit, status=CertificateStatus.VALID)


# --- certified only through a certificate; the bench and grading states only through their services -------------

@pytest.mark.django_db
@pytest.mark.parametrize("from_state, to_state", sorted(
    (f, t) for (f, t) in SERVICE_ONLY_MOVES if f in ("queued", "testing", "tested", "graded", "failed")))
def test_no_person_makes_a_service_move_not_even_an_admin(make_units, walk, admin_user, client_for, from_state,
                                                           to_state):
    unit = walk(make_units(1)[0], from_state)
    events = UnitEvent.objects.filter(unit=unit).count()
    response = move(client_for(admin_user), unit, to_state)
    assert response.status_code == 409, response.content
    assert "service makes this move" in response.json()["detail"]
    assert to_state not in response.json()["allowed"]
    assert to_state not in client_for(admin_user).get(f"/api/units/{unit.pk}/").json()["allowed_transitions"]
    unit.refresh_from_db()
    assert unit.state == from_state and UnitEvent.objects.filter(unit=unit).count() == events


@pytest.mark.django_db
def test_a_graded_card_is_certified_only_by_issuing_its_certificate(make_units, walk, reseller, client_for):
    unit = walk(make_units(1)[0], "graded")
    assert move(client_for(reseller), unit, "certified").status_code == 409
    assert not Certificate.objects.filter(unit=unit).exists()
    certificate = certificate_issue(unit=unit, actor=reseller)
    unit.refresh_from_db()
    assert unit.state == S.CERTIFIED
    event = unit.events.get(to_state=S.CERTIFIED)
    assert event.via == Mover.CERTIFICATE and certificate.public_id in event.payload["certificate"]


# --- no sale on a revoked or superseded certificate ---------------------------------------------------------------

@pytest.mark.django_db
def test_a_revoked_certificate_stops_the_sale_until_a_new_one_follows_a_new_run(healthy_report, make_units, walk,
                                                                                 reseller, admin_user, client_for):
    unit = walk(make_units(1)[0], "listed")
    old = unit.certificates.get()
    certificate_revoke(certificate=old, reason="serial sticker found to be forged", actor=admin_user)
    unit.refresh_from_db()
    assert (unit.state, unit.held_from) == (S.ON_HOLD, S.LISTED)
    client = client_for(reseller)
    assert not {"certified", "listed", "sold"} & set(client.get(f"/api/units/{unit.pk}/").json()["allowed_transitions"])
    response = move(client, unit, "certified")  # a card held from listed resumes as certified (its listings ended)
    assert response.status_code == 409 and "certified needs a valid certificate" in response.json()["detail"]
    assert move(client, unit, "listed").status_code == 409
    unit.refresh_from_db()
    assert unit.state == S.ON_HOLD

    # The way back: a new run, a new grade, a new certificate, which names the revoked one.
    unit_transition(unit=unit, to_state=S.QUEUED, reason="retest after the serial was checked")
    with pytest.raises(InvalidInput, match="certificate is issued for a graded card"):
        certificate_issue(unit=unit)
    unit = walk_from_queued(unit, healthy_report)
    new = certificate_issue(unit=unit)
    old.refresh_from_db()
    assert new.payload["supersedes"] == old.public_id and old.superseded_by_id == new.pk
    assert old.status == CertificateStatus.REVOKED and old.status_reason == "serial sticker found to be forged"
    page = client_for().get(reverse("certificate-verify-page", args=[old.public_id])).content.decode()
    assert "serial sticker found to be forged" in page and f'href="{new_url(new)}"' in page
    order = listing_sell(listing=listing_publish(listing=listing_create(units=[unit], channel="ebay", price="400")))
    unit.refresh_from_db()
    assert unit.state == S.SOLD and order.lines.get().unit_id == unit.pk


@pytest.mark.django_db
def test_a_sold_card_whose_certificate_was_revoked_cannot_be_sold_again_when_returned(make_units, walk, reseller,
                                                                                        client_for):
    unit = walk(make_units(1)[0], "sold")
    certificate_revoke(certificate=unit.certificates.get(), reason="wrong memory type printed", actor_label="admin")
    unit.refresh_from_db()
    assert unit.state == S.SOLD  # the buyer has it; they see the revocation when they verify
    client = client_for(reseller)
    assert move(client, unit, "returned", reason="buyer's remorse").status_code == 409  # a return checks the serial
    order = Order.objects.get(lines__unit=unit)
    return_receive(order=order, scanned_serial=unit.serial, reason="remorse", actor=reseller)
    assert move(client, unit, "on_hold", reason="waiting for paperwork").status_code == 200
    unit.refresh_from_db()
    assert unit.held_from == S.RETURNED
    for target in ("listed", "certified", "sold"):
        assert move(client, unit, target).status_code == 409, target


def failing_report(report):
    """The shared healthy report with its VRAM check failed (a run that finds bad memory)."""
    return replace(report, verdict=CheckStatus.FAIL, checks=[
        replace(c, status=CheckStatus.FAIL, summary="2 bad bits") if c.name == "vram" else c for c in report.checks])


def walk_from_queued(unit, report, *, failing=False):
    """Run, finish and (unless it fails) grade a queued card, as the walk fixture does."""
    if failing:
        report = failing_report(report)
    run = (unit.test_runs.filter(state=RunState.QUEUED).first()
           or run_create(unit=unit, plan="quick", bench=Bench.objects.get_or_create(name="walk-bench")[0]))
    run_finish(run=run_start(run=run, identity=report.identity, software={}), report=report)
    if not failing:
        unit_grade(unit=unit)
    unit.refresh_from_db()
    return unit


# --- a certificate follows its card out of certified ----------------------------------------------------------------

@pytest.mark.django_db
def test_a_certified_card_that_fails_a_retest_and_is_scrapped_has_its_certificate_revoked(healthy_report, make_units,
                                                                                          walk, client_for):
    unit = walk(make_units(1)[0], "certified")
    certificate = unit.certificates.get()
    unit_transition(unit=unit, to_state=S.QUEUED, reason="customer asked for a burn-in")
    certificate.refresh_from_db()
    assert certificate.status == CertificateStatus.SUPERSEDED
    assert certificate.status_reason == "the card was sent for a new test; superseded pending a retest"
    assert "burn-in" not in certificate.status_reason  # what a person typed stays internal

    walk_from_queued(unit, healthy_report, failing=True)
    unit.refresh_from_db()
    certificate.refresh_from_db()
    assert unit.state == S.FAILED
    assert (certificate.status, certificate.status_reason) == (CertificateStatus.REVOKED, "card failed a later test")
    unit_transition(unit=unit, to_state=S.SCRAPPED, reason="VRAM beyond repair")
    certificate.refresh_from_db()
    assert certificate.status_reason == "card failed a later test"  # revoked once, for the first reason

    page = client_for().get(reverse("certificate-verify-page", args=[certificate.public_id]))
    assert page.status_code == 200 and b"card failed a later test" in page.content
    assert b"This certificate is valid" not in page.content
    report = client_for().get(f"/api/certificates/{certificate.public_id}/verify/").json()
    assert report["valid"] is False and report["status"] == "revoked"
    kinds = list(unit.events.values_list("kind", "via").order_by("id"))
    assert ("certificate_superseded", "certificate") in kinds and ("certificate_revoked", "certificate") in kinds


@pytest.mark.django_db
@pytest.mark.parametrize("to_state, status, reason", [
    ("scrapped", "revoked", "card scrapped"),
    ("repair", "superseded", "the card went to repair; superseded pending a retest"),
    ("inspected", "superseded", "the card went back to inspection; superseded pending a retest"),
    ("queued", "superseded", "the card was sent for a new test; superseded pending a retest"),
])
def test_every_way_out_of_certified_marks_the_certificate(make_units, walk, to_state, status, reason):
    unit = walk(make_units(1)[0], "listed")
    unit_transition(unit=unit, to_state=S.ON_HOLD, reason="buyer asked for photos")
    assert valid_certificates(unit).count() == 1  # a hold keeps it: the card resumes listed
    unit_transition(unit=unit, to_state=to_state, reason="because")
    certificate = unit.certificates.get()
    assert (certificate.status, certificate.status_reason) == (status, reason)


@pytest.mark.django_db
def test_a_card_held_while_listed_resumes_as_certified_with_its_certificate_and_is_listed_again(make_units, walk):
    unit = walk(make_units(1)[0], "listed")
    unit_transition(unit=unit, to_state=S.ON_HOLD, reason="buyer asked for photos")
    assert not unit.listings.filter(status="active").exists()  # the hold took it off sale
    with pytest.raises(IllegalTransition):
        unit_transition(unit=unit, to_state=S.LISTED)  # nothing is on offer: it cannot be listed by hand
    unit_transition(unit=unit, to_state=S.CERTIFIED)
    assert valid_certificates(unit).count() == 1
    listing_publish(listing=listing_create(units=[unit], channel="ebay", price="400"))
    unit.refresh_from_db()
    assert unit.state == S.LISTED


# --- grades only from a fresh run; the supersede reason names the run that happened -------------------------------

@pytest.mark.django_db
def test_a_card_held_after_its_run_is_not_graded_or_resumed_from_that_run(healthy_report, make_units, walk):
    unit = walk(make_units(1)[0], "tested")
    unit_transition(unit=unit, to_state=S.ON_HOLD, reason="fell off the bench cart")
    with pytest.raises(IllegalTransition, match="needs a finished test run newer than its last return"):
        unit_transition(unit=unit, to_state=S.TESTED)
    with pytest.raises(InvalidInput, match="is on_hold"):
        unit_grade(unit=unit)
    unit_transition(unit=unit, to_state=S.QUEUED)
    walk_from_queued(unit, healthy_report)
    assert unit.state == S.GRADED


@pytest.mark.django_db
def test_a_returned_card_is_regraded_only_from_a_run_after_its_return(healthy_report, make_units, walk, reseller,
                                                                      client_for):
    unit = walk(make_units(1)[0], "returned")
    old = unit.certificates.get()
    first_run = unit.test_runs.get()
    client = client_for(reseller)
    for target in ("graded", "certified", "listed", "sold"):
        assert move(client, unit, target).status_code in (403, 409), target
    unit_transition(unit=unit, to_state=S.QUEUED, reason="retest after return")
    old.refresh_from_db()
    assert old.status == CertificateStatus.SUPERSEDED
    walk_from_queued(unit, healthy_report)
    new_run = unit.test_runs.exclude(pk=first_run.pk).get()
    assert unit.grades.order_by("-id").first().run == new_run
    new = certificate_issue(unit=unit)
    old.refresh_from_db()
    assert new.payload["supersedes"] == old.public_id and old.superseded_by == new
    assert f"run {new_run.pk}" in old.status_reason and f"run {first_run.pk}" not in old.status_reason
    assert "tested again" in old.status_reason and new.printed_id in old.status_reason


@pytest.mark.django_db
def test_an_override_does_not_grade_a_card_sent_to_repair_after_its_run(make_units, walk, admin_user):
    unit = walk(make_units(1)[0], "graded")
    unit_transition(unit=unit, to_state=S.REPAIR, reason="repad the memory")
    with pytest.raises(IllegalTransition, match="needs a grade from a finished test run newer"):
        grade_override(unit=unit, functional="F-B", reason="looks fine to me", actor=admin_user)
    unit.refresh_from_db()
    assert unit.state == S.REPAIR and unit.grades.count() == 1  # nothing half-written


# --- what a valid certificate states is frozen ---------------------------------------------------------------------

@pytest.mark.django_db
def test_what_a_valid_certificate_states_cannot_be_edited(healthy_report, make_units, walk, reseller, client_for):
    unit = walk(make_units(1)[0], "certified")
    client = client_for(reseller)
    response = client.patch(f"/api/units/{unit.pk}/", {"vbios_version": "94.02.42.00.A1"}, format="json")
    assert response.status_code == 400 and "revoke the certificate" in response.json()["vbios_version"][0]
    assert client.patch(f"/api/units/{unit.pk}/", {"location": "shelf B3"}, format="json").status_code == 200
    with pytest.raises(InvalidInput, match="cosmetic grade"):
        inspection_record(unit=unit, cosmetic_grade="C", fan_condition="ok")
    identity = {**healthy_report.identity, "vbios_version": "86.02.39.00.99"}
    with pytest.raises(BenchRefused, match="another identity than its valid certificate states"):
        unit_identity_record(unit=unit, identity=identity)
    assert Unit.objects.filter(pk=unit.pk, vbios_version=unit.vbios_version, cosmetic_grade="A").exists()

    certificate_revoke(certificate=unit.certificates.get(), reason="VBIOS misread at intake", actor_label="admin")
    unit_update(unit=unit, vbios_version="94.02.42.00.A1")
    unit.refresh_from_db()
    assert unit.vbios_version == "94.02.42.00.A1"


@pytest.mark.django_db
def test_the_admin_form_refuses_an_edit_of_a_stated_field(make_units, walk, admin_user, client):
    unit = walk(make_units(1)[0], "certified")
    client.force_login(admin_user)
    url = reverse("admin:inventory_unit_change", args=[unit.pk])
    page = client.get(url).context
    form = page["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k in form.fields}
    for inline in page["inline_admin_formsets"]:  # the change form posts its inlines' management forms too
        management = inline.formset.management_form
        data.update({management.add_prefix(k): v for k, v in management.initial.items()})
    data.update({"vbios_version": "94.02.42.00.A1", "transition_to": "", "transition_reason": ""})
    response = client.post(url, data, follow=True)
    assert "revoke the certificate" in response.content.decode()
    unit.refresh_from_db()
    assert unit.vbios_version != "94.02.42.00.A1"


# --- the state machine: runs, grades, certificates and people in random order --------------------------------------

class CertifiedLifecycle(RuleBasedStateMachine):
    """One real card, moved by every service and by people in random order. After each step the invariants that
    issue 11 names must hold, whatever the sequence."""

    def __init__(self):
        super().__init__()
        self.unit = self.make_unit()
        self.bench = Bench.objects.get_or_create(name="machine-bench", defaults={"simulated": True})[0]
        inspection_record(unit=self.unit, cosmetic_grade="B", fan_condition="ok")
        self.stated = {}  # certificate pk -> the unit's fields when it was issued

    def attempt(self, action, *args, **kwargs):
        try:
            action(*args, **kwargs)
        except DomainError:
            pass  # refused: the invariants below say whether the refusal left things consistent
        self.unit.refresh_from_db()

    def active_run(self):
        return TestRun.objects.filter(unit=self.unit, state__in=[RunState.QUEUED, RunState.RUNNING]).first()

    @rule(to=st.sampled_from(S.values))
    def person_moves(self, to):
        self.attempt(unit_transition, unit=self.unit, to_state=to,
                     reason="because" if to in REASON_REQUIRED_STATES else "")

    @rule(data=st.data())
    def person_tries_a_move_in_the_table(self, data):
        # Every move the table has from here, whether or not it is a person's to make or the card meets its needs:
        # the moves a hostile user would try, drawn far more often than uniform targets would draw them.
        # Not scrapped: a terminal state would end the search early.
        if targets := [t for t in allowed_targets(self.unit.state, held_from=self.unit.held_from) if t != S.SCRAPPED]:
            self.person_moves(data.draw(st.sampled_from(targets)))

    @rule()
    def queue_run(self):
        self.attempt(run_create, unit=self.unit, plan="quick", bench=self.bench)

    @rule()
    def start_run(self):
        if run := self.active_run():
            self.attempt(run_start, run=run, identity=self.report.identity, software={})

    @rule(passes=st.booleans())
    def finish_run(self, passes):
        run = self.active_run()
        if run is None or run.state != RunState.RUNNING:
            return
        self.attempt(run_finish, run=run, report=self.report if passes else failing_report(self.report))

    @rule(to=st.sampled_from([S.QUEUED, S.ON_HOLD]))
    def cancel_run(self, to):
        if run := self.active_run():
            def cancel():
                requested = run_cancel_request(run=run, to_state=to, reason="bench needed")
                if requested.state == RunState.RUNNING:
                    run_cancel(run=requested)
            self.attempt(cancel)

    @rule()
    def grade(self):
        self.attempt(unit_grade, unit=self.unit)

    @rule(functional=st.sampled_from(["F-A", "F-B", "F-C", "FAIL"]))
    def override(self, functional):
        self.attempt(grade_override, unit=self.unit, functional=functional, reason="admin judgement")

    @rule()
    def certify(self):
        self.attempt(certificate_issue, unit=self.unit)
        if certificate := valid_certificates(self.unit).first():
            self.stated.setdefault(certificate.pk, {f: getattr(self.unit, f) for f in STATED_BY_CERTIFICATE})

    @rule()
    def next_step_of_the_happy_path(self):
        # Random rules rarely line up queue, start, finish, grade, certify, list and sell in order; this one takes
        # the card one step further along that path, so that the deep states are searched as often as the shallow.
        step = {S.INSPECTED: self.queue_run, S.RECEIVED: self.queue_run, S.RETURNED: self.queue_run,
                S.QUEUED: self.start_run, S.TESTING: lambda: self.finish_run(True), S.TESTED: self.grade,
                S.GRADED: self.certify, S.CERTIFIED: lambda: self.person_moves(S.LISTED),
                S.LISTED: lambda: self.person_moves(S.SOLD), S.SOLD: lambda: self.person_moves(S.RETURNED),
                S.ON_HOLD: lambda: self.person_moves(self.unit.held_from or S.QUEUED)}
        if action := step.get(self.unit.state):
            action()

    @initialize(steps=st.integers(min_value=0, max_value=9))
    def start_somewhere_along_the_happy_path(self, steps):
        for _ in range(steps):
            self.next_step_of_the_happy_path()

    @rule()
    def revoke(self):
        if certificate := Certificate.objects.filter(unit=self.unit).order_by("-issued_at", "-id").first():
            self.attempt(certificate_revoke, certificate=certificate, reason="found a problem")

    @rule(vbios=st.sampled_from(["94.02.42.00.A1", "86.02.39.00.99"]))
    def edit_vbios(self, vbios):
        self.attempt(unit_update, unit=self.unit, vbios_version=vbios)

    @invariant()
    def a_valid_certificate_and_the_state_agree(self):
        valid = list(valid_certificates(self.unit))
        assert len(valid) <= 1
        if self.unit.state in (S.CERTIFIED, S.LISTED):
            assert len(valid) == 1, f"{self.unit.state} without a valid certificate"
        if valid:
            assert self.unit.state in CERTIFICATE_SURVIVES, f"valid certificate on a {self.unit.state} card"
            assert {f: getattr(self.unit, f) for f in STATED_BY_CERTIFICATE} == self.stated[valid[0].pk]
            assert valid[0].payload["grade"]["cosmetic"] == self.unit.cosmetic_grade

    @invariant()
    def testing_means_a_running_run(self):
        running = TestRun.objects.filter(unit=self.unit, state=RunState.RUNNING).exists()
        assert running == (self.unit.state == S.TESTING)

    @invariant()
    def a_graded_card_has_a_grade_from_a_run_after_its_last_reset(self):
        if self.unit.state not in (S.GRADED, S.TESTED):
            return
        resets = [e.created_at for e in UnitEvent.objects.filter(unit=self.unit, to_state__in=RESET_STATES)
                  .exclude(via=Mover.GRADING) if e.from_state != e.to_state]  # moves, not decisions in place
        last_reset = max(resets, default=None)
        if self.unit.state == S.GRADED:
            finished = Grade.objects.filter(unit=self.unit).order_by("-created_at", "-id").first().run.finished_at
        else:
            finished = TestRun.objects.filter(unit=self.unit, finished_at__isnull=False,
                                              state__in=[RunState.PASSED, RunState.FAILED, RunState.ERROR]
                                              ).order_by("-finished_at").first().finished_at
        assert last_reset is None or finished > last_reset

    @invariant()
    def every_service_move_was_made_by_its_service(self):
        for event in UnitEvent.objects.filter(unit=self.unit).exclude(from_state=""):
            movers = SERVICE_ONLY_MOVES.get((event.from_state, event.to_state))
            assert movers is None or event.via in movers, (event.from_state, event.to_state, event.via)

    @invariant()
    def a_sale_happened_only_on_a_valid_certificate(self):
        moves = UnitEvent.objects.filter(unit=self.unit, to_state__in=[S.CERTIFIED, S.LISTED, S.SOLD]).exclude(
            from_state=F("to_state"))  # a revocation recorded on a sold card is a decision, not a move
        for event in moves:
            standing = [c for c in Certificate.objects.filter(unit=self.unit, issued_at__lte=event.created_at)
                        if c.status == CertificateStatus.VALID or (c.status_changed_at or event.created_at)
                        >= event.created_at]
            assert standing, f"moved to {event.to_state} with no certificate standing"

    @invariant()
    def each_certificate_names_the_one_before(self):
        chain = list(Certificate.objects.filter(unit=self.unit).order_by("issued_at", "id"))
        for before, after in zip(chain, chain[1:], strict=False):
            assert after.payload["supersedes"] == before.public_id
            assert before.superseded_by_id == after.pk and before.status != CertificateStatus.VALID


@pytest.mark.django_db
def test_random_sequences_of_runs_grades_certificates_and_moves_keep_state_and_certificate_in_agreement(
        make_units, healthy_report, monkeypatch):
    counter = iter(range(10_000))
    monkeypatch.setattr(CertifiedLifecycle, "make_unit",
                        staticmethod(lambda: make_units(1, lot=f"CERT-{next(counter)}")[0]), raising=False)
    monkeypatch.setattr(CertifiedLifecycle, "report", healthy_report, raising=False)
    run_state_machine_as_test(
        CertifiedLifecycle,
        settings=settings(max_examples=30, stateful_step_count=40, deadline=None,
                          derandomize=bool(os.environ.get("CI")),
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]),
    )
