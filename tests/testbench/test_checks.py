"""Identity, health and thermal checks: each fault profile is caught by the check built for it, with the evidence
a technician needs, and healthy cards pass — over 20 seeds."""

import pytest

from testbench.checks.base import CheckContext, CheckStatus, run_check
from testbench.checks.health import health_check
from testbench.checks.identity import identity_check
from testbench.checks.thermal import thermal_check
from testbench.reference import catalog_references

from .conftest import SEEDS

pytestmark = pytest.mark.database_independent

RTX_3080 = catalog_references()["geforce-rtx-3080"]
HEALTH = {"load_s": 0.4, "load_size": 128, "sample_interval_s": 0.03, "declared": RTX_3080}
# The simulated card heats with how busy the host lets it be (its load is wall-clock time): on a loaded CI machine a
# half-second soak may end still warming. Whether the temperature settled is judged on scripted readings below.
THERMAL = {"duration_s": 0.5, "sample_interval_s": 0.02, "load_size": 128, "require_plateau": False}
THERMAL_TIME_SCALE = 500.0  # 0.5 s of wall clock is 250 s of simulated soak: ~6 thermal time constants


def run(device, name, check, **params):
    return run_check(name, check, CheckContext(device), **params)


# --- identity ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_identity_of_a_healthy_card_passes(make_device, seed):
    result = run(make_device(seed=seed), "identity", identity_check, declared=RTX_3080)
    assert result.status == CheckStatus.PASS, result.summary


@pytest.mark.parametrize("seed", SEEDS)
def test_a_reflashed_fake_is_caught_by_its_pci_id_and_memory(make_device, seed):
    result = run(make_device("fake_model", seed=seed), "identity", identity_check, declared=RTX_3080)
    assert result.status == CheckStatus.FAIL
    assert result.metrics["name_matches"] is True  # the name is forged too: the silicon gives it away
    assert result.evidence["pci_id_owners"] == ["NVIDIA GeForce GTX 1060 6GB"]
    assert "PCI id 10de:1c03 is not a GeForce RTX 3080" in result.summary and "6.0 GiB" in result.summary


def test_a_card_declared_as_another_model_fails(make_device):
    declared = catalog_references()["geforce-rtx-3090"]
    result = run(make_device(), "identity", identity_check, declared=declared)
    assert result.status == CheckStatus.FAIL and "declared as 'NVIDIA GeForce RTX 3090'" in result.summary


@pytest.mark.parametrize("seed", SEEDS)
def test_a_mining_power_limit_is_reported_and_reset(make_device, seed):
    device = make_device("mining_vbios", seed=seed)
    result = run(device, "identity", identity_check, declared=RTX_3080)
    assert result.status == CheckStatus.WARN and "left from mining; reset to default" in result.summary
    assert result.evidence["power_limit"]["reset"] is True
    assert device.telemetry().power_limit_w == RTX_3080.tdp_w
    offsets = result.evidence["clock_offsets"]
    assert offsets["core_mhz"] < 0 < offsets["memory_mhz"] and offsets["reset"] is True
    assert f"memory {offsets['memory_mhz']:+d} MHz" in result.summary and "reset to 0" in result.summary
    assert device.clock_offsets() == {"core_mhz": 0, "memory_mhz": 0}


def test_clock_offsets_the_bench_may_not_reset_are_reported(make_device):
    result = run(make_device("mining_vbios", seed=2), "identity", identity_check, declared=RTX_3080, may_reset=False)
    assert "left from mining; the bench may not reset them" in result.summary
    assert result.metrics["clock_offset_memory_mhz"] > 0


def test_a_non_stock_vbios_is_flagged_where_the_stock_list_is_known(make_device):
    from dataclasses import replace

    declared = replace(RTX_3080, stock_vbios_versions=("94.02.26.08.1C",))
    assert run(make_device(), "identity", identity_check, declared=declared).status == CheckStatus.PASS
    result = run(make_device("mining_vbios", seed=1), "identity", identity_check, declared=declared, may_reset=False)
    assert result.status == CheckStatus.WARN and "non-stock VBIOS" in result.summary
    assert "may not reset it" in result.summary


# --- health ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_health_of_a_healthy_card_passes_and_lists_what_geforce_hides(make_device, seed):
    result = run(make_device(seed=seed), "health", health_check, **HEALTH)
    assert result.status == CheckStatus.PASS, result.summary
    assert result.metrics["pcie_link_under_load"] == {"generation": 4, "width": 16}
    assert "ecc_uncorrected" in result.metrics["not_supported"]


@pytest.mark.parametrize("seed", SEEDS)
def test_a_degraded_link_is_found_under_load(make_device, seed):
    result = run(make_device("pcie_degraded", seed=seed), "health", health_check, **HEALTH)
    assert result.status == CheckStatus.WARN
    assert result.metrics["pcie_link_degraded"] is True
    assert result.metrics["pcie_link_under_load"] == {"generation": 1, "width": 1}
    assert "gen1 x1 of gen4 x16" in result.summary


def test_counter_thresholds_follow_dcgm(make_device, monkeypatch):
    from dataclasses import replace

    device = make_device()
    real = device.telemetry
    counters = {}
    monkeypatch.setattr(device, "telemetry", lambda: replace(real(), **counters))
    for values, status, text in [
        ({"ecc_uncorrected": 1, "ecc_corrected": 0}, CheckStatus.FAIL, "1 uncorrectable ECC errors"),
        ({"retired_pages_sbe": 14, "retired_pages_dbe": 0}, CheckStatus.PASS, "counters clean"),
        ({"retired_pages_sbe": 15, "retired_pages_dbe": 0}, CheckStatus.WARN, "15 retired pages"),
        ({"retired_pages_sbe": 60, "retired_pages_dbe": 3}, CheckStatus.FAIL, "63 retired pages"),
        ({"remapped_rows_pending": True, "remapped_rows_failure": False}, CheckStatus.FAIL, "row remap is pending"),
        ({"remapped_rows_pending": False, "remapped_rows_failure": True}, CheckStatus.FAIL, "row remapping failed"),
    ]:
        counters.clear()
        counters.update(values)
        result = run(device, "health", health_check, **HEALTH)
        assert result.status == status and text in result.summary, (values, result.summary)


def test_pcie_replays_during_the_run_fail_above_80(make_device, monkeypatch):
    from dataclasses import replace

    device = make_device()
    real = device.telemetry
    calls = {"n": 0}

    def replaying():
        calls["n"] += 1
        return replace(real(), pcie_replay_counter=calls["n"] * 40)

    monkeypatch.setattr(device, "telemetry", replaying)
    result = run(device, "health", health_check, **HEALTH)
    assert result.status == CheckStatus.FAIL and "PCIe replays during the run" in result.summary
    assert result.metrics["pcie_replays"] > 80


# --- thermal -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_a_healthy_card_holds_its_heat(make_device, seed):
    result = run(make_device(seed=seed, time_scale=THERMAL_TIME_SCALE), "thermal", thermal_check, **THERMAL)
    assert result.status == CheckStatus.PASS, result.summary
    telemetry = result.evidence["telemetry"]
    assert len(telemetry["time"]) == result.metrics["samples"] >= 10
    assert all(len(column) == len(telemetry["time"]) for column in telemetry.values())


def scripted_temperatures(device, monkeypatch, temperature_at):
    """The card's readings, with its time and core temperature (hotspot 8 °C above) written by the test."""
    from dataclasses import replace

    real, count = device.telemetry, {"n": 0}

    def reading():
        count["n"] += 1
        n = count["n"]
        return replace(real(), time=float(n), gpu_temp_c=temperature_at(n), hotspot_temp_c=temperature_at(n) + 8.0)

    monkeypatch.setattr(device, "telemetry", reading)


@pytest.mark.parametrize(("temperature_at", "status", "says"), [
    (lambda n: min(70.0, 40.0 + 6 * n), CheckStatus.PASS, "plateau reached"),  # settles at 70 °C after 5 s
    (lambda n: 40.0 + 0.05 * n, CheckStatus.WARN, "temperature still rising at the end (3.0 °C/min): no plateau"),
])
def test_a_soak_that_ends_still_warming_is_no_plateau(make_device, monkeypatch, temperature_at, status, says):
    device = make_device(seed=1, time_scale=THERMAL_TIME_SCALE)
    scripted_temperatures(device, monkeypatch, temperature_at)
    result = run(device, "thermal", thermal_check, **{**THERMAL, "require_plateau": True, "duration_s": 0.3,
                                                      "sample_interval_s": 0.005})
    assert result.status == status and says in result.summary, result.summary
    assert result.metrics["samples"] >= 12  # so that the last quarter (the end slope) lies past the rise


@pytest.mark.parametrize("seed", SEEDS)
def test_dried_pads_show_as_a_runaway_hotspot(make_device, seed):
    result = run(make_device("thermal_runaway", seed=seed, time_scale=THERMAL_TIME_SCALE), "thermal", thermal_check,
                 **THERMAL)
    assert result.status == CheckStatus.FAIL
    assert result.metrics["peak_hotspot_delta_c"] >= 30 and "hotspot" in result.summary


@pytest.mark.parametrize("seed", SEEDS)
def test_a_failed_fan_is_named_and_the_card_overheats(make_device, seed):
    result = run(make_device("fan_failed", seed=seed, time_scale=THERMAL_TIME_SCALE), "thermal", thermal_check,
                 **THERMAL)
    assert result.status == CheckStatus.FAIL
    assert "a fan stays at 0%" in result.summary
    assert "hw_slowdown" in result.metrics["throttle_reasons_seen"]


def test_without_the_declared_model_a_riser_hides_behind_nvmls_max_link(make_device):
    # NVML's "max link" is what the card can do in this slot: behind an x1 riser it says x1 as well. The model's
    # own link width is what tells the degradation.
    params = {k: v for k, v in HEALTH.items() if k != "declared"}
    result = run(make_device("pcie_degraded", seed=1), "health", health_check, **params)
    assert result.metrics["pcie_link_degraded"] is False
    result = run(make_device("pcie_degraded", seed=1), "health", health_check, **HEALTH)
    assert result.metrics["pcie_link_degraded"] is True


def test_a_mining_card_built_for_x4_gen1_is_not_degraded(make_device):
    p106 = catalog_references()["p106-100"]
    result = run(make_device(slug="p106-100"), "health", health_check, **{**HEALTH, "declared": p106})
    assert result.status == CheckStatus.PASS and result.metrics["pcie_link_under_load"] == {"generation": 1,
                                                                                           "width": 4}


def test_a_fan_that_refuses_its_query_does_not_crash_the_soak(make_device, monkeypatch):
    from dataclasses import replace

    from testbench.hardware.base import NOT_SUPPORTED

    device = make_device(time_scale=THERMAL_TIME_SCALE)
    real = device.telemetry
    monkeypatch.setattr(device, "telemetry", lambda: replace(real(), fan_targets_pct=(NOT_SUPPORTED, 50)))
    result = run(device, "thermal", thermal_check, **THERMAL)
    assert result.status in (CheckStatus.PASS, CheckStatus.WARN), result.summary


def test_a_bug_inside_a_check_is_an_error_not_a_crash(make_device):
    def broken(ctx):
        raise TypeError("'>' not supported")

    result = run(make_device(), "broken", broken)
    assert result.status == CheckStatus.ERROR and "internal error in the check: TypeError" in result.summary


def test_an_asynchronous_cuda_error_counts_as_a_lost_device(make_device):
    def kernel_fault(ctx):
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    result = run(make_device(), "vram", kernel_fault)
    assert result.status == CheckStatus.ERROR and result.evidence["device_lost"].startswith("CUDA error")


def test_the_summary_says_when_the_power_cap_pulled_the_clocks_down(make_device, monkeypatch):
    from dataclasses import replace

    from testbench.hardware.base import THROTTLE_SW_POWER_CAP

    device = make_device(seed=2, time_scale=THERMAL_TIME_SCALE)
    real, count = device.telemetry, {"n": 0}

    def capped():  # at every other reading the card is at its power cap, its clock a tenth lower
        count["n"] += 1
        sample = real()
        if count["n"] % 2 == 0:
            return replace(sample, sm_clock_mhz=1620, throttle_reasons=THROTTLE_SW_POWER_CAP)
        return replace(sample, sm_clock_mhz=1800, throttle_reasons=0)

    monkeypatch.setattr(device, "telemetry", capped)
    result = run(device, "thermal", thermal_check, **THERMAL)
    assert "no thermal throttling; clocks 10% lower at the power cap" in result.summary, (
        result.summary, result.metrics["sm_clock_drop"], result.evidence["telemetry"]["sm_clock_mhz"])
    assert result.metrics["sm_clock_drop"] == 0.1
    healthy = run(make_device(seed=2, time_scale=THERMAL_TIME_SCALE), "thermal", thermal_check, **THERMAL)
    assert ("power cap" in healthy.summary) == (  # said exactly when it happened
        "sw_power_cap" in healthy.metrics["throttle_reasons_seen"] and healthy.metrics["sm_clock_drop"] >= 0.05)
