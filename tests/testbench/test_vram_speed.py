"""The VRAM test at GPU speed: chunks sized from the card's measured bandwidth, comparisons that stay on the device
until a chunk is done, and a second reading only where a chunk disagreed, which tells a bad read from a bad cell.
And a jammed fan, named by its tachometer rather than by the heat it causes."""

import pytest

from testbench.checks.base import CheckContext, CheckStatus, run_check
from testbench.checks.thermal import thermal_check
from testbench.checks.vram import CHUNK_MIN_MIB, VramTest, chunk_mib_for, vram_check
from testbench.hardware.faults import build_fault_plan
from testbench.hardware.injected import FaultInjectingDevice
from testbench.plans import plan_for

from .conftest import SEEDS, SIM_MEMORY

VRAM = plan_for("quick", simulated=True)["vram"]


def test_chunks_last_a_few_milliseconds_at_the_cards_bandwidth():
    # An H200 (4.4 TB/s copy, 140 GB free): 16 GiB chunks, one host read of the flag per 4 ms of work.
    assert chunk_mib_for(4400, 140 * 2**30) == 16 * 1024
    # An RTX 3080 (660 GB/s, 10 GB): 2 GiB by bandwidth, held to an eighth of free memory.
    assert chunk_mib_for(660, 10 * 2**30) == 1024
    # A slow or small card never goes below the floor.
    assert chunk_mib_for(50, 2 * 2**30) == CHUNK_MIN_MIB


def test_the_chunk_comes_from_the_bandwidth_measured_on_the_card(make_device):
    device = make_device(memory_bytes=SIM_MEMORY)
    test = VramTest(CheckContext(device), coverage=0.95, chunk_mib=None, slice_mib=None, patterns=("own_address",),
                    retention_s=0, modulo_offsets=0, seed=0, max_reported=8)
    # The simulated RTX 3080 copies at 760 GB/s × its efficiency, on its own clock.
    assert 600 < test.copy_gbs < 700
    assert test.chunk_mib == chunk_mib_for(test.copy_gbs, device.memory_info()[0])


@pytest.mark.parametrize("seed", SEEDS)
def test_a_word_that_reads_wrong_once_is_a_warning_that_names_the_reads(make_device, seed):
    device = make_device("vram_transient_reads", seed=seed)
    result = run_check("vram", vram_check, CheckContext(device), **VRAM)
    assert result.status == CheckStatus.WARN, result.summary
    (finding,) = result.findings
    planted = {f"0x{read.address:x}" for read in device.faults.transient_reads}
    assert finding.code == "vram.bad_reads" and set(finding.measured["addresses"]) == planted
    assert result.metrics["errors"] == result.metrics["bad_reads"] == len(planted)
    assert all(e["kind"] == "read" for e in result.evidence["first_errors"])


def test_a_bad_read_planted_in_a_devices_memory_is_found_the_same_way(make_device):
    # The wrapper a real GPU runs under plants the same fault in the buffer the check reads.
    plan = build_fault_plan(["vram_transient_reads"], seed=3, memory_bytes=SIM_MEMORY)
    device = FaultInjectingDevice(make_device(seed=3), plan, seed=3)
    result = run_check("vram", vram_check, CheckContext(device), **VRAM)
    assert result.status == CheckStatus.WARN and result.findings[0].code == "vram.bad_reads"


def test_a_stuck_bit_is_still_a_failure_with_its_address(make_device):
    device = make_device("vram_stuck_bit", seed=2)
    result = run_check("vram", vram_check, CheckContext(device), **VRAM)
    assert result.status == CheckStatus.FAIL and result.findings[0].code == "vram.bad_cell"
    (stuck,) = device.faults.stuck_bits
    assert result.evidence["first_errors"][0]["address"] == f"0x{stuck.address:x}"
    assert all(e["kind"] == "cell" for e in result.evidence["first_errors"])


def test_a_jammed_fan_is_named_by_its_tachometer(make_device):
    thermal = plan_for("quick", simulated=True)["thermal"]
    blocked = run_check("thermal", thermal_check, CheckContext(make_device("fan_blocked", time_scale=120.0)),
                        **thermal)
    codes = [f.code for f in blocked.findings]
    assert "thermal.fan_blocked" in codes and "thermal.fan_not_spinning" not in codes
    finding = next(f for f in blocked.findings if f.code == "thermal.fan_blocked")
    assert finding.measured["rpm"] < 300 and finding.measured["target_pct"] >= 40
    healthy = run_check("thermal", thermal_check, CheckContext(make_device(time_scale=120.0)), **thermal)
    assert not any(f.code.startswith("thermal.fan") for f in healthy.findings)
    # A dead fan (no duty, no RPM) is the older finding, not both.
    dead = run_check("thermal", thermal_check, CheckContext(make_device("fan_failed", time_scale=120.0)), **thermal)
    assert [f.code for f in dead.findings if f.code.startswith("thermal.fan")] == ["thermal.fan_not_spinning"]
