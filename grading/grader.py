"""From a test run's results to a functional grade with reasons. Django-free: it reads check results as plain dicts
(a CheckResultRecord's fields, or CheckResult.as_dict()), so it grades stored runs and fresh reports alike.

It reads the checks' findings (testbench/checks/findings.py): codes, measured values and thresholds, never the
checks' sentences, so rewording a sentence cannot change a grade. The policy (grading/policy.py) maps each code to
what it does to the grade; the reason a buyer reads is the finding's sentence, with the repair where there is one.
Performance is graded on the measured ratios against the policy's bands.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .policy import POLICY, marketplace_conditions
from .readiness import ai_readiness

FAIL, LIMIT, WARN = "fail", "limit", "warn"  # reason severities: FAIL, F-C, F-B


@dataclass(frozen=True)
class Reason:
    code: str  # a finding code (docs/findings.md), or performance.* / check.unexplained from the grader itself
    check: str
    severity: str
    measured: object
    threshold: object
    sentence: str
    source: str = ""  # where the threshold is defined


@dataclass
class Grade:
    functional: str  # F-A, F-B, F-C or FAIL
    cosmetic: str  # A–D from the inspection, "" if none
    policy_version: str
    reasons: list[Reason] = field(default_factory=list)
    disposition: str = "graded"  # where the card goes: graded, repair, failed, or retest (in another slot)
    marketplace: dict = field(default_factory=dict)
    ai: dict = field(default_factory=dict)
    awaiting_another_slot: list[str] = field(default_factory=list)  # codes a run in another slot must confirm

    def as_dict(self) -> dict:
        return {"functional": self.functional, "cosmetic": self.cosmetic, "policy_version": self.policy_version,
                "reasons": [asdict(r) for r in self.reasons], "disposition": self.disposition,
                "marketplace": self.marketplace, "ai": self.ai}


CHECK_TITLES = {"vram": "VRAM", "pcie": "PCIe", "thermal": "thermal", "health": "health", "identity": "identity",
                "compute": "compute", "performance": "performance", "ai": "AI workload"}


def _ratio_text(key: str) -> str:
    return key.replace("_vs_expected", "").replace("_gbs", "").replace("_tflops", "").replace("_", " ")


def _performance(result: dict, policy: dict) -> list[Reason]:
    """Graded on the measured ratios (the check's `*_vs_expected` metrics) against the policy's bands."""
    metrics = result.get("metrics") or {}
    ratios = {k: v for k, v in metrics.items() if k.endswith("_vs_expected") and isinstance(v, int | float)}
    unjudged = next((f for f in result.get("findings") or [] if f.get("code") == "performance.no_reference"), None)
    if not ratios and unjudged:  # a model with no reference yet: measured, not judged, and the grade says so
        return [Reason("performance.no_reference", "performance", WARN, unjudged.get("measured"),
                       unjudged.get("threshold"), f"performance: {unjudged['sentence']}",
                       unjudged.get("source") or "")]
    if not ratios:
        return [Reason("performance.unmeasured", "performance", FAIL, None, policy["performance"]["c"],
                       "performance: not measured")]
    key, worst = min(ratios.items(), key=lambda item: item[1])
    what = _ratio_text(key).upper().replace("MEMORY BANDWIDTH", "memory bandwidth")
    basis = metrics.get("basis", "reference")
    limits = policy["performance"]
    for severity, code, bound in ((FAIL, "performance.underperforms", limits["c"]),
                                  (LIMIT, "performance.reduced", limits["b"]),
                                  (WARN, "performance.below_reference", limits["a"])):
        if worst < bound:
            return [Reason(code, "performance", severity, round(worst, 3), bound,
                           f"{what} throughput {worst:.0%} of reference ({basis}; {bound:.0%} needed for "
                           f"{'a pass' if severity == FAIL else 'the grade above'})", "grading/policy.py:performance")]
    return []


def _reason(check: str, finding: dict, policy: dict) -> Reason:
    """A finding as the grade states it: a failure fails the card, a warning is F-B, and the policy's limitations
    (a degraded link) are F-C; a repairable failure names its repair."""
    code = finding["code"]
    if finding["severity"] == "fail":
        severity = FAIL
    else:
        severity = LIMIT if code in policy["limitations"] else WARN
    repair = policy["repairs"].get(code) if severity == FAIL else None
    sentence = f"{CHECK_TITLES.get(check, check)}: {finding['sentence']}" + (f" ({repair})" if repair else "")
    return Reason(code, check, severity, finding.get("measured"), finding.get("threshold"),
                  sentence + finding.get("note", ""), finding.get("source") or "")


def _unexplained(result: dict) -> list[Reason]:
    """A result recorded before checks reported findings: its status is all there is to go on."""
    status = result["status"]
    if status == "pass":
        return []
    severity = WARN if status == "warn" else FAIL
    return [Reason("check.unexplained", result["name"], severity, status, "pass",
                   f"{result['name']}: {status} (recorded before findings; retest for the cause)")]


def grade_results(results: list[dict], *, reference, cosmetic: str = "", identity: dict | None = None,
                  policy: dict = POLICY, marketplace_options: dict | None = None,
                  confirmed_in_another_slot: frozenset[str] = frozenset()) -> Grade:
    """Grade one run's check results (in run order) for a card of catalog model `reference`. `marketplace_options`
    are the seller's eBay standing (see policy.marketplace_conditions). `confirmed_in_another_slot`: the finding
    codes an earlier run of this card found in another slot; the policy's `retest_in_another_slot` findings count
    against the card only when confirmed so, else the card is retested in another slot."""
    found: list[tuple[str, dict]] = []  # (check, finding)
    performance: list[Reason] = []
    unexplained: list[Reason] = []
    by_name = {r["name"]: r for r in results}
    for result in results:
        name, findings = result["name"], result.get("findings")
        if name == "performance" and result["status"] != "error":
            performance = _performance(result, policy)  # measured ratios against the policy's bands
        elif findings is None or (result["status"] in ("fail", "error") and not findings):
            unexplained += _unexplained(result)  # recorded before findings, or a failure that names no cause
        else:
            found += [(name, finding) for finding in findings]
    found, performance = _one_cause_each(found, performance, policy)
    reasons = [_reason(check, finding, policy) for check, finding in found] + performance + unexplained
    suspects = {r.code for r in reasons if r.code in policy["retest_in_another_slot"]} - confirmed_in_another_slot
    reasons = [Reason(r.code, r.check, r.severity, r.measured, r.threshold,
                      r.sentence + "; may be the slot: retest in another slot", r.source)
               if r.code in suspects else r for r in reasons]
    severities = {r.severity for r in reasons}
    functional = "FAIL" if FAIL in severities else "F-C" if LIMIT in severities else \
        "F-B" if WARN in severities else "F-A"
    failing = {r.code for r in reasons if r.severity == FAIL} - suspects  # what the bench cannot explain
    disposition = "retest" if suspects else "graded"
    if failing:
        disposition = "repair" if failing <= set(policy["repairable"]) else "failed"
    order = {FAIL: 0, LIMIT: 1, WARN: 2}
    reasons.sort(key=lambda r: order[r.severity])
    ai_check = by_name.get("ai") or {}
    readiness = ai_readiness(reference=reference, performance=(by_name.get("performance") or {}).get("metrics"),
                             identity=identity, policy=policy,
                             ai_check=ai_check.get("metrics") if ai_check.get("status") in ("pass", "warn") else None,
                             ) if functional != "FAIL" else {}
    return Grade(functional=functional, cosmetic=cosmetic or "", policy_version=policy["version"], reasons=reasons,
                 disposition=disposition,
                 marketplace=marketplace_conditions(functional, cosmetic or "", **(marketplace_options or {})),
                 ai=readiness, awaiting_another_slot=sorted(suspects))


def _one_cause_each(found: list[tuple[str, dict]], performance: list[Reason],
                    policy: dict) -> tuple[list[tuple[str, dict]], list[Reason]]:
    """Consequences are not second faults. Overheating explains the throttling the health counters saw, and makes
    performance say nothing about the chip (graded on the retest after the repair). A dead fan explains the heat:
    one reason, one fix."""
    heat = [f for check, f in found if check == "thermal" and f["code"] in policy["repairable"]
            and f["severity"] == "fail"]
    if not heat:
        return found, performance
    found = [(c, f) for c, f in found if f["code"] not in policy["consequences_of_heat"]]
    fan = next((f for f in heat if f["code"] in ("thermal.fan_not_spinning", "thermal.fan_blocked")), None)
    cause = fan or heat[0]
    sentence = cause["sentence"]
    if fan is not None:
        others = [f for f in heat if f is not fan]
        found = [(c, f) for c, f in found if f not in others]
        sentence += "".join(f"; {f['sentence']}" for f in others[:1])
    note = "; performance is graded on the retest after the repair" if performance else ""
    found = [(c, {**f, "sentence": sentence, "note": note} if f is cause else f) for c, f in found]
    return found, []
