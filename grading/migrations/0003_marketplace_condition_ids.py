"""Grades given before policy 2026.12-1 stored each marketplace condition as a name ("Excellent - Refurbished"),
some of them eBay conditions that only sellers in eBay's Refurbished programme may use. Restate them as 2026.12-1
states them: each channel's condition id and name, restricted eBay conditions only with
REFURB_EBAY_REFURBISHED_PROGRAMME. The functional grade and its reasons are kept (the thresholds did not change),
and so is the policy version the grade was given under. Certificates issued already keep what they signed.

The mapping is frozen here, as 2026.12-1 had it, so that a later policy does not rewrite history through this file.
"""

from django.conf import settings
from django.db import migrations

EBAY = {
    2010: ("Excellent - Refurbished", "EXCELLENT_REFURBISHED"),
    2020: ("Very Good - Refurbished", "VERY_GOOD_REFURBISHED"),
    2030: ("Good - Refurbished", "GOOD_REFURBISHED"),
    2500: ("Seller refurbished", "SELLER_REFURBISHED"),
    3000: ("Used", "USED_EXCELLENT"),
    7000: ("For parts or not working", "FOR_PARTS_OR_NOT_WORKING"),
}
GOOGLE = {"refurbished": "Refurbished", "used": "Used"}
MAPPING = {
    ("F-A", "A"): (2010, 2500, "Excellent", "refurbished"), ("F-A", "B"): (2020, 2500, "Good", "refurbished"),
    ("F-A", "C"): (2030, 3000, "Fair", "used"), ("F-B", "A"): (2020, 2500, "Good", "refurbished"),
    ("F-B", "B"): (2020, 2500, "Good", "refurbished"), ("F-B", "C"): (2030, 3000, "Fair", "used"),
    ("F-C", "A"): (2030, 3000, "Fair", "used"), ("F-C", "B"): (2030, 3000, "Fair", "used"),
    ("F-C", "C"): (2030, 3000, "Fair", "used"),
}


def conditions(functional: str, cosmetic: str) -> dict:
    programme, outside, backmarket, google = MAPPING.get((functional, cosmetic), (7000, 7000, None, None))
    ebay = programme if getattr(settings, "REFURB_EBAY_REFURBISHED_PROGRAMME", False) else outside
    if ebay == 2500 and not getattr(settings, "REFURB_EBAY_SELLER_REFURBISHED", True):
        ebay = 3000
    name, enum = EBAY[ebay]
    return {"ebay": {"id": ebay, "name": name, "enum": enum},
            "backmarket": {"id": None, "name": backmarket} if backmarket else None,
            "google_shopping": {"id": google, "name": GOOGLE[google]} if google else None}


def restate(apps, schema_editor):
    Grade = apps.get_model("grading", "Grade")
    for grade in Grade.objects.all().only("id", "functional", "cosmetic", "marketplace").iterator():
        if isinstance((grade.marketplace or {}).get("ebay"), dict):
            continue  # stated with ids already
        Grade.objects.filter(pk=grade.pk).update(marketplace=conditions(grade.functional, grade.cosmetic))


class Migration(migrations.Migration):
    dependencies = [("grading", "0002_overrides_certificates_keys")]
    operations = [migrations.RunPython(restate, migrations.RunPython.noop)]
