"""The device layer and the checks on a real NVIDIA GPU, through NVML and CUDA: what the CPU suite proves on
simulated cards, proven on hardware. Faults are planted in the card's real memory and GEMM output
(FaultInjectingDevice), so the detection code reads real device buffers.

Run by scripts/gpu_check.sh (`python -m pytest -c tests/gpu/pytest.ini tests/gpu`); `make test` deselects the `gpu`
marker, since CI has no GPU. Without a CUDA GPU these tests fail: they never skip. Measured figures go into the
JUnit report as properties.
"""

import os

import pytest
import torch

from testbench.checks.base import CheckContext, CheckStatus, run_check
from testbench.checks.compute import compute_check
from testbench.checks.pcie import pcie_check
from testbench.checks.performance import performance_check
from testbench.checks.vram import vram_check
from testbench.hardware.base import supported
from testbench.reference import catalog_references
from testbench.runner import reference_for_device
from tests.fault_proofs import (
    silent_data_corruption_is_found,
    stuck_bits_are_found,
    weak_cells_are_found_by_retention_only,
)

pytestmark = pytest.mark.gpu

# A few GiB of the card, in the chunks and slices a bench uses: the kernels run well past launch overhead.
VRAM = {"coverage": 0.03, "retention_s": 3.0, "modulo_offsets": 2}
COMPUTE = {"size": 4096, "iterations": 10, "cycle_s": 3.0}


@pytest.fixture(scope="module")
def card():
    from testbench.hardware import nvml

    devices = [d for d in nvml.discover_nvml_devices() if d.cuda_index is not None]
    if not devices:
        pytest.fail(f"no CUDA GPU found through NVML ({nvml.nvml_unavailable_reason or 'no device'}); "
                    f"torch sees {torch.cuda.device_count()}")
    return devices[0]


@pytest.fixture(scope="module")
def reference(card):
    """The card's catalog model: REFURB_GPU_MODEL (a slug) where set, as a bench declares it, else by PCI id."""
    slug = os.environ.get("REFURB_GPU_MODEL")
    return catalog_references()[slug] if slug else reference_for_device(card)


def test_identity_agrees_with_what_cuda_reports(card, record_property):
    identity = card.identity()
    properties = torch.cuda.get_device_properties(card.cuda_index)
    record_property("identity", identity.as_dict())
    assert identity.uuid.startswith("GPU-")
    assert identity.pci_vendor_id == "10de"
    assert identity.compute_capability == f"{properties.major}.{properties.minor}"
    assert abs(identity.vram_total_bytes - properties.total_memory) <= 0.02 * properties.total_memory
    assert supported(identity.driver_version) and supported(identity.cuda_version)
    assert len(identity.pci_subsystem_id) == 8 and identity.bus_id.count(":") == 2


def test_telemetry_reads_plausible_sensors(card, record_property):
    sample = card.telemetry()
    record_property("telemetry", sample.as_dict())
    assert 5 <= sample.gpu_temp_c <= 100
    assert sample.power_w is None or not supported(sample.power_w) or 10 <= sample.power_w <= 1500
    assert supported(sample.sm_clock_mhz) and sample.sm_clock_mhz > 0
    assert supported(sample.pcie_generation) and sample.pcie_generation >= 1


def test_the_catalog_knows_this_card(card):
    reference = reference_for_device(card)
    assert reference.compute_capability == card.identity().compute_capability


def test_healthy_memory_passes(card, record_property):
    result = run_check("vram", vram_check, CheckContext(card), **VRAM)
    record_property("vram", result.metrics)
    assert result.status == CheckStatus.PASS, result.summary
    assert result.metrics["errors"] == 0
    assert result.metrics["coverage_of_free"] >= VRAM["coverage"] - 0.005


def test_stuck_bits_planted_in_cuda_memory_are_found(card, record_property):
    record_property("vram_stuck", stuck_bits_are_found(card, **VRAM))


def test_weak_cells_planted_in_cuda_memory_fade_during_retention(card, record_property):
    record_property("vram_weak", weak_cells_are_found_by_retention_only(card, delay_s=1.0, **VRAM))


def test_healthy_compute_passes_in_every_dtype(card, record_property):
    result = run_check("compute", compute_check, CheckContext(card), **COMPUTE)
    record_property("compute", result.metrics)
    assert result.status == CheckStatus.PASS, (result.summary, result.evidence)
    for dtype in result.metrics["dtypes"]:
        assert result.metrics[f"{dtype}_mismatches"] == 0


def test_silent_data_corruption_planted_in_cuda_output_is_found(card, record_property):
    record_property("compute_sdc", silent_data_corruption_is_found(card, **COMPUTE))


def test_performance_is_measured_against_the_catalog(card, reference, record_property):
    result = run_check("performance", performance_check, CheckContext(card), reference=reference,
                       copy_mib=2048, gemm_size=8192, repeats=5)
    record_property("performance", result.metrics)
    assert result.status in (CheckStatus.PASS, CheckStatus.WARN), (result.summary, result.evidence)


def test_pcie_transfers_are_timed_on_the_real_link(card, reference, record_property):
    result = run_check("pcie", pcie_check, CheckContext(card), declared=reference, transfer_mib=512, repeats=5)
    record_property("pcie", {**result.metrics, "status": str(result.status), "summary": result.summary})
    assert result.status != CheckStatus.ERROR, result.summary


AI = {"models": ("7B",), "contexts": (1024,), "batches": (1, 8), "train_steps": 10}


def test_the_ai_check_decodes_near_the_cards_bandwidth_and_trains_like_fp32(card, record_property):
    from testbench.checks.ai import ai_check

    result = run_check("ai", ai_check, CheckContext(card), **AI)
    record_property("ai", {k: v for k, v in result.metrics.items() if k != "training"})
    record_property("ai_training", result.metrics.get("training"))
    assert result.status == CheckStatus.PASS, (result.summary, result.evidence)
    one = result.metrics["decode"][0]
    # Decode reads every weight once per token: a healthy card reaches most of its copy bandwidth.
    assert one["bandwidth_share"] > 0.5, one
    assert all(result.metrics["training"][f"{p}_repeat_identical"] for p in result.metrics["training"]["precisions"])


def test_silent_data_corruption_planted_in_cuda_output_fails_the_ai_training(card, record_property):
    from testbench.checks.ai import ai_check
    from testbench.hardware.faults import build_fault_plan
    from testbench.hardware.injected import FaultInjectingDevice

    device = FaultInjectingDevice(card, build_fault_plan(["compute_sdc"], seed=1, memory_bytes=2**30), seed=1)
    result = run_check("ai", ai_check, CheckContext(device), **{**AI, "batches": (1,)})
    record_property("ai_sdc", {"summary": result.summary, "findings": [f.as_dict() for f in result.findings]})
    assert result.status == CheckStatus.FAIL
    assert {f.code for f in result.findings} & {"ai.nonfinite", "ai.training_divergence", "ai.nondeterministic"}
