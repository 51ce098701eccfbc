"""Matched sets: 2–8 certified cards of one model whose measured memory bandwidth and FP16 throughput all lie within
a tolerance of the set's median and whose VRAM tests passed, sold as one (what AI buyers of many identical chips
want). Proposed from stock, largest sets first and then the tightest; created, sold with their listing, or dissolved.

The proposal: per model, the candidates sorted by bandwidth; a run of k neighbours in that order is a window. From
the largest size down, as many disjoint windows within tolerance on both figures as the stock holds (and of those,
the tightest), the cards taken leaving the pool for smaller sizes. Windows of neighbours by bandwidth are a heuristic
(a card may match a set it is not next to on FP16), which keeps the proposal linear in the stock."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from statistics import median

from django.db import transaction
from django.utils import timezone

from core.errors import Conflict, InvalidInput
from inventory.choices import UnitState
from inventory.models import GpuModel, Unit

from ..choices import OPEN_STATUSES, SetStatus
from ..models import Listing, MatchedSet, SetMember
from ..selectors import MATCHED_FIGURES, CardFacts, cards_facts

DEFAULT_TOLERANCE = 0.03
MIN_SET, MAX_SET = 2, 8


@dataclass(frozen=True)
class SetProposal:
    gpu_model: GpuModel
    cards: tuple[CardFacts, ...]
    spread: float  # the farthest card from the median, on either figure, as a share of the median
    figures: dict  # per figure: median, min, max, spread

    @property
    def unit_ids(self) -> list[int]:
        return [c.unit_id for c in self.cards]


def set_spread(cards: list[CardFacts]) -> tuple[float, dict]:
    """The set's spread (the farthest card from the median on either figure, as a share) and each figure's."""
    figures = {}
    for name in MATCHED_FIGURES:
        values = [c.matched_figures[name] for c in cards]
        middle = median(values)
        spread = max(abs(v - middle) for v in values) / middle
        figures[name] = {"median": round(middle, 3), "min": round(min(values), 3), "max": round(max(values), 3),
                         "spread": round(spread, 4)}
    return max(f["spread"] for f in figures.values()), figures


def _why_not_matchable(card: CardFacts) -> str:
    if card.state != UnitState.CERTIFIED:
        return f"{card.asset_tag} is {card.state}; a set is made of certified cards"
    if not card.certificate_id:
        return f"{card.asset_tag} has no valid certificate"
    if not card.vram_passed:
        return f"{card.asset_tag}: its VRAM test did not pass"
    if card.matched_figures is None:
        return f"{card.asset_tag}: its test measured no memory bandwidth and FP16 throughput"
    return ""


def _candidates(gpu_model: GpuModel | None) -> dict[int, list[CardFacts]]:
    units = Unit.objects.filter(state=UnitState.CERTIFIED).exclude(set_memberships__open=True)
    if gpu_model is not None:
        units = units.filter(gpu_model=gpu_model)
    by_model: dict[int, list[CardFacts]] = {}
    for card in cards_facts(units.values_list("pk", flat=True)).values():
        if not _why_not_matchable(card):
            by_model.setdefault(card.gpu_model.pk, []).append(card)
    return by_model


def _most_windows(cards: list[CardFacts], k: int, tolerance: float) -> list[list[CardFacts]]:
    """As many disjoint windows of `k` neighbours within tolerance as the sorted `cards` hold, and of those choices
    the tightest in total (a dynamic programme over the positions: linear in the number of cards)."""
    n = len(cards)
    best = [(0, 0.0)] * (n + 1)  # from position i on: (sets, −total spread)
    take = [False] * (n + 1)
    for i in range(n - 1, -1, -1):
        best[i] = best[i + 1]
        if i + k <= n:
            spread, _ = set_spread(cards[i:i + k])
            if spread <= tolerance:
                with_it = (best[i + k][0] + 1, best[i + k][1] - spread)
                if with_it > best[i]:
                    best[i], take[i] = with_it, True
    windows, i = [], 0
    while i < n:
        if take[i]:
            windows.append(cards[i:i + k])
            i += k
        else:
            i += 1
    return windows


def sets_propose(*, gpu_model: GpuModel | None = None, tolerance: float = DEFAULT_TOLERANCE, size: int | None = None,
                 limit: int | None = None) -> list[SetProposal]:
    """Sets that could be made from certified stock not already in a set: largest first, then the tightest. `size`:
    only sets of exactly that many cards."""
    if not 0 < tolerance <= 0.2:
        raise InvalidInput({"tolerance": ["a share of the median above 0 and at most 0.2 (e.g. 0.03 for ±3 %)"]})
    if size is not None and not MIN_SET <= size <= MAX_SET:
        raise InvalidInput({"size": [f"a set has {MIN_SET} to {MAX_SET} cards"]})
    sizes = [size] if size else list(range(MAX_SET, MIN_SET - 1, -1))
    proposals = []
    for cards in _candidates(gpu_model).values():
        for k in sizes:  # the largest sets first; the cards they take are not offered to smaller ones
            cards.sort(key=lambda c: (c.matched_figures["memory_bandwidth_gbs"], c.unit_id))
            chosen = _most_windows(cards, k, tolerance)
            for window in chosen:
                spread, figures = set_spread(window)
                proposals.append(SetProposal(gpu_model=window[0].gpu_model, cards=tuple(window), spread=spread,
                                             figures=figures))
            taken = {c.unit_id for window in chosen for c in window}
            cards = [c for c in cards if c.unit_id not in taken]
    proposals.sort(key=lambda p: (-len(p.cards), p.spread, p.gpu_model.name))
    return proposals[:limit] if limit else proposals


def set_create(*, units: list[Unit], tolerance: float = DEFAULT_TOLERANCE, actor=None) -> MatchedSet:
    """A matched set of these cards: every problem named, nothing written unless all is well."""
    ids = sorted({u.pk for u in units})
    if not MIN_SET <= len(ids) <= MAX_SET or len(ids) != len(units):
        raise InvalidInput({"units": [f"a set has {MIN_SET} to {MAX_SET} different cards"]})
    if not 0 < tolerance <= 0.2:
        raise InvalidInput({"tolerance": ["a share of the median above 0 and at most 0.2 (e.g. 0.03 for ±3 %)"]})
    with transaction.atomic():
        list(Unit.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
        facts = cards_facts(ids)
        cards = [facts[i] for i in ids]
        problems = [why for why in map(_why_not_matchable, cards) if why]
        if len({c.gpu_model.pk for c in cards}) > 1:
            problems.append("a set is one model: " + ", ".join(sorted({c.gpu_model.name for c in cards})))
        in_sets = list(SetMember.objects.filter(unit_id__in=ids, open=True)
                       .values_list("unit__asset_tag", "matched_set_id"))
        problems += [f"{tag} is already in set {set_id}" for tag, set_id in in_sets]
        if problems:
            raise InvalidInput({"units": problems})
        spread, figures = set_spread(cards)
        if spread > tolerance:
            raise InvalidInput({"units": [f"the cards lie {spread:.1%} from the median, more than the tolerance of "
                                          f"{tolerance:.1%}"]})
        matched = MatchedSet.objects.create(gpu_model=cards[0].gpu_model, tolerance=Decimal(str(tolerance)),
                                            spread=Decimal(str(round(spread, 4))), figures=figures, created_by=actor)
        SetMember.objects.bulk_create([SetMember(matched_set=matched, unit_id=i) for i in ids])
    return matched


def set_end(matched: MatchedSet, status: str, reason: str) -> None:
    """End an open set (sold, or dissolved): its cards are free for another. The caller holds the cards' locks."""
    if matched.status != SetStatus.OPEN:
        return
    matched.status, matched.ended_at, matched.end_reason = status, timezone.now(), reason[:200]
    matched.save(update_fields=["status", "ended_at", "end_reason"])
    matched.members.update(open=False)


def set_dissolve(*, matched_set: MatchedSet, reason: str) -> MatchedSet:
    """Dissolve an open set that is not on offer (withdraw its listings first)."""
    if not (reason or "").strip():
        raise InvalidInput({"reason": ["a reason is required to dissolve a set"]})
    with transaction.atomic():
        list(Unit.objects.select_for_update().filter(set_memberships__matched_set=matched_set).order_by("pk"))
        locked = MatchedSet.objects.select_for_update().get(pk=matched_set.pk)
        if locked.status != SetStatus.OPEN:
            raise Conflict(f"set {locked.pk} is {locked.status}")
        if Listing.objects.filter(matched_set=locked, status__in=OPEN_STATUSES).exists():
            raise Conflict(f"set {locked.pk} is on offer; withdraw its listings first")
        set_end(locked, SetStatus.DISSOLVED, reason.strip())
    matched_set.refresh_from_db()
    return matched_set
