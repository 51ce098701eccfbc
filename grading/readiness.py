"""AI-readiness: what a buyer running language models can expect of this card, from what was measured on it.

- The largest model that fits for inference at FP16, INT8 and INT4: the card's memory, less a share kept for the KV
  cache and activations and what the runtime takes, divided by the bytes per parameter.
- An estimated single-stream decode rate for 7B- and 13B-class models: decoding reads every weight once per token,
  so it is bound by memory bandwidth — the measured bandwidth ÷ the model's bytes. An upper estimate, labelled so.
- Whether BF16 and tensor cores are there (compute capability and the catalog's FP16 rate).
- What the `ai` check measured, where the run had one (`measured`): decode tokens/s of the 7B and 13B shapes per
  precision where the whole model fits, batched decode, INT8/INT4 extrapolated from the measured FP16 efficiency
  (and named so), the longest context that fits, and the precisions whose training followed FP32.
"""

from __future__ import annotations

import math

GIB = 2**30
REFERENCE_MODELS = {"7B": 7.0e9, "13B": 13.0e9}


def _capability(text: str) -> tuple[int, int]:
    try:
        major, minor = (int(p) for p in (text or "0.0").split(".")[:2])
        return major, minor
    except ValueError:
        return 0, 0


def measured_readiness(metrics: dict | None) -> dict | None:
    """The `ai` check's figures a buyer reads (None without them): batch 1 at the check's first context, and only
    where the whole model, its cache and the runtime fit in the card."""
    if not metrics or not metrics.get("decode"):
        return None
    rows = metrics["decode"]
    first_context = rows[0]["context"]
    dtypes = metrics.get("dtypes") or []
    batched = {f"{r['model']}_{r['dtype']}_b{r['batch']}": r["tokens_per_s"] for r in rows
               if r["batch"] > 1 and r["context"] == first_context and r.get("fits") and r.get("tokens_per_s")
               and dtypes and r["dtype"] == dtypes[0]}
    extrapolated = {f"{r['model']}_{r['precision']}": r["tokens_per_s"]
                    for r in metrics.get("decode_extrapolated") or [] if r.get("fits") and r.get("tokens_per_s")}
    training = metrics.get("training") or {}
    checked = [p for p in training.get("precisions") or [] if p != "fp32"]
    share = next((r.get("bandwidth_share") for r in rows if r["batch"] == rows[0]["batch"]
                  and r["context"] == first_context and r.get("bandwidth_share")), None)
    measured = {
        "decode_tokens_per_s": dict(metrics.get("decode_tokens_per_s") or {}),
        "context_tokens": first_context,
        "batched_tokens_per_s": batched,
        "extrapolated_tokens_per_s": extrapolated,
        "bandwidth_share": share,
        "largest_context_tokens": dict(metrics.get("largest_context_tokens") or {}),
        "training_checked": checked,
        "training_steps": training.get("steps"),
    }
    if (metrics.get("shape_scale") or 1) != 1:
        measured["shape_scale"] = metrics["shape_scale"]  # a simulated card's narrowed shapes, said as such
    return measured


def ai_readiness(*, reference, performance: dict | None, identity: dict | None, policy: dict,
                 ai_check: dict | None = None) -> dict:
    """`ai_check`: the `ai` check's metrics, where the run had one that passed or warned."""
    ai = policy["ai"]
    vram_bytes = (identity or {}).get("vram_total_bytes") or reference.vram_bytes
    usable = vram_bytes * (1 - ai["kv_margin"]) - ai["runtime_overhead_gib"] * GIB
    measured = (performance or {}).get("memory_bandwidth_gbs")
    # The measured copy rate where there is one (a real card's own), else the datasheet's: said which.
    bandwidth_gbs, bandwidth_source = (measured, "measured") if measured else \
        (reference.memory_bandwidth_gbs, "datasheet")
    capability = _capability(reference.compute_capability)
    fits = {}
    decode = {}
    for precision, per_parameter in ai["bytes_per_parameter"].items():
        fits[precision] = round(max(0.0, usable / per_parameter) / 1e9, 1)
        for name, parameters in REFERENCE_MODELS.items():
            model_bytes = parameters * per_parameter
            decode[f"{name}_{precision}"] = (round(bandwidth_gbs * 1e9 / model_bytes, 1)
                                             if model_bytes <= usable and bandwidth_gbs else None)
    # Every NVIDIA chip from Ampere (8.x) on has tensor cores; of Volta and Turing (7.x), the GTX 16 series and the
    # CMP cards built on it lack them, which shows as FP16 at no more than twice FP32.
    tensor_cores = capability >= (8, 0) or (
        capability >= (7, 0) and bool(reference.fp16_tflops) and reference.fp16_tflops > 2.5 * reference.fp32_tflops)
    readiness = {
        "vram_gib": round(vram_bytes / GIB, 1),
        "kv_margin": ai["kv_margin"],
        "largest_model_billions": fits,  # parameters, in billions, that fit with the margin kept free
        "decode_tokens_per_s_estimate": decode,  # None: does not fit at that precision
        "bandwidth_gbs": round(bandwidth_gbs, 1) if bandwidth_gbs else None,
        "bandwidth_source": bandwidth_source,
        "bf16": capability >= (8, 0),
        "tensor_cores": tensor_cores,
        "note": "decode rates are bandwidth-bound estimates (bandwidth ÷ model bytes, one stream), not measurements",
    }
    measured = measured_readiness(ai_check)
    if measured:
        readiness["measured"] = measured
    return readiness


def _words(key: str) -> str:
    """"7B_fp16" → "7B at FP16"; "7B_fp16_b8" → "7B at FP16, 8 streams"."""
    parts = key.split("_")
    text = f"{parts[0]} at {parts[1].upper()}"
    return text + (f", {parts[2][1:]} streams" if len(parts) > 2 else "")


PRECISION_ORDER = ("fp16", "bf16", "int8", "int4")


def _in_order(key: str) -> tuple:
    """7B before 13B, FP16, BF16, INT8, INT4, fewer streams first: the order a signed payload (its keys sorted by
    canonicalization) and a fresh grade (its keys as measured) both draw in."""
    parts = key.split("_")
    size = float(parts[0].rstrip("B")) if parts[0].rstrip("B").replace(".", "").isdigit() else math.inf
    precision = PRECISION_ORDER.index(parts[1]) if len(parts) > 1 and parts[1] in PRECISION_ORDER else 9
    streams = int(parts[2][1:]) if len(parts) > 2 and parts[2][1:].isdigit() else 0
    return size, precision, streams, key


def measured_rates(ai: dict | None) -> dict[str, list[tuple[str, float]]]:
    """The AI block's measured figures in words, by kind: {"decode": [("7B at FP16", 58.7)], "batched": …,
    "extrapolated": …}; empty lists without a measurement."""
    measured = (ai or {}).get("measured") or {}
    return {kind: [(_words(key), value) for key, value in sorted((measured.get(member) or {}).items(),
                                                                 key=lambda item: _in_order(item[0])) if value]
            for kind, member in (("decode", "decode_tokens_per_s"), ("batched", "batched_tokens_per_s"),
                                 ("extrapolated", "extrapolated_tokens_per_s"))}


def decode_rates(ai: dict | None) -> list[tuple[str, float]]:
    """The AI block's decode estimates in words: [("7B at INT8", 55.8), …] for the models that fit."""
    rates = (ai or {}).get("decode_tokens_per_s_estimate") or {}
    return [(f"{key.split('_')[0]} at {key.split('_')[-1].upper()}", value) for key, value in rates.items() if value]
