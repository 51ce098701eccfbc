"""`manage.py bench run`: every card at once in its own worker process, each matched to its unit (or taken in), results
stored through the run services, a table or JSON out, and an exit status scripts can trust (0 / 1 / 2)."""

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from grading.services import certificate_issue, unit_grade
from inventory.choices import UnitState
from inventory.models import Lot, Unit, UnitEvent
from inventory.services import IntakeRow, inspection_record, intake_import, unit_transition
from resale.services import listing_create, listing_publish
from testbench.choices import RunState
from testbench.hardware.discovery import simulated_specs
from testbench.models import CheckResultRecord, TestRun
from testbench.plans import PLANS

ROOT = Path(__file__).resolve().parents[2]


def bench(*args) -> tuple[list[dict], int]:
    """Run the command with --json; (the cards, its exit status)."""
    out = StringIO()
    try:
        call_command("bench", "run", *args, "--json", stdout=out, stderr=StringIO())
        status = 0
    except CommandError as exc:
        status = exc.returncode
    return json.loads(out.getvalue()), status


def by_faults(cards: list[dict]) -> dict[str, dict]:
    return {"+".join(card["faults"]): card for card in cards}


def check(card: dict, name: str) -> dict:
    return next(c for c in card["checks"] if c["name"] == name)


@pytest.mark.django_db(transaction=True)
def test_a_mixed_batch_is_tested_at_once_and_recorded(catalog):
    cards, status = bench("--simulate", "4", "--faults", "healthy,vram_stuck_bit,pcie_degraded,fake_model",
                          "--bench", "bench-07")
    assert status == 1  # a card failed
    assert [c["device"] for c in cards] == ["sim0", "sim1", "sim2", "sim3"]
    card = by_faults(cards)
    assert card["healthy"]["verdict"] == "pass"
    assert card["vram_stuck_bit"]["verdict"] == "fail"
    assert "one bad cell: bit" in check(card["vram_stuck_bit"], "vram")["summary"]
    assert card["pcie_degraded"]["verdict"] == "warn"
    assert "gen1 x1" in check(card["pcie_degraded"], "pcie")["summary"]
    assert card["fake_model"]["verdict"] == "fail"
    assert "PCI id" in check(card["fake_model"], "identity")["summary"]
    for c in cards:
        assert [x["name"] for x in c["checks"]] == list(PLANS["quick"])
        assert c["asset_tag"].startswith("RF-") and c["serial"].startswith("SIM") and c["taken_in"]

    # Taken in to the bench's lot, each with one finished run, its results and events through the lifecycle.
    lot = Lot.objects.get(reference="BENCH-bench-07")
    assert lot.units.count() == 4
    for c in cards:
        unit = Unit.objects.get(asset_tag=c["asset_tag"])
        run = TestRun.objects.get(unit=unit)
        assert run.pk == c["run"] and run.bench.name == "bench-07" and run.bench.simulated
        assert run.state == (RunState.PASSED if c["verdict"] in ("pass", "warn") else RunState.FAILED)
        assert run.identity["uuid"] == unit.nvml_uuid and run.software["torch"]
        assert CheckResultRecord.objects.filter(run=run).count() == len(PLANS["quick"])
        assert unit.state == (UnitState.TESTED if c["verdict"] in ("pass", "warn") else UnitState.FAILED)
        trail = list(UnitEvent.objects.filter(unit=unit).order_by("id").values_list("from_state", "to_state"))
        assert trail == [("", "received"), ("received", "queued"), ("queued", "testing"),
                         ("testing", unit.state)]
    assert Unit.objects.get(asset_tag=card["fake_model"]["asset_tag"]).gpu_model.slug == "geforce-rtx-3090"


@pytest.mark.django_db(transaction=True)
def test_all_passing_exits_zero_and_a_rerun_retests_the_same_units_against_the_fleet(catalog):
    first, status = bench("--simulate", "5", "--models", "geforce-rtx-3080")
    assert status == 0 and {c["verdict"] for c in first} <= {"pass", "warn"}
    assert all(check(c, "performance")["metrics"]["basis"] == "datasheet" for c in first)

    second, status = bench("--simulate", "5", "--models", "geforce-rtx-3080")
    assert status == 0
    assert [c["asset_tag"] for c in second] == [c["asset_tag"] for c in first]  # matched by NVML UUID
    assert not any(c["taken_in"] for c in second) and Unit.objects.count() == 5
    performance = check(second[0], "performance")["metrics"]
    assert performance["basis"] == "fleet median" and performance["fleet_cards"] == 5
    assert 0.9 < performance["fp32_tflops_vs_fleet"] < 1.1
    unit = Unit.objects.get(asset_tag=first[0]["asset_tag"])
    assert unit.test_runs.count() == 2
    assert UnitEvent.objects.filter(unit=unit, from_state="tested", to_state="queued").count() == 1


def sim_identity(index=0):
    device = simulated_specs(index + 1)[index].open()
    return device.identity()


@pytest.mark.django_db(transaction=True)
def test_a_card_already_in_inventory_is_matched_by_serial_and_a_sold_one_is_refused(catalog):
    serial = sim_identity(0).serial
    _, (known,) = intake_import(lot_reference="LOT-9", lot_fields={"currency": "EUR"}, actor_label="test",
                                rows=[IntakeRow(1, {"model": "RTX 3080", "board_vendor": "MSI", "serial": serial})])
    cards, status = bench("--simulate", "2")
    assert status == 0
    assert cards[0]["asset_tag"] == known.asset_tag and not cards[0]["taken_in"]
    known.refresh_from_db()
    assert known.nvml_uuid == sim_identity(0).uuid and known.state == UnitState.TESTED

    inspection_record(unit=known, cosmetic_grade="A", fan_condition="ok")
    unit_grade(unit=known)
    certificate_issue(unit=known)
    listing_publish(listing=listing_create(units=[known], channel="storefront", price="400"))
    runs = TestRun.objects.count()
    cards, status = bench("--simulate", "2")
    assert status == 1
    assert cards[0]["verdict"] == "error" and f"{known.asset_tag} is listed" in cards[0]["error"]
    assert cards[1]["verdict"] == "pass"  # the other card is tested all the same
    assert TestRun.objects.count() == runs + 1


@pytest.mark.django_db(transaction=True)
def test_a_card_lost_mid_run_errors_and_the_others_finish(catalog):
    cards, status = bench("--simulate", "2", "--faults", "fell_off_bus,healthy")
    assert status == 1
    lost, healthy = cards
    assert lost["verdict"] == "error" and any("device lost" in c["summary"] for c in lost["checks"])
    assert healthy["verdict"] == "pass"
    assert Unit.objects.get(asset_tag=lost["asset_tag"]).state == UnitState.FAILED


@pytest.mark.django_db
@pytest.mark.parametrize(("args", "message"), [
    (["--simulate", "2", "--faults", "healthy,melted"], "unknown fault profile(s): melted"),
    (["--faults", "vram_stuck_bit"], "--faults applies to simulated cards"),
    (["--simulate", "0"], "--simulate must be between 1 and 64"),
    (["--simulate", "2", "--models", "rtx-9999"], "unknown model(s): rtx-9999"),
    (["--simulate", "1", "--parallel", "0"], "--parallel must be at least 1"),
])
def test_usage_errors_exit_2_and_test_nothing(catalog, args, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
        call_command("bench", "run", *args, stdout=StringIO(), stderr=StringIO())
    assert caught.value.returncode == 2
    assert not TestRun.objects.exists()


@pytest.mark.django_db
def test_a_host_without_gpus_needs_simulate(catalog, monkeypatch):
    import testbench.management.commands.bench as command

    monkeypatch.setattr(command, "nvml_specs", list)  # what discovery returns on a host with no NVIDIA driver
    with pytest.raises(CommandError, match="no NVIDIA GPU found on this host") as caught:
        call_command("bench", "run", stdout=StringIO(), stderr=StringIO())
    assert caught.value.returncode == 2


@pytest.mark.django_db(transaction=True)
def test_a_simulated_batch_cannot_run_on_a_real_bench(catalog):
    from testbench.models import Bench

    Bench.objects.create(name="bench-01", simulated=False)
    with pytest.raises(CommandError, match="bench bench-01 tests real cards") as caught:
        call_command("bench", "run", "--simulate", "1", "--bench", "bench-01", stdout=StringIO(),
                     stderr=StringIO())
    assert caught.value.returncode == 2


@pytest.mark.database_independent
def test_the_real_command_line_exits_2_on_bad_arguments(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    result = subprocess.run([sys.executable, "manage.py", "bench", "run", "--plan", "nope"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "invalid choice: 'nope'" in result.stderr


@pytest.mark.django_db(transaction=True)
def test_a_worker_that_crashes_leaves_an_error_result_not_a_card_stuck_in_testing(catalog, monkeypatch):
    import testbench.orchestration.workers

    class CrashingProcess:
        def run(self, job, *, on_event, tick=None):
            on_event("crashed", job.key, "Traceback (most recent call last):\nRuntimeError: driver went away")
            return True

        def stop(self):
            pass

    monkeypatch.setattr(testbench.orchestration.workers, "card_process", lambda key, simulated: CrashingProcess())
    cards, status = bench("--simulate", "1")
    assert status == 1 and cards[0]["verdict"] == "error"
    assert cards[0]["error"] == "RuntimeError: driver went away"
    run = TestRun.objects.get(pk=cards[0]["run"])
    assert run.state == RunState.ERROR and run.results.get().name == "worker"
    assert run.unit.state == UnitState.FAILED
    assert "driver went away" in UnitEvent.objects.filter(unit=run.unit).latest("id").reason


LOT_SHEET = [("RTX 3080", "MSI", "L-3080"), ("RTX 3070", "Gigabyte", "MISSING"), ("RX 580", "Sapphire", "L-580"),
             ("RTX 3090", "Palit", "L-3090"), ("RTX 3060", "Zotac", "L-3060")]


@pytest.mark.django_db(transaction=True)
def test_a_lot_is_tested_on_simulated_slots_seated_with_its_own_nvidia_cards(catalog):
    _, units = intake_import(lot_reference="LOT-SIM", actor_label="test", lot_fields={"demo": True}, rows=[
        IntakeRow(i + 2, {"model": m, "board_vendor": v, "serial": s}) for i, (m, v, s) in enumerate(LOT_SHEET)])
    by_model = {u.gpu_model.slug: u for u in units}
    cards, status = bench("--simulate", "3", "--lot", "LOT-SIM", "--faults", "healthy,vram_stuck_bit,healthy")
    assert status == 1  # the card dealt a stuck bit failed; the cards not tested do not count either way
    assert Unit.objects.count() == 5  # nothing taken in: the slots hold the lot's own cards
    assert [(c["asset_tag"], c["verdict"]) for c in cards] == [
        (by_model["geforce-rtx-3080"].asset_tag, "pass"), (by_model["geforce-rtx-3070"].asset_tag, "fail"),
        (by_model["geforce-rtx-3090"].asset_tag, "pass"), (by_model["radeon-rx-580"].asset_tag, "not tested"),
        (by_model["geforce-rtx-3060"].asset_tag, "not tested")]
    assert cards[3]["error"].endswith("not an NVIDIA card: not testable on this bench")
    assert "no free slot on this bench (3 slots)" in cards[4]["error"]
    for card in cards[:3]:
        unit = Unit.objects.get(asset_tag=card["asset_tag"])
        run = TestRun.objects.get(unit=unit)
        # The stand-in reports the unit's own serial (none for the card whose sticker is gone) and a UUID of its own.
        assert run.identity["serial"] == (unit.serial or None) and unit.nvml_uuid.startswith("GPU-")
        assert run.identity["uuid"] == unit.nvml_uuid
        assert run.identity["name"].endswith(unit.gpu_model.name)
    assert len({Unit.objects.get(asset_tag=c["asset_tag"]).nvml_uuid for c in cards[:3]}) == 3
    assert Unit.objects.get(asset_tag=cards[3]["asset_tag"]).state == UnitState.RECEIVED

    # A second batch: the 3060 gets its slot; the cards tested already are left alone (a retest is queued by hand).
    cards, status = bench("--simulate", "4", "--lot", "LOT-SIM")
    assert status == 0
    assert [c["asset_tag"] for c in cards if c["verdict"] == "pass"] == [by_model["geforce-rtx-3060"].asset_tag]
    left = {c["asset_tag"]: c["error"] for c in cards if c["verdict"] == "not tested"}
    assert "tested already (queue it to test it again)" in left[by_model["geforce-rtx-3070"].asset_tag]
    assert len(left) == 4

    # Queued again by hand, a card keeps its UUID from batch to batch: the same card, the same GPU.
    failed = Unit.objects.get(asset_tag=by_model["geforce-rtx-3070"].asset_tag)
    uuid = failed.nvml_uuid
    unit_transition(unit=failed, to_state=UnitState.QUEUED, actor_label="test", reason="retest")
    cards, status = bench("--simulate", "4", "--lot", "LOT-SIM")
    assert status == 0 and [c["asset_tag"] for c in cards if c["verdict"] == "pass"] == [failed.asset_tag]
    failed.refresh_from_db()
    assert failed.nvml_uuid == uuid and TestRun.objects.filter(unit=failed).count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(("args", "message"), [
    (["--simulate", "2", "--lot", "NOPE"], "no lot 'NOPE'"),
    (["--simulate", "2", "--lot", "REAL-1"], "lot REAL-1 holds real cards: simulated cards stand in only for a "
                                             "demonstration lot's"),
    (["--simulate", "2", "--lot", "L", "--models", "geforce-rtx-3080"], "--models does not apply with --lot"),
])
def test_lot_usage_errors_exit_2(catalog, args, message):
    intake_import(lot_reference="REAL-1", actor_label="test",
                  rows=[IntakeRow(2, {"model": "RTX 3080", "board_vendor": "MSI", "serial": "REAL-0001"})])
    with pytest.raises(CommandError, match=message) as caught:
        call_command("bench", "run", *args, stdout=StringIO(), stderr=StringIO())
    assert caught.value.returncode == 2 and not TestRun.objects.exists()


@pytest.mark.django_db
def test_an_amd_card_cannot_be_queued_on_an_nvidia_bench(catalog):
    from testbench.services import unit_untestable_reason

    _, (amd, nvidia) = intake_import(lot_reference="LOT-AMD", actor_label="test", rows=[
        IntakeRow(2, {"model": "RX 6600 XT", "board_vendor": "PowerColor", "serial": "P-1"}),
        IntakeRow(3, {"model": "RTX 3070", "board_vendor": "MSI", "serial": "P-2"})])
    assert unit_untestable_reason(amd) == f"{amd.asset_tag}: not an NVIDIA card: not testable on this bench"
    assert unit_untestable_reason(nvidia) == ""
