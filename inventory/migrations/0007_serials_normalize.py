"""Serials taken in before intake normalised them, rewritten in the stored form (NFKC, no whitespace, no control or
invisible format characters, upper case), so the duplicate check and the public lookup see them.

The rule is copied here rather than imported, so this migration keeps doing what it did when it was written. A
serial whose stored form another card of the same maker already has, or that would be empty, is left as it is and
listed: two records of one card need a person to decide which is right."""

import sys
import unicodedata

from django.db import migrations


def _stored_form(serial: str) -> str:
    kept = "".join(c for c in serial if unicodedata.category(c) not in {"Cc", "Cf", "Cs"})
    return "".join(unicodedata.normalize("NFKC", kept).split()).upper()


def normalize_serials(apps, schema_editor):
    Unit = apps.get_model("inventory", "Unit")
    # Oldest first: of two records that normalise alike, the first taken in keeps the serial.
    rows = list(Unit.objects.exclude(serial="").order_by("pk").values_list("pk", "asset_tag", "board_vendor",
                                                                            "serial"))
    taken = {(vendor.lower(), serial) for _, _, vendor, serial in rows}
    left = []
    for pk, tag, vendor, serial in rows:
        stored = _stored_form(serial)
        if stored == serial:
            continue
        if not stored or (vendor.lower(), stored) in taken:
            left.append(f"{tag} ({vendor} {serial!r})")
            continue
        taken.discard((vendor.lower(), serial))
        taken.add((vendor.lower(), stored))
        Unit.objects.filter(pk=pk).update(serial=stored)
    if left:
        sys.stderr.write("\n  serials left as they were (another card of the maker has the same serial once "
                         "normalised, or none is left): " + ", ".join(left) + "\n")


class Migration(migrations.Migration):
    dependencies = [("inventory", "0006_inspection_photos_private")]

    operations = [migrations.RunPython(normalize_serials, migrations.RunPython.noop)]
