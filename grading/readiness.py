"""AI-readiness: what a buyer running language models can expect of this card, from what was measured on it.

- The largest model that fits for inference at FP16, INT8 and INT4: the card's memory, less a share kept for the KV
  cache and activations and what the runtime takes, divided by the bytes per parameter.
- An estimated single-stream decode rate for 7B- and 13B-class models: decoding reads every weight once per token,
  so it is bound by memory bandwidth — the measured bandwidth ÷ the model's bytes. An upper estimate, labelled so.
- Whether BF16 and tensor cores are there (compute capability and the catalog's FP16 rate).
"""

from __future__ import annotations

GIB = 2**30
REFERENCE_MODELS = {"7B": 7.0e9, "13B": 13.0e9}


def _capability(text: str) -> tuple[int, int]:
    try:
        major, minor = (int(p) for p in (text or "0.0").split(".")[:2])
        return major, minor
    except ValueError:
        return 0, 0


def ai_readiness(*, reference, performance: dict | None, identity: dict | None, policy: dict) -> dict:
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
    return {
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


def decode_rates(ai: dict | None) -> list[tuple[str, float]]:
    """The AI block's decode estimates in words: [("7B at INT8", 55.8), …] for the models that fit."""
    rates = (ai or {}).get("decode_tokens_per_s_estimate") or {}
    return [(f"{key.split('_')[0]} at {key.split('_')[-1].upper()}", value) for key, value in rates.items() if value]
