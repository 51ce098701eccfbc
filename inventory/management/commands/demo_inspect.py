"""python manage.py demo_inspect: inspect the demo batch's cards, for `make run`.

The bench takes in the demo's simulated cards with no inspection, and a card never inspected is listed for parts
only. This records the inspection a technician would make after the tests (cosmetic grades dealt A, B, A, C in
turn, fans as tested), so the demo's grades and certificates show real marketplace conditions. Demo only: it
touches only cards that were never inspected, in lots the bench created (BENCH-…).
"""

from django.core.management.base import BaseCommand

from inventory.choices import CosmeticGrade, FanCondition
from inventory.models import Unit
from inventory.services import inspection_record

DEALT = [CosmeticGrade.A, CosmeticGrade.B, CosmeticGrade.A, CosmeticGrade.C]


class Command(BaseCommand):
    help = "Inspect the demo batch: every never-inspected card in a lot the bench created gets a cosmetic grade."

    def handle(self, *args, **options):
        units = Unit.objects.filter(lot__reference__startswith="BENCH-", inspections__isnull=True).order_by("asset_tag")
        count = 0
        for index, unit in enumerate(units):
            inspection_record(unit=unit, cosmetic_grade=DEALT[index % len(DEALT)], fan_condition=FanCondition.OK,
                              notes="demo inspection (manage.py demo_inspect)")
            count += 1
        self.stdout.write(f"inspected {count} demo card(s)")
