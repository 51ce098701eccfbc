"""The admin's rough edges seen when walking the screens: the card list shows the functional grade beside the
cosmetic one, a card's page links its runs, grades, certificates and its page at the bench, runs and grades are
named by asset tag, the current grade is marked among the earlier ones, and check durations are rounded."""

import pytest

from grading.models import Grade
from grading.services import grade_override, unit_grade
from testbench.models import CheckResultRecord, TestRun

from . import signed_in


@pytest.mark.django_db
def test_the_admin_names_cards_marks_the_current_grade_and_links_the_records(make_units, walk, admin_user):
    failed = walk(make_units(1, lot="ADM-E")[0], "failed", failing=True)
    unit_grade(unit=failed)
    grade_override(unit=failed, functional="F-C", reason="bad cell masked by page retirement", actor=admin_user)
    client = signed_in(admin_user)
    units = client.get("/admin/inventory/unit/").content.decode()
    assert "F-C/A" in units  # the current functional grade, then the cosmetic one
    page = client.get(f"/admin/inventory/unit/{failed.pk}/change/").content.decode()
    assert f"/admin/testbench/testrun/?q={failed.asset_tag}" in page and f"/bench/unit/{failed.asset_tag}/" in page
    run = TestRun.objects.get(unit=failed)
    assert str(run) == f"quick run {run.pk} of {failed.asset_tag} (failed)"
    current, earlier = Grade.objects.filter(unit=failed).order_by("-id")
    assert str(current).endswith("F-C/A (current)") and "(current)" not in str(earlier)
    grades = client.get("/admin/grading/grade/", {"is_current__exact": "1"}).content.decode()
    assert grades.count(f"{failed.asset_tag}: ") == 1
    CheckResultRecord.objects.filter(run=run, name="vram").update(duration_s=12.3456789)
    run_page = client.get(f"/admin/testbench/testrun/{run.pk}/change/").content.decode()
    assert "12 s" in run_page and "12.3456789" not in run_page
