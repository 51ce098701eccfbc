"""Findings: every fault profile yields its code, the grader decides from codes and never from words, thresholds
live once, and the registry, the docs and the certificate payload agree."""

import ast
import re
from pathlib import Path

import pytest

from grading.grader import grade_results
from grading.payload import check_facts
from grading.policy import POLICY
from testbench.checks import limits
from testbench.checks.findings import CODES, Finding, Findings
from testbench.hardware.faults import PROFILES
from testbench.reference import catalog_references

ROOT = Path(__file__).resolve().parents[2]
RTX_3080 = catalog_references()["geforce-rtx-3080"]

# What each fault profile must be found as (the seeded card of the `reports` fixture may show more).
PROFILE_CODES = {
    "healthy": set(),
    "vram_stuck_bit": {"vram.bad_cell"},
    "vram_weak_cells": {"vram.weak_cells"},
    "compute_sdc": {"compute.sdc", "ai.nonfinite"},
    "vram_transient_reads": {"vram.bad_reads"},
    "fan_blocked": {"thermal.fan_blocked"},
    "thermal_runaway": {"thermal.repaste_needed"},
    "fan_failed": {"thermal.fan_not_spinning"},
    "pcie_degraded": {"pcie.link_degraded", "health.link_degraded_under_load"},
    "mining_vbios": {"identity.mining_power_limit", "identity.mining_clock_offsets"},
    "underperformer": {"performance.below_expected"},
    "fake_model": {"identity.pci_id_mismatch", "identity.memory_size_mismatch"},
    "fell_off_bus": {"device.lost"},
}

pytestmark = pytest.mark.database_independent


def results_of(report) -> list[dict]:
    return [check.as_dict() for check in report.checks]


def test_every_profile_is_listed():
    assert set(PROFILE_CODES) == set(PROFILES)


@pytest.mark.parametrize("profile", sorted(PROFILE_CODES))
def test_each_fault_profile_yields_its_codes(reports, profile):
    found = {f.code for check in reports[profile].checks for f in check.findings}
    if profile == "healthy":
        assert found == set()
    else:
        assert PROFILE_CODES[profile] <= found, found
    for check in reports[profile].checks:
        # A check's status is what its findings say: no failure without a finding, no finding on a pass.
        severities = {f.severity for f in check.findings}
        assert str(check.status) == ("error" if str(check.status) == "error" else
                                     "fail" if "fail" in severities else "warn" if severities else "pass")
        for finding in check.findings:
            assert finding.code in CODES and finding.sentence


def scrambled(results: list[dict]) -> list[dict]:
    """The same results with every sentence a person reads replaced by one that means nothing."""
    out = []
    for result in results:
        evidence = dict(result.get("evidence") or {})
        if "diagnosis" in evidence:
            evidence["diagnosis"] = "zz"
        out.append({**result, "summary": "fan repaste device lost throttling °C", "evidence": evidence,
                    "findings": [{**f, "sentence": "zz"} for f in result["findings"]]})
    return out


@pytest.mark.parametrize("profile", sorted(PROFILE_CODES))
def test_no_sentence_decides_a_grade(reports, profile):
    results = results_of(reports[profile])
    plain = grade_results(results, reference=RTX_3080, cosmetic="A")
    reworded = grade_results(scrambled(results), reference=RTX_3080, cosmetic="A")
    assert (reworded.functional, reworded.disposition) == (plain.functional, plain.disposition)
    assert [(r.code, r.severity, r.measured) for r in reworded.reasons] == \
        [(r.code, r.severity, r.measured) for r in plain.reasons]


def test_the_grader_matches_no_words():
    # No summary is read, and no text is searched for a word (`"fan" in summary`): decisions are codes and numbers.
    for path in ("grading/grader.py", "grading/policy.py"):
        tree = ast.parse((ROOT / path).read_text())
        strings = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)}
        assert "summary" not in strings, path
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare) and any(isinstance(op, ast.In | ast.NotIn) for op in node.ops):
                assert not (isinstance(node.left, ast.Constant) and isinstance(node.left.value, str)), \
                    f"{path}:{node.lineno} searches text for a word"


def test_no_check_threshold_is_repeated_in_grading():
    thresholds = {value for name, value in vars(limits).items() if name.isupper() and isinstance(value, int | float)}
    tree = ast.parse((ROOT / "grading/grader.py").read_text())
    numbers = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)
               and isinstance(node.value, int | float) and not isinstance(node.value, bool)}
    assert not (numbers & thresholds - {0, 1}), numbers & thresholds


def test_results_recorded_before_findings_are_graded_by_status_alone():
    results = [{"name": "vram", "status": "fail", "summary": "7 memory errors", "metrics": {}, "findings": None},
               {"name": "thermal", "status": "warn", "summary": "thermal throttling", "metrics": {}, "findings": None},
               {"name": "pcie", "status": "pass", "summary": "fine", "metrics": {}, "findings": None}]
    grade = grade_results(results, reference=RTX_3080, cosmetic="A")
    assert [(r.code, r.check, r.severity) for r in grade.reasons] == [
        ("check.unexplained", "vram", "fail"), ("check.unexplained", "thermal", "warn")]
    assert grade.functional == "FAIL" and grade.disposition == "failed"


def test_a_failure_that_names_no_finding_still_fails():
    results = [{"name": "vram", "status": "fail", "summary": "", "metrics": {}, "findings": []}]
    assert grade_results(results, reference=RTX_3080).functional == "FAIL"


def test_every_reason_cites_its_threshold_and_source(reports):
    grade = grade_results(results_of(reports["thermal_runaway"]), reference=RTX_3080, cosmetic="A")
    reason = next(r for r in grade.reasons if r.code == "thermal.repaste_needed")
    assert reason.threshold == limits.HOTSPOT_DELTA_FAIL_C and reason.measured >= reason.threshold
    assert reason.source == "testbench/checks/limits.py:HOTSPOT_DELTA_FAIL_C"
    assert "(repaste and new pads)" in reason.sentence  # the policy's repair


def test_a_degraded_link_is_a_stated_limitation():
    results = [{"name": "pcie", "status": "warn", "summary": "", "metrics": {},
                "findings": [Finding("pcie.link_degraded", "warn", "link gen1 x1", "gen1 x1", "gen4 x16").as_dict()]}]
    grade = grade_results(results, reference=RTX_3080, cosmetic="A")
    assert grade.functional == "F-C" and [r.code for r in grade.reasons] == ["pcie.link_degraded"]


def test_codes_and_severities_are_checked():
    with pytest.raises(ValueError, match="unknown finding code"):
        Finding("vram.maybe_bad", "fail", "x")
    with pytest.raises(ValueError, match="severity"):
        Finding("vram.bad_cell", "error", "x")
    found = Findings()
    found.warn("thermal.no_plateau", "still rising")
    found.fail("thermal.gpu_hot", "GPU reached 95 °C")
    assert found.failed and found.summary() == "GPU reached 95 °C; still rising"


def test_the_policy_names_only_known_codes():
    named = set(POLICY["repairable"]) | set(POLICY["repairs"]) | set(POLICY["limitations"]) | \
        set(POLICY["consequences_of_heat"])
    assert named <= set(CODES), named - set(CODES)


def test_every_code_is_documented_and_every_documented_code_exists():
    text = (ROOT / "docs/findings.md").read_text()
    documented = set(re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \|", text, flags=re.MULTILINE))
    added_by_grader = {"performance.below_reference", "performance.reduced", "performance.underperforms",
                       "performance.unmeasured", "check.unexplained"}
    assert documented == set(CODES) | added_by_grader


def test_the_certificate_payload_carries_the_findings(reports):
    facts = [check_facts(r) for r in results_of(reports["vram_stuck_bit"])]
    vram = next(f for f in facts if f["name"] == "vram")
    [finding] = vram["findings"]
    assert finding["code"] == "vram.bad_cell" and finding["severity"] == "fail" and finding["threshold"] == 0
    assert set(finding) == {"code", "severity", "measured", "threshold", "source", "sentence"}
