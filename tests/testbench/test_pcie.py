"""The PCIe check: pinned host↔device bandwidth against the link, and the bytes arriving intact. A riser's x1 gen1
link warns (the card is built for more); a link that trains wide but does not deliver, or that corrupts data, fails."""

import dataclasses

import pytest

from testbench.checks.base import CheckContext, CheckStatus, run_check
from testbench.checks.pcie import pcie_check
from testbench.hardware.base import NOT_SUPPORTED, pcie_link_gbs
from testbench.hardware.simulated import SimulatedDevice
from testbench.reference import catalog_references

from .conftest import SEEDS

pytestmark = pytest.mark.database_independent

RTX_3080 = catalog_references()["geforce-rtx-3080"]


def run_pcie(device):
    return run_check("pcie", pcie_check, CheckContext(device), declared=RTX_3080, transfer_mib=1, repeats=3)


def test_link_rates_per_generation():
    assert pcie_link_gbs(3, 16) == pytest.approx(15.76)
    assert pcie_link_gbs(1, 1) == 0.25
    assert pcie_link_gbs(NOT_SUPPORTED, 16) is None and pcie_link_gbs(9, 16) is None


@pytest.mark.parametrize("seed", SEEDS)
def test_a_healthy_link_passes(make_device, seed):
    result = run_pcie(make_device(seed=seed))
    assert result.status == CheckStatus.PASS, result.summary
    assert (result.metrics["link_generation"], result.metrics["link_width"]) == (4, 16)
    assert result.metrics["worst_vs_link"] >= 0.6 and result.metrics["mismatched_words"] == 0


@pytest.mark.parametrize("seed", SEEDS)
def test_a_mining_riser_link_warns_with_the_link_it_trained_at(make_device, seed):
    result = run_pcie(make_device("pcie_degraded", seed=seed))
    assert result.status == CheckStatus.WARN
    [finding] = result.findings
    assert (finding.code, finding.measured, finding.threshold) == ("pcie.link_degraded", "gen1 x1", "gen4 x16")
    assert "link gen1 x1 where the card is built for gen4 x16" in result.summary
    assert result.metrics["host_to_device_gbs"] < 0.25


class SlowLink(SimulatedDevice):
    """Trains at gen4 x16 but delivers a tenth of it (replays on a damaged edge connector)."""

    def transfer(self, target, source):
        return 10 * super().transfer(target, source)


class CorruptingLink(SimulatedDevice):
    """Flips one bit of what comes back into host memory."""

    host_buffers: list

    def host_words(self, count):
        buffer = super().host_words(count)
        self.host_buffers = [*getattr(self, "host_buffers", []), buffer]
        return buffer

    def transfer(self, target, source):
        seconds = super().transfer(target, source)
        if any(target is buffer for buffer in self.host_buffers):
            target[123] ^= 1 << 9
        return seconds


def test_a_link_that_trains_wide_but_does_not_deliver_fails():
    result = run_pcie(SlowLink(seed=1))
    assert result.status == CheckStatus.FAIL and "of what a gen4 x16 link carries" in result.summary
    assert result.metrics["worst_vs_link"] < 0.35


def test_corrupted_transfers_fail_with_the_words_that_differ():
    result = run_pcie(CorruptingLink(seed=1))
    assert result.status == CheckStatus.FAIL and "came back different" in result.summary
    first = result.evidence["mismatches"][0]
    assert first["word"] == 123 and first["sent"] ^ first["received"] == 1 << 9


def test_without_an_exposed_link_the_card_is_measured_against_its_own(make_device):
    device = make_device()
    real_identity = device.identity
    device.identity = lambda: dataclasses.replace(real_identity(), pcie_max_generation=NOT_SUPPORTED,
                                                  pcie_max_width=NOT_SUPPORTED)
    result = run_pcie(device)
    assert result.status == CheckStatus.PASS and result.metrics["link_gbs"] == pytest.approx(31.504)


def test_a_card_lost_mid_transfer_is_an_error(make_device):
    device = make_device()
    device.faults.fall_off_bus_after_ops = device._ops + 4
    result = run_pcie(device)
    assert result.status == CheckStatus.ERROR and "device lost" in result.summary
