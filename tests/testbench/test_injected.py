"""FaultInjectingDevice: faults planted in a working card's data path are what the checks find. Here over a healthy
simulated card; tests/gpu runs the same proofs over a real CUDA card."""

import pytest

from testbench.checks.base import CheckContext, CheckStatus, run_check
from testbench.checks.vram import vram_check
from testbench.hardware.faults import build_fault_plan
from testbench.hardware.injected import FaultInjectingDevice
from tests.fault_proofs import (
    silent_data_corruption_is_found,
    stuck_bits_are_found,
    weak_cells_are_found_by_retention_only,
)

pytestmark = pytest.mark.database_independent

VRAM = {"chunk_mib": 1, "slice_mib": 1, "patterns": ("own_address", "moving_inversions", "retention"),
        "retention_s": 0.6, "modulo_offsets": 0}
COMPUTE = {"size": 128, "iterations": 4, "cycle_s": 0.15}


def test_planted_stuck_bits_are_found_at_their_addresses(make_device):
    stuck_bits_are_found(make_device("healthy"), **VRAM)


def test_planted_weak_cells_fade_during_retention_only(make_device):
    weak_cells_are_found_by_retention_only(make_device("healthy"), delay_s=0.3, **VRAM)


def test_planted_silent_data_corruption_fails_the_compute_check(make_device):
    silent_data_corruption_is_found(make_device("healthy"), **COMPUTE)


def test_without_a_fault_the_wrapped_card_passes(make_device):
    device = FaultInjectingDevice(make_device("healthy"), build_fault_plan(["healthy"], seed=0, memory_bytes=2**22))
    result = run_check("vram", vram_check, CheckContext(device), **VRAM)
    assert result.status == CheckStatus.PASS, result.summary
    assert result.metrics["coverage_of_free"] >= 0.95


def test_the_buffers_go_back_to_the_wrapped_card(make_device):
    inner = make_device("healthy")
    device = FaultInjectingDevice(inner, build_fault_plan(["healthy"], seed=0, memory_bytes=2**22))
    free_before = inner.memory_info()[0]
    buffers = [device.alloc_words(1024), device.alloc_words(2048)]
    assert [b.address for b in buffers] == [0, 4096]
    assert inner.memory_info()[0] == free_before - 3 * 4096
    for buffer in buffers:
        device.free(buffer)
    assert inner.memory_info()[0] == free_before
    assert device.alloc_words(16).address == 0


@pytest.mark.parametrize("profile", ["thermal_runaway", "fell_off_bus", "pcie_degraded"])
def test_faults_a_real_card_cannot_be_made_to_have_are_refused(make_device, profile):
    with pytest.raises(ValueError, match=f"cannot plant {profile}"):
        FaultInjectingDevice(make_device("healthy"), build_fault_plan([profile], seed=0, memory_bytes=2**22))
