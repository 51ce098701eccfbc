"""The demo commands `make run` uses: demo_setup takes in the demo lot, marked as one; demo_inspect inspects only the
demo lot's and the bench's never-inspected cards."""

from io import StringIO

import pytest
from django.core.management import call_command

from inventory.services import inspection_record


@pytest.mark.django_db
def test_demo_inspect_deals_grades_to_the_benchs_uninspected_cards_only(make_units):
    benched = make_units(5, lot="BENCH-demo")
    inspection_record(unit=benched[0], cosmetic_grade="D", fan_condition="noisy")
    (other,) = make_units(1, lot="LOT-REAL")
    out = StringIO()
    call_command("demo_inspect", stdout=out)
    assert out.getvalue().strip() == "inspected 4 demo card(s)"
    grades = {u.asset_tag: u.cosmetic_grade for u in benched[0].lot.units.all()}
    assert sorted(grades.values()) == ["A", "A", "B", "C", "D"]  # dealt A, B, A, C; the inspected one kept its D
    other.refresh_from_db()
    assert other.cosmetic_grade == "" and not other.inspections.exists()
    call_command("demo_inspect", stdout=out)  # nothing left to do on a rerun
    assert out.getvalue().strip().endswith("inspected 0 demo card(s)")


@pytest.mark.django_db
def test_the_demo_lot_is_marked_and_its_cards_keep_the_grades_written_at_intake(catalog):
    from inventory.models import Lot

    call_command("demo_setup", stdout=StringIO())
    lot = Lot.objects.get(reference="DEMO-001")
    assert lot.demo and lot.units.count() == 12  # the one lot simulated stand-ins may be seated for
    written = {u.pk: u.cosmetic_grade for u in lot.units.all() if u.cosmetic_grade}
    call_command("demo_inspect", stdout=StringIO())
    units = list(lot.units.all())
    assert all(u.inspections.count() == 1 and u.state == "inspected" for u in units)
    assert all(u.cosmetic_grade == written[u.pk] for u in units if u.pk in written) and written
