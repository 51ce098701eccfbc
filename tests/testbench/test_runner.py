"""A whole plan on a batch of simulated cards: every fault profile is caught by the check built for it, a healthy
card passes everything, a lost card ends its run as an error, and the plans scale for the simulator."""

import json

import pytest

from testbench.checks.base import CheckStatus
from testbench.hardware.faults import PROFILES
from testbench.plans import PLANS, SIM_TIME_FACTOR, plan_for
from testbench.reference import catalog_references
from testbench.runner import main, run_plan

pytestmark = pytest.mark.database_independent

RTX_3080 = catalog_references()["geforce-rtx-3080"]
# The check that must catch each profile, and the status it must give.
CAUGHT_BY = {
    "vram_stuck_bit": ("vram", CheckStatus.FAIL),
    "vram_weak_cells": ("vram", CheckStatus.FAIL),
    "compute_sdc": ("compute", CheckStatus.FAIL),
    "thermal_runaway": ("thermal", CheckStatus.FAIL),
    "fan_failed": ("thermal", CheckStatus.FAIL),
    "fan_blocked": ("thermal", CheckStatus.FAIL),
    "vram_transient_reads": ("vram", CheckStatus.WARN),
    "pcie_degraded": ("health", CheckStatus.WARN),
    "mining_vbios": ("identity", CheckStatus.WARN),
    "underperformer": ("performance", CheckStatus.FAIL),
    "fake_model": ("identity", CheckStatus.FAIL),
    "fell_off_bus": (None, CheckStatus.ERROR),
}


@pytest.fixture(scope="module")
def one_thread():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def run_card(make_device, profile, seed=0):
    device = make_device(profile, seed=seed, memory_bytes=32 * 2**20, time_scale=SIM_TIME_FACTOR)
    return run_plan(device, declared=RTX_3080, plan=plan_for("quick", simulated=True))


def test_every_profile_has_a_check_that_catches_it():
    assert set(CAUGHT_BY) | {"healthy"} == set(PROFILES)


def test_a_healthy_card_passes_the_whole_plan(make_device, one_thread):
    report = run_card(make_device, "healthy")
    assert report.verdict in (CheckStatus.PASS, CheckStatus.WARN), [(c.name, c.summary) for c in report.checks]
    assert [c.name for c in report.checks] == list(PLANS["quick"])
    assert all(c.status != CheckStatus.FAIL for c in report.checks)


@pytest.mark.parametrize("profile", sorted(CAUGHT_BY))
def test_each_fault_is_caught_by_its_check(make_device, one_thread, profile):
    report = run_card(make_device, profile, seed=7)
    check, status = CAUGHT_BY[profile]
    assert report.verdict == (CheckStatus.ERROR if status == CheckStatus.ERROR else
                              CheckStatus.worst([status, report.verdict]))
    if check:
        result = next(c for c in report.checks if c.name == check)
        assert result.status == status, (profile, result.summary)
    else:
        # Lost mid-run: the check that lost it and every later one are errors, never a pass.
        statuses = [c.status for c in report.checks]
        first_error = statuses.index(CheckStatus.ERROR)
        assert all(s == CheckStatus.ERROR for s in statuses[first_error:])
        assert any("device lost" in c.summary for c in report.checks)


def test_simulated_plans_shrink_sizes_and_time():
    real, simulated = plan_for("standard"), plan_for("standard", simulated=True)
    assert simulated["thermal"]["duration_s"] == real["thermal"]["duration_s"] / SIM_TIME_FACTOR
    assert simulated["compute"]["size"] < real["compute"]["size"]
    assert set(simulated) == set(real)
    with pytest.raises(ValueError, match="unknown plan 'nope'; plans are: quick, standard, burn-in"):
        plan_for("nope")


def test_command_line_exit_status_and_json(tmp_path, one_thread, capsys):
    out = tmp_path / "report.json"
    assert main(["--simulate", "1", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report[0]["verdict"] in ("pass", "warn") and report[0]["faults"] == ["healthy"]
    assert {c["name"] for c in report[0]["checks"]} == set(PLANS["quick"])
    assert main(["--simulate", "1", "--faults", "vram_stuck_bit", "--json", "-"]) == 1
    printed = json.loads(capsys.readouterr().out)
    assert printed[0]["verdict"] == "fail"
