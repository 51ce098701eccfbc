"""Pricing rules as versioned data, and the arithmetic of a suggested price, its floor and its margin. Pure: no
database (resale/services/pricing.py reads the versions, the reference prices and the costs).

- **Reference price** (per catalog model, resale.models.ReferencePrice): what a card in the best grade (F-A, cosmetic
  A) fetches on the own storefront.
- **Suggested price** = reference × `grade_factors[functional][cosmetic]` × `channel_factors[channel]` per card
  (× `set_factor` for a matched set), ending in .99, never under the floor.
- **Fees** of a channel at a price: `share` × price + `fixed`.
- **Floor** = the lowest price whose proceeds, after the channel's fees, cover the cost plus `minimum_margin` of it:
  (cost × (1 + minimum_margin) + fixed) ÷ (1 − share). A price under it needs an admin and a reason.
- **Margin** at a price = price − fees − cost.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
FUNCTIONAL = ("F-A", "F-B", "F-C")
COSMETIC = ("A", "B", "C")
CHANNELS = ("storefront", "ebay", "backmarket", "google", "other")

DEFAULT_RULES = {
    "version": "2026.12-1",
    # Shares of the reference price by functional × cosmetic grade (F-A/A is the reference itself).
    "grade_factors": {
        "F-A": {"A": 1.00, "B": 0.95, "C": 0.88},
        "F-B": {"A": 0.92, "B": 0.89, "C": 0.83},
        "F-C": {"A": 0.76, "B": 0.73, "C": 0.68},
    },
    # Marketplaces take more and their buyers pay for the platform's guarantee: the price follows.
    "channel_factors": {"storefront": 1.00, "ebay": 1.08, "backmarket": 1.06, "google": 1.00, "other": 1.00},
    # Per sale: a share of the price and a fixed part (card payment on the own storefront and the Google feed's
    # landing page; final value fees on eBay; Back Market's commission).
    "fees": {
        "storefront": {"share": 0.03, "fixed": 0.30},
        "ebay": {"share": 0.136, "fixed": 0.40},
        "backmarket": {"share": 0.12, "fixed": 0.00},
        "google": {"share": 0.03, "fixed": 0.30},
        "other": {"share": 0.05, "fixed": 0.00},
    },
    "minimum_margin": 0.10,  # of the cost: the floor keeps at least this much after fees
    "set_factor": 1.04,  # a matched set is worth more than its cards apart: each card's price × this
}


def rules_problems(rules) -> list[str]:
    """What is wrong with a set of pricing rules, in words; empty when they are usable."""
    if not isinstance(rules, dict):
        return ["the rules are a JSON object"]
    problems = []
    grades = rules.get("grade_factors")
    if not isinstance(grades, dict):
        problems.append("grade_factors: an object of functional grade → cosmetic grade → factor")
    else:
        for functional in FUNCTIONAL:
            for cosmetic in COSMETIC:
                value = (grades.get(functional) or {}).get(cosmetic) if isinstance(grades.get(functional), dict) \
                    else None
                if not _share(value, upper=2):
                    problems.append(f"grade_factors.{functional}.{cosmetic}: a number above 0 and at most 2")
    for key in ("channel_factors", "fees"):
        if not isinstance(rules.get(key), dict):
            problems.append(f"{key}: an object with an entry per channel ({', '.join(CHANNELS)})")
            continue
        for channel in CHANNELS:
            value = rules[key].get(channel)
            if key == "channel_factors" and not _share(value, upper=3):
                problems.append(f"channel_factors.{channel}: a number above 0 and at most 3")
            elif key == "fees" and not (isinstance(value, dict) and _share(value.get("share"), lower_ok=True,
                                                                           upper=0.9)
                                        and _amount(value.get("fixed"))):
                problems.append(f"fees.{channel}: {{\"share\": 0 to 0.9, \"fixed\": an amount ≥ 0}}")
    if not _share(rules.get("minimum_margin"), lower_ok=True, upper=5):
        problems.append("minimum_margin: a share of the cost from 0 to 5")
    if not _share(rules.get("set_factor"), upper=2):
        problems.append("set_factor: a number above 0 and at most 2")
    return problems


def _share(value, *, lower_ok: bool = False, upper: float = 1.0) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return (value >= 0 if lower_ok else value > 0) and value <= upper


def _amount(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and 0 <= value <= 10_000


def _d(value) -> Decimal:
    return Decimal(str(value))


def fees_at(rules: dict, channel: str, price: Decimal) -> Decimal:
    fee = rules["fees"][channel]
    return (price * _d(fee["share"]) + _d(fee["fixed"])).quantize(CENT, ROUND_HALF_UP)


def floor_for(rules: dict, channel: str, cost: Decimal) -> Decimal:
    """The lowest price that covers `cost`, the channel's fees and the minimum margin (rounded up to the cent)."""
    fee = rules["fees"][channel]
    needed = cost * (1 + _d(rules["minimum_margin"])) + _d(fee["fixed"])
    return (needed / (1 - _d(fee["share"]))).quantize(CENT, ROUND_CEILING)


def margin_at(rules: dict, channel: str, price: Decimal, cost: Decimal) -> Decimal:
    return price - fees_at(rules, channel, price) - cost


def suggested_for(rules: dict, channel: str, reference: Decimal, grades: list[tuple[str, str]],
                  floor: Decimal) -> Decimal:
    """The suggested price of a listing of cards with these (functional, cosmetic) grades: per card reference ×
    grade factor × channel factor (× set_factor for more than one), summed, ending in .99, never under `floor`."""
    per_card = [reference * _d(rules["grade_factors"][functional][cosmetic]) for functional, cosmetic in grades]
    total = sum(per_card, Decimal(0)) * _d(rules["channel_factors"][channel])
    if len(grades) > 1:
        total *= _d(rules["set_factor"])
    price = total.quantize(Decimal(1), ROUND_HALF_UP) - CENT if total >= 1 else total.quantize(CENT)
    if price < floor:  # the .99 of the next whole amount at or above the floor
        price = (floor + CENT).quantize(Decimal(1), ROUND_CEILING) - CENT
    return max(price, floor)
