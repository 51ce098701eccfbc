"""The shape `grade` and `certify` share: name cards by asset tag or take every eligible one, apply a service to
each, print a line (or JSON) per card, and exit 0, 1 (some card refused, with why) or 2 (usage)."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod

from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from inventory.selectors import units_by_asset_tag


class UnitBatchCommand(BaseCommand, ABC):
    all_option = ""  # e.g. "--all-tested"
    all_help = ""
    json_help = ""
    done_word = ""  # "graded": "3 graded"
    refused_word = ""  # "not gradable": "3 graded, 1 not gradable"
    verb = ""  # "graded": "1 card(s) could not be graded"

    @abstractmethod
    def eligible_units(self) -> list:
        """The cards the all-option means, in the order to print them."""

    @abstractmethod
    def apply(self, unit) -> dict:
        """Do the work for one card; return its row. Raise DomainError to refuse it."""

    @abstractmethod
    def line(self, row: dict) -> str:
        """A row as one line of the table."""

    def add_arguments(self, parser):
        parser.add_argument("asset_tags", nargs="*", metavar="ASSET_TAG")
        parser.add_argument(self.all_option, action="store_true", dest="all_units", help=self.all_help)
        parser.add_argument("--json", action="store_true", dest="as_json", help=self.json_help)

    def handle(self, *args, asset_tags, all_units: bool, as_json: bool, **options):
        if bool(asset_tags) == all_units:
            raise CommandError(f"name asset tags or give {self.all_option} (one or the other)", returncode=2)
        if all_units:
            units = self.eligible_units()
        else:
            units, unknown = units_by_asset_tag(asset_tags)
            if unknown:
                raise CommandError(f"no unit with asset tag {', '.join(unknown)}", returncode=2)
        rows, refused = [], []
        for unit in units:
            try:
                rows.append(self.apply(unit))
            except DomainError as exc:
                refused.append(f"{unit.asset_tag}: {exc}")
        if as_json:
            self.stdout.write(json.dumps(rows, indent=2))
        else:
            for row in rows:
                self.stdout.write(self.line(row))
            self.stdout.write(f"{len(rows)} {self.done_word}"
                              + (f", {len(refused)} {self.refused_word}" if refused else ""))
        for line in refused:
            self.stderr.write(line)
        if refused:
            raise CommandError(f"{len(refused)} card(s) could not be {self.verb}", returncode=1)
