"""The `ai` check on simulated cards: decode measured on the device's clock through real transformer kernels, a
training run compared with FP32 and with itself, and the largest context from the memory that could be allocated.
The faults act in the real data path: compute_sdc flips bits in the very products the decode and training run."""

import math

import pytest
import torch

from testbench.checks import ai
from testbench.checks.ai import DECODER_SHAPES, ai_check, parting
from testbench.checks.base import CheckContext, CheckStatus, run_check
from testbench.checks.limits import AI_GRAD_NORM_TOLERANCE, AI_LOSS_TOLERANCE
from testbench.hardware.faults import build_fault_plan
from testbench.hardware.injected import FaultInjectingDevice
from testbench.plans import PLANS, SIM_SIZES, plan_for

from .conftest import SEEDS

MEMORY = 64 * 2**20
SIM = {key: value for key, value in SIM_SIZES["ai"].items()}
SHORT = {**SIM, "models": ("7B",), "contexts": (1024,), "batches": (1,), "train_steps": 6}


def run_ai(device, **params):
    return run_check("ai", ai_check, CheckContext(device), **{**SIM, **params})


def test_a_healthy_card_decodes_at_its_bandwidth_and_trains_like_fp32(make_device):
    device = make_device(slug="geforce-rtx-3090", memory_bytes=MEMORY)
    result = run_ai(device, models=("7B", "13B"), contexts=(1024, 4096), batches=(1, 8), train_steps=8)
    assert result.status == CheckStatus.PASS, result.summary
    metrics = result.metrics
    # A 3090 holds a 7B model at FP16 and BF16 (13.5 GB of 24), not a 13B one (26 GB).
    assert set(metrics["decode_tokens_per_s"]) == {"7B_fp16", "7B_bf16"}
    rows = {(r["model"], r["dtype"], r["batch"], r["context"]): r for r in metrics["decode"]}
    assert len(rows) == 2 * 2 * 2 * 2
    one = rows[("7B", "fp16", 1, 1024)]
    assert one["fits"] and not rows[("13B", "fp16", 1, 1024)]["fits"]
    assert one["layers_timed"] == SIM["max_layers"]  # room for more: the plan's cap is what holds it
    # Decode is bound by memory: the achieved bandwidth is close to the measured copy rate, and tokens/s are what
    # that bandwidth gives over the bytes a whole-model step reads (weights and cache).
    assert 0.8 < one["bandwidth_share"] < 1.1
    shape = DECODER_SHAPES["7B"]
    step_bytes = shape.layers * shape.layer_step_bytes(1, 1025, 2) + 2 * shape.vocab * shape.hidden
    expected = one["bandwidth_gbs"] * 1e9 / step_bytes
    assert one["tokens_per_s"] == pytest.approx(expected, rel=0.1)
    assert 40 < one["tokens_per_s"] < 70  # 936 GB/s over 13.5 GB, as llama.cpp shows on a 3090
    # A longer cache is slower, several streams give more tokens in all.
    assert rows[("7B", "fp16", 1, 4096)]["tokens_per_s"] < one["tokens_per_s"]
    assert rows[("7B", "fp16", 8, 1024)]["tokens_per_s"] > 4 * one["tokens_per_s"]
    training = metrics["training"]
    assert training["precisions"] == ["fp32", "fp16", "bf16"]
    assert training["loss_last"] < training["loss_first"]  # it learns
    for precision in ("fp16", "bf16"):
        assert training[f"{precision}_loss_max_rel_diff"] < AI_LOSS_TOLERANCE[precision] / 10
        assert training[f"{precision}_grad_norm_max_rel_diff"] < AI_GRAD_NORM_TOLERANCE[precision]
        assert training[f"{precision}_repeat_identical"]
    # Everything the check took is given back.
    free, total = device.memory_info()
    assert free == total


@pytest.mark.parametrize("memory_mib", [64, 4])
def test_as_many_layers_are_timed_as_fit_in_half_the_free_memory(make_device, memory_mib):
    # Uncapped: a 64 MiB card holds 21 of the narrowed 7B layers (1.58 MB each in FP16) in half its memory, a 4 MiB
    # card one, and each measurement times them all where their caches fit beside them.
    device = make_device(slug="geforce-rtx-3090", memory_bytes=memory_mib * 2**20)
    result = run_ai(device, **{**SHORT, "max_layers": None})
    layer_bytes = DECODER_SHAPES["7B"].scaled(SIM["shape_scale"]).layer_parameters * 2
    expected = max(1, int(memory_mib * 2**20 * 0.5 // layer_bytes))
    assert [row["layers_timed"] for row in result.metrics["decode"]] == [expected] * len(result.metrics["decode"])
    assert expected == (21 if memory_mib == 64 else 1)


def test_int8_and_int4_are_marked_extrapolated_from_the_measured_fp16_efficiency(make_device):
    result = run_ai(make_device(slug="geforce-rtx-3090", memory_bytes=MEMORY), **SHORT)
    extrapolated = {r["precision"]: r for r in result.metrics["decode_extrapolated"]}
    assert set(extrapolated) == {"int8", "int4"}
    for row in extrapolated.values():
        assert row["extrapolated"] is True and "fp16 at" in row["from"]
    measured = result.metrics["decode_tokens_per_s"]["7B_fp16"]
    # INT8 reads half the weights of FP16 (the cache stays FP16): close to twice as fast, never more.
    assert measured * 1.6 < extrapolated["int8"]["tokens_per_s"] < measured * 2.0
    assert extrapolated["int4"]["tokens_per_s"] > extrapolated["int8"]["tokens_per_s"]


def test_a_card_too_small_for_the_whole_model_says_so(make_device):
    # An RTX 3080 has 10 GB: a 7B model at FP16 (13.5 GB) does not fit, so no whole-model figure is claimed and
    # there is no context for it, while INT8 (6.7 GB) leaves room.
    result = run_ai(make_device(slug="geforce-rtx-3080", memory_bytes=MEMORY), **SHORT)
    assert result.status == CheckStatus.PASS
    assert result.metrics["decode_tokens_per_s"] == {}
    assert all(not row["fits"] and row["tokens_per_s"] for row in result.metrics["decode"])  # measured, no claim
    context = result.metrics["largest_context_tokens"]
    assert context["7B_fp16"] == 0 and context["7B_int8"] > 4096
    assert "no model fits whole" in result.summary


def test_the_largest_context_comes_from_the_memory_that_could_be_allocated(make_device):
    device = make_device(slug="geforce-rtx-3090", memory_bytes=MEMORY)
    whole = run_ai(device, **SHORT).metrics["largest_context_tokens"]["7B_fp16"]
    held = device.alloc_words(MEMORY // 4 // 4)  # another process holds a quarter of the card
    try:
        less = run_ai(device, **SHORT).metrics["largest_context_tokens"]["7B_fp16"]
    finally:
        device.free(held)
    shape = DECODER_SHAPES["7B"]
    card = device.identity().vram_total_bytes
    assert whole == int((card - shape.parameters * 2 - ai.RUNTIME_RESERVE_BYTES) // shape.kv_bytes_per_token(2))
    per_token = shape.kv_bytes_per_token(2)
    assert whole - less == pytest.approx(card / 4 / per_token, rel=0.02)


def test_pascal_decodes_in_fp16_slowly_and_has_no_bf16(make_device):
    # A GTX 1080 Ti computes FP16 at 1/64 of FP32: its decode is bound by arithmetic, not memory, which is what its
    # buyer gets; BF16 is not offered below Ampere.
    result = run_ai(make_device(slug="geforce-gtx-1080-ti", memory_bytes=MEMORY), **SHORT)
    assert result.metrics["dtypes"] == ["fp16"]
    assert result.metrics["training"]["precisions"] == ["fp32", "fp16"]
    row = result.metrics["decode"][0]
    assert row["bandwidth_share"] < 0.5


@pytest.mark.parametrize("wrap", [False, True], ids=["simulated", "planted in a device"])
def test_silent_data_corruption_fails_the_training_comparison_with_where(make_device, wrap):
    device = make_device("compute_sdc", slug="geforce-rtx-3090", memory_bytes=MEMORY, seed=3)
    if wrap:  # the same fault planted by the wrapper a real GPU runs under, around a healthy card
        device = FaultInjectingDevice(make_device(slug="geforce-rtx-3090", memory_bytes=MEMORY, seed=3),
                                      build_fault_plan(["compute_sdc"], seed=3, memory_bytes=MEMORY), seed=3)
    result = run_ai(device, **SHORT)
    assert result.status == CheckStatus.FAIL
    codes = {f.code for f in result.findings}
    assert codes & {"ai.nonfinite", "ai.training_divergence"}, result.summary
    finding = next(f for f in result.findings if f.code in ("ai.nonfinite", "ai.training_divergence"))
    assert finding.measured["step"] == 0 and finding.measured["tensor"]
    where = result.evidence.get("nonfinite") or result.evidence.get("divergence")
    assert where and all("step" in w and "tensor" in w for w in where.values())


class NoisyDevice:
    """A card whose products are off by a little, differently every time: nothing non-finite, no large error, but
    two runs of the same steps cannot agree."""

    def __init__(self, device):
        self.device = device
        self.generator = torch.Generator().manual_seed(1)

    def matmul(self, a, b):
        result = self.device.matmul(a, b)
        noise = torch.randn(result.shape, generator=self.generator).to(result.dtype) * 1e-3
        return result + noise * result.detach().abs()

    def __getattr__(self, name):
        return getattr(self.device, name)


def test_two_runs_that_disagree_are_named(make_device):
    result = run_ai(NoisyDevice(make_device(slug="geforce-rtx-3090", memory_bytes=MEMORY)), **SHORT)
    assert result.status == CheckStatus.FAIL
    finding = next(f for f in result.findings if f.code == "ai.nondeterministic")
    assert finding.measured["precision"] == "fp32" and finding.measured["step"] >= 0
    assert result.metrics["training"]["fp32_repeat_identical"] is False


@pytest.mark.parametrize("seed", SEEDS)
def test_healthy_cards_pass_over_seeds(make_device, seed):
    result = run_ai(make_device(slug="geforce-rtx-3090", memory_bytes=MEMORY, seed=seed), **SHORT, seed=seed)
    assert result.status == CheckStatus.PASS, result.summary


def test_parting_names_the_first_step_and_tensor_beyond_the_tolerance():
    names = ["embed", "blocks.0.attn.qkv", "head"]
    losses = torch.tensor([5.0, 4.8, 4.6, 4.5])
    norms = torch.tensor([[1.0, 2.0, 3.0]] * 4)
    run_norms = norms.clone()
    run_norms[2, 1] = 2.5  # 25 % off at step 2, in the attention weights
    where, loss_max, grad_max = parting((losses, norms), (losses.clone(), run_norms), names, 0.02, 0.1)
    assert where["step"] == 2 and where["tensor"] == "blocks.0.attn.qkv"
    assert where["relative"] == pytest.approx(0.25) and grad_max == pytest.approx(0.25) and loss_max == 0
    run_losses = losses.clone()
    run_losses[1] = 4.0
    where, _, _ = parting((losses, norms), (run_losses, run_norms), names, 0.02, 0.1)
    assert where["step"] == 1 and where["tensor"] == "loss"
    # A NaN parts from anything: a run that went non-finite never counts as agreeing.
    nan_losses = losses.clone()
    nan_losses[3] = float("nan")
    assert parting((losses, norms), (nan_losses, norms), names, 0.02, 0.1)[0]["step"] == 3
    nan_norms = norms.clone()
    nan_norms[0, 2] = float("nan")
    assert parting((losses, norms), (losses, nan_norms), names, 0.02, 0.1)[0]["tensor"] == "head"
    # A near-zero gradient's noise does not count: it is held to a share of the step's total norm.
    tiny = torch.tensor([[1.0, 2.0, 1e-6]] * 4)
    noisy = tiny.clone()
    noisy[:, 2] = 3e-6
    assert parting((losses, tiny), (losses, noisy), names, 0.02, 0.1)[0] is None


def test_the_plans_carry_the_ai_check_and_a_simulated_card_runs_it_scaled():
    assert PLANS["quick"]["ai"]["models"] == ("7B",)
    assert "ai" in PLANS["standard"] and "ai" in PLANS["burn-in"]
    simulated = plan_for("quick", simulated=True)["ai"]
    assert simulated["shape_scale"] == 16 and simulated["train_shape"]["width"] == 64
    assert "shape_scale" not in plan_for("quick")["ai"]


def test_the_training_batches_are_learnable_and_seeded():
    shape = {"layers": 1, "width": 32, "heads": 2, "sequence": 16, "batch": 2, "vocab": 64}
    first = ai.training_batches(shape, 3, seed=0)
    assert first.shape == (3, 2, 17) and torch.equal(first, ai.training_batches(shape, 3, seed=0))
    # Mostly one token follows another: the pair (a, b) repeats far more than chance would have it.
    pairs = torch.stack([first[..., :-1].reshape(-1), first[..., 1:].reshape(-1)])
    successors = {}
    for a, b in pairs.T.tolist():
        successors.setdefault(a, []).append(b)
    agreeing = sum(max(v.count(x) for x in v) for v in successors.values())
    assert agreeing / pairs.shape[1] > 0.8
    assert not math.isnan(float(first.float().mean()))
