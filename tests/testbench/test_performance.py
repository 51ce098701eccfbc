"""Performance against what a good card of the model delivers: calibrated on this CPU for simulated cards, the
datasheet × typical efficiency for real ones, or the fleet median once five cards of the model were tested."""

import pytest

from testbench.checks.base import CheckContext, CheckStatus, run_check
from testbench.checks.performance import EFFICIENCY, measure, performance_check
from testbench.hardware.simulated import SimulatedDevice
from testbench.reference import catalog_references

from .conftest import SEEDS, SIM_MEMORY

pytestmark = pytest.mark.database_independent

RTX_3080 = catalog_references()["geforce-rtx-3080"]
PARAMS = {"copy_mib": 4, "gemm_size": 256, "repeats": 7, "dtypes": ("fp32", "bf16")}
MEMORY = 4 * SIM_MEMORY  # a 4 MiB copy runs out of cache, which measures steadier than a 1 MiB one


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # As on a simulated bench, where each card's process runs its kernels on one CPU thread: timings on a shared
    # two-core machine vary by ±15% with two threads and by ±2% with one.
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def calibrated(one_thread):
    """What a healthy simulated card measures on this machine: the 'expected' of a simulated bench."""
    return measure(SimulatedDevice(memory_bytes=MEMORY), **PARAMS)


def run_perf(device, **params):
    return run_check("performance", performance_check, CheckContext(device), reference=RTX_3080,
                     **{**PARAMS, **params})


@pytest.mark.parametrize("seed", SEEDS)
def test_healthy_cards_perform_as_expected(make_device, calibrated, seed):
    result = run_perf(make_device(seed=seed, memory_bytes=MEMORY), expected=calibrated)
    assert result.status != CheckStatus.FAIL, result.summary
    assert result.metrics["basis"] == "calibrated" and result.metrics["worst_ratio"] >= 0.75


@pytest.mark.parametrize("seed", SEEDS)
def test_a_clock_capped_card_underperforms_in_compute_not_memory(make_device, calibrated, seed):
    result = run_perf(make_device("underperformer", seed=seed, memory_bytes=MEMORY), expected=calibrated)
    assert result.status == CheckStatus.FAIL and "underperforms" in result.summary
    compute, memory = result.metrics["fp32_tflops_vs_expected"], result.metrics["memory_bandwidth_gbs_vs_expected"]
    assert compute < 0.75 and "fp32 tflops" in result.summary
    assert memory > compute + 0.2  # the core clock is capped, not the memory clock


def test_fleet_median_replaces_the_datasheet_from_five_cards(make_device, calibrated):
    fleet = {key: value * 2 for key, value in calibrated.items()}  # a fleet twice as fast as this card
    result = run_perf(make_device(memory_bytes=MEMORY), expected=calibrated, fleet=fleet, fleet_cards=4)
    assert result.metrics["basis"] == "calibrated" and result.status != CheckStatus.FAIL
    result = run_perf(make_device(memory_bytes=MEMORY), expected=calibrated, fleet=fleet, fleet_cards=5)
    assert result.metrics["basis"] == "fleet median" and result.status == CheckStatus.FAIL
    assert 0.4 < result.metrics["fp32_tflops_vs_fleet"] < 0.6


def test_without_calibration_a_cpu_is_no_rtx_3080(make_device):
    # The datasheet basis is for real cards: measured on the CPU it must fail, or the ratios mean nothing.
    result = run_perf(make_device(memory_bytes=MEMORY))
    assert result.metrics["basis"] == "datasheet" and result.status == CheckStatus.FAIL
    expected = RTX_3080.fp32_tflops * EFFICIENCY["fp32_tflops"]
    assert result.metrics["fp32_tflops_vs_expected"] == pytest.approx(result.metrics["fp32_tflops"] / expected,
                                                                      abs=0.001)
