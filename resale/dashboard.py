"""The lot profit and yield dashboard's figures: per lot (cards bought, tested, passed per grade, failed, scrapped, in
repair, failure reasons, repair outcomes, bench hours per card, stock value at suggested prices, revenue, fees,
returns and margin against the lot's cost), and failure and return rates per model, source rig and bench. Every
figure is an aggregate query (grouped in the database), so the dashboard costs the same few queries for 30 lots or
300 and 100 000 cards. Internal figures: for resellers and admins only."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, DecimalField, DurationField, ExpressionWrapper, F, OuterRef, Q, Subquery, Sum

from grading.models import Grade
from inventory.choices import UnitState
from inventory.models import Lot, Unit, UnitEvent
from testbench.models import TestRun

from .models import CardReturn, OrderLine, ReferencePrice
from .pricing import suggested_for

ZERO = Decimal(0)
PASSING = ("F-A", "F-B", "F-C")
SOLD_STATES = (UnitState.SOLD, UnitState.RETURNED)
IN_STOCK = (UnitState.CERTIFIED, UnitState.LISTED)
FIXED = (UnitState.GRADED, UnitState.CERTIFIED, UnitState.LISTED, UnitState.SOLD)


@dataclass
class LotRow:
    lot_id: int
    reference: str
    currency: str
    cost: Decimal
    bought: int = 0
    tested: int = 0
    grades: dict = field(default_factory=lambda: {g: 0 for g in (*PASSING, "FAIL")})
    parts: int = 0  # failed: sellable for parts only
    scrapped: int = 0
    in_repair: int = 0
    in_repair_graded_fail: int = 0  # of those in repair, graded FAIL (a repairable failure)
    repaired: int = 0  # went to repair at least once
    repair_fixed: int = 0  # … and then passed
    reasons: list = field(default_factory=list)  # (finding code, count), most common first
    bench_hours: float = 0.0
    stock_value: Decimal = ZERO
    sold: int = 0
    revenue: Decimal = ZERO
    fees: Decimal = ZERO
    shipping: Decimal = ZERO
    returns: int = 0
    returns_cost: Decimal = ZERO  # refunds and the returns' own cost

    @property
    def passed(self) -> int:
        return sum(self.grades[g] for g in PASSING)

    @property
    def yield_share(self) -> float | None:
        graded = self.passed + self.grades["FAIL"]
        return self.passed / graded if graded else None

    @property
    def bench_hours_per_card(self) -> float | None:
        return self.bench_hours / self.tested if self.tested else None

    @property
    def margin(self) -> Decimal:
        """Realised: what sales brought in, less fees, shipping and returns, less what the lot cost."""
        return self.revenue - self.fees - self.shipping - self.returns_cost - self.cost


@dataclass
class RateRow:
    key: str
    graded: int = 0
    failed: int = 0
    sold: int = 0
    returned: int = 0

    @property
    def failure_rate(self) -> float | None:
        return self.failed / self.graded if self.graded else None

    @property
    def return_rate(self) -> float | None:
        return self.returned / self.sold if self.sold else None


def _current_grade(field_name: str):
    return Subquery(Grade.objects.filter(unit=OuterRef("pk")).order_by("-created_at", "-id").values(field_name)[:1])


def lot_rows(rules: dict, lots=None) -> list[LotRow]:
    lots = list((lots if lots is not None else Lot.objects.all()).order_by("-created_at", "-id"))
    rows = {lot.pk: LotRow(lot_id=lot.pk, reference=lot.reference, currency=lot.currency, cost=lot.total_cost)
            for lot in lots}
    units = Unit.objects.filter(lot_id__in=rows)

    for lot_id, state, n in units.values_list("lot_id", "state").annotate(n=Count("pk")).order_by():
        row = rows[lot_id]
        row.bought += n
        row.scrapped += n if state == UnitState.SCRAPPED else 0
        row.in_repair += n if state == UnitState.REPAIR else 0
        row.parts += n if state == UnitState.FAILED else 0

    graded = units.annotate(functional_now=_current_grade("functional")).exclude(functional_now=None)
    for lot_id, functional, state, n in (graded.values_list("lot_id", "functional_now", "state")
                                         .annotate(n=Count("pk")).order_by()):
        rows[lot_id].grades[functional] = rows[lot_id].grades.get(functional, 0) + n
        if functional == "FAIL" and state == UnitState.REPAIR:
            rows[lot_id].in_repair_graded_fail += n

    # Stock value: each card in stock at its suggested storefront price (reference × its grade's factor).
    references = {(r.gpu_model_id, r.currency): r.price for r in ReferencePrice.objects.all()}
    in_stock = (units.filter(state__in=IN_STOCK)
                .annotate(functional_now=_current_grade("functional"), cosmetic_now=_current_grade("cosmetic"))
                .values_list("lot_id", "lot__currency", "gpu_model_id", "functional_now", "cosmetic_now")
                .annotate(n=Count("pk")).order_by())
    for lot_id, currency, model_id, functional, cosmetic, n in in_stock:
        reference = references.get((model_id, currency))
        if reference is not None and cosmetic in (rules["grade_factors"].get(functional) or {}):
            rows[lot_id].stock_value += n * suggested_for(rules, "storefront", reference, [(functional, cosmetic)],
                                                          ZERO)

    tested = (TestRun.objects.filter(unit__lot_id__in=rows, finished_at__isnull=False, started_at__isnull=False)
              .values("unit__lot_id")
              .annotate(cards=Count("unit", distinct=True),
                        seconds=Sum(ExpressionWrapper(F("finished_at") - F("started_at"),
                                                      output_field=DurationField()))).order_by())
    for item in tested:
        row = rows[item["unit__lot_id"]]
        row.tested = item["cards"]
        row.bench_hours = item["seconds"].total_seconds() / 3600 if item["seconds"] else 0.0

    # Revenue per card: an order's price shared evenly among the cards it sold (a matched set sells as one).
    share = ExpressionWrapper(F("order__price_paid") / F("order__listing__card_count"),
                              output_field=DecimalField(max_digits=14, decimal_places=4))
    fee_share = ExpressionWrapper(F("order__fees") / F("order__listing__card_count"),
                                  output_field=DecimalField(max_digits=14, decimal_places=4))
    ship_share = ExpressionWrapper(F("order__shipping") / F("order__listing__card_count"),
                                   output_field=DecimalField(max_digits=14, decimal_places=4))
    for item in (OrderLine.objects.filter(unit__lot_id__in=rows).values("unit__lot_id")
                 .annotate(n=Count("pk"), revenue=Sum(share), fees=Sum(fee_share), shipping=Sum(ship_share))
                 .order_by()):
        row = rows[item["unit__lot_id"]]
        row.sold, row.revenue = item["n"], _money(item["revenue"])
        row.fees, row.shipping = _money(item["fees"]), _money(item["shipping"])
    for item in (CardReturn.objects.filter(line__unit__lot_id__in=rows).values("line__unit__lot_id")
                 .annotate(n=Count("pk"), refunds=Sum("refund"), costs=Sum("cost")).order_by()):
        row = rows[item["line__unit__lot_id"]]
        row.returns, row.returns_cost = item["n"], _money(item["refunds"]) + _money(item["costs"])

    # Repairs: the cards that went to repair, and how many of them passed afterwards.
    repaired = (UnitEvent.objects.filter(unit__lot_id__in=rows, to_state=UnitState.REPAIR)
                .values("unit__lot_id").annotate(cards=Count("unit", distinct=True),
                                                 fixed=Count("unit", distinct=True,
                                                             filter=Q(unit__state__in=FIXED)))
                .order_by())
    for item in repaired:
        row = rows[item["unit__lot_id"]]
        row.repaired, row.repair_fixed = item["cards"], item["fixed"]

    # Failure reasons: the first (worst) reason of each failed card's current grade.
    failed = (units.annotate(functional_now=_current_grade("functional"), reasons_now=_current_grade("reasons"))
              .filter(functional_now="FAIL").values_list("lot_id", "reasons_now"))
    counters: dict[int, Counter] = defaultdict(Counter)
    for lot_id, reasons in failed:
        if isinstance(reasons, str):  # SQLite hands a JSON subquery back as text
            reasons = json.loads(reasons)
        code = (reasons or [{}])[0].get("code") or "unexplained"
        counters[lot_id][code] += 1
    for lot_id, counter in counters.items():
        rows[lot_id].reasons = counter.most_common(3)
    return list(rows.values())


def _money(value) -> Decimal:
    return (value or ZERO).quantize(Decimal("0.01"))


def rate_rows(by: str) -> list[RateRow]:
    """Failure rate (FAIL among graded cards) and return rate (returned among sold) per `by`: model, rig or bench."""
    units = Unit.objects.annotate(functional_now=_current_grade("functional"))
    key = {"model": "gpu_model__name", "rig": "source_rig", "bench": "bench_now"}[by]
    if by == "bench":  # the bench of the run the current grade came from
        units = units.annotate(bench_now=_current_grade("run__bench__name"))
    rows: dict[str, RateRow] = {}
    graded = (units.exclude(functional_now=None).values(key)
              .annotate(graded=Count("pk"), failed=Count("pk", filter=Q(functional_now="FAIL"))).order_by())
    for item in graded:
        name = item[key] or "—"
        rows.setdefault(name, RateRow(name)).graded += item["graded"]
        rows[name].failed += item["failed"]
    sold = units.filter(order_lines__isnull=False).values(key).annotate(
        sold=Count("order_lines", distinct=True),
        returned=Count("order_lines__card_return", distinct=True)).order_by()
    for item in sold:
        name = item[key] or "—"
        rows.setdefault(name, RateRow(name)).sold += item["sold"]
        rows[name].returned += item["returned"]
    return sorted(rows.values(), key=lambda r: (-(r.failure_rate or 0), r.key))
