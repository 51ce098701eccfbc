"""python manage.py load_catalog [FILE]: create or update the GPU catalog from its data file."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.errors import InvalidInput
from inventory.services import catalog_load
from inventory.services.catalog import CATALOG_FILE


class Command(BaseCommand):
    help = "Load the GPU catalog (inventory/data/gpu_catalog.toml by default). Idempotent; all or nothing."

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", type=Path, default=CATALOG_FILE)

    def handle(self, *args, file: Path, **options):
        try:
            created, updated = catalog_load(file)
        except InvalidInput as exc:
            raise CommandError("catalog not loaded:\n" + "\n".join(
                f"  {key}: {msg}" for key, msgs in exc.errors.items() for msg in msgs)) from None
        self.stdout.write(self.style.SUCCESS(f"Catalog: {created} created, {updated} updated from {file}"))
