"""An admin's grade override: a reason is mandatory, it is recorded as an event, the card follows the new grade,
and the certificate shows it as an override. Through the service and the API, with roles."""

import pytest

from core.errors import InvalidInput
from grading.models import Grade
from grading.services import certificate_issue, grade_override, unit_grade
from grading.services.documents import certificate_pdf_bytes
from inventory.choices import EventKind, UnitState
from inventory.models import UnitEvent

from .conftest import make_tested_unit


@pytest.mark.django_db
def test_override_needs_a_reason_and_a_real_change(make_units, reports):
    unit = make_tested_unit(make_units, reports["healthy"])
    unit_grade(unit=unit)
    with pytest.raises(InvalidInput, match="needs a reason"):
        grade_override(unit=unit, functional="F-B", reason=" ")
    with pytest.raises(InvalidInput, match="'F-Z' is not a grade"):
        grade_override(unit=unit, functional="F-Z", reason="x")
    with pytest.raises(InvalidInput, match="already F-A"):
        grade_override(unit=unit, functional="F-A", reason="x")
    assert Grade.objects.count() == 1 and not UnitEvent.objects.filter(kind=EventKind.GRADE_OVERRIDE).exists()


@pytest.mark.django_db
def test_an_override_that_keeps_the_state_is_an_event_and_prints_on_the_certificate(make_units, reports,
                                                                                      admin_user):
    unit = make_tested_unit(make_units, reports["healthy"])
    measured = unit_grade(unit=unit)
    grade = grade_override(unit=unit, functional="F-B", reason="fan bearing audible at idle", actor=admin_user)
    unit.refresh_from_db()
    assert unit.state == UnitState.GRADED and grade.overrides == measured and grade.reasons == measured.reasons
    event = UnitEvent.objects.filter(unit=unit).latest("id")
    assert (event.kind, event.from_state, event.to_state) == (EventKind.GRADE_OVERRIDE, "graded", "graded")
    assert "from F-A to F-B: fan bearing audible at idle" in event.reason and event.actor == admin_user
    certificate = certificate_issue(unit=unit)
    override = certificate.payload["grade"]["override"]
    assert override == {"measured_grade": "F-A", "reason": "fan bearing audible at idle", "by": "admin",
                        "at": override["at"]}
    import io

    from pypdf import PdfReader

    text = " ".join(" ".join(p.extract_text().split())
                    for p in PdfReader(io.BytesIO(certificate_pdf_bytes(certificate))).pages)
    assert "Grade overridden" in text and "fan bearing audible at idle" in text


@pytest.mark.django_db
def test_an_override_moves_the_card_to_match(make_units, reports):
    unit = make_tested_unit(make_units, reports["vram_stuck_bit"])
    unit_grade(unit=unit)
    assert unit.grades.get().functional == "FAIL"
    grade_override(unit=unit, functional="F-C", reason="the bad cell is masked by the page retirement we applied")
    unit.refresh_from_db()
    assert unit.state == UnitState.GRADED
    event = UnitEvent.objects.filter(unit=unit).latest("id")
    assert (event.kind, event.from_state, event.to_state) == (EventKind.GRADE_OVERRIDE, "failed", "graded")
    back = grade_override(unit=unit, functional="FAIL", reason="second opinion: no")
    unit.refresh_from_db()
    assert unit.state == UnitState.FAILED and back.overrides.functional == "FAIL"  # names the measured grade


@pytest.mark.django_db
def test_a_certified_card_is_not_overridden(make_units, reports):
    unit = make_tested_unit(make_units, reports["healthy"])
    unit_grade(unit=unit)
    certificate_issue(unit=unit)
    with pytest.raises(InvalidInput, match="is certified; .* revoked and the card retested"):
        grade_override(unit=unit, functional="F-B", reason="x")


@pytest.mark.django_db
def test_grading_api_roles(make_units, reports, client_for, technician, reseller, admin_user):
    unit = make_tested_unit(make_units, reports["healthy"])
    assert client_for(reseller).post("/api/grades/", {"unit": unit.pk}, format="json").status_code == 403
    response = client_for(technician).post("/api/grades/", {"unit": unit.pk}, format="json")
    assert response.status_code == 201 and response.json()["functional"] == "F-A"
    grade_id = response.json()["id"]
    again = client_for(technician).post("/api/grades/", {"unit": unit.pk}, format="json")
    assert again.status_code == 400 and "unit" in again.json()
    url = f"/api/grades/{grade_id}/override/"
    assert client_for(technician).post(url, {"functional": "F-B", "reason": "x"}, format="json").status_code == 403
    missing = client_for(admin_user).post(url, {"functional": "F-B"}, format="json")
    assert missing.status_code == 400 and "reason" in missing.json()
    done = client_for(admin_user).post(url, {"functional": "F-B", "reason": "scratched backplate"}, format="json")
    assert done.status_code == 201 and done.json()["overrides"] == grade_id
    stale = client_for(admin_user).post(url, {"functional": "F-C", "reason": "again"}, format="json")
    assert stale.status_code == 409  # the grade overridden must be the card's current one
    # Certificates: resellers issue, only admins revoke; the list shows the public id.
    assert client_for(technician).post("/api/certificates/", {"unit": unit.pk}, format="json").status_code == 403
    issued = client_for(reseller).post("/api/certificates/", {"unit": unit.pk}, format="json")
    assert issued.status_code == 201 and issued.json()["status"] == "valid"
    public_id = issued.json()["id"]
    assert client_for(technician).get(f"/api/certificates/{public_id}/").json()["printed_id"].count("-") == 6
    revoke = f"/api/certificates/{public_id}/revoke/"
    assert client_for(reseller).post(revoke, {"reason": "x"}, format="json").status_code == 403
    assert client_for(admin_user).post(revoke, {}, format="json").status_code == 400
    revoked = client_for(admin_user).post(revoke, {"reason": "wrong card photographed"}, format="json")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert client_for(admin_user).post(revoke, {"reason": "again"}, format="json").status_code == 400


@pytest.mark.django_db
def test_admin_actions_ask_for_a_reason(make_units, reports, client, admin_user, technician):
    from grading.models import Certificate

    unit = make_tested_unit(make_units, reports["healthy"])
    grade = unit_grade(unit=unit)
    client.force_login(admin_user)
    url = "/admin/grading/grade/"
    asked = client.post(url, {"action": "override", "_selected_action": [grade.pk]})
    assert asked.status_code == 200 and b"New functional grade" in asked.content
    refused = client.post(url, {"action": "override", "_selected_action": [grade.pk], "apply": "1",
                                "functional": "F-B", "reason": ""})
    assert b"This field is required" in refused.content and Grade.objects.count() == 1
    done = client.post(url, {"action": "override", "_selected_action": [grade.pk], "apply": "1",
                             "functional": "F-B", "reason": "chipped fan shroud"}, follow=True)
    assert b"Override grades: 1 done" in done.content
    assert unit.grades.first().override_reason == "chipped fan shroud"

    certificate = certificate_issue(unit=unit)
    done = client.post("/admin/grading/certificate/", {"action": "revoke", "_selected_action": [certificate.pk],
                                                       "apply": "1", "reason": "sold twice"}, follow=True)
    assert b"Revoke certificates: 1 done" in done.content
    assert Certificate.objects.get().status_reason == "sold twice"

    client.force_login(technician)  # no such action offered, and a forged POST does nothing
    page = client.get(url)
    assert page.status_code == 200 and b'value="override"' not in page.content
    client.post(url, {"action": "override", "_selected_action": [grade.pk], "apply": "1", "functional": "FAIL",
                      "reason": "x"})
    assert unit.grades.first().functional == "F-B"


@pytest.mark.django_db
def test_an_override_of_a_grade_that_is_no_longer_current_is_a_conflict(make_units, walk, admin_user, client_for):
    unit = walk(make_units(1, lot="STALE-GRADE")[0], "graded")
    looked_at = unit.grades.get()
    grade_override(unit=unit, functional="F-B", reason="fan bearing audible", actor=admin_user)  # someone else
    response = client_for(admin_user).post(f"/api/grades/{looked_at.pk}/override/",
                                           {"functional": "F-C", "reason": "scratched fins"}, format="json")
    assert response.status_code == 409 and "is not" in response.json()["detail"]
    assert unit.grades.count() == 2  # nothing written


@pytest.mark.django_db
def test_one_grade_is_current_the_newest_also_after_the_migration_marks_them(make_units, reports):
    import importlib

    from django.apps import apps
    from django.db import IntegrityError, transaction

    unit = make_tested_unit(make_units, reports["vram_stuck_bit"])
    other = make_tested_unit(make_units, reports["healthy"], lot="G2")
    measured, _ = unit_grade(unit=unit), unit_grade(unit=other)
    first = grade_override(unit=unit, functional="F-C", reason="masked by the page retirement we applied")
    second = grade_override(unit=unit, functional="FAIL", reason="second opinion: no")
    assert list(Grade.objects.filter(unit=unit, is_current=True)) == [second]
    assert not Grade.objects.filter(pk__in=(measured.pk, first.pk), is_current=True).exists()
    with pytest.raises(IntegrityError), transaction.atomic():  # the database holds one current grade per card
        Grade.objects.filter(pk=first.pk).update(is_current=True)
    # Grades from before the flag: the migration marks each card's newest (by time, then id), whatever their order.
    Grade.objects.update(is_current=False)
    Grade.objects.filter(pk=first.pk).update(created_at=second.created_at)  # a tie: the higher id wins
    importlib.import_module("grading.migrations.0005_grade_is_current").mark_newest_current(apps, None)
    assert set(Grade.objects.filter(is_current=True).values_list("pk", flat=True)) == {
        second.pk, Grade.objects.get(unit=other).pk}
