"""Performance against what a good card of the model delivers: the datasheet × typical efficiency, or the fleet
median once five cards of the model were tested. Timed on the device's clock: on a simulated card that is its
model of an RTX 3080 (the CPU's own speed does not count), while every copy and GEMM really runs."""

import pytest

from testbench.checks.base import CheckContext, CheckStatus, run_check
from testbench.checks.performance import EFFICIENCY, measure, performance_check
from testbench.hardware.simulated import SimulatedDevice
from testbench.reference import catalog_references

from .conftest import SEEDS, SIM_MEMORY

pytestmark = pytest.mark.database_independent

RTX_3080 = catalog_references()["geforce-rtx-3080"]
GTX_1070 = catalog_references()["geforce-gtx-1070"]
PARAMS = {"copy_mib": 2, "gemm_size": 128, "repeats": 3, "min_timed_s": 0.0}


def run_perf(device, reference=RTX_3080, **params):
    return run_check("performance", performance_check, CheckContext(device), reference=reference,
                     **{**PARAMS, **params})


@pytest.mark.parametrize("seed", SEEDS)
def test_healthy_cards_perform_as_their_datasheet_says(make_device, seed):
    result = run_perf(make_device(seed=seed))
    assert result.status == CheckStatus.PASS, result.summary
    assert result.metrics["basis"] == "datasheet" and result.metrics["worst_ratio"] >= 0.9
    expected = RTX_3080.fp32_tflops * EFFICIENCY["fp32_tflops"]
    assert result.metrics["fp32_tflops_vs_expected"] == pytest.approx(result.metrics["fp32_tflops"] / expected,
                                                                      abs=0.001)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_clock_capped_card_underperforms_in_compute_not_memory(make_device, seed):
    result = run_perf(make_device("underperformer", seed=seed))
    assert result.status == CheckStatus.FAIL and "underperforms" in result.summary
    compute, memory = result.metrics["fp32_tflops_vs_expected"], result.metrics["memory_bandwidth_gbs_vs_expected"]
    assert compute < 0.75 and "fp32 tflops" in result.summary
    assert memory > 0.9  # the core clock is capped, not the memory clock


def test_a_pascal_card_is_not_asked_for_bf16(make_device):
    result = run_perf(make_device(slug="geforce-gtx-1070"), reference=GTX_1070)
    assert "bf16_tflops" not in result.metrics and result.metrics["fp32_tflops"] > 0


def test_fleet_median_replaces_the_datasheet_from_five_cards(make_device):
    measured = measure(make_device(), dtypes=("fp32", "fp16", "bf16"), **PARAMS)
    fleet = {key: value * 2 for key, value in measured.items()}  # a fleet twice as fast as this card
    result = run_perf(make_device(), fleet=fleet, fleet_cards=4)
    assert result.metrics["basis"] == "datasheet" and result.status == CheckStatus.PASS
    result = run_perf(make_device(), fleet=fleet, fleet_cards=5)
    assert result.metrics["basis"] == "fleet median" and result.status == CheckStatus.FAIL
    assert 0.4 < result.metrics["fp32_tflops_vs_fleet"] < 0.6


def test_a_card_that_cannot_allocate_the_copy_is_an_error(make_device):
    device = make_device(memory_bytes=SIM_MEMORY)
    result = run_perf(device, copy_mib=4)  # 2 × 4 MiB on a 4 MiB card
    assert result.status == CheckStatus.ERROR and "could not start" in result.summary


def test_the_device_clock_is_the_cards_not_the_hosts():
    # A slower host (here: the same work while another thread hogs the interpreter) does not change the rate a
    # simulated card reports; the work itself really ran (the result is the real product).
    import threading

    import torch

    device = SimulatedDevice(seed=3)
    a = torch.rand(64, 64)
    quiet = device.timed(lambda: device.matmul(a, a))
    stop = threading.Event()
    hog = threading.Thread(target=lambda: [sum(range(1000)) for _ in iter(stop.is_set, True)])
    hog.start()
    try:
        product = []
        busy = device.timed(lambda: product.append(device.matmul(a, a)))
    finally:
        stop.set()
        hog.join()
    assert busy == pytest.approx(quiet, rel=0.1)
    assert torch.allclose(product[0], a @ a)
