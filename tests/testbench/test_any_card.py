"""Any NVIDIA card: the workstation and datacenter boards are in the catalog under the names NVML gives them, and a
card the catalog does not know is tested all the same, to a warning that says no reference existed."""

import dataclasses

import pytest

from grading.grader import grade_results
from inventory.catalog_file import model_name_key
from testbench.checks.base import CheckContext, CheckStatus, run_check
from testbench.checks.identity import identity_check
from testbench.checks.performance import FLEET_MIN_CARDS
from testbench.hardware.simulated import SimulatedDevice, board_spec
from testbench.plans import plan_for
from testbench.reference import catalog_references
from testbench.runner import reference_for_device, run_plan

# What nvmlDeviceGetName returns for each board, and its PCI device id.
NVML_NAMES = {
    "rtx-a2000": ("NVIDIA RTX A2000", "2531"), "rtx-a4000": ("NVIDIA RTX A4000", "24b0"),
    "rtx-a4500": ("NVIDIA RTX A4500", "2232"), "rtx-a5000": ("NVIDIA RTX A5000", "2231"),
    "rtx-a5500": ("NVIDIA RTX A5500", "2233"), "rtx-a6000": ("NVIDIA RTX A6000", "2230"),
    "rtx-6000-ada": ("NVIDIA RTX 6000 Ada Generation", "26b1"), "l4": ("NVIDIA L4", "27b8"),
    "l40s": ("NVIDIA L40S", "26b9"), "a10": ("NVIDIA A10", "2236"), "a40": ("NVIDIA A40", "2235"),
    "a100-pcie-40gb": ("NVIDIA A100-PCIE-40GB", "20f1"), "a100-sxm4-40gb": ("NVIDIA A100-SXM4-40GB", "20b0"),
    "a100-pcie-80gb": ("NVIDIA A100 80GB PCIe", "20b5"), "a100-sxm4-80gb": ("NVIDIA A100-SXM4-80GB", "20b2"),
    "h100-pcie": ("NVIDIA H100 PCIe", "2331"), "h100-sxm": ("NVIDIA H100 80GB HBM3", "2330"),
    "h200": ("NVIDIA H200", "2335"),
}


@pytest.mark.parametrize("slug", NVML_NAMES)
def test_workstation_and_datacenter_boards_are_known_by_their_nvml_names(slug):
    reference = catalog_references()[slug]
    nvml_name, device_id = NVML_NAMES[slug]
    assert model_name_key(nvml_name) == model_name_key(reference.name)
    assert device_id in reference.pci_device_ids
    assert reference.memory_bandwidth_gbs and reference.fp32_tflops and reference.bf16_tflops
    # Every board of these is Ampere or newer: BF16 at the FP16 rate, with tensor cores.
    assert reference.bf16_tflops == reference.fp16_tflops > 2 * reference.fp32_tflops


def test_each_pci_id_belongs_to_one_catalog_model():
    owners = {}
    for reference in catalog_references().values():
        for device_id in reference.pci_device_ids:
            owners.setdefault((reference.pci_vendor_id, device_id), []).append(reference.slug)
    shared = {key: slugs for key, slugs in owners.items() if len(slugs) > 1}
    # The catalog's documented exceptions (AMD Polaris and Navi 23 boards share ids); no NVIDIA id is shared.
    assert all(vendor == "1002" for vendor, _ in shared), shared


def a800(**changes):
    """A card refurbishers see that the catalog does not list: the A800 (an A100 for the Chinese market)."""
    spec = board_spec("a100-pcie-80gb")
    return dataclasses.replace(spec, slug="a800-80gb-pcie", name="A800 80GB PCIe", pci_device_ids=("20f5",),
                               **changes)


def test_a_card_not_in_the_catalog_runs_every_check_to_a_warning():
    device = SimulatedDevice(spec=a800(), seed=4, memory_bytes=64 * 2**20, time_scale=120.0)
    reference = reference_for_device(device)
    assert not reference.catalogued and reference.name == "A800 80GB PCIe"
    assert reference.memory_bandwidth_gbs is None and reference.pcie_gen == 4
    report = run_plan(device, declared=reference, plan=plan_for("quick", simulated=True))
    statuses = {c.name: c.status for c in report.checks}
    assert set(statuses) == set(plan_for("quick", simulated=True))  # every check ran
    assert report.verdict == CheckStatus.WARN, {c.name: c.summary for c in report.checks}
    assert statuses["identity"] == statuses["performance"] == CheckStatus.WARN
    assert all(s == CheckStatus.PASS for name, s in statuses.items() if name not in ("identity", "performance"))
    codes = {f.code for c in report.checks for f in c.findings}
    assert codes == {"identity.not_in_catalog", "performance.no_reference"}
    performance = next(c for c in report.checks if c.name == "performance")
    assert performance.metrics["basis"] == "none" and performance.metrics["memory_bandwidth_gbs"] > 0
    assert "0 of 5 cards" in performance.summary and "GB/s" in performance.summary

    grade = grade_results([c.as_dict() for c in report.checks], reference=reference, cosmetic="A",
                          identity=report.identity)
    assert grade.functional == "F-B"
    sentences = " ".join(r.sentence for r in grade.reasons)
    assert "not in the catalog" in sentences and "no reference" in sentences
    assert grade.ai["measured"]["decode_tokens_per_s"]["7B_fp16"] > 0  # an 80 GB card fits a 7B model whole


def test_once_five_such_cards_are_known_the_fleet_is_the_reference():
    device = SimulatedDevice(spec=a800(), seed=5, memory_bytes=64 * 2**20, time_scale=120.0)
    reference = reference_for_device(device)
    first = run_check("performance", _performance, CheckContext(device), reference=reference, fleet_cards=0)
    fleet = {key: first.metrics[key] for key in ("memory_bandwidth_gbs", "fp32_tflops", "fp16_tflops", "bf16_tflops")}
    judged = run_check("performance", _performance, CheckContext(device), reference=reference, fleet=fleet,
                       fleet_cards=FLEET_MIN_CARDS)
    assert judged.status == CheckStatus.PASS and judged.metrics["basis"] == "fleet median"
    assert 0.9 < judged.metrics["memory_bandwidth_gbs_vs_fleet"] < 1.1
    fewer = run_check("performance", _performance, CheckContext(device), reference=reference, fleet=fleet,
                      fleet_cards=FLEET_MIN_CARDS - 1)
    assert [f.code for f in fewer.findings] == ["performance.no_reference"]


def _performance(ctx, **params):
    from testbench.checks.performance import performance_check

    return performance_check(ctx, copy_mib=2, gemm_size=256, repeats=3, min_timed_s=0.0, **params)


def test_ecc_on_a_gddr6_board_is_not_a_memory_mismatch():
    # An A40 with ECC on (the default on datacenter boards) reports 15/16 of its 48 GiB; one with 36 GiB is not an A40.
    declared = board_spec("a40")
    for share, matches in ((1.0, True), (15 / 16, True), (0.75, False)):
        spec = dataclasses.replace(declared, vram_bytes=int(declared.vram_bytes * share))
        device = SimulatedDevice(spec=spec, memory_bytes=4 * 2**20)
        result = run_check("identity", identity_check, CheckContext(device), declared=declared)
        assert ("identity.memory_size_mismatch" not in {f.code for f in result.findings}) is matches, share
