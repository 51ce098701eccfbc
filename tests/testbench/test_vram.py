"""The VRAM check against simulated cards whose memory really is corrupted between write and read-back."""

import pytest

from testbench.checks.base import CheckContext, CheckStatus, run_check
from testbench.checks.vram import ALL_PATTERNS, vram_check

from .conftest import SEEDS

pytestmark = pytest.mark.database_independent

FAST = {"chunk_mib": 1, "slice_mib": 1, "retention_s": 0.2, "modulo_offsets": 3}


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


def test_a_stuck_data_line_is_told_from_a_bad_cell(make_device):
    from testbench.hardware.faults import StuckBit

    device = make_device()
    # Bit 5 stuck at 1 in every word of the first 64 KiB: what a broken data line looks like.
    device.faults.stuck_bits = [StuckBit(address, 5, 1) for address in range(0, 65536, 4)]
    result = run_vram(device, patterns=["walking_ones"])
    assert result.status == CheckStatus.FAIL
    assert result.evidence["diagnosis"].startswith("stuck data line: bit 5")
    assert [bit for bit, count in enumerate(result.evidence["bit_histogram"]) if count] == [5]


def test_modulo_20_writes_the_complement_after_the_pattern(make_device, monkeypatch):
    # The disturbing writes come after the pattern cells were written: a cell that flips when its neighbours are
    # written shows up. Here every write of the complement flips bit 0 of the pattern cells' words.
    device = make_device()
    from testbench.checks import vram

    real_modulo = vram.VramTest.modulo_20
    order = []

    def spy(self, offset):
        original_fill = type(self.buffers[0].tensor).fill_
        monkeypatch.setattr(type(self.buffers[0].tensor), "fill_",
                            lambda t, v: (order.append(v), original_fill(t, v))[1])
        try:
            real_modulo(self, offset)
        finally:
            monkeypatch.setattr(type(self.buffers[0].tensor), "fill_", original_fill)

    monkeypatch.setattr(vram.VramTest, "modulo_20", spy)
    run_vram(device, patterns=["modulo_20"], modulo_offsets=1)
    pattern = vram._i32(0x5A5A5A5A)
    assert order[0] == pattern and vram._i32(~pattern) in order[1:]


def test_a_coverage_shortfall_is_a_warning_not_a_pass(make_device):
    device = make_device()
    result = run_vram(device, coverage=0.95, patterns=["own_address"], chunk_mib=1)
    assert result.status == CheckStatus.PASS
    hog = device.alloc_words(device.memory_bytes // 4 // 2)
    real_alloc = device.alloc_words
    calls = {"n": 0}

    def refuse_after_one(count):
        calls["n"] += 1
        if calls["n"] > 1:
            raise MemoryError("fragmented")
        return real_alloc(count)

    device.alloc_words = refuse_after_one
    result = run_vram(device, coverage=0.95, patterns=["own_address"], chunk_mib=1)
    assert result.status == CheckStatus.WARN and "could be tested" in result.summary
    device.free(hog)
