"""python manage.py grade [ASSET_TAG …] [--all-tested] [--json]: grade cards whose test run has finished."""

from __future__ import annotations

from grading.management.batch import UnitBatchCommand
from grading.policy import condition_label
from grading.services import GRADABLE_STATES, unit_grade
from inventory.models import Unit


class Command(UnitBatchCommand):
    help = ("Grade cards whose test run has finished (tested or failed): a functional grade with reasons, the "
            "marketplace conditions and AI-readiness; each card moves to graded, repair or failed, or back to the "
            "queue when a finding may be the slot's (retest in another slot).")
    all_option, all_help = "--all-tested", "every card that is tested or failed"
    json_help = "print the grades as JSON"
    done_word, refused_word, verb = "graded", "not gradable", "graded"

    def eligible_units(self) -> list:
        return list(Unit.objects.filter(state__in=GRADABLE_STATES, test_runs__isnull=False).distinct()
                    .order_by("asset_tag"))

    def apply(self, unit) -> dict:
        grade = unit_grade(unit=unit, actor_label="manage.py grade")
        return {"asset_tag": unit.asset_tag, "functional": grade.functional, "cosmetic": grade.cosmetic,
                "state": grade.disposition, "reasons": [r["sentence"] for r in grade.reasons],
                "ebay": grade.marketplace.get("ebay"), "policy_version": grade.policy_version}

    def ebay(self, row: dict) -> str:
        # A card going back to be retested is not for sale yet: its grade waits for another slot.
        return "— (retest first)" if row["state"] == "retest" else condition_label(row["ebay"])

    def line(self, row: dict) -> str:
        first = row["reasons"][0] if row["reasons"] else "every check passed at reference performance"
        return (f"{row['asset_tag']:<13} {row['functional']:<4} /{row['cosmetic'] or '-'}  "
                f"→ {row['state']:<7} eBay {self.ebay(row):<31} {first}")
