"""The fleet baseline: the median of each performance metric over the latest healthy result of each card of a model,
with simulated and real benches kept apart."""

import pytest
from django.utils import timezone

from testbench.models import Bench, CheckResultRecord, TestRun
from testbench.selectors import fleet_baseline


def performance_result(unit, bench, fp32, status="pass", minutes=0):
    run = TestRun.objects.create(unit=unit, bench=bench, plan="quick", state="passed",
                                 finished_at=timezone.now() + timezone.timedelta(minutes=minutes))
    CheckResultRecord.objects.create(run=run, position=0, name="performance", status=status, summary="",
                                     metrics={"fp32_tflops": fp32, "memory_bandwidth_gbs": 700.0, "basis": "x"})


@pytest.mark.django_db
def test_median_of_the_latest_healthy_result_per_card(make_units):
    sim = Bench.objects.create(name="b-sim", simulated=True)
    real = Bench.objects.create(name="b-real", simulated=False)
    units = make_units(5, lot="L1")
    for unit, fp32 in zip(units, [20.0, 21.0, 22.0, 23.0, 24.0], strict=True):
        performance_result(unit, sim, fp32)
    performance_result(units[0], sim, 30.0, minutes=5)  # a retest: the latest counts, once per card
    performance_result(units[1], sim, 1.0, status="fail", minutes=5)  # an underperformer is no baseline
    performance_result(units[2], real, 99.0)  # a real bench is another fleet
    (other,) = make_units(1, lot="L2", model="RTX 3070")
    performance_result(other, sim, 15.0)

    medians, cards = fleet_baseline(gpu_model_id=units[0].gpu_model_id, simulated=True)
    assert cards == 5
    assert medians == {"fp32_tflops": 23.0, "memory_bandwidth_gbs": 700.0}  # median of 30, 21, 22, 23, 24
    medians, cards = fleet_baseline(gpu_model_id=units[0].gpu_model_id, simulated=False)
    assert (medians["fp32_tflops"], cards) == (99.0, 1)
    assert fleet_baseline(gpu_model_id=other.gpu_model_id, simulated=False) == ({}, 0)
