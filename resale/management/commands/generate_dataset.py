"""python manage.py generate_dataset --units 100000 --lots 300 --listings 50000: a realistic data set for the resale
benchmark (benchmarks/resale_bench.py): lots, cards in every state with their events, finished test runs with their
results, grades, signed certificates, listings on every channel, orders and returns. Bulk inserts in batches, so
100 000 cards take minutes on PostgreSQL. Seeded: the same arguments give the same shape of data."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone
from tqdm import tqdm

from grading.keys import signing_key_for_issue
from grading.models import Certificate, Grade
from grading.payload import build_payload
from grading.policy import POLICY, marketplace_conditions
from grading.readiness import ai_readiness
from grading.services.certificates import public_id_generate, verify_url
from inventory.choices import EventKind, UnitState
from inventory.lifecycle import Mover
from inventory.models import GpuModel, Lot, Unit, UnitEvent
from inventory.services.units import asset_tags_generate
from testbench.models import Bench, CheckResultRecord, TestRun
from testbench.reference import reference_from_model

from ...choices import Channel, ListingStatus
from ...models import CardReturn, ListedUnit, Listing, Order, OrderLine, ReferencePrice, ReturnReason
from ...pricing import DEFAULT_RULES, fees_at, floor_for, suggested_for

S = UnitState
VENDORS = ["MSI", "EVGA", "Gigabyte", "ASUS", "Zotac", "Palit", "PNY", "Gainward", "Inno3D", "KFA2"]
COSMETIC = ["A", "A", "B", "B", "B", "C"]
# Where the cards of a generated lot stand: listed, sold and returned ones carry listings (the rest of --listings
# is withdrawn offers).
STATES = [(S.RECEIVED, 4), (S.INSPECTED, 2), (S.QUEUED, 2), (S.FAILED, 8), (S.REPAIR, 3), (S.SCRAPPED, 2),
          (S.CERTIFIED, 34), (S.LISTED, 22), (S.SOLD, 20), (S.RETURNED, 3)]
ON_SALE_SHARE = 0.45  # listed + sold + returned
TESTED = {S.FAILED, S.REPAIR, S.CERTIFIED, S.LISTED, S.SOLD, S.RETURNED}
CERTIFIED = {S.CERTIFIED, S.LISTED, S.SOLD, S.RETURNED}
CHANNELS = [Channel.STOREFRONT, Channel.STOREFRONT, Channel.EBAY, Channel.BACKMARKET, Channel.GOOGLE]


class Command(BaseCommand):
    help = ("Generate a realistic data set (lots, cards in every state, runs, grades, certificates, events, listings, "
            "orders, returns) for the resale benchmark. Refuses to run twice with the same --prefix.")

    def add_arguments(self, parser):
        parser.add_argument("--units", type=int, default=100_000)
        parser.add_argument("--lots", type=int, default=300)
        parser.add_argument("--listings", type=int, default=50_000, help="Listings in all (at least one per card "
                                                                         "listed, sold or returned)")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--batch", type=int, default=2000)
        parser.add_argument("--prefix", default="GEN", help="Lot references start with this")

    def handle(self, *args, **opts):
        if not 1 <= opts["lots"] <= opts["units"] or opts["units"] > 1_000_000 or opts["batch"] < 1:
            raise CommandError("give 1 ≤ --lots ≤ --units ≤ 1 000 000 and a positive --batch")
        if Lot.objects.filter(reference__startswith=f"{opts['prefix']}-").exists():
            raise CommandError(f"lots {opts['prefix']}-… exist already: use a fresh database or another --prefix")
        models = [m for m in GpuModel.objects.filter(vendor="nvidia").exclude(fp16_tflops=None)
                  if m.compute_capability]
        if not models:
            raise CommandError("the catalog is empty: run manage.py load_catalog first")
        self.rng = random.Random(opts["seed"])
        self.prefix = opts["prefix"]
        self.key = signing_key_for_issue()
        self.models = models
        self.references = {m.pk: reference_from_model(m) for m in models}
        self.benches = [Bench.objects.get_or_create(name=f"{self.prefix}-bench-{i:02d}",
                                                    defaults={"simulated": True})[0] for i in range(12)]
        for model in models:  # a reference price for every model: what a good used card of it fetches
            ReferencePrice.objects.get_or_create(gpu_model=model, defaults={
                "price": Decimal(max(40, int(float(model.launch_price_usd or 400) * 0.45))), "currency": "USD",
                "source": "generated"})
        self.prices = {r.gpu_model_id: r.price for r in ReferencePrice.objects.filter(currency="USD")}
        lots = self._lots(opts["lots"], opts["units"])
        per_lot = [opts["units"] // opts["lots"] + (i < opts["units"] % opts["lots"]) for i in range(opts["lots"])]
        plan = list(zip(lots, per_lot, strict=True))
        # Cards listed, sold or returned carry one listing each; the rest of --listings are earlier, withdrawn offers.
        on_sale = opts["units"] * ON_SALE_SHARE
        self.extra_share = max(0.0, opts["listings"] - on_sale) / on_sale
        counts = {"units": 0, "listings": 0, "orders": 0, "returns": 0, "certificates": 0}
        with tqdm(total=opts["units"], unit="card", disable=opts["verbosity"] < 1) as bar:
            queue = [(lot, i, (lot.total_cost / size).quantize(Decimal("0.01"))) for lot, size in plan
                     for i in range(size)]
            for start in range(0, len(queue), opts["batch"]):
                done = self._batch(queue[start:start + opts["batch"]])
                for key, value in done.items():
                    counts[key] += value
                bar.update(len(queue[start:start + opts["batch"]]))
        with connection.cursor() as cursor:
            # Fresh statistics for the planner, and (PostgreSQL) the visibility map that index-only scans need:
            # until autovacuum gets to the new rows, joins are planned as if the tables were empty.
            # VACUUM cannot run inside a transaction (a test's, or a caller's).
            vacuum = connection.vendor == "postgresql" and not connection.in_atomic_block
            cursor.execute("VACUUM ANALYZE" if vacuum else "ANALYZE")
        self.stdout.write(self.style.SUCCESS(
            f"Generated {counts['units']} cards in {len(lots)} lots, {counts['certificates']} certificates, "
            f"{counts['listings']} listings, {counts['orders']} orders, {counts['returns']} returns."))

    def _lots(self, count: int, units: int) -> list[Lot]:
        today = date.today()
        lots = [Lot(reference=f"{self.prefix}-LOT-{i:04d}", supplier=f"Mining farm {self.rng.randint(1, 80)}",
                    purchased_on=today - timedelta(days=self.rng.randint(1, 700)), currency="USD",
                    total_cost=Decimal(self.rng.randint(120, 260) * (units // count or 1)), notes="generated")
                for i in range(count)]
        return Lot.objects.bulk_create(lots)

    def _state(self) -> str:
        return self.rng.choices([s for s, _ in STATES], weights=[w for _, w in STATES])[0]

    @transaction.atomic
    def _batch(self, items: list[tuple[Lot, int, Decimal]]) -> dict[str, int]:
        rng, now = self.rng, timezone.now()
        tags = asset_tags_generate(len(items))
        units = []
        for (lot, index, cost), tag in zip(items, tags, strict=True):
            state = self._state()
            received = now - timedelta(days=rng.randint(0, 400), minutes=rng.randint(0, 1440))
            units.append(Unit(
                asset_tag=tag, gpu_model=rng.choice(self.models), lot=lot, board_vendor=rng.choice(VENDORS),
                serial=f"{self.prefix}{lot.pk:04d}{index:06d}{rng.randint(0, 99):02d}",
                source_rig=f"rig-{rng.randint(1, 60):02d}", location=f"shelf {rng.choice('ABCDEF')}{rng.randint(1, 9)}",
                cost_basis=cost,
                cosmetic_grade=rng.choice(COSMETIC) if state != S.RECEIVED else "", state=state,
                received_at=received, state_changed_at=received + timedelta(days=rng.randint(1, 20))))
        units = Unit.objects.bulk_create(units)
        events = [UnitEvent(unit=u, from_state="", to_state=S.RECEIVED, kind=EventKind.RECEIVED, via=Mover.PERSON,
                            actor_label="generated", created_at=u.received_at) for u in units]
        tested = [u for u in units if u.state in TESTED]
        runs = TestRun.objects.bulk_create([TestRun(
            unit=u, bench=rng.choice(self.benches), plan="standard",
            state="failed" if u.state in (S.FAILED, S.REPAIR) else "passed",
            verdict="fail" if u.state in (S.FAILED, S.REPAIR) else "pass", identity={}, software={},
            created_at=u.received_at, started_at=u.received_at + timedelta(hours=2),
            finished_at=u.received_at + timedelta(hours=2, minutes=rng.randint(20, 240))) for u in tested])
        records, grades = [], []
        for unit, run in zip(tested, runs, strict=True):
            model, failed = unit.gpu_model, unit.state in (S.FAILED, S.REPAIR)
            jitter = rng.gauss(0.88, 0.02)
            performance = {"memory_bandwidth_gbs": round(float(model.memory_bandwidth_gbs) * jitter, 2),
                           "fp16_tflops": round(float(model.fp16_tflops) * rng.gauss(0.74, 0.02), 3),
                           "fp32_tflops": round(float(model.fp32_tflops) * rng.gauss(0.82, 0.02), 3)}
            vram_bad = failed and rng.random() < 0.6
            run.results_for_payload = [
                {"name": "vram", "status": "fail" if vram_bad else "pass", "metrics": {"errors": 3 if vram_bad else 0},
                 "summary": "3 bad bits" if vram_bad else "no errors", "findings": []},
                {"name": "performance", "status": "pass", "metrics": performance, "summary": "at reference",
                 "findings": []},
                {"name": "thermal", "status": "fail" if failed and not vram_bad else "pass",
                 "metrics": {"peak_gpu_temp_c": round(rng.uniform(60, 95 if failed else 83), 1)},
                 "summary": "fan not spinning" if failed and not vram_bad else "plateau reached", "findings": []}]
            records += [CheckResultRecord(run=run, position=i, name=r["name"], status=r["status"],
                                          summary=r["summary"], metrics=r["metrics"], findings=[])
                        for i, r in enumerate(run.results_for_payload)]
            functional = "FAIL" if failed else rng.choices(["F-A", "F-B", "F-C"], weights=[70, 22, 8])[0]
            code = "vram.scattered_errors" if vram_bad else "thermal.fan_not_spinning"
            grades.append(Grade(
                unit=unit, run=run, functional=functional, cosmetic=unit.cosmetic_grade or "B",
                policy_version=POLICY["version"], disposition=unit.state if failed else "graded",
                reasons=[{"code": code, "check": code.split(".")[0], "severity": "fail", "sentence": code}]
                if failed else [],
                marketplace=marketplace_conditions(functional, unit.cosmetic_grade or "B"),
                ai=ai_readiness(reference=self.references[model.pk], performance=performance, identity=None,
                                policy=POLICY),
                created_at=run.finished_at, is_current=True))
            events.append(UnitEvent(unit=unit, from_state=S.RECEIVED, to_state=unit.state, kind=EventKind.TRANSITION,
                                    via=Mover.PERSON, actor_label="generated", created_at=unit.state_changed_at))
        CheckResultRecord.objects.bulk_create(records)
        grades = Grade.objects.bulk_create(grades)
        certificates = []
        for unit, run, grade in zip(tested, runs, grades, strict=True):
            if unit.state not in CERTIFIED:
                continue
            public_id = public_id_generate()
            payload = build_payload(public_id=public_id, issued_at=run.finished_at, issuer=settings.REFURB_ISSUER,
                                    verify_url=verify_url(public_id), unit=unit, run=run, grade=grade,
                                    results=run.results_for_payload, override=None, supersedes=None, telemetry=None)
            canonical, signature = self.key.sign(payload)
            certificates.append(Certificate(public_id=public_id, unit=unit, run=run, grade=grade,
                                            issued_at=run.finished_at, payload=payload,
                                            canonical=canonical.decode("utf-8"), signature=signature,
                                            key_id=self.key.key_id))
        Certificate.objects.bulk_create(certificates)
        UnitEvent.objects.bulk_create(events)
        return {"units": len(units), "certificates": len(certificates), **self._sales(tested, grades)}

    def _sales(self, tested: list[Unit], grades: list[Grade]) -> dict[str, int]:
        rng, now = self.rng, timezone.now()
        listings, items, sold = [], [], []
        for unit, grade in zip(tested, grades, strict=True):
            if unit.state not in (S.LISTED, S.SOLD, S.RETURNED):
                continue
            channel = rng.choice(CHANNELS)
            reference = self.prices.get(unit.gpu_model_id, Decimal(200))
            floor = floor_for(DEFAULT_RULES, channel, unit.cost_basis or Decimal(0))
            grade_pair = (grade.functional, grade.cosmetic if grade.cosmetic in "ABC" else "C")
            price = suggested_for(DEFAULT_RULES, channel, reference, [grade_pair], floor)
            fits = grade.ai.get("largest_model_billions") or {}
            published = unit.state_changed_at
            status = ListingStatus.ACTIVE if unit.state == S.LISTED else ListingStatus.SOLD
            model = unit.gpu_model
            listings.append(Listing(
                channel=channel, status=status, title=f"{model.get_vendor_display()} {model.name} "
                f"{float(model.vram_gib):g} GB, tested & certified, grade {grade_pair[0]}/{grade_pair[1]}"[:80],
                description=f"Generated listing of {unit.asset_tag}.", price=price, currency="USD",
                condition=(grade.marketplace or {}).get("ebay") or {}, pricing_version=DEFAULT_RULES["version"],
                suggested_price=price, floor_price=floor, cost=unit.cost_basis, gpu_model=model, card_count=1,
                vram_gib=model.vram_gib, functional=grade_pair[0], cosmetic=grade_pair[1],
                bandwidth_gbs=None, fits_fp16_b=fits.get("fp16"), fits_int8_b=fits.get("int8"),
                fits_int4_b=fits.get("int4"), published_at=published,
                ended_at=published + timedelta(days=rng.randint(1, 30)) if status == ListingStatus.SOLD else None))
            items.append(unit)
            if rng.random() < self.extra_share:  # an earlier offer, withdrawn
                listings.append(Listing(channel=rng.choice(CHANNELS), status=ListingStatus.WITHDRAWN,
                                        title=listings[-1].title, price=price * Decimal("1.1"), currency="USD",
                                        gpu_model=model, vram_gib=model.vram_gib, functional=grade_pair[0],
                                        cosmetic=grade_pair[1], published_at=published - timedelta(days=10),
                                        ended_at=published, end_reason="repriced elsewhere"))
                items.append(unit)
        listings = Listing.objects.bulk_create(listings)
        ListedUnit.objects.bulk_create([ListedUnit(listing=lst, unit=u) for lst, u in zip(listings, items,
                                                                                           strict=True)])
        orders, lines, returned = [], [], []
        for listing, unit in zip(listings, items, strict=True):
            if listing.status != ListingStatus.SOLD:
                continue
            orders.append(Order(listing=listing, channel=listing.channel, buyer_reference=f"ORD-{listing.pk}",
                                price_paid=listing.price, fees=fees_at(DEFAULT_RULES, listing.channel, listing.price),
                                shipping=Decimal("9.90"), currency="USD", sold_at=listing.ended_at or now))
            sold.append(unit)
        orders = Order.objects.bulk_create(orders)
        lines = OrderLine.objects.bulk_create([OrderLine(order=o, unit=u, serial_at_sale=u.serial,
                                                         cost_basis=u.cost_basis) for o, u in zip(orders, sold,
                                                                                                   strict=True)])
        for line, unit in zip(lines, sold, strict=True):
            if unit.state == S.RETURNED:
                returned.append(CardReturn(line=line, reason=rng.choice(ReturnReason.values),
                                           scanned_serial=unit.serial, refund=line.order.price_paid,
                                           cost=Decimal("12.00"),
                                           received_at=line.order.sold_at + timedelta(days=rng.randint(2, 25))))
        CardReturn.objects.bulk_create(returned)
        return {"listings": len(listings), "orders": len(orders), "returns": len(returned)}
