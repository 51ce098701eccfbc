"""The VRAM check against simulated cards whose memory really is corrupted between write and read-back."""

import pytest

from testbench.checks.base import CheckContext, CheckStatus, run_check
from testbench.checks.vram import ALL_PATTERNS, vram_check

from .conftest import SEEDS

pytestmark = pytest.mark.database_independent

FAST = {"chunk_mib": 1, "slice_mib": 1, "retention_s": 0.1, "modulo_offsets": 3}


def run_vram(device, **params):
    return run_check("vram", vram_check, CheckContext(device), **{**FAST, **params})


@pytest.mark.parametrize("seed", SEEDS)
def test_healthy_memory_passes_and_covers_95_percent(make_device, seed):
    result = run_vram(make_device("healthy", seed=seed), seed=seed)
    assert result.status == CheckStatus.PASS, result.summary
    assert result.metrics["errors"] == 0
    assert result.metrics["coverage_of_free"] >= 0.95
    assert set(result.metrics["patterns"]) == set(ALL_PATTERNS)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_stuck_bit_is_found_at_its_address_and_bit(make_device, seed):
    device = make_device("vram_stuck_bit", seed=seed)
    fault = device.faults.stuck_bits[0]
    result = run_vram(device, seed=seed)
    assert result.status == CheckStatus.FAIL
    evidence = result.evidence
    assert {e["address"] for e in evidence["first_errors"]} == {f"0x{fault.address:x}"}
    assert all(int(e["xor"], 16) == 1 << fault.bit for e in evidence["first_errors"])
    assert all(e["kind"] == "cell" for e in evidence["first_errors"])  # still wrong when read again
    assert [bit for bit, count in enumerate(evidence["bit_histogram"]) if count] == [fault.bit]
    assert evidence["bits_per_word"] == {1: result.metrics["errors"]}
    assert evidence["diagnosis"].startswith("one bad cell: bit")
    # A stuck-at-1 bit shows when a 0 is written there, and vice versa.
    first = evidence["first_errors"][0]
    assert (int(first["actual"], 16) >> fault.bit) & 1 == fault.value


@pytest.mark.parametrize("seed", SEEDS)
def test_weak_cells_fade_during_retention(make_device, seed):
    device = make_device("vram_weak_cells", seed=seed)
    cells = {f"0x{c.address:x}" for c in device.faults.weak_cells}
    result = run_vram(device, seed=seed)
    assert result.status == CheckStatus.FAIL
    found = {e["address"] for e in result.evidence["first_errors"]}
    assert found == cells
    assert result.evidence["errors_by_pattern"] == {"retention": len(cells)}
    assert "weak cells" in result.evidence["diagnosis"]


def test_without_the_retention_phase_weak_cells_go_unseen(make_device):
    # The fault really sits in the cells: only the phase built to find it does.
    device = make_device("vram_weak_cells", seed=1)
    result = run_vram(device, patterns=[p for p in ALL_PATTERNS if p != "retention"])
    assert result.status == CheckStatus.PASS


def test_reports_progress_and_honours_cancel(make_device):
    from testbench.checks.base import Cancelled

    seen = []
    ctx = CheckContext(make_device(), progress=lambda name, fraction, phase: seen.append((fraction, phase)),
                       cancelled=lambda: len(seen) > 5, min_report_interval_s=0)
    with pytest.raises(Cancelled):
        run_check("vram", vram_check, ctx, **FAST)
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and 0 < fractions[-1] < 1
    assert ctx.device.memory_info()[0] == ctx.device.memory_bytes  # buffers were freed


def test_no_memory_is_an_error_not_a_pass(make_device):
    device = make_device()
    hog = device.alloc_words(device.memory_bytes // 4)
    result = run_vram(device)
    assert result.status == CheckStatus.ERROR and "could not start" in result.summary
    device.free(hog)


def test_device_lost_mid_test_is_an_error(make_device):
    result = run_vram(make_device("fell_off_bus", seed=2))
    assert result.status == CheckStatus.ERROR and "fallen off the bus" in result.summary
