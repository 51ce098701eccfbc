"""The lot profit and yield dashboard's figures: per lot (cards bought, tested, passed per grade, failed, scrapped, in
repair, failure reasons, repair outcomes, bench hours per card, stock value at suggested prices, revenue, fees,
returns and margin against the lot's cost), and failure and return rates per model, source rig and bench. Every
figure is an aggregate query (grouped in the database) on the lots of one page, or over all cards for the rates, so
the dashboard costs the same few queries for 30 lots or 300 and 100 000 cards. Internal figures: for resellers and
admins only."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.paginator import Paginator
from django.db.models import Count, DecimalField, DurationField, ExpressionWrapper, F, Q, Sum
from django.db.models.fields.json import KT

from grading.models import Grade
from grading.selectors import with_current_grade
from inventory.choices import UnitState
from inventory.models import GpuModel, Lot, Unit, UnitEvent
from testbench.models import Bench, TestRun

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


LOTS_PER_PAGE = 25


def lots_page(number, per_page: int = LOTS_PER_PAGE):
    """A page of lots, newest first (django.core.paginator.Page; a bad or missing number gives the first or last)."""
    return Paginator(Lot.objects.order_by("-created_at", "-id"), per_page).get_page(number)


def lot_rows(rules: dict, lots=None) -> list[LotRow]:
    """The figures of `lots` (a page of them, newest first; all lots when None), in seven grouped queries."""
    lots = list(lots) if lots is not None else list(Lot.objects.order_by("-created_at", "-id"))
    rows = {lot.pk: LotRow(lot_id=lot.pk, reference=lot.reference, currency=lot.currency, cost=lot.total_cost)
            for lot in lots}
    units = Unit.objects.filter(lot_id__in=rows)
    references = {(r.gpu_model_id, r.currency): r.price for r in ReferencePrice.objects.all()}

    # One pass over the lots' cards, counted by state, model and current grade: bought, scrapped, in repair, for
    # parts, passed per grade, and the stock's value (each card in stock at its suggested storefront price).
    tally = (with_current_grade(units, functional_now="functional", cosmetic_now="cosmetic")
             .values_list("lot_id", "state", "gpu_model_id", "functional_now", "cosmetic_now")
             .annotate(n=Count("pk")).order_by())
    for lot_id, state, model_id, functional, cosmetic, n in tally:
        row = rows[lot_id]
        row.bought += n
        row.scrapped += n if state == UnitState.SCRAPPED else 0
        row.in_repair += n if state == UnitState.REPAIR else 0
        row.parts += n if state == UnitState.FAILED else 0
        if functional:
            row.grades[functional] = row.grades.get(functional, 0) + n
            row.in_repair_graded_fail += n if functional == "FAIL" and state == UnitState.REPAIR else 0
        reference = references.get((model_id, row.currency))
        if state in IN_STOCK and reference is not None and cosmetic in (rules["grade_factors"].get(functional)
                                                                         or {}):
            row.stock_value += n * suggested_for(rules, "storefront", reference, [(functional, cosmetic)], ZERO)

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

    # Failure reasons: the first (worst) reason of each failed card's current grade, counted in the database.
    counters: dict[int, Counter] = defaultdict(Counter)
    for lot_id, code, n in (with_current_grade(units, functional_now="functional", reasons_now="reasons")
                            .filter(functional_now="FAIL").annotate(code=KT("reasons_now__0__code"))
                            .values_list("lot_id", "code")
                            .annotate(n=Count("pk")).order_by()):
        counters[lot_id][code or "unexplained"] += n
    for lot_id, counter in counters.items():
        rows[lot_id].reasons = sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:3]
    return list(rows.values())


def _money(value) -> Decimal:
    return (value or ZERO).quantize(Decimal("0.01"))


def rate_tables() -> dict[str, list[RateRow]]:
    """Failure rate (FAIL among graded cards) and return rate (returned among sold), per model, source rig and
    bench (the bench of the run the current grade came from), worst first. Four grouped queries over every card:
    model and rig together from the cards and their current grades, the bench from the current grades and their
    runs alone (each on the covering index of current grades, grade_current_cover_idx)."""
    tables: dict[str, dict[str, RateRow]] = {"model": {}, "rig": {}, "bench": {}}

    def add(by: str, name, **counts) -> None:
        row = tables[by].setdefault(name or "—", RateRow(name or "—"))
        for figure, n in counts.items():
            setattr(row, figure, getattr(row, figure) + n)

    models = dict(GpuModel.objects.values_list("pk", "name"))
    benches = dict(Bench.objects.values_list("pk", "name"))
    current = Grade.objects.filter(is_current=True)
    # Counted on unit_id, which the covering index holds (the grade's own id is not in it).
    tally = {"graded": Count("unit"), "failed": Count("unit", filter=Q(functional="FAIL"))}
    for model_id, rig, graded, failed in (current.values_list("unit__gpu_model_id", "unit__source_rig")
                                          .annotate(**tally).order_by()):
        add("model", models.get(model_id), graded=graded, failed=failed)
        add("rig", rig, graded=graded, failed=failed)
    for bench_id, graded, failed in current.values_list("run__bench_id").annotate(**tally).order_by():
        add("bench", benches.get(bench_id), graded=graded, failed=failed)
    lines = OrderLine.objects.all()
    for model_id, rig, sold, returned in (lines.values_list("unit__gpu_model_id", "unit__source_rig")
                                          .annotate(sold=Count("pk"), returned=Count("card_return")).order_by()):
        add("model", models.get(model_id), sold=sold, returned=returned)
        add("rig", rig, sold=sold, returned=returned)
    # A card sold has been graded: its current grade's run gives the bench.
    for bench_id, sold, returned in (lines.filter(unit__grades__is_current=True)
                                     .values_list("unit__grades__run__bench_id")
                                     .annotate(sold=Count("pk"), returned=Count("card_return")).order_by()):
        add("bench", benches.get(bench_id), sold=sold, returned=returned)
    return {by: sorted(rows.values(), key=lambda r: (-(r.failure_rate or 0), r.key)) for by, rows in tables.items()}
