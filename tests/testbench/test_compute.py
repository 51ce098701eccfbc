"""Compute stress against simulated cards whose GEMM outputs really are corrupted."""

import json

import pytest

from testbench.checks.base import CheckContext, CheckStatus, run_check
from testbench.checks.compute import compute_check, supported_dtypes
from testbench.reference import catalog_references

from .conftest import SEEDS

pytestmark = pytest.mark.database_independent

FAST = {"size": 128, "iterations": 4, "cycle_s": 0.15}


def run_compute(device, **params):
    return run_check("compute", compute_check, CheckContext(device), **{**FAST, **params})


@pytest.mark.parametrize("seed", SEEDS)
def test_healthy_card_passes_in_every_supported_dtype(make_device, seed):
    result = run_compute(make_device(seed=seed), seed=seed)
    assert result.status == CheckStatus.PASS, (result.summary, result.evidence)
    assert result.metrics["dtypes"] == ["fp32", "fp16", "bf16"]
    spec = catalog_references()["geforce-rtx-3080"]
    for dtype in ("fp32", "fp16", "bf16"):
        assert result.metrics[f"{dtype}_mismatches"] == 0 and result.metrics[f"{dtype}_inconsistent"] == 0
        # Timed on the card's own clock: the simulated RTX 3080's rate, not the host CPU's (which is ~1000× less).
        assert 0.5 * getattr(spec, f"{dtype}_tflops") < result.metrics[f"{dtype}_tflops"] <= \
            1.1 * getattr(spec, f"{dtype}_tflops")
    assert result.metrics["load_cycles"] >= 1


@pytest.mark.parametrize("seed", SEEDS)
def test_silent_data_corruption_fails_with_the_wrong_elements_as_evidence(make_device, seed):
    result = run_compute(make_device("compute_sdc", seed=seed), seed=seed)
    assert result.status == CheckStatus.FAIL and "silent data corruption" in result.summary
    errors = result.evidence["first_errors"]
    assert errors and all({"dtype", "row", "col", "expected", "actual", "against"} <= set(e) for e in errors)
    assert all(e["actual"] != e["expected"] for e in errors)
    json.dumps(result.as_dict(), allow_nan=False)  # NaN results are reported as text, so the evidence is JSON


def test_a_card_wrong_the_same_way_every_time_fails_against_the_reference(make_device):
    device = make_device("compute_sdc", seed=4)
    device.faults.sdc_repeatable = True
    result = run_compute(device)
    assert result.status == CheckStatus.FAIL
    assert {e["against"] for e in result.evidence["first_errors"]} == {"reference"}
    assert all(result.metrics[f"{d}_inconsistent"] == 0 for d in result.metrics["dtypes"])  # all equal the first
    assert result.metrics["fp32_mismatches"] > 0


@pytest.mark.parametrize("capability, expected", [("6.1", ["fp32"]), ("7.5", ["fp32", "fp16"]),
                                                   ("8.6", ["fp32", "fp16", "bf16"]), ("", ["fp32"])])
def test_dtypes_follow_the_compute_capability(capability, expected):
    assert supported_dtypes(capability, ("fp32", "fp16", "bf16")) == expected


def test_pascal_card_is_stressed_in_fp32_only(make_device):
    result = run_compute(make_device(slug="geforce-gtx-1080-ti"))
    assert result.status == CheckStatus.PASS and result.metrics["dtypes"] == ["fp32"]


def test_device_lost_mid_stress_is_an_error(make_device):
    result = run_compute(make_device("fell_off_bus", seed=5), iterations=40)
    assert result.status == CheckStatus.ERROR and "device lost" in result.summary
