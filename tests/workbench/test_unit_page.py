"""A card's page at the bench: the moves the role allows, each with its reason where the lifecycle wants one; a
repair record that sends a card from repair back to the test queue; a run started where the card is seated."""

import pytest

from core.errors import InvalidInput
from inventory.choices import EventKind, UnitState
from inventory.models import Unit
from inventory.services import unit_repair_record
from testbench.models import Bench, BenchSlot, TestRun
from testbench.services import slot_seat

from . import signed_in


def act(client, unit, **data):
    return client.post(f"/bench/unit/{unit.asset_tag}/act/", data, follow=True).content.decode()


@pytest.mark.django_db
def test_a_failed_card_goes_to_repair_with_a_reason_and_back_to_test_with_a_record(make_units, walk, technician):
    failed = walk(make_units(1, lot="UP-1")[0], "failed", failing=True)
    client = signed_in(technician)
    page = client.get(f"/bench/unit/{failed.asset_tag}/").content.decode()
    assert "Send to repair" in page and "Scrap" in page and 'value="graded"' not in page  # grading moves it there
    assert "reason: a reason is required" in act(client, failed, action="move", to_state="repair", reason="")
    assert "is now in repair" in act(client, failed, action="move", to_state="repair", reason="fan does not spin")
    page = client.get(f"/bench/unit/{failed.asset_tag}/").content.decode()
    assert "Repair record" in page and "Queue for test" not in page  # leaving repair is the record's
    assert "describe the repair marked other" in act(client, failed, action="repaired", actions=["other"])
    done = act(client, failed, action="repaired", actions=["fan_replaced", "repaste"], note="fan from donor card")
    assert "repaired and back in the test queue" in done
    unit = Unit.objects.get(pk=failed.pk)
    event = unit.events.latest("id")
    assert unit.state == UnitState.QUEUED and event.kind == EventKind.REPAIRED
    assert event.payload == {"actions": ["fan_replaced", "repaste"], "note": "fan from donor card"}
    assert "fan replaced, thermal paste renewed (fan from donor card)" in event.reason


@pytest.mark.django_db
def test_a_repair_record_is_refused_for_a_card_not_in_repair_or_without_what_was_done(make_units):
    (unit,) = make_units(1, lot="UP-2")
    with pytest.raises(InvalidInput, match="a repair is recorded for a card in repair"):
        unit_repair_record(unit=unit, actions=["repad"])
    with pytest.raises(InvalidInput, match="say what was done"):
        unit_repair_record(unit=unit, actions=[])
    with pytest.raises(InvalidInput, match="'glue': not a repair"):
        unit_repair_record(unit=unit, actions=["glue"])


@pytest.mark.django_db
def test_a_seated_card_starts_a_run_from_its_page_and_roles_limit_the_moves(make_units, technician, reseller):
    (unit,) = make_units(1, lot="UP-3")
    bench = Bench.objects.create(name="bench-ui", simulated=True)
    slot = BenchSlot.objects.create(bench=bench, index=0, device={"profiles": ["healthy"]})
    slot_seat(slot=slot, unit=unit)
    client = signed_in(technician)
    page = client.get(f"/bench/unit/{unit.asset_tag}/").content.decode()
    assert "Seated in <b>bench-ui</b>, slot 0" in page and "Start the test" in page
    assert "run queued for" in act(client, unit, action="queue", plan="quick")
    assert TestRun.objects.filter(unit=unit, plan="quick").exists()
    assert "plan: unknown plan" in act(client, unit, action="queue", plan="forever")
    reseller_page = signed_in(reseller).get(f"/bench/unit/{unit.asset_tag}/").content.decode()
    assert "Start the test" not in reseller_page and "Mark inspected" not in reseller_page
    assert signed_in(reseller).post(f"/bench/unit/{unit.asset_tag}/act/",
                                    {"action": "move", "to_state": "scrapped", "reason": "x"}).status_code == 403


@pytest.mark.django_db
def test_the_page_shows_where_the_memory_failed_and_the_sensors_over_the_run(make_units, walk, technician):
    from testbench.models import CheckResultRecord, RunTelemetry

    failed = walk(make_units(1, lot="UP-4")[0], "failed", failing=True)
    vram = CheckResultRecord.objects.get(run__unit=failed, name="vram")
    vram.evidence = {"first_errors": [{"address": "0x7f3a00001000", "pattern": "moving_inversions",
                                       "expected": "0xffffffff", "actual": "0xfffffffb", "xor": "0x00000004",
                                       "kind": "cell"}],
                     "bit_histogram": [0, 0, 2] + [0] * 29, "diagnosis": "one stuck bit (bit 2)"}
    vram.save()
    RunTelemetry.objects.update_or_create(run=vram.run, defaults={"samples": 3, "columns": {
        "time": [0, 1, 2], "gpu_temp_c": [40, 60, 70], "sm_clock_mhz": [1800, 1790, 1700], "power_w": [100, 300, 310]}})
    page = signed_in(technician).get(f"/bench/unit/{failed.asset_tag}/").content.decode()
    assert "Where the memory failed" in page and "0x7f3a00001000" in page and "one stuck bit (bit 2)" in page
    assert 'aria-label="VRAM errors per data bit"' in page and "Sensors during the run" in page
    assert page.count("<svg") >= 2 and "<script" not in page.split("<main>")[1]


@pytest.mark.django_db
def test_a_tested_card_is_graded_by_a_technician_and_certified_by_who_may(make_units, walk, technician, reseller):
    tested = walk(make_units(1, lot="UP-5")[0], "tested")
    tech = signed_in(technician)
    page = tech.get(f"/bench/unit/{tested.asset_tag}/").content.decode()
    assert "Grade it from its last run" in page and "Issue the certificate" not in page
    assert "graded F-A/A" in act(tech, tested, action="grade")
    assert "Issue the certificate" not in tech.get(f"/bench/unit/{tested.asset_tag}/").content.decode()
    assert tech.post(f"/bench/unit/{tested.asset_tag}/act/", {"action": "certify"}).status_code == 403
    done = act(signed_in(reseller), tested, action="certify")
    tested.refresh_from_db()
    assert "certified: certificate" in done and tested.state == "certified"
    assert "a certificate is issued for a graded card" in act(signed_in(reseller), tested, action="certify")
