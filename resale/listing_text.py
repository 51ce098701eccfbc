"""A listing's title and description, written from the catalog, the grade, the measured figures and AI-readiness.
Plain text (the eBay export wraps it in HTML). Only what a buyer may see: no cost, lot, supplier, note or bench.
Titles stay within eBay's 80 characters, dropping the least useful parts first."""

from __future__ import annotations

from collections.abc import Callable

from grading.readiness import measured_rates

from .selectors import CardFacts

TITLE_MAX = 80
GRADE_WORDS = {"F-A": "all checks passed at reference performance", "F-B": "passed, with minor warnings",
               "F-C": "works, with a stated limitation"}


def _gib(model) -> str:
    value = float(model.vram_gib)
    return f"{value:g} GB"


def _fit(parts: list[str]) -> str:
    """Join `parts` with ", ", dropping from the end until it fits TITLE_MAX; the first is cut if it must be."""
    while len(parts) > 1 and len(", ".join(parts)) > TITLE_MAX:
        parts = parts[:-1]
    return ", ".join(parts)[:TITLE_MAX]


def listing_title(cards: list[CardFacts], *, spread: float | None = None, warranty_days: int = 0) -> str:
    model = cards[0].gpu_model
    vendor = model.get_vendor_display()
    name = model.name if model.name.lower().startswith(vendor.lower()) else f"{vendor} {model.name}"
    if len(cards) > 1:
        head = f"{len(cards)} × {name} {_gib(model)}"
        matched = f"matched within {spread:.1%}" if spread is not None else "set"
        return _fit([head, matched, "tested & certified", f"{warranty_days}-day warranty" if warranty_days else ""])
    card = cards[0]
    grade = f"grade {card.functional}/{card.cosmetic}" if card.functional else ""
    parts = [f"{name} {_gib(model)} {model.memory_type}", "tested & certified", grade,
             f"{warranty_days}-day warranty" if warranty_days else ""]
    return _fit([p for p in parts if p])


def _figures(card: CardFacts) -> str:
    figures = card.figures
    said = []
    if figures.get("memory_bandwidth_gbs"):
        said.append(f"memory bandwidth {figures['memory_bandwidth_gbs']:.0f} GB/s")
    for precision in ("fp16", "fp32"):
        if figures.get(f"{precision}_tflops"):
            said.append(f"{precision.upper()} {figures[f'{precision}_tflops']:.1f} TFLOP/s")
    if card.vram_passed:
        said.append("full VRAM test passed")
    if card.peak_gpu_temp_c is not None:
        said.append(f"peak GPU temperature {card.peak_gpu_temp_c:.0f} °C under load")
    return "; ".join(said)


def _ai(ai: dict) -> list[str]:
    fits = ai.get("largest_model_billions") or {}
    lines = []
    if fits:
        sizes = ", ".join(f"{fits[p]:g}B at {p.upper()}" for p in ("fp16", "int8", "int4") if p in fits)
        lines.append(f"AI: fits language models up to {sizes} (with {ai.get('kv_margin', 0.2):.0%} of memory kept "
                     "for the KV cache).")
    measured = ai.get("measured") or {}
    if measured:
        rates = [f"{label} {value:g} tok/s" for label, value in measured_rates(ai)["decode"]]
        lines.append(f"Measured on this card, one stream at {measured.get('context_tokens')} tokens of context: "
                     + (", ".join(rates) if rates else "no model fits whole at FP16 or BF16") + ".")
        context = (measured.get("largest_context_tokens") or {}).get("7B_fp16")
        if context:
            lines.append(f"A 7B model at FP16 has room for {context:,} tokens of context.")
        if measured.get("training_checked"):
            lines.append(f"Mixed-precision training ({', '.join(p.upper() for p in measured['training_checked'])}) "
                         "checked against FP32 on the card.")
        return lines
    decode = ai.get("decode_tokens_per_s_estimate") or {}
    rates = [f"{key.replace('_', ' ').upper()} ≈ {value:g} tok/s" for key, value in decode.items()
             if value and key.startswith("7B")]
    if rates:
        lines.append(f"Estimated single-stream decode: {', '.join(rates)} (bandwidth-bound estimate, not measured).")
    return lines


def listing_description(cards: list[CardFacts], *, verify_url: Callable[[str], str], spread: float | None = None,
                        warranty_days: int = 0, return_days: int = 0, issuer: str = "") -> str:
    model = cards[0].gpu_model
    lines = []
    if len(cards) > 1:
        lines.append(f"A matched set of {len(cards)} {model.name} cards: measured memory bandwidth and FP16 throughput "
                     f"within {spread:.1%} of the set's median" if spread is not None else
                     f"A set of {len(cards)} {model.name} cards.")
    if model.catalogued:
        lines.append(f"{model.name}: {model.architecture} ({model.chip}), {_gib(model)} {model.memory_type} on a "
                     f"{model.bus_width_bits}-bit bus, PCIe {model.pcie_gen}.0 ×{model.pcie_lanes}, {model.tdp_w} W.")
    else:  # no datasheet to quote: what the card reported, and that every figure below was measured on it
        lines.append(f"{model.name}: {_gib(model)} as the card reports it, PCIe {model.pcie_gen}.0 "
                     f"×{model.pcie_lanes}; not a model in our catalog, so the figures below are what we measured on "
                     "the card.")
    by = f" by {issuer}" if issuer else ""
    for card in cards:
        head = f"Card {card.asset_tag}" if len(cards) > 1 else "This card"
        grade = (f"grade {card.functional}/{card.cosmetic} ({GRADE_WORDS.get(card.functional, card.functional)}, "
                 f"cosmetic {card.cosmetic})" if card.functional else "")
        lines.append(f"{head} was tested and graded{by}: {grade}.")
        figures = _figures(card)
        if figures:
            lines.append(f"Measured: {figures}.")
        if card.certificate_id:
            lines.append(f"Signed test certificate: {verify_url(card.certificate_id)}")
    lines.extend(_ai(cards[0].ai))
    terms = []
    if warranty_days:
        terms.append(f"{warranty_days}-day warranty")
    if return_days:
        terms.append(f"returns within {return_days} days")
    if terms:
        lines.append(" · ".join(terms).capitalize() + ".")
    return "\n".join(lines)
