"""python manage.py certify [ASSET_TAG …] [--all-graded] [--json]: issue signed certificates for graded cards."""

from __future__ import annotations

from grading.management.batch import UnitBatchCommand
from grading.services import certificate_issue
from inventory.choices import UnitState
from inventory.models import Unit


class Command(UnitBatchCommand):
    help = ("Issue a signed certificate for each graded card (its PDF is rendered by a worker, or here without a "
            "broker) and print the verification URLs; each card moves to certified.")
    all_option, all_help = "--all-graded", "every graded card"
    json_help = "print the certificates as JSON"
    done_word, refused_word, verb = "certified", "refused", "certified"

    def eligible_units(self) -> list:
        return list(Unit.objects.filter(state=UnitState.GRADED).exclude(grades__isnull=True).distinct()
                    .order_by("asset_tag"))

    def apply(self, unit) -> dict:
        certificate = certificate_issue(unit=unit, actor_label="manage.py certify")
        grade = certificate.payload["grade"]
        return {"asset_tag": unit.asset_tag, "certificate": certificate.printed_id,
                "grade": f"{grade['functional']}/{grade['cosmetic'] or '-'}",
                "verify_url": certificate.payload["verify_url"]}

    def line(self, row: dict) -> str:
        return f"{row['asset_tag']:<13} {row['grade']:<6} {row['certificate']}  {row['verify_url']}"
