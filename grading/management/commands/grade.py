"""python manage.py grade [ASSET_TAG …] [--all-tested] [--json]: grade cards whose test run has finished."""

from __future__ import annotations

import json as json_module

from django.core.management.base import BaseCommand, CommandError

from grading.services import GRADABLE_STATES, unit_grade
from inventory.errors import DomainError
from inventory.models import Unit
from inventory.selectors import units_by_asset_tag


class Command(BaseCommand):
    help = ("Grade cards whose test run has finished (tested or failed): a functional grade with reasons, the "
            "marketplace conditions and AI-readiness; each card moves to graded, repair or failed.")

    def add_arguments(self, parser):
        parser.add_argument("asset_tags", nargs="*", metavar="ASSET_TAG")
        parser.add_argument("--all-tested", action="store_true", help="every card that is tested or failed")
        parser.add_argument("--json", action="store_true", help="print the grades as JSON")

    def handle(self, *args, asset_tags, all_tested: bool, json: bool, **options):
        if bool(asset_tags) == all_tested:
            raise CommandError("name asset tags or give --all-tested (one or the other)", returncode=2)
        if all_tested:
            units = list(Unit.objects.filter(state__in=GRADABLE_STATES, test_runs__isnull=False).distinct()
                         .order_by("asset_tag"))
        else:
            units, unknown = units_by_asset_tag(asset_tags)
            if unknown:
                raise CommandError(f"no unit with asset tag {', '.join(unknown)}", returncode=2)
        rows, refused = [], []
        for unit in units:
            try:
                grade = unit_grade(unit=unit, actor_label="manage.py grade")
            except DomainError as exc:
                refused.append(f"{unit.asset_tag}: {exc}")
                continue
            rows.append({"asset_tag": unit.asset_tag, "functional": grade.functional, "cosmetic": grade.cosmetic,
                         "state": grade.disposition, "reasons": [r["sentence"] for r in grade.reasons],
                         "ebay": grade.marketplace.get("ebay"), "policy_version": grade.policy_version})
        if json:
            self.stdout.write(json_module.dumps(rows, indent=2))
        else:
            for row in rows:
                first = row["reasons"][0] if row["reasons"] else "every check passed at reference performance"
                self.stdout.write(f"{row['asset_tag']:<13} {row['functional']:<4} /{row['cosmetic'] or '-'}  "
                                  f"→ {row['state']:<7} {row['ebay'] or '':<27} {first}")
            self.stdout.write(f"{len(rows)} graded" + (f", {len(refused)} not gradable" if refused else ""))
        for line in refused:
            self.stderr.write(line)
        if refused:
            raise CommandError(f"{len(refused)} card(s) could not be graded", returncode=1)
