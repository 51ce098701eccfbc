"""Intake: CSV parsing, every kind of bad row, all-or-nothing imports, cost sharing, and the CLI."""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from inventory.choices import UnitState
from inventory.errors import IntakeRejected
from inventory.models import Lot, Unit, UnitEvent
from inventory.services import intake_import, intake_parse_csv, intake_read_csv

HEADER = "model,board_vendor,serial,source_rig,notes,cost,location,cosmetic_grade\n"


def rejected(content: str, lot="LOT-X", **kwargs) -> list[tuple[int, str, str]]:
    with pytest.raises(IntakeRejected) as info:
        intake_import(lot_reference=lot, rows=intake_parse_csv(content), **kwargs)
    return [(e.line, e.field, e.message) for e in info.value.errors]


@pytest.mark.django_db
def test_good_csv_creates_lot_units_events_and_tags(catalog):
    content = HEADER + (
        "RTX 3080,msi,abc123,rig-1,dusty,,A1,b\n"
        "10de:2504,Zotac,Z-2,rig-1,,,A1,\n"
        "P106-100,Gigabyte,MISSING,rig-2,sticker torn,,B1,D\n"
    )
    lot, units = intake_import(lot_reference="LOT-1", rows=intake_parse_csv(content.encode()),
                               lot_fields={"supplier": "Miner Joe", "total_cost": Decimal("900")})
    assert lot.supplier == "Miner Joe" and lot.currency == "USD"
    assert [u.gpu_model.name for u in units] == ["GeForce RTX 3080", "GeForce RTX 3060", "P106-100"]
    first = units[0]
    assert (first.board_vendor, first.serial, first.cosmetic_grade) == ("MSI", "ABC123", "B")  # canonicalised
    missing = units[2]
    assert missing.serial == "" and missing.serial_missing is True
    assert len({u.asset_tag for u in units}) == 3
    assert all(u.asset_tag.startswith("RF-") and len(u.asset_tag) == 12 for u in units)
    assert all(u.state == UnitState.RECEIVED for u in units)
    events = UnitEvent.objects.filter(unit__lot=lot).order_by("id")
    assert [(e.from_state, e.to_state, e.payload["line"]) for e in events] == [
        ("", "received", 2), ("", "received", 3), ("", "received", 4)]


@pytest.mark.django_db
def test_columns_in_any_order_and_optional_columns_absent(catalog):
    content = "serial,board_vendor,model\nS-1,EVGA,GTX 1080 Ti\n"
    _, units = intake_import(lot_reference="LOT-2", rows=intake_parse_csv(content))
    assert units[0].gpu_model.slug == "geforce-gtx-1080-ti" and units[0].serial == "S-1"


@pytest.mark.django_db
def test_each_kind_of_bad_row_is_named_by_line_and_field_and_nothing_is_written(catalog):
    intake_import(lot_reference="OLD", rows=intake_parse_csv(HEADER + "RTX 3090,EVGA,DB-1,,,,,\n"))
    units_before, lots_before = Unit.objects.count(), Lot.objects.count()
    content = HEADER + (
        "RTX 3080,MSI,OK-1,,,,,\n"            # line 2: good
        "RTX 9999,MSI,X-1,,,,,\n"             # line 3: unknown model
        ",MSI,X-2,,,,,\n"                      # line 4: missing model
        "RTX 3080,,X-3,,,,,\n"                 # line 5: missing vendor
        "RTX 3080,MSI,,,,,,\n"                 # line 6: missing serial
        "RTX 3080,MSI,X-4,,,12.5.0,,\n"        # line 7: bad number
        "RTX 3080,MSI,X-5,,,-3,,\n"            # line 8: negative cost
        "RTX 3080,MSI,X-6,,,,,E\n"             # line 9: bad grade
        "RTX 3080,msi,ok-1,,,,,\n"             # line 10: duplicate of line 2 in the file
        "RTX 3090,evga,db-1,,,,,\n"            # line 11: duplicate of a card already in the database
        "67df,Sapphire,X-7,,,,,\n"             # line 12: ambiguous PCI id (RX 470/480/570/580)
    )
    errors = rejected(content, lot="NEW-LOT")
    by_line = {(line, field): message for line, field, message in errors}
    assert set(by_line) == {(3, "model"), (4, "model"), (5, "board_vendor"), (6, "serial"), (7, "cost"),
                            (8, "cost"), (9, "cosmetic_grade"), (10, "serial"), (11, "serial"), (12, "model")}
    assert "unknown model 'RTX 9999'" in by_line[(3, "model")]
    assert "missing required field" in by_line[(4, "model")]
    assert "not a number" in by_line[(7, "cost")]
    assert "negative" in by_line[(8, "cost")]
    assert "also on line 2" in by_line[(10, "serial")]
    assert "already in inventory as RF-" in by_line[(11, "serial")]
    assert "ambiguous" in by_line[(12, "model")] and "Radeon RX 580" in by_line[(12, "model")]
    assert (Unit.objects.count(), Lot.objects.count()) == (units_before, lots_before)
    assert not Lot.objects.filter(reference="NEW-LOT").exists()


@pytest.mark.parametrize("content, expected", [
    ("", (1, "file", "the file is empty")),
    ("model,board_vendor\nRTX 3080,MSI\n", (1, "serial", "required column is missing from the header")),
    ("model,board_vendor,serial,seral\n", (1, "seral", "unknown column")),
    ("model,model,board_vendor,serial\n", (1, "model", "column appears more than once")),
    (HEADER + "RTX 3080,MSI,S,,,,,,extra\n", (2, "row", "9 cells but the header has 8")),
])
@pytest.mark.django_db
def test_file_level_problems_are_reported(content, expected):
    with pytest.raises(IntakeRejected) as info:
        intake_parse_csv(content)
    line, field, message = expected
    assert any(e.line == line and e.field == field and message in e.message for e in info.value.errors), \
        info.value.errors


@pytest.mark.django_db
def test_non_utf8_file_names_the_line_of_the_bad_byte_and_empty_batch_is_rejected(catalog):
    content = HEADER.encode() + b"RTX 3080,MSI,A-1,,,,,\n" + "RTX 3080,MSI,A-2,,Fl\xfcgel,,,\n".encode("latin-1")
    with pytest.raises(IntakeRejected) as info:
        intake_parse_csv(content)
    assert [(e.line, e.field) for e in info.value.errors] == [(3, "file")]
    assert "not UTF-8 text (byte 0xfc at character 21)" in info.value.errors[0].message
    with pytest.raises(IntakeRejected) as info:
        intake_parse_csv(HEADER.encode() + "ÄÖ".encode() + b"\xfc,MSI,X\n")
    assert "byte 0xfc at character 3)" in info.value.errors[0].message  # characters before it, not bytes
    with pytest.raises(IntakeRejected) as info:  # after Excel's byte-order mark, the same line and character
        intake_parse_csv(b"\xef\xbb\xbf" + HEADER.encode() + b"RTX 3080,MSI,A-1,,\xe9,,,\n")
    assert [(e.line, e.field) for e in info.value.errors] == [(2, "file")]
    assert "byte 0xe9 at character 19)" in info.value.errors[0].message
    assert rejected(HEADER) == [(1, "file", "no cards to take in")]


EUROPEAN = "model;board_vendor;serial;notes;cost\nRTX 3080;MSI;E-1;\"dusty; LHR\";120,50\nRTX 3070;EVGA;E-2;;99.5\n"


@pytest.mark.parametrize("separator, name", [(",", "comma"), (";", "semicolon"), ("\t", "tab")])
@pytest.mark.django_db
def test_the_separator_is_told_from_the_header_line(catalog, separator, name):
    content = EUROPEAN.replace(";", separator)
    if separator == ",":  # a comma-separated sheet writes a decimal point
        content = content.replace("120,50", "120.50")
    sheet = intake_read_csv(content.encode())
    assert sheet.separator_name == name
    assert [r.values["serial"] for r in sheet.rows] == ["E-1", "E-2"]
    _, units = intake_import(lot_reference=f"LOT-{name}", rows=sheet.rows)
    assert [u.cost_given for u in units] == [Decimal("120.50"), Decimal("99.50")]
    assert units[0].notes == f"dusty{separator} LHR"  # a quoted separator is text


@pytest.mark.django_db
def test_a_header_of_unknown_names_is_refused_naming_the_separator_read(catalog):
    with pytest.raises(IntakeRejected) as info:
        intake_parse_csv("Modell;Hersteller;Seriennummer\nRTX 3080;MSI;X-1\n")
    assert {e.field for e in info.value.errors} >= {"modell", "model", "serial"}
    assert all("read as semicolon-separated" in e.message for e in info.value.errors)


@pytest.mark.django_db
def test_the_cli_says_which_separator_it_read(catalog, tmp_path, capsys):
    sheet = tmp_path / "lot.csv"
    sheet.write_text(EUROPEAN)
    call_command("intake", "--lot", "CLI-EU", "--csv", str(sheet))
    out = capsys.readouterr().out
    assert "2 row(s), semicolon-separated" in out and "Took in 2 card(s)" in out


@pytest.mark.django_db
def test_line_numbers_count_physical_lines_and_skip_blank_ones(catalog):
    content = HEADER + 'RTX 3080,MSI,S-1,,"two\nline notes",,,\n\nNOPE,MSI,S-2,,,,,\n'
    assert rejected(content) == [(5, "model", "unknown model 'NOPE': not a catalog name, alias or PCI device id")]


@pytest.mark.django_db
def test_bom_and_crlf_are_accepted(catalog):
    content = ("\ufeff" + HEADER + "RTX 3070,ASUS,S-9,,,,,\r\n").encode("utf-8")
    _, units = intake_import(lot_reference="LOT-BOM", rows=intake_parse_csv(content))
    assert units[0].serial == "S-9"


@pytest.mark.django_db
def test_cost_basis_shares_the_rest_of_the_lot_cost_in_exact_cents(catalog):
    content = HEADER + "".join(f"RTX 3080,MSI,C-{i},,,{'250' if i == 0 else ''},,\n" for i in range(4))
    lot, units = intake_import(lot_reference="LOT-C", rows=intake_parse_csv(content),
                               lot_fields={"total_cost": Decimal("1000.00")})
    bases = [u.cost_basis for u in units]
    assert bases[0] == Decimal("250.00")
    assert bases[1:] == [Decimal("250.00")] * 3
    # A second batch into the same lot re-shares the lot's cost over all its cards.
    intake_import(lot_reference="LOT-C", rows=intake_parse_csv(HEADER + "RTX 3080,MSI,C-9,,,,,\n"))
    shared = list(Unit.objects.filter(lot=lot, cost_given__isnull=True).order_by("id").values_list("cost_basis",
                                                                                                   flat=True))
    assert shared == [Decimal("187.50")] * 4
    assert sum(Unit.objects.filter(lot=lot).values_list("cost_basis", flat=True)) == Decimal("1000.00")


@pytest.mark.django_db
def test_indivisible_cost_leaves_no_cent_behind(catalog):
    content = HEADER + "".join(f"RTX 3080,MSI,D-{i},,,,,\n" for i in range(3))
    lot, units = intake_import(lot_reference="LOT-D", rows=intake_parse_csv(content),
                               lot_fields={"total_cost": Decimal("100.00")})
    assert sorted(u.cost_basis for u in units) == [Decimal("33.33"), Decimal("33.33"), Decimal("33.34")]


@pytest.mark.django_db
def test_roles_that_cannot_see_costs_cannot_set_them(catalog):
    errors = rejected(HEADER + "RTX 3080,MSI,E-1,,,99,,\n", allow_costs=False)
    assert errors == [(2, "cost", "setting a cost needs the reseller or admin role")]


@pytest.mark.django_db
def test_dry_run_checks_but_writes_nothing(catalog):
    lot, units = intake_import(lot_reference="LOT-DRY", rows=intake_parse_csv(HEADER + "RTX 3080,MSI,F-1,,,,,\n"),
                               dry_run=True)
    assert units == [] and not Lot.objects.filter(reference="LOT-DRY").exists() and not Unit.objects.exists()


# --- the management command ---------------------------------------------------------------------------

@pytest.mark.django_db
def test_cli_imports_a_csv_and_creates_the_lot(catalog, tmp_path, capsys):
    sheet = tmp_path / "lot.csv"
    sheet.write_text(HEADER + "RTX 3080,MSI,G-1,rig,,,,\nRX 580,Sapphire,MISSING,rig,,,,\n")
    call_command("intake", "--lot", "CLI-1", "--csv", str(sheet), "--supplier", "Broker B", "--total-cost", "300")
    out = capsys.readouterr().out
    assert "Took in 2 card(s) into lot CLI-1" in out and "(no serial)" in out
    lot = Lot.objects.get(reference="CLI-1")
    assert lot.supplier == "Broker B" and lot.total_cost == Decimal("300")
    assert lot.units.count() == 2


@pytest.mark.django_db
def test_cli_single_card_flags(catalog, capsys):
    call_command("intake", "--lot", "CLI-2", "--model", "RTX 4090", "--vendor", "zotac", "--serial", "h-1",
                 "--cosmetic-grade", "A")
    unit = Unit.objects.get()
    assert (unit.gpu_model.slug, unit.board_vendor, unit.serial, unit.cosmetic_grade) == (
        "geforce-rtx-4090", "Zotac", "H-1", "A")
    call_command("intake", "--lot", "CLI-2", "--model", "RTX 4090", "--vendor", "Zotac", "--no-serial")
    assert Unit.objects.filter(serial_missing=True).count() == 1


@pytest.mark.django_db
def test_cli_bad_file_fails_naming_each_row_and_imports_nothing(catalog, tmp_path):
    sheet = tmp_path / "bad.csv"
    sheet.write_text(HEADER + "RTX 3080,MSI,J-1,,,,,\nRTX 9999,MSI,J-2,,,,,\nRTX 3080,MSI,J-3,,,abc,,\n")
    with pytest.raises(CommandError) as info:
        call_command("intake", "--lot", "CLI-3", "--csv", str(sheet))
    message = str(info.value)
    assert "line 3, model: unknown model 'RTX 9999'" in message
    assert "line 4, cost: 'abc' is not a number" in message
    assert not Unit.objects.exists() and not Lot.objects.exists()


@pytest.mark.django_db
def test_cli_exit_code_and_message_without_traceback(catalog, tmp_path):
    import subprocess
    import sys

    missing = tmp_path / "nope.csv"
    result = subprocess.run([sys.executable, "manage.py", "intake", "--lot", "L", "--csv", str(missing)],
                            capture_output=True, text=True, env=_subprocess_env())
    assert result.returncode == 1
    assert "cannot read" in result.stderr and "Traceback" not in result.stderr


def _subprocess_env():
    import os

    from django.conf import settings

    env = dict(os.environ)
    # The child must use the test database, not the developer's.
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    else:
        env["DATABASE_URL"] = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    return env


@pytest.mark.django_db
def test_control_characters_in_notes_are_refused_but_line_breaks_kept(catalog):
    assert rejected(HEADER + 'RTX 3080,MSI,N-1,,"bad\x00note",,,\n') == [
        (2, "notes", "contains U+0000 NULL (a control character) at character 4")]
    _, units = intake_import(lot_reference="LOT-N", rows=intake_parse_csv(HEADER + 'RTX 3080,MSI,N-2,,"a\nb",,,\n'))
    assert units[0].notes == "a\nb"


@pytest.mark.django_db
def test_cli_warns_when_given_costs_exceed_the_lot_cost(catalog, tmp_path, capsys):
    sheet = tmp_path / "lot.csv"
    sheet.write_text(HEADER + "RTX 3080,MSI,K-1,,,500,,\nRTX 3080,MSI,K-2,,,,,\n")
    call_command("intake", "--lot", "CLI-W", "--csv", str(sheet), "--total-cost", "400")
    assert "warning: the costs given per card add up to 500.00 USD" in capsys.readouterr().err


@pytest.mark.django_db
def test_serial_is_unique_per_vendor_whatever_the_vendor_spelling(catalog):
    intake_import(lot_reference="LOT-V", rows=intake_parse_csv(HEADER + "RTX 3080,Acme Boards,V-1,,,,,\n"))
    errors = rejected(HEADER + "RTX 3080,ACME BOARDS,V-1,,,,,\nRTX 3080,Other Co,V-1,,,,,\n")
    assert errors == [(2, "serial", "duplicate serial: Acme Boards V-1 is already in inventory as "
                                    f"{Unit.objects.get().asset_tag}")]
    # The database itself refuses it too, whatever code writes the row.
    from django.db import IntegrityError, transaction

    unit = Unit.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        Unit.objects.create(asset_tag="RF-TEST-0001", gpu_model=unit.gpu_model, lot=unit.lot,
                            board_vendor="acme boards", serial="V-1")
