"""PCIe: pinned host↔device bandwidth against what the link allows, and the bytes arriving intact.

Mining rigs seat cards on x1 USB risers, and a card can come back with a damaged edge connector; either shows here
as a link narrower or slower than the card is built for, or as a link that trains wide but does not deliver.
"""

from __future__ import annotations

import torch

from ..hardware.base import pcie_link_gbs, supported
from ..reference import ModelReference
from .base import CheckCannotStart, CheckContext, CheckResult
from .findings import Findings
from .limits import PCIE_FAIL_RATIO, PCIE_PASS_RATIO, source

MISMATCHES_SHOWN = 8


def pcie_check(ctx: CheckContext, *, declared: ModelReference, transfer_mib: int = 256,
               repeats: int = 5) -> CheckResult:
    device = ctx.device
    identity = device.identity()
    words = transfer_mib * 2**20 // 4
    nbytes = words * 4
    try:
        sent, received = device.host_words(words), device.host_words(words)
        buffer = device.alloc_words(words)
    except MemoryError as exc:
        raise CheckCannotStart(f"cannot allocate {transfer_mib} MiB for the transfer: {exc}") from None
    try:
        generator = torch.Generator().manual_seed(0x9C1E)
        sent.copy_(torch.randint(-(2**31), 2**31, (words,), dtype=torch.int32, generator=generator))
        received.fill_(0)
        device.transfer(buffer.tensor, sent)  # warm-up: the link leaves its idle power state
        to_device, to_host = [], []
        for index in range(repeats):
            to_device.append(device.transfer(buffer.tensor, sent))
            to_host.append(device.transfer(received, buffer.tensor))
            ctx.report((index + 1) / (repeats + 1), f"transfer {index + 1} of {repeats}")
        mismatched = torch.nonzero(received != sent).flatten()
    finally:
        device.free(buffer)

    ctx.report(repeats / (repeats + 1), "comparing with the link")
    # NVML's "max" link is the most this card can do in this slot (a riser's x1 shows there too).
    link = (identity.pcie_max_generation, identity.pcie_max_width)
    if not all(supported(v) for v in link):
        link = (declared.pcie_gen, declared.pcie_lanes)
    link_gbs = pcie_link_gbs(*link)
    card_gbs = pcie_link_gbs(declared.pcie_gen, declared.pcie_lanes)
    rates = {"host_to_device_gbs": nbytes / min(to_device) / 1e9, "device_to_host_gbs": nbytes / min(to_host) / 1e9}
    metrics: dict = {key: round(value, 3) for key, value in rates.items()}
    metrics.update(link_generation=link[0], link_width=link[1], link_gbs=round(link_gbs, 3) if link_gbs else None,
                   card_generation=declared.pcie_gen, card_width=declared.pcie_lanes, transfer_bytes=nbytes,
                   mismatched_words=int(mismatched.numel()))
    worst = min(rates.values())
    if link_gbs:
        metrics["worst_vs_link"] = round(worst / link_gbs, 3)
    evidence: dict = {}
    found = Findings()
    link_text = f"gen{link[0]} x{link[1]}"
    measured = f"host→device {rates['host_to_device_gbs']:.2f} GB/s, device→host {rates['device_to_host_gbs']:.2f} GB/s"
    if mismatched.numel():
        shown = mismatched[:MISMATCHES_SHOWN].tolist()
        evidence["mismatches"] = [{"word": i, "sent": int(sent[i]) & 0xFFFFFFFF,
                                   "received": int(received[i]) & 0xFFFFFFFF} for i in shown]
        found.fail("pcie.corrupted_transfer", f"{mismatched.numel()} of {words} words came back different after a "
                   f"round trip over the link (first at word {shown[0]})", measured=int(mismatched.numel()),
                   threshold=0)
    elif link_gbs and worst < link_gbs * PCIE_FAIL_RATIO:
        found.fail("pcie.transfer_slow", f"{measured}: {worst / link_gbs:.0%} of what a {link_text} link carries "
                   f"({link_gbs:.2f} GB/s); a bad slot, riser or edge connector", measured=metrics["worst_vs_link"],
                   threshold=PCIE_FAIL_RATIO, source=source("PCIE_FAIL_RATIO"))
    else:
        if link_gbs and worst < link_gbs * PCIE_PASS_RATIO:
            found.warn("pcie.transfer_slow", f"{measured}: only {worst / link_gbs:.0%} of what a {link_text} link "
                       "carries", measured=metrics["worst_vs_link"], threshold=PCIE_PASS_RATIO,
                       source=source("PCIE_PASS_RATIO"))
        if link_gbs and card_gbs and link_gbs < card_gbs:
            built = f"gen{declared.pcie_gen} x{declared.pcie_lanes}"
            found.warn("pcie.link_degraded", f"link {link_text} where the card is built for {built}: host "
                       f"transfers limited to {link_gbs:.2f} of {card_gbs:.2f} GB/s (the slot or riser, or the "
                       "card's edge connector)", measured=link_text, threshold=built,
                       source="the catalog's pcie_gen and pcie_lanes")
    return CheckResult.from_findings(
        "pcie", found, f"{measured} over {link_text} ({worst / link_gbs:.0%} of the link)" if link_gbs else measured,
        metrics, evidence)
