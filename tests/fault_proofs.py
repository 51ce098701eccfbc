"""Faults planted in a device's real data path, and what the checks must then report: shared by the CPU suite
(FaultInjectingDevice over a simulated card) and the GPU suite (over a real CUDA card, tests/gpu). Free of Django,
so that the GPU suite runs on a machine that has only torch and NVML."""

from __future__ import annotations

from testbench.checks.base import CheckContext, CheckStatus, run_check
from testbench.checks.compute import compute_check
from testbench.checks.vram import vram_check
from testbench.hardware.faults import FaultPlan, StuckBit, WeakCell
from testbench.hardware.injected import FaultInjectingDevice

# Inside the first chunk the VRAM check takes (its chunks are handed out from address 0).
STUCK = (StuckBit(address=4 * 123_457, bit=13, value=1), StuckBit(address=4 * 250_001, bit=30, value=0))
WEAK_CELLS = ((4 * 77_777, 5), (4 * 200_003, 21))


def stuck_bits_are_found(device, **vram_params) -> dict:
    planted = FaultInjectingDevice(device, FaultPlan(profiles=("vram_stuck_bit",), stuck_bits=list(STUCK)))
    result = run_check("vram", vram_check, CheckContext(planted), **vram_params)
    assert result.status == CheckStatus.FAIL, result.summary
    errors = result.evidence["first_errors"]
    assert {e["address"] for e in errors} == {f"0x{f.address:x}" for f in STUCK}
    by_address = {f"0x{f.address:x}": f for f in STUCK}
    for error in errors:
        fault = by_address[error["address"]]
        assert int(error["xor"], 16) == 1 << fault.bit
        assert (int(error["actual"], 16) >> fault.bit) & 1 == fault.value
        assert error["kind"] == "cell"  # still wrong when read again
    assert [bit for bit, count in enumerate(result.evidence["bit_histogram"]) if count] == sorted(
        f.bit for f in STUCK)
    return result.metrics


def weak_cells_are_found_by_retention_only(device, *, delay_s: float, **vram_params) -> dict:
    """Cells that leak after `delay_s` of holding a value: longer than any pattern holds one between its write and
    its read-back, shorter than the retention phase's wait."""
    cells = [WeakCell(address, bit, delay_s) for address, bit in WEAK_CELLS]
    planted = FaultInjectingDevice(device, FaultPlan(profiles=("vram_weak_cells",), weak_cells=cells))
    result = run_check("vram", vram_check, CheckContext(planted), **vram_params)
    assert result.status == CheckStatus.FAIL, result.summary
    assert {e["address"] for e in result.evidence["first_errors"]} == {f"0x{c.address:x}" for c in cells}
    assert result.evidence["errors_by_pattern"] == {"retention": len(cells)}
    assert "weak cells" in result.evidence["diagnosis"]
    return result.metrics


def silent_data_corruption_is_found(device, **compute_params) -> dict:
    planted = FaultInjectingDevice(device, FaultPlan(profiles=("compute_sdc",), sdc_fraction=1e-4))
    result = run_check("compute", compute_check, CheckContext(planted), **compute_params)
    assert result.status == CheckStatus.FAIL, result.summary
    assert sum(result.metrics[f"{d}_mismatches"] for d in result.metrics["dtypes"]) > 0
    return result.metrics
