"""python manage.py demo_inspect: inspect the demo lot's cards, for `make run`.

A card never inspected is listed for parts only. This records the inspection a technician would make (the cosmetic
grade written at intake where there is one, else A, B, A, C dealt in turn; fans fine), so that the demo's grades
and certificates show real marketplace conditions. Demo only: it touches only cards that were never inspected, in
a demonstration lot (demo_setup's DEMO-001) and in lots the bench created (BENCH-…).
"""

from django.core.management.base import BaseCommand
from django.db.models import Q

from inventory.choices import CosmeticGrade, FanCondition
from inventory.models import Unit
from inventory.services import inspection_record

DEALT = [CosmeticGrade.A, CosmeticGrade.B, CosmeticGrade.A, CosmeticGrade.C]


class Command(BaseCommand):
    help = ("Inspect the demo lot: every never-inspected card in it (or in a lot the bench created) gets a cosmetic "
            "grade.")

    def handle(self, *args, **options):
        units = Unit.objects.filter(Q(lot__demo=True) | Q(lot__reference__startswith="BENCH-"),
                                    inspections__isnull=True).order_by("id")
        count = 0
        for index, unit in enumerate(units):
            inspection_record(unit=unit, cosmetic_grade=unit.cosmetic_grade or DEALT[index % len(DEALT)],
                              fan_condition=FanCondition.OK, notes="demo inspection (manage.py demo_inspect)")
            count += 1
        self.stdout.write(f"inspected {count} demo card(s)")
