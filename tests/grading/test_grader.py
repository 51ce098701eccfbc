"""Grading: every fault profile's grade names the right cause with its evidence, healthy cards get F-A, the
performance bands fall where the policy says, and the AI-readiness figures follow from the card's memory and
bandwidth."""

import pytest

from grading.grader import grade_results
from grading.policy import POLICY, marketplace_conditions
from testbench.hardware.faults import PROFILES
from testbench.plans import SIM_TIME_FACTOR, plan_for
from testbench.reference import catalog_references
from testbench.runner import run_plan

pytestmark = pytest.mark.database_independent

RTX_3080 = catalog_references()["geforce-rtx-3080"]
GTX_1070 = catalog_references()["geforce-gtx-1070"]
# The grade and the reason code each profile must produce, and where the card goes next.
EXPECTED = {
    "healthy": ("F-A", None, "graded"),
    "vram_stuck_bit": ("FAIL", "vram.bad_cell", "failed"),
    "vram_weak_cells": ("FAIL", "vram.weak_cells", "failed"),
    "compute_sdc": ("FAIL", "compute.sdc", "failed"),
    "thermal_runaway": ("FAIL", "thermal.repaste_needed", "repair"),
    "fan_failed": ("FAIL", "thermal.fan_not_spinning", "repair"),
    "pcie_degraded": ("F-C", "pcie.link_degraded", "retest"),  # issue 12: the slot may be at fault
    "mining_vbios": ("F-B", "identity.mining_power_limit", "graded"),
    "underperformer": ("FAIL", "performance.underperforms", "failed"),
    "fake_model": ("FAIL", "identity.pci_id_mismatch", "failed"),
    "fell_off_bus": ("FAIL", "device.lost", "failed"),
    # Issue 15: a word that reads wrong once holds its data (F-B, named); a jammed fan is named by its tachometer.
    "vram_transient_reads": ("F-B", "vram.bad_reads", "graded"),
    "fan_blocked": ("FAIL", "thermal.fan_blocked", "repair"),
}


@pytest.fixture(scope="module")
def one_thread():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def graded(profile, seed=7, cosmetic="A"):
    from testbench.hardware.faults import build_fault_plan
    from testbench.hardware.simulated import SimulatedDevice

    memory = 32 * 2**20
    device = SimulatedDevice(seed=seed, time_scale=SIM_TIME_FACTOR, memory_bytes=memory,
                             faults=build_fault_plan([profile], seed=seed, memory_bytes=memory))
    report = run_plan(device, declared=RTX_3080, plan=plan_for("quick", simulated=True))
    return grade_results([c.as_dict() for c in report.checks], reference=RTX_3080, cosmetic=cosmetic,
                         identity=report.identity)


def test_every_profile_has_an_expected_grade():
    assert set(EXPECTED) == set(PROFILES)


@pytest.mark.parametrize("profile", sorted(EXPECTED))
def test_each_fault_profile_is_graded_with_its_cause(one_thread, profile):
    functional, code, disposition = EXPECTED[profile]
    grade = graded(profile)
    assert grade.functional == functional, [r.sentence for r in grade.reasons]
    assert grade.disposition == disposition and grade.policy_version == POLICY["version"]
    if code is None:
        assert grade.reasons == []
    else:
        assert grade.reasons[0].code == code or code in {r.code for r in grade.reasons}
        reason = next(r for r in grade.reasons if r.code == code)
        assert reason.sentence and reason.check
    if profile == "vram_stuck_bit":
        reason = grade.reasons[0]
        assert "bit errors, one bad cell: bit" in reason.sentence and "0x" in reason.sentence
        assert reason.measured >= 1 and reason.threshold == 0
    if profile == "underperformer":
        assert "throughput" in grade.reasons[0].sentence and grade.reasons[0].measured < 0.8
    if profile == "pcie_degraded":
        assert "PCIe: link gen1 x1 where the card is built for gen4 x16" in grade.reasons[0].sentence
    if functional == "FAIL":
        assert grade.marketplace["ebay"]["id"] == 7000 and grade.ai == {}


def performance_result(ratio: float) -> dict:
    return {"name": "performance", "status": "pass", "summary": "",
            "metrics": {"basis": "fleet median", "memory_bandwidth_gbs": 650.0,
                        "memory_bandwidth_gbs_vs_expected": 1.01, "bf16_tflops_vs_expected": ratio}}


@pytest.mark.parametrize(("ratio", "functional", "code"), [
    (0.96, "F-A", None), (0.95, "F-A", None), (0.93, "F-B", "performance.below_reference"),
    (0.85, "F-C", "performance.reduced"), (0.79, "FAIL", "performance.underperforms"),
])
def test_performance_bands(ratio, functional, code):
    grade = grade_results([performance_result(ratio)], reference=RTX_3080, cosmetic="A")
    assert grade.functional == functional
    if code:
        (reason,) = grade.reasons
        assert reason.code == code and reason.measured == ratio
        assert reason.sentence.startswith(f"BF16 throughput {ratio:.0%} of reference (fleet median")


def test_marketplace_conditions_carry_each_channels_id_and_name():
    assert marketplace_conditions("F-A", "A") == {
        "ebay": {"id": 2500, "name": "Seller refurbished", "enum": "SELLER_REFURBISHED"},
        "backmarket": {"id": None, "name": "Excellent"},
        "google_shopping": {"id": "refurbished", "name": "Refurbished"}}
    assert marketplace_conditions("F-C", "B")["backmarket"]["name"] == "Fair"
    assert marketplace_conditions("F-C", "A")["ebay"]["id"] == 3000  # a stated limitation: used, not refurbished
    for functional, cosmetic in (("F-A", "D"), ("F-A", ""), ("FAIL", "A")):  # cosmetic D, never inspected, failed
        conditions = marketplace_conditions(functional, cosmetic)
        assert conditions["ebay"]["id"] == 7000 and conditions["backmarket"] is None
        assert conditions["google_shopping"] is None


@pytest.mark.parametrize("functional, cosmetic", [(f, c) for f in ("F-A", "F-B", "F-C", "FAIL") for c in "ABCD"])
def test_ebays_restricted_refurbished_conditions_need_the_programme(functional, cosmetic):
    from grading.policy import EBAY_RESTRICTED

    outside = marketplace_conditions(functional, cosmetic)["ebay"]["id"]
    without_2500 = marketplace_conditions(functional, cosmetic, ebay_seller_refurbished=False)["ebay"]["id"]
    inside = marketplace_conditions(functional, cosmetic, ebay_refurbished_programme=True)["ebay"]["id"]
    assert outside not in EBAY_RESTRICTED and without_2500 in (3000, 7000)
    sellable = functional != "FAIL" and cosmetic != "D"
    assert (inside in EBAY_RESTRICTED) == sellable and (outside == 7000) == (not sellable)


def test_a_better_card_never_gets_a_worse_condition():
    """eBay's ids rise as the condition falls: with either standing, a better grade on one axis (the other held)
    never gets a higher id."""
    functional, cosmetic = ["F-A", "F-B", "F-C", "FAIL"], ["A", "B", "C", "D"]
    for options in ({}, {"ebay_refurbished_programme": True}, {"ebay_seller_refurbished": False}):
        ids = {(f, c): marketplace_conditions(f, c, **options)["ebay"]["id"] for f in functional for c in cosmetic}
        for i, f in enumerate(functional):
            for j, c in enumerate(cosmetic):
                if i + 1 < len(functional):
                    assert ids[f, c] <= ids[functional[i + 1], c], (options, f, c)
                if j + 1 < len(cosmetic):
                    assert ids[f, c] <= ids[f, cosmetic[j + 1]], (options, f, c)
    assert marketplace_conditions("F-A", "A", ebay_refurbished_programme=True)["ebay"]["id"] == 2010


def test_ai_readiness_of_a_10_gb_ampere_card():
    ai = grade_results([performance_result(1.0)], reference=RTX_3080, cosmetic="A").ai
    usable = 10 * 2**30 * 0.8 - 0.5 * 2**30  # 20% kept for the KV cache, 0.5 GiB for the runtime
    assert ai["largest_model_billions"] == {"fp16": round(usable / 2 / 1e9, 1), "int8": round(usable / 1e9, 1),
                                            "int4": round(usable / 0.5625 / 1e9, 1)}
    assert ai["decode_tokens_per_s_estimate"]["7B_fp16"] is None  # 14 GB of weights do not fit in 10 GB
    assert ai["decode_tokens_per_s_estimate"]["7B_int4"] == round(650e9 / (7e9 * 0.5625), 1)
    assert ai["bandwidth_source"] == "measured" and ai["bf16"] and ai["tensor_cores"]
    assert "estimate" in ai["note"]


def test_ai_readiness_of_a_pascal_card_from_its_datasheet():
    ai = grade_results([], reference=GTX_1070, cosmetic="B").ai
    assert ai["bandwidth_source"] == "datasheet" and not ai["bf16"] and not ai["tensor_cores"]


@pytest.mark.parametrize(("slug", "tensor_cores", "bf16"), [
    ("geforce-gtx-1660-super", False, False), ("cmp-30hx", False, False), ("geforce-rtx-2060", True, False),
    ("cmp-170hx", True, True), ("p104-100", False, False),
])
def test_tensor_cores_and_bf16_by_chip(slug, tensor_cores, bf16):
    ai = grade_results([], reference=catalog_references()[slug], cosmetic="A").ai
    assert (ai["tensor_cores"], ai["bf16"]) == (tensor_cores, bf16)


def test_a_failed_fan_is_one_cause_not_three(one_thread):
    # The heat, the hardware slowdown and any throttled performance follow from the fan: the grade names the fan,
    # and the card is repairable.
    grade = graded("fan_failed")
    assert [r.code for r in grade.reasons] == ["thermal.fan_not_spinning"]
    assert "a fan stays at 0%" in grade.reasons[0].sentence and "fan replacement" in grade.reasons[0].sentence


def test_throttled_performance_is_left_to_the_retest_after_a_thermal_repair():
    thermal = {"name": "thermal", "status": "fail", "summary": "GPU reached 97 °C; hotspot 38 °C above the core",
               "metrics": {"peak_gpu_temp_c": 97, "peak_hotspot_delta_c": 38},
               "findings": [{"code": "thermal.gpu_hot", "severity": "fail", "sentence": "GPU reached 97 °C",
                             "measured": 97, "threshold": 92}]}
    grade = grade_results([performance_result(0.55), thermal], reference=RTX_3080, cosmetic="A")
    assert [r.code for r in grade.reasons] == ["thermal.gpu_hot"] and grade.disposition == "repair"
    assert grade.reasons[0].sentence.endswith("performance is graded on the retest after the repair")
