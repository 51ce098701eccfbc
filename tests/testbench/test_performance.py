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
PARAMS = {"copy_mib": 1, "gemm_size": 256, "repeats": 7, "dtypes": ("fp32", "bf16")}


@pytest.fixture(scope="module")
def calibrated():
    """What a healthy simulated card measures on this machine: the 'expected' of a simulated bench."""
    return measure(SimulatedDevice(memory_bytes=SIM_MEMORY), **PARAMS)


def run_perf(device, **params):
    return run_check("performance", performance_check, CheckContext(device), reference=RTX_3080,
                     **{**PARAMS, **params})


@pytest.mark.parametrize("seed", SEEDS)
def test_healthy_cards_perform_as_expected(make_device, calibrated, seed):
    result = run_perf(make_device(seed=seed), expected=calibrated)
    assert result.status != CheckStatus.FAIL, result.summary
    assert result.metrics["basis"] == "calibrated" and result.metrics["worst_ratio"] > 0.8


@pytest.mark.parametrize("seed", SEEDS)
def test_a_clock_capped_card_underperforms_in_compute_not_memory(make_device, calibrated, seed):
    result = run_perf(make_device("underperformer", seed=seed), expected=calibrated)
    assert result.status == CheckStatus.FAIL and "underperforms" in result.summary
    assert result.metrics["fp32_tflops_vs_expected"] < 0.75
    assert result.metrics["memory_bandwidth_gbs_vs_expected"] > 0.8
    assert "fp32 tflops" in result.summary and "memory bandwidth" not in result.summary


def test_fleet_median_replaces_the_datasheet_from_five_cards(make_device, calibrated):
    fleet = {key: value * 2 for key, value in calibrated.items()}  # a fleet twice as fast as this card
    result = run_perf(make_device(), expected=calibrated, fleet=fleet, fleet_cards=4)
    assert result.metrics["basis"] == "calibrated" and result.status != CheckStatus.FAIL
    result = run_perf(make_device(), expected=calibrated, fleet=fleet, fleet_cards=5)
    assert result.metrics["basis"] == "fleet median" and result.status == CheckStatus.FAIL
    assert 0.4 < result.metrics["fp32_tflops_vs_fleet"] < 0.6


def test_without_calibration_a_cpu_is_no_rtx_3080(make_device):
    # The datasheet basis is for real cards: measured on the CPU it must fail, or the ratios mean nothing.
    result = run_perf(make_device())
    assert result.metrics["basis"] == "datasheet" and result.status == CheckStatus.FAIL
    expected = RTX_3080.fp32_tflops * EFFICIENCY["fp32_tflops"]
    assert result.metrics["fp32_tflops_vs_expected"] == pytest.approx(result.metrics["fp32_tflops"] / expected,
                                                                      abs=0.001)
