"""The eBay item specifics the upload writes by default (eBay's names as of 2026; a reseller renames them in the
admin when eBay does)."""

from django.db import migrations

DEFAULTS = [
    ("C:Brand", "board_vendor"),
    ("C:Chipset Manufacturer", "chip_vendor"),
    ("C:Chipset/GPU Model", "gpu_model"),
    ("C:Memory Size", "memory_size"),
    ("C:Memory Type", "memory_type"),
    ("C:Connectors", "none"),
    ("C:Compatible Slot", "slot"),
    ("C:Cooling Component Included", "cooling"),
    ("C:MPN", "part_number"),
]


def add(apps, schema_editor):
    specific = apps.get_model("resale", "EbaySpecific")
    for position, (column, source) in enumerate(DEFAULTS):
        specific.objects.get_or_create(column=column, defaults={"source": source, "position": position})


def remove(apps, schema_editor):
    apps.get_model("resale", "EbaySpecific").objects.filter(column__in=[c for c, _ in DEFAULTS]).delete()


class Migration(migrations.Migration):
    dependencies = [("resale", "0002_pricing_sets_orders_returns")]
    operations = [migrations.RunPython(add, remove)]
