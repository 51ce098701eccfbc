"""A card outside the catalog on a bench, with the database: taken in under a model described by the card itself,
tested, graded with "no reference", and judged against its own fleet once five cards of it were tested."""

import dataclasses

import pytest

from grading.services import unit_grade
from inventory.models import GpuModel
from inventory.services import catalog_load, inspection_record
from resale.services import listing_create
from testbench.hardware.simulated import SimulatedDevice, board_spec
from testbench.plans import SIM_SIZES
from testbench.reference import reference_from_model
from testbench.runner import run_plan
from testbench.selectors import fleet_baseline
from testbench.services import bench_for_host, run_create, run_finish, run_start, unit_for_device

# Identity and performance: what the catalog would have given a reference for, the rest of a plan as usual.
PLAN = {"identity": {}, "performance": dict(SIM_SIZES["performance"])}
A800 = dataclasses.replace(board_spec("a100-pcie-80gb"), slug="a800-80gb-pcie", name="A800 80GB PCIe",
                           pci_device_ids=("20f5",))


def seated_and_tested(bench, index):
    device = SimulatedDevice(spec=A800, index=index, seed=index, memory_bytes=16 * 2**20, time_scale=120.0)
    identity = device.identity().as_dict()
    unit, taken_in = unit_for_device(identity=identity, bench=bench)
    assert taken_in
    inspection_record(unit=unit, cosmetic_grade="A", fan_condition="ok")
    fleet, cards = fleet_baseline(gpu_model_id=unit.gpu_model_id, simulated=True)
    report = run_plan(device, declared=reference_from_model(unit.gpu_model), plan=PLAN, fleet=fleet,
                      fleet_cards=cards)
    run = run_start(run=run_create(unit=unit, plan="quick", bench=bench), identity=identity, software={})
    run_finish(run=run, report=report)
    unit.refresh_from_db()
    return unit, report


@pytest.mark.django_db
def test_a_card_outside_the_catalog_is_tested_and_judged_by_its_fleet_from_five_cards():
    catalog_load()
    bench = bench_for_host("bench-unknown", simulated=True)
    first, report = seated_and_tested(bench, 0)
    model = first.gpu_model
    assert model.slug == "uncatalogued-10de-20f5" and not model.catalogued and model.name == "A800 80GB PCIe"
    assert model.memory_bandwidth_gbs is None and float(model.vram_gib) == pytest.approx(80, abs=0.1)
    assert "bench bench-unknown" in model.source
    codes = {f.code for c in report.checks for f in c.findings}
    assert codes == {"identity.not_in_catalog", "performance.no_reference"}  # the name matches: no mismatch
    assert first.state == "tested"

    grade = unit_grade(unit=first)
    assert grade.functional == "F-B"
    sentences = " ".join(r["sentence"] for r in grade.reasons)
    assert "not in the catalog" in sentences and "no reference for A800 80GB PCIe yet (0 of 5 cards" in sentences

    for index in range(1, 5):
        seated_and_tested(bench, index)
    assert GpuModel.objects.filter(slug__startswith="uncatalogued-").count() == 1  # one model for them all
    sixth, report = seated_and_tested(bench, 5)
    performance = next(c for c in report.checks if c.name == "performance")
    assert performance.metrics["basis"] == "fleet median" and performance.metrics["fleet_cards"] == 5
    assert performance.status == "pass" and 0.9 < performance.metrics["memory_bandwidth_gbs_vs_fleet"] < 1.1
    assert {f.code for c in report.checks for f in c.findings} == {"identity.not_in_catalog"}


@pytest.mark.django_db
def test_a_listing_of_such_a_card_quotes_no_datasheet(walk, make_units):
    catalog_load()
    bench = bench_for_host("bench-unknown", simulated=True)
    unit, _ = seated_and_tested(bench, 0)
    unit_grade(unit=unit)
    walk(unit, "certified")
    listing = listing_create(units=[unit], channel="storefront", price="9000.00")
    assert "not a model in our catalog, so the figures below are what we measured on the card" in \
        listing.description
    assert "None" not in listing.description and "-bit bus" not in listing.description
